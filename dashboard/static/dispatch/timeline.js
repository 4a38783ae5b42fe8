// A journey's timeline on demand (click a traveller's name): every event in the store's order,
// with who, their role, where, the device's time and the store's time, and — for custody
// events — who held the traveller and to whom they were offered, so the chain
// desk → escort → receiver reads from top to bottom.
"use strict";

window.DispatchTimeline = (() => {
  const { $, el, bi, dateTime } = DispatchUi;
  const W = DispatchWords;
  let opener = null;
  let names = { run: () => "", site: () => "" };
  let asked = 0; // the latest request wins when names are clicked quickly one after another
  // Plates of runs the live snapshot no longer lists (closed once everyone was handed over),
  // read once each from the run itself.
  const closedRunPlates = new Map();
  const plate = (runId) => names.run(runId) || closedRunPlates.get(runId) || "";

  const runIdsIn = (events) => {
    const ids = new Set();
    for (const e of events) {
      const s = e.summary || {};
      if (s.run_id) ids.add(String(s.run_id));
      for (const who of [s.custodian, s.offered_to, s.offered_by]) {
        if (String(who || "").startsWith("escort:")) ids.add(String(who).slice("escort:".length));
      }
    }
    return [...ids];
  };

  const learnPlates = async (events) => {
    const unknown = runIdsIn(events).filter((id) => !plate(id));
    await Promise.all(unknown.map(async (id) => {
      try {
        const run = await DispatchApi.get(`/api/runs/${encodeURIComponent(id)}`);
        if (run.plate) closedRunPlates.set(id, run.plate);
      } catch {
        // The id stays as it is: readable enough, and the timeline must not fail for a label.
      }
    }));
  };

  // "desk:CAN-T2" → "接待台 / desk CAN-T2"; escort and receiver refs are ids, shown as the
  // run's plate or the site's name when the page knows them.
  const custodian = (value) => {
    if (!value) return "—";
    const [kind, ...rest] = String(value).split(":");
    const ref = rest.join(":");
    const label = W.CUSTODIAN_KIND[kind] ? `${W.CUSTODIAN_KIND[kind][0]} / ${W.CUSTODIAN_KIND[kind][1]}` : kind;
    let shown = ref;
    if (kind === "escort") shown = plate(ref) || ref;
    if (kind === "receiver") shown = names.site(ref) || ref;
    return ref ? `${label} ${shown}` : label;
  };

  const custodyCell = (type, summary) => {
    if (summary.custodian && (type === "Screened" || type === "CustodyAccepted")) {
      return el("span", { class: "custody accepted" }, "✓ ", bi("监护人", "Custodian"), `: ${custodian(summary.custodian)}`);
    }
    if (type === "CustodyOffered") {
      return el("span", { class: "custody offered" },
        `${custodian(summary.offered_by)} → ${custodian(summary.offered_to)} `, bi("（待接收）", "(offered)"));
    }
    if (type === "CustodyOfferWithdrawn") {
      return el("span", { class: "custody" }, bi("撤回交接给", "Offer withdrawn from"), ` ${custodian(summary.offered_to)}`);
    }
    return null;
  };

  // Other non-personal facts of the event, ids turned into plates and site names.
  const details = (summary) => {
    const parts = [];
    for (const [key, value] of Object.entries(summary || {})) {
      // Custody has its own words; the party id is a bare uuid nobody at the desk can read.
      if (["custodian", "offered_to", "offered_by", "party_id"].includes(key)) continue;
      if (value === null || value === "" || (Array.isArray(value) && !value.length)) continue;
      let shown = Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : String(value);
      if (key === "run_id") shown = plate(shown) || shown;
      if (key === "site_id") shown = names.site(shown) || shown;
      if (key === "risk") shown = W.risk(shown);
      parts.push(`${key}: ${shown}`);
    }
    return parts.join(" · ");
  };

  // Who held the traveller, in order, and an offer still waiting for acceptance.
  const chain = (events) => {
    const holders = [];
    let pending = null;
    for (const e of events) {
      const type = String(e.event_type || "").split(".").pop();
      const s = e.summary || {};
      if ((type === "Screened" || type === "CustodyAccepted") && s.custodian) {
        if (holders[holders.length - 1] !== s.custodian) holders.push(s.custodian);
        pending = null;
      } else if (type === "CustodyOffered") {
        pending = s.offered_to;
      } else if (type === "CustodyOfferWithdrawn") {
        pending = null;
      }
    }
    const text = holders.map(custodian).join(" → ") || "—";
    return pending ? `${text} ⇢ ${custodian(pending)}（待接收 / offered, not yet accepted）` : text;
  };

  const render = (events) => {
    const rows = events.map((e, index) => {
      const type = String(e.event_type || "").split(".").pop();
      const summary = e.summary || {};
      const custody = custodyCell(type, summary);
      const more = details(summary);
      return el("tr", { "data-event": type },
        el("td", { class: "num" }, String(index + 1)),
        el("th", { scope: "row" }, W.event(type)),
        el("td", {}, e.actor || "—"),
        el("td", {}, e.role ? W.role(e.role) : "—"),
        el("td", {}, e.where || "—"),
        el("td", {}, el("time", { datetime: e.occurred_at || "" }, dateTime(e.occurred_at))),
        el("td", {}, el("time", { datetime: e.recorded_at || "" }, dateTime(e.recorded_at))),
        el("td", {}, custody, custody && more ? el("br") : null, more ? el("span", { class: "details" }, more) : null));
    });
    $("timeline-events").replaceChildren(...rows);
    $("custody-chain").textContent = chain(events);
  };

  const open = async (journeyId, who, from) => {
    const dialog = $("timeline");
    opener = from || document.activeElement;
    const mine = ++asked;
    $("timeline-title").replaceChildren(bi("行程时间线", "Journey timeline"), `: ${who}`);
    $("timeline-events").replaceChildren();
    $("custody-chain").textContent = "—";
    $("timeline-status").textContent = "正在加载… / Loading…";
    if (!dialog.open) dialog.showModal();
    $("timeline-close").focus();
    try {
      const answer = await DispatchApi.get(`/api/journeys/${encodeURIComponent(journeyId)}/timeline`);
      if (mine !== asked) return;
      const events = answer.events || [];
      await learnPlates(events);
      if (mine !== asked) return;
      render(events);
      $("timeline-status").textContent = `${events.length} 个事件 / ${events.length} events`;
    } catch (error) {
      if (mine !== asked) return;
      $("timeline-status").textContent = error.message;
    }
  };

  const init = (lookups) => {
    names = lookups;
    const dialog = $("timeline");
    $("timeline-close").addEventListener("click", () => dialog.close());
    // Escape closes a modal dialog by itself; either way focus goes back where it came from.
    dialog.addEventListener("close", () => {
      if (opener && opener.isConnected) opener.focus();
      opener = null;
    });
  };

  return { init, open, close: () => $("timeline").open && $("timeline").close() };
})();
