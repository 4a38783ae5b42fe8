// The board state and how a delta changes it (docs/board.md, "The websocket", item 3). Pure
// functions on plain objects: no DOM, no network, so the rules read in one place.
"use strict";

window.BoardState = (() => {
  // Sections that map an id to its whole row; `null` removes the row.
  const ROWS = ["sites", "runs", "on_road", "alerts"];
  // Sections merged key by key.
  const MERGED = ["stages", "counters", "alert_counts", "entry_points"];
  const SHANGHAI_MS = 8 * 3600 * 1000; // Asia/Shanghai keeps UTC+8 all year (no summer time)

  // The local day (Asia/Shanghai) of a store time: "2026-11-26", or null.
  const localDay = (iso) => {
    const t = Date.parse(iso || "");
    if (Number.isNaN(t)) return null;
    return new Date(t + SHANGHAI_MS).toISOString().slice(0, 10);
  };

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

  // Applies one delta's `changes` to `state` (changed in place and returned). The caller has
  // checked that `delta.after` is the position `state` holds.
  const apply = (state, delta) => {
    const changes = delta.changes || {};
    for (const name of MERGED) {
      if (!isObject(changes[name])) continue;
      state[name] = Object.assign(isObject(state[name]) ? state[name] : {}, changes[name]);
    }
    for (const name of ROWS) {
      if (!isObject(changes[name])) continue;
      const rows = isObject(state[name]) ? state[name] : {};
      for (const [id, row] of Object.entries(changes[name])) {
        if (row === null) delete rows[id];
        else rows[id] = row;
      }
      state[name] = rows;
    }
    if (isObject(changes.timings)) {
      const timings = isObject(state.timings) ? state.timings : {};
      for (const [day, cells] of Object.entries(changes.timings)) {
        if (!isObject(cells)) continue;
        timings[day] = Object.assign(isObject(timings[day]) ? timings[day] : {}, cells);
      }
      state.timings = timings;
    }
    if (typeof changes.rebuilding === "boolean") state.rebuilding = changes.rebuilding;
    state.position = delta.position;
    if (delta.at) {
      state.at = delta.at;
      state.day = localDay(delta.at);
    }
    if (isObject(state.timings) && state.day) {
      for (const day of Object.keys(state.timings)) {
        if (day !== state.day) delete state.timings[day];
      }
    }
    return state;
  };

  // What to do with a delta when the page holds `position`: "apply" it, "skip" it (already
  // applied: its position is not newer), or "resync" (something was missed: reconnect).
  const verdict = (position, delta) => {
    if (typeof position !== "number" || typeof delta.position !== "number") return "resync";
    // A snapshot's position may lie past events no board shows, so `after` may be below it.
    if (delta.after <= position && position < delta.position) return "apply";
    if (delta.position <= position) return "skip";
    return "resync";
  };

  return { apply, verdict, localDay, ROWS, MERGED };
})();
