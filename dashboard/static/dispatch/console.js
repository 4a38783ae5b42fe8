// The dispatch console: sign in, then one snapshot of the desk (GET /api/dispatch) drawn as the
// queue, live capacity, runs and alerts, kept current by long-polling /api/dispatch/changes.
//
// Why a snapshot per change rather than deltas: the desk shows a few hundred rows at most, one
// GET redraws all of them consistently at one position, and a missed change cannot leave the
// page wrong. The other scripts: words.js (codes → zh/en), api.js (fetch, idempotent commands,
// long-poll), ui.js (DOM helpers), assign.js, runs.js, transfers.js (hospital transfers),
// timeline.js.
"use strict";

(() => {
  const { $, el, bi, time, moment, duration, keepFocus, say, showError, clearError } = DispatchUi;
  const W = DispatchWords;
  const TICK_MS = 30_000; // waiting minutes are recomputed twice a minute from the server's clock
  const LONG_WAIT_MINUTES = 60;
  const VIEWERS = ["dispatcher", "commander", "admin"];

  const state = {
    snapshot: null,
    position: -1,
    clockOffset: 0, // server now − this computer's now, so waiting times use the server's clock
    entryPoints: [],
    stopLive: null,
    tick: null,
    refreshing: null,
    refreshAgain: false,
  };

  const canAct = () => StaffSession.role() === "dispatcher";

  // ---- reading the desk ------------------------------------------------------------------
  // One refresh at a time; a change arriving meanwhile asks for exactly one more.
  const refresh = async () => {
    if (state.refreshing) {
      state.refreshAgain = true;
      return state.refreshing;
    }
    state.refreshing = (async () => {
      try {
        do {
          state.refreshAgain = false;
          const [snapshot, reference] = await Promise.all([
            DispatchApi.get("/api/dispatch"),
            // Entry points for "plan a run": reference data, read along (it is small).
            DispatchApi.get("/api/reference").catch(() => null),
          ]);
          if (!StaffSession.token()) return;
          if (reference && Array.isArray(reference.entry_points)) state.entryPoints = reference.entry_points;
          show(snapshot);
        } while (state.refreshAgain);
      } finally {
        state.refreshing = null;
      }
    })();
    return state.refreshing;
  };

  const show = (snapshot) => {
    state.snapshot = snapshot;
    state.position = snapshot.position;
    const now = Date.parse(snapshot.now);
    state.clockOffset = Number.isNaN(now) ? 0 : now - Date.now();
    const updated = $("updated");
    // The moment the snapshot reflects, on the server's clock (what the waiting times use too).
    updated.textContent = time(snapshot.now || new Date().toISOString());
    updated.dateTime = snapshot.now || "";
    $("console").dataset.position = String(snapshot.position);
    // One panel's failure (an unexpected answer) must not blank the others.
    const panels = [renderQueue, renderCapacity, renderAlerts, DispatchRuns.update, DispatchAssign.update,
      DispatchTransfers.update];
    for (const render of panels) {
      try {
        render();
      } catch (failure) {
        console.error(failure);
        showError(`页面显示出错 / Display error: ${failure.message}`);
      }
    }
  };

  const entryPoints = () => {
    const known = new Map(state.entryPoints.map((e) => [e.code, e]));
    for (const group of (state.snapshot && state.snapshot.queue) || []) {
      if (!known.has(group.entry_point)) {
        known.set(group.entry_point, { code: group.entry_point, name: group.entry_point_name || group.entry_point });
      }
    }
    return [...known.values()].sort((a, b) => a.code.localeCompare(b.code));
  };

  const findParty = (partyId) => {
    for (const group of (state.snapshot && state.snapshot.queue) || []) {
      const party = (group.parties || []).find((p) => p.party_id === partyId);
      if (party) return { ...party, entry_point: group.entry_point, entry_point_name: group.entry_point_name };
    }
    return null;
  };

  const siteName = (siteId) => {
    const site = ((state.snapshot && state.snapshot.sites) || []).find((s) => s.site_id === siteId);
    return site ? `${site.name} (${site.code})` : "";
  };
  const runPlate = (runId) => {
    const run = ((state.snapshot && state.snapshot.runs) || []).find((r) => r.run_id === runId);
    return run ? run.plate : "";
  };

  // ---- the queue -------------------------------------------------------------------------
  const waitingMinutes = (since) => {
    const start = Date.parse(since);
    if (Number.isNaN(start)) return null;
    return Math.max(0, Math.floor((Date.now() + state.clockOffset - start) / 60_000));
  };

  const updateWaiting = () => {
    for (const node of document.querySelectorAll(".waiting[data-since]")) {
      const minutes = waitingMinutes(node.dataset.since);
      if (minutes === null) continue;
      node.querySelector(".minutes").textContent = String(minutes);
      node.dataset.long = String(minutes >= LONG_WAIT_MINUTES);
    }
  };

  const openTimeline = (journeyId, who, from) => DispatchTimeline.open(journeyId, who, from);

  // Travellers leave the queue and, once through the room door, the open runs: the dispatcher
  // still finds anyone by their personal code (a scanner gun, or the code page's address
  // pasted) and reads their timeline. The look-up is the desk's read-only scan.
  const findTraveller = async (event) => {
    event.preventDefault();
    const raw = $("find-code").value.trim();
    const code = raw.split("/t/").pop().split(/[?#/]/)[0];
    $("find-error").textContent = "";
    if (!code) return;
    try {
      const found = await DispatchApi.get(`/api/scans/${encodeURIComponent(code)}?handoff=desk`);
      const who = `${found.name_native || ""} ${found.name_latin || ""}`.trim();
      openTimeline(found.journey_id, who, $("find-code"));
    } catch (failure) {
      showError(failure, $("find-error"), "查找 / Find");
    }
  };

  const partyCard = (group, party) => {
    const names = party.members.map((m) => m.name_native || m.name_latin).join("、");
    const minutes = waitingMinutes(party.waiting_since) ?? party.waiting_minutes;
    const titleId = `party-${party.party_id}`;
    const members = party.members.map((m) => {
      const who = `${m.name_native || ""} ${m.name_latin || ""}`.trim();
      return el("li", {},
        el("button", { type: "button", class: "link member", "data-key": `tl:${m.journey_id}`,
          "aria-label": `时间线 ${who} / Timeline of ${who}`,
          onclick: (e) => openTimeline(m.journey_id, who, e.currentTarget) },
        el("span", { class: "native" }, m.name_native || "—"), " ",
        el("span", { class: "latin", lang: "en" }, m.name_latin || "")));
    });
    const destination = party.destination
      ? `${party.destination.site_name} (${party.destination.site_code}) — ${W.siteKind(party.destination.kind)}${party.destination.room ? ` — 房间 / room ${party.destination.room}` : ""}`
      : "—";
    const streetSite = (state.snapshot.sites || []).find((s) => s.code === party.street);
    const street = !party.street ? "—" : streetSite ? `${streetSite.name} (${party.street})` : party.street;
    return el("li", { class: `party${DispatchAssign.selected() === party.party_id ? " selected" : ""}`,
      "data-party": party.party_id, "data-risk": party.risk || "none", "data-stage": party.stage },
    el("article", { "aria-labelledby": titleId },
      el("header", {},
        el("h4", { id: titleId },
          `${party.size} 人 / ${party.size} ${party.size === 1 ? "person" : "people"}`,
          el("span", { class: "visually-hidden" }, `: ${names}`)),
        el("span", { class: `risk risk-${party.risk || "none"}` }, party.risk === "high" ? "⚠ " : "", W.risk(party.risk)),
        el("span", { class: "stage" }, W.stage(party.stage)),
        el("span", { class: "waiting", "data-since": party.waiting_since, "data-long": String(minutes >= LONG_WAIT_MINUTES) },
          bi("等候", "Waiting"), " ", el("b", { class: "minutes" }, String(minutes)), " ", bi("分钟", "min"))),
      el("ul", { class: "members" }, members),
      el("dl", {},
        el("dt", {}, bi("登记街道", "Street")), el("dd", { class: "street" }, street),
        el("dt", {}, bi("目的地", "Destination")), el("dd", { class: "destination" }, destination)),
      canAct()
        ? el("button", { type: "button", class: "assign", "data-key": `assign:${party.party_id}`,
          "aria-label": `分配 ${names} / Assign party of ${party.size}: ${names}`,
          onclick: () => DispatchAssign.open(party.party_id) }, bi("分配", "Assign"))
        : null));
  };

  const renderQueue = () => {
    const groups = (state.snapshot && state.snapshot.queue) || [];
    let parties = 0;
    let people = 0;
    const container = $("queue");
    keepFocus(container, () => {
      container.replaceChildren(...groups.map((group) => {
        const list = [...(group.parties || [])].sort((a, b) => Date.parse(a.waiting_since) - Date.parse(b.waiting_since));
        parties += list.length;
        people += list.reduce((n, p) => n + p.size, 0);
        const titleId = `ep-${group.entry_point}`;
        return el("section", { class: "entry-point", "data-entry-point": group.entry_point, "aria-labelledby": titleId },
          el("h3", { id: titleId }, `${group.entry_point_name || group.entry_point} (${group.entry_point})`),
          el("p", { class: "counts" },
            el("span", { class: "awaiting" }, bi("待筛查", "Awaiting screening"), ": ",
              el("b", { class: "awaiting-count" }, String(group.awaiting_screening ?? 0))),
            " · ",
            el("span", {}, bi("待分配组", "Parties waiting"), ": ", el("b", { class: "party-count" }, String(list.length)))),
          list.length ? el("ol", { class: "parties" }, list.map((p) => partyCard(group, p))) : null);
      }));
    });
    $("queue-empty").hidden = parties > 0;
    $("queue-count").textContent = `${parties} 组 ${people} 人 / ${parties} parties, ${people} people`;
  };

  const markSelected = (partyId) => {
    for (const card of $("queue").querySelectorAll("li.party")) {
      card.classList.toggle("selected", card.dataset.party === partyId);
    }
  };
  const focusParty = (partyId) => {
    const button = $("queue").querySelector(`[data-key="assign:${CSS.escape(partyId)}"]`);
    if (button) button.focus();
  };
  const focusQueue = () => {
    const first = $("queue").querySelector("button.assign");
    (first || $("queue-title")).focus();
  };

  // ---- live capacity ---------------------------------------------------------------------
  // A stacked bar of occupied / held / free; sizes are set through the CSSOM (allowed by the
  // page's CSP, unlike style attributes).
  const bar = (site) => {
    const total = Math.max(1, Number(site.capacity) || Number(site.occupied) + Number(site.held) + Number(site.free));
    const part = (cls, n) => {
      const span = el("span", { class: cls });
      span.style.inlineSize = `${(100 * Math.max(0, Number(n) || 0)) / total}%`;
      return span;
    };
    return el("span", { class: "bar", role: "img",
      "aria-label": `入住 ${site.occupied}、预留 ${site.held}、空闲 ${site.free} / occupied ${site.occupied}, held ${site.held}, free ${site.free}` },
    part("bar-occupied", site.occupied), part("bar-held", site.held), part("bar-free", site.free));
  };

  const renderCapacity = () => {
    const snapshot = state.snapshot;
    const sites = snapshot.sites || [];
    $("hotels").replaceChildren(...sites.filter((s) => s.kind === "hotel").map((s) =>
      el("tr", { "data-site": s.code, class: Number(s.free) < 1 ? "full" : "" },
        el("th", { scope: "row" }, `${s.name} (${s.code})`),
        el("td", { class: "num free" }, String(s.free)),
        el("td", { class: "num held" }, String(s.held)),
        el("td", { class: "num occupied" }, String(s.occupied)),
        el("td", {}, bar(s)))));
    $("streets").replaceChildren(...sites.filter((s) => s.kind === "home").map((s) =>
      el("tr", { "data-site": s.code, class: Number(s.free) < 1 ? "full" : "" },
        el("th", { scope: "row" }, `${s.name} (${s.code})`),
        el("td", { class: "num free" }, String(s.free)),
        el("td", { class: "num taken" }, String(Number(s.held) + Number(s.occupied))),
        el("td", { class: "num capacity" }, String(s.capacity)))));
    // A vehicle drives one trip at a time: an open run, or a hospital transfer (its
    // `active_run` is then the transfer's id); anything else it is on is simply "busy".
    $("vehicles").replaceChildren(...(snapshot.vehicles || []).map((v) => {
      const run = v.active_run && (snapshot.runs || []).find((r) => r.run_id === v.active_run);
      const transfer = v.active_run && !run ? DispatchTransfers.transferOf(v) : null;
      const code = !v.active_run ? "idle" : run ? "on_run" : transfer ? "on_transfer" : "busy";
      let words = W.vehicleState(code);
      if (run) words += ` — ${W.runStatus(run.status)}`;
      if (transfer) words += ` — ${DispatchTransfers.who(transfer)}`;
      return el("tr", { "data-plate": v.plate, "data-state": code, class: v.active_run ? "busy" : "idle" },
        el("th", { scope: "row" }, v.plate),
        el("td", { class: "num" }, String(v.seats)),
        el("td", { class: "state" }, words));
    }));
  };

  // ---- alerts ----------------------------------------------------------------------------
  // The snapshot's `alerts` is a list; the alerts query's own answer ({alerts, counts}) is
  // accepted too, so the panel does not depend on which of the two the API passes through.
  const alertList = () => {
    const raw = state.snapshot && state.snapshot.alerts;
    if (Array.isArray(raw)) return raw;
    return raw && Array.isArray(raw.alerts) ? raw.alerts : [];
  };

  // An alert's subject is a journey or run id (the views hold no names): show the traveller's
  // name when the queue knows it, and the vehicle's plate.
  const nameOf = (journeyId) => {
    for (const group of (state.snapshot && state.snapshot.queue) || []) {
      for (const party of group.parties || []) {
        const m = (party.members || []).find((x) => x.journey_id === journeyId);
        if (m) return `${m.name_native || ""} ${m.name_latin || ""}`.trim();
      }
    }
    return "";
  };
  const alertSubject = (a) => {
    const parts = [];
    if (a.journey_id) parts.push(nameOf(a.journey_id) || `旅客 / traveller ${a.journey_id.slice(0, 8)}`);
    if (a.run_id) parts.push(`车辆 / vehicle ${runPlate(a.run_id) || a.run_id.slice(0, 8)}`);
    return parts.join(" — ") || a.subject || "—";
  };

  const renderAlerts = () => {
    const alerts = alertList().filter((a) => !a.status || a.status === "open")
      .sort((a, b) => Date.parse(a.since) - Date.parse(b.since));
    $("alerts-empty").hidden = alerts.length > 0;
    $("alerts-count").textContent = alerts.length ? `(${alerts.length})` : "";
    $("alerts-panel").dataset.count = String(alerts.length);
    keepFocus($("alerts"), () => {
      $("alerts").replaceChildren(...alerts.map((a) => {
        const minutes = waitingMinutes(a.since);
        const subject = alertSubject(a);
        return el("li", { class: "alert", "data-kind": a.kind, "data-alert": a.alert_id },
          el("p", { class: "kind" }, el("b", {}, W.alert(a.kind, a.message))),
          el("p", { class: "subject" }, subject),
          el("p", { class: "since" }, bi("自", "Since"), ` ${moment(a.since)}`,
            minutes === null ? "" : `（${duration(minutes)}）`),
          a.message && W.ALERTS[a.kind] ? el("p", { class: "message", lang: "en" }, a.message) : null,
          a.detail && a.detail !== a.message ? el("p", { class: "message" }, a.detail) : null,
          a.journey_id
            ? el("button", { type: "button", class: "link", "data-key": `alert:${a.alert_id}`,
              onclick: (e) => openTimeline(a.journey_id, subject || a.journey_id, e.currentTarget) }, bi("查看时间线", "Timeline"))
            : null);
      }));
    });
  };

  // ---- live ------------------------------------------------------------------------------
  const setLive = (mode, delay) => {
    const live = $("live");
    live.dataset.state = mode;
    if (mode === "live") live.replaceChildren("● ", bi("实时", "Live"));
    else if (mode === "retrying") live.replaceChildren(bi("连接中断，重试中", `Connection lost, retrying in ${Math.round(delay / 1000)} s`));
    else live.replaceChildren(bi("未连接", "Offline"));
  };

  const startLive = () => {
    if (state.stopLive) state.stopLive();
    // The snapshot just arrived, so the page is current; the first long-poll may take ~20 s.
    if (state.snapshot) setLive("live");
    state.stopLive = DispatchApi.follow({
      position: () => state.position,
      onChange: async () => {
        await refresh();
      },
      onState: (mode, delay) => setLive(mode, delay),
    });
  };

  // ---- sign-in and start -----------------------------------------------------------------
  const signOut = (zh, en) => {
    if (state.stopLive) state.stopLive();
    state.stopLive = null;
    clearInterval(state.tick);
    state.snapshot = null;
    state.position = -1;
    StaffSession.clear();
    DispatchTimeline.close();
    DispatchAssign.close(false);
    DispatchRuns.reset();
    DispatchTransfers.reset();
    $("console").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    setLive("off");
    clearError();
    say(zh || "", en || "");
    $("username").focus();
  };

  const start = async () => {
    $("sign-in").hidden = true;
    $("who").hidden = false;
    const role = StaffSession.role();
    $("who-role").textContent = W.role(role);
    clearError();
    if (!VIEWERS.includes(role)) {
      showError(`您的角色（${role}）不能使用调度台 / Your role (${role}) cannot use the dispatch console`);
      return;
    }
    document.body.dataset.canAct = String(canAct());
    $("assign-panel").hidden = !canAct(); // commanders and admins watch; they do not assign
    say("正在加载…", "Loading…");
    try {
      await refresh();
      if (canAct()) say("", "");
      else say("只读：调度员才能分配和调度车辆", "Read only: only dispatchers assign and move runs");
    } catch (failure) {
      say("", "");
      showError(failure);
      if (failure.status === 401 || failure.status === 403) return;
    }
    $("console").hidden = false;
    clearInterval(state.tick);
    state.tick = setInterval(updateWaiting, TICK_MS);
    startLive();
  };

  document.addEventListener("DOMContentLoaded", () => {
    DispatchApi.setSignedOutHandler(() =>
      signOut("登录已过期，请重新登录", "Your sign-in has expired; please sign in again"));
    DispatchTimeline.init({ run: runPlate, site: siteName });
    DispatchRuns.init({ snapshot: () => state.snapshot, canAct, refresh, entryPoints, openTimeline });
    DispatchAssign.init({ snapshot: () => state.snapshot, findParty, canAct, refresh, markSelected, focusParty, focusQueue });
    DispatchTransfers.init({ snapshot: () => state.snapshot, canAct, refresh, openTimeline, waitingMinutes, runPlate });
    StaffSession.bindSignInForm(start);
    $("sign-out").addEventListener("click", () => signOut("已退出", "Signed out"));
    $("error-dismiss").addEventListener("click", () => clearError());
    $("find-form").addEventListener("submit", findTraveller);
    if (StaffSession.token()) start();
    else {
      $("sign-in").hidden = false;
      $("username").focus();
    }
  });
})();
