// Draws one board state (docs/board.md) into the page: the line, vehicles on the road with
// their passengers, hotels, streets, alerts, the survey backlog and the door-to-door times.
// A section the state lacks (survey staff get no runs, journeys or alert details) is hidden.
// Everything is built with createElement/textContent: nothing from the API is parsed as HTML.
"use strict";

window.BoardRender = (() => {
  const { $, el, dateTime, moment, keepFocus } = DispatchUi;
  const { bi } = BoardLang;
  const W = DispatchWords;

  const LINE = [
    "registered", "screened", "destination_assigned", "seat_assigned", "boarded", "in_transit",
    "arrived", "checked_in", "under_quarantine", "released",
  ];
  const EXITS = ["referred_to_hospital", "no_show", "cancelled"];
  const ON_THE_ROAD = ["boarding", "departed", "arrived"];
  const LEGS = {
    to_seat: ["等待调度", "Waiting for dispatch", "筛查 → 排座", "screened → seat assigned"],
    to_board: ["等待上车", "Waiting for the vehicle", "排座 → 上车", "seat assigned → boarded"],
    transit: ["转运途中", "On the road", "上车 → 到达", "boarded → arrived"],
    handover: ["门口交接", "At the door", "到达 → 入住", "arrived → checked in"],
    door_to_door: ["车门到房门", "Car door to room door", "上车 → 入住", "boarded → checked in"],
    overall: ["全流程", "The whole line", "筛查 → 入住", "screened → checked in"],
    vehicle_wait: ["车辆等待", "Vehicle waiting", "首位上车 → 发车", "first boarding → departure"],
    to_survey: ["流调用时", "Time to survey", "入住 → 流调", "checked in → surveyed"],
  };
  const DIMENSIONS = {
    entry_point: ["入境点", "Entry point"],
    vehicle: ["车辆", "Vehicle"],
    hotel: ["隔离点", "Hotel or street"],
  };

  const pairOf = (table, code) => (table[code] ? bi(table[code][0], table[code][1]) : String(code || "—"));
  const stageWords = (code) => pairOf(W.STAGES, code);
  const num = (value) => (typeof value === "number" && Number.isFinite(value) ? value : Number(value) || 0);
  const rows = (section) => (section && typeof section === "object" ? Object.values(section) : []);
  const shortId = (id) => String(id || "").slice(0, 8);
  const has = (board, name) => Boolean(board) && Object.prototype.hasOwnProperty.call(board, name) && board[name] !== null;

  // 75 s → "1:15", 3725 s → "1:02:05"
  const pad = (n) => String(n).padStart(2, "0");
  const clock = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  };

  // The moment elapsed times are measured to: now when live, the chosen moment in the past.
  let measuredAt = () => Date.now();

  // SLA clocks: minutes each leg may take before its loop-not-closed alert (GET
  // /api/board/range "sla"); a run's clock counts towards the limit of the leg it is on.
  let sla = {};
  const setSla = (limits) => { sla = limits || {}; };
  const runClock = (run) => {
    if (run.status === "arrived") return { since: run.status_at, limit: sla.not_handed_over };
    if (run.status === "boarding" || run.status === "departed") {
      return { since: run.first_boarded_at || run.status_at, limit: sla.not_checked_in };
    }
    return { since: run.status_at, limit: undefined };
  };

  const updateElapsed = () => {
    const now = measuredAt();
    for (const node of document.querySelectorAll(".elapsed[data-since]")) {
      const since = Date.parse(node.dataset.since);
      const seconds = (now - since) / 1000;
      node.textContent = Number.isNaN(since) ? "—" : clock(seconds);
      const limit = Number(node.dataset.limitMinutes);
      const breached = limit > 0 && !Number.isNaN(since) && seconds > limit * 60;
      node.classList.toggle("breached", breached);
      const box = node.closest(".elapsed-box");
      if (box) box.classList.toggle("breached", breached);
    }
  };

  // ---- the line ------------------------------------------------------------------------------
  const stageItem = (stage, count) =>
    el("li", { class: "stage", "data-stage": stage, "data-count": String(count) },
      el("span", { class: "name" }, stageWords(stage)),
      el("b", { class: "count", "data-testid": "stage-count" }, String(count)));

  const renderLine = (board) => {
    const stages = board.stages || {};
    $("stages").replaceChildren(...LINE.map((s) => stageItem(s, num(stages[s]))));
    const others = Object.keys(stages).filter((s) => !LINE.includes(s) && !EXITS.includes(s));
    $("exits").replaceChildren(...[...EXITS, ...others].map((s) => stageItem(s, num(stages[s]))));
    const counters = board.counters;
    $("survey-panel").hidden = !counters;
    const due = num(counters && counters.survey_due);
    $("survey-due").textContent = String(due);
    $("survey-due").dataset.count = String(due);
  };

  // ---- vehicles --------------------------------------------------------------------------------
  const entryName = (board, code) => {
    const name = board.entry_points && board.entry_points[code];
    return name && name !== code ? `${name} (${code})` : code || "—";
  };
  const siteName = (board, siteId) => {
    const site = board.sites && board.sites[siteId];
    return site ? `${site.name} (${site.code})` : "";
  };

  const passenger = (board, journey, openTimeline) => {
    const who = `旅客 / Traveller ${shortId(journey.journey_id)}`;
    return el("li", {},
      el("button", { type: "button", class: "passenger link", "data-journey-id": journey.journey_id,
        "data-key": `journey:${journey.journey_id}`,
        "data-stage": journey.stage, "data-risk": journey.risk || "none",
        "aria-label": `时间线 ${shortId(journey.journey_id)} / Timeline of traveller ${shortId(journey.journey_id)}`,
        onclick: (e) => openTimeline(journey.journey_id, who, e.currentTarget) },
      el("span", { class: "id" }, shortId(journey.journey_id)), " ",
      el("span", { class: "stage" }, stageWords(journey.stage)),
      journey.risk === "high" ? el("span", { class: "risk risk-high" }, "⚠ ", bi("高风险", "high risk")) : null,
      journey.site_id ? el("span", { class: "dest" }, "→ ", siteName(board, journey.site_id) || shortId(journey.site_id)) : null));
  };

  const runCard = (board, run, passengers, openTimeline) => {
    const aboard = [...(passengers.get(run.run_id) || [])].sort((a, b) => String(a.entered_at).localeCompare(String(b.entered_at)) || String(a.journey_id).localeCompare(String(b.journey_id)));
    return el("article", { class: "run", "data-run-id": run.run_id, "data-status": run.status, "data-plate": run.plate },
      el("header", {},
        el("b", { class: "plate" }, run.plate || shortId(run.vehicle_id)),
        el("span", { class: "status", "data-status": run.status }, pairOf(W.RUN_STATUS, run.status)),
        (() => {
          const { since, limit } = runClock(run);
          return el("span", { class: "elapsed-box" },
            bi("已用时", "Clock"), " ",
            el("span", { class: "elapsed", "data-since": since || "", "data-limit-minutes": limit ? String(limit) : "" }, "—"),
            limit ? el("span", { class: "limit" }, ` / ${limit}:00`) : null);
        })()),
      el("p", { class: "facts" },
        el("span", {}, bi("已上车", "Boarded"), " ", el("b", { class: "boarded" }, String(num(run.boarded))),
          " / ", bi("已排", "Seated"), " ", el("b", { class: "seated" }, String(num(run.seated)))),
        el("span", {}, bi("座位", "Seats"), " ", el("b", { class: "seats" }, String(num(run.seats)))),
        num(run.handed_over) ? el("span", {}, bi("已交接", "Handed over"), " ", el("b", { class: "handed-over" }, String(num(run.handed_over)))) : null,
        el("span", { class: "entry" }, entryName(board, run.entry_point)),
        run.escort ? el("span", { class: "escort" }, bi("押运", "Escort"), ` ${run.escort}`) : null),
      aboard.length
        ? el("ul", { class: "passengers", "aria-label": `乘客 / Passengers (${aboard.length})` },
          aboard.map((j) => passenger(board, j, openTimeline)))
        : null);
  };

  const renderRuns = (board, openTimeline) => {
    const show = has(board, "runs");
    $("runs-panel").hidden = !show;
    if (!show) return;
    const all = rows(board.runs).sort((a, b) =>
      String(a.status_at || "").localeCompare(String(b.status_at || "")) || String(a.plate).localeCompare(String(b.plate)));
    const onRoad = all.filter((r) => ON_THE_ROAD.includes(r.status));
    const planned = all.filter((r) => !ON_THE_ROAD.includes(r.status));
    const passengers = new Map();
    for (const journey of rows(board.on_road)) {
      if (!journey.run_id) continue;
      if (!passengers.has(journey.run_id)) passengers.set(journey.run_id, []);
      passengers.get(journey.run_id).push(journey);
    }
    // A live update must not throw a keyboard user out of the list they are in.
    keepFocus($("runs"), () => $("runs").replaceChildren(...onRoad.map((r) => runCard(board, r, passengers, openTimeline))));
    keepFocus($("runs-planned"), () =>
      $("runs-planned").replaceChildren(...planned.map((r) => runCard(board, r, passengers, openTimeline))));
    $("runs-empty").hidden = onRoad.length > 0;
    $("runs-planned-empty").hidden = planned.length > 0;
    $("runs-count").textContent = `(${onRoad.length})`;
    $("runs-count").dataset.count = String(onRoad.length);
  };

  // ---- hotels and streets ------------------------------------------------------------------------
  const bar = (site) => {
    const total = Math.max(1, num(site.capacity) || num(site.occupied) + num(site.held) + num(site.free));
    const part = (cls, n) => {
      const piece = el("span", { class: cls });
      piece.style.inlineSize = `${(100 * Math.max(0, num(n))) / total}%`; // CSSOM: allowed by the CSP
      return piece;
    };
    return el("span", { class: "bar", role: "img",
      "aria-label": `入住 ${num(site.occupied)}、预留 ${num(site.held)}、空闲 ${num(site.free)} / occupied ${num(site.occupied)}, held ${num(site.held)}, free ${num(site.free)}` },
    part("bar-occupied", site.occupied), part("bar-held", site.held), part("bar-free", site.free));
  };

  const renderSites = (board) => {
    const sites = rows(board.sites).sort((a, b) => String(a.code).localeCompare(String(b.code)));
    const hotels = sites.filter((s) => s.kind === "hotel");
    const streets = sites.filter((s) => s.kind === "home");
    $("sites-panel").hidden = !has(board, "sites");
    $("hotels").replaceChildren(...hotels.map((s) =>
      el("tr", { "data-site-id": s.site_id, "data-site-code": s.code, class: num(s.free) < 1 ? "full" : "" },
        el("th", { scope: "row" }, `${s.name} (${s.code})`),
        el("td", { class: "num occupied" }, String(num(s.occupied))),
        el("td", { class: "num held" }, String(num(s.held))),
        el("td", { class: "num free" }, String(num(s.free))),
        el("td", { class: "num capacity" }, String(num(s.capacity))),
        el("td", { class: "use" }, bar(s)))));
    $("hotels-empty").hidden = hotels.length > 0;
    $("streets").replaceChildren(...streets.map((s) => {
      // Who the street has now: released travellers and exits are history, not a workload.
      const stages = Object.entries(s.stages || {})
        .filter(([stage, n]) => num(n) > 0 && LINE.includes(stage) && stage !== "released")
        .sort(([a], [b]) => LINE.indexOf(a) - LINE.indexOf(b));
      return el("tr", { "data-site-id": s.site_id, "data-site-code": s.code, class: num(s.free) < 1 ? "full" : "" },
        el("th", { scope: "row" }, `${s.name} (${s.code})`),
        el("td", { class: "by-stage" }, stages.length
          ? el("ul", { class: "chips" }, stages.map(([stage, n]) =>
            el("li", { "data-stage": stage, "data-count": String(num(n)) }, stageWords(stage), " ", el("b", { class: "count" }, String(num(n))))))
          : "—"),
        el("td", { class: "num free" }, String(num(s.free))),
        el("td", { class: "num capacity" }, String(num(s.capacity))));
    }));
    $("streets-empty").hidden = streets.length > 0;
  };

  // ---- alerts --------------------------------------------------------------------------------------
  const renderAlerts = (board, openTimeline) => {
    const counts = board.alert_counts || {};
    const showCounts = has(board, "alert_counts");
    const showList = has(board, "alerts");
    $("alerts-panel").hidden = !showCounts && !showList;
    const kinds = [...new Set([...Object.keys(W.ALERTS), ...Object.keys(counts)])];
    const total = kinds.reduce((n, k) => n + num(counts[k]), 0);
    $("alerts-total").textContent = showCounts ? `(${total})` : "";
    $("alerts-total").dataset.count = String(total);
    $("alert-counts").replaceChildren(...(showCounts ? kinds : []).map((kind) =>
      el("li", { "data-alert-kind": kind, "data-count": String(num(counts[kind])), class: num(counts[kind]) ? "some" : "none" },
        pairOf(W.ALERTS, kind), " ", el("b", { class: "count" }, String(num(counts[kind]))))));
    $("alerts").hidden = !showList;
    const alerts = rows(board.alerts).sort((a, b) => String(a.since).localeCompare(String(b.since)));
    $("alerts-empty").hidden = !showList || alerts.length > 0;
    const now = measuredAt();
    keepFocus($("alerts"), () => $("alerts").replaceChildren(...(showList ? alerts : []).map((a) => {
      const since = Date.parse(a.since);
      const minutes = Number.isNaN(since) ? null : Math.max(0, Math.floor((now - since) / 60_000));
      const plate = a.run_id && board.runs && board.runs[a.run_id] ? board.runs[a.run_id].plate : "";
      return el("li", { class: "alert", "data-alert-id": a.alert_id, "data-kind": a.kind },
        el("p", { class: "kind" }, el("b", {}, W.ALERTS[a.kind] ? pairOf(W.ALERTS, a.kind) : a.message || a.kind)),
        a.message ? el("p", { class: "message", lang: "en" }, a.message) : null,
        a.detail && a.detail !== a.message ? el("p", { class: "detail", "data-no-split": "" }, a.detail) : null,
        el("p", { class: "since" }, bi("自", "Since"), " ", el("time", { datetime: a.since || "" }, moment(a.since)),
          minutes === null ? "" : ` (${minutes} min)`,
          a.entry_point ? el("span", { class: "entry" }, ` · ${entryName(board, a.entry_point)}`) : null,
          a.run_id ? el("span", { class: "vehicle" }, " · ", bi("车辆", "Vehicle"), ` ${plate || shortId(a.run_id)}`) : null),
        a.journey_id
          ? el("button", { type: "button", class: "link", "data-journey-id": a.journey_id, "data-key": `alert:${a.alert_id}`,
            onclick: (e) => openTimeline(a.journey_id, `旅客 / Traveller ${shortId(a.journey_id)}`, e.currentTarget) },
          bi("查看时间线", "Timeline"), ` ${shortId(a.journey_id)}`)
          : null);
    })));
  };

  // ---- door-to-door times --------------------------------------------------------------------------
  const cellsOf = (board) => {
    const timings = board.timings || {};
    if (board.day && timings[board.day]) return [board.day, timings[board.day]];
    const days = Object.keys(timings).sort();
    return days.length ? [days[days.length - 1], timings[days[days.length - 1]]] : [board.day || "", {}];
  };

  const keyLabel = (board, dimension, key) => {
    if (dimension === "entry_point") return entryName(board, key);
    if (dimension === "hotel") return siteName(board, key) || key;
    return key;
  };

  const minutes = (cell, field) => (cell && typeof cell[field] === "number" ? String(cell[field]) : "—");

  const renderTimings = (board, dimension) => {
    const show = has(board, "timings");
    $("timings-panel").hidden = !show;
    if (!show) return;
    const [day, cells] = cellsOf(board);
    $("timings-day").textContent = day ? `(${day})` : "";
    $("timings-legs").replaceChildren(...Object.entries(LEGS).map(([leg, words]) => {
      const cell = cells[`${leg}|all|`];
      return el("tr", { "data-leg": leg },
        el("th", { scope: "row" }, bi(words[0], words[1]), el("small", { class: "leg-span" }, bi(words[2], words[3]))),
        el("td", { class: "num n" }, cell ? String(num(cell.n)) : "0"),
        el("td", { class: "num p50" }, minutes(cell, "p50")),
        el("td", { class: "num p95" }, minutes(cell, "p95")));
    }));
    const keys = new Set();
    for (const name of Object.keys(cells)) {
      const [, dim, ...rest] = name.split("|");
      if (dim === dimension) keys.add(rest.join("|"));
    }
    const legs = Object.keys(LEGS);
    $("timings-by-head").replaceChildren(
      el("th", { scope: "col" }, pairOf(DIMENSIONS, dimension)),
      ...legs.map((leg) => el("th", { scope: "col", class: "num", "data-leg": leg }, bi(LEGS[leg][0], LEGS[leg][1]))));
    const sorted = [...keys].map((key) => [key, keyLabel(board, dimension, key)])
      .sort((a, b) => a[1].localeCompare(b[1]));
    $("timings-keys").replaceChildren(...sorted.map(([key, label]) =>
      el("tr", { "data-key": key, "data-dimension": dimension },
        el("th", { scope: "row" }, label),
        ...legs.map((leg) => {
          const cell = cells[`${leg}|${dimension}|${key}`];
          return el("td", { class: "num", "data-leg": leg },
            cell ? `${minutes(cell, "p50")} / ${minutes(cell, "p95")} (${num(cell.n)})` : "—");
        }))));
    $("timings-empty").hidden = Object.keys(cells).length > 0;
  };

  // ---- the header --------------------------------------------------------------------------------
  const renderHeader = (board) => {
    const position = $("board-position");
    position.textContent = typeof board.position === "number" ? String(board.position) : "—";
    position.dataset.position = String(typeof board.position === "number" ? board.position : -1);
    const at = $("board-at");
    at.textContent = board.at ? dateTime(board.at) : "—";
    at.dateTime = board.at || "";
    $("board-rebuilding").hidden = !board.rebuilding;
  };

  // render(board, { dimension, openTimeline, measuredAt }): the whole board. One section's
  // failure (an answer the page did not expect) must not blank the others.
  const render = (board, options) => {
    measuredAt = options.measuredAt || (() => Date.now());
    const parts = [
      () => renderHeader(board),
      () => renderLine(board),
      () => renderRuns(board, options.openTimeline),
      () => renderSites(board),
      () => renderAlerts(board, options.openTimeline),
      () => renderTimings(board, options.dimension),
    ];
    const failures = [];
    for (const part of parts) {
      try {
        part();
      } catch (failure) {
        console.error(failure);
        failures.push(failure);
      }
    }
    updateElapsed();
    return failures;
  };

  return { render, updateElapsed, setSla, LINE, EXITS, LEGS, DIMENSIONS, shortId };
})();
