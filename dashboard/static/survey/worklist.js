// The survey desk's lists: the worklist (GET /api/survey/worklist: open journeys not yet
// surveyed, high risk first, then by how long their clock has run) with each SLA clock ticking
// in the page, and the tests due (GET /api/quarantine/tests-due). Neither read holds health
// data or is logged, so both are polled; the health record is read only when a case is opened.
"use strict";

window.SurveyLists = (() => {
  const { $, el, bi, time, keepFocus, showError, clearError } = DispatchUi;
  const W = DispatchWords;
  const S = SurveyWords;
  const POLL_MS = 8_000; // the surveyors' feed: the dispatch long-poll is not theirs
  const TICK_MS = 5_000; // clocks show hours:minutes; a few seconds late is fine
  // Server now − this computer's now. Relearnt only when it moves by more than this: a
  // request's latency is not a change of clock, but a computer whose clock was reset is.
  const CLOCK_JUMP_MS = 10 * 60_000;

  const state = {
    worklist: null,
    tests: null,
    offset: null,
    timer: null,
    tick: null,
    stopped: true,
    surveyedHere: new Set(), // recorded on this page; hidden until the views say so too
    selected: null,
    testsOn: "", // the day the desk chose for the tests due; empty: the server's today
    hooks: { open: () => {} },
  };

  const now = () => Date.now() + (state.offset || 0);

  const learnClock = (serverNow) => {
    const at = Date.parse(serverNow);
    if (Number.isNaN(at)) return;
    const offset = at - Date.now();
    if (state.offset === null || Math.abs(offset - state.offset) > CLOCK_JUMP_MS) state.offset = offset;
  };

  const who = (j) => `${j.name_native || ""} ${j.name_latin || ""}`.trim() || j.journey_id.slice(0, 8);

  // "荔湾酒店 H-1 / 房间 / room 301"; a home street says so instead of a room.
  const place = (destination, room) => {
    if (!destination) return "—";
    return el("span", { class: "place", "data-site": destination.code },
      el("span", { class: "site" }, destination.name), " ", el("span", { class: "details" }, destination.code),
      el("span", { class: "room" }, destination.kind === "home"
        ? W.siteKind("home")
        : room ? `房间 / room ${room}` : W.siteKind(destination.kind)));
  };

  const nameButton = (j, purpose, prefix) =>
    el("button", { type: "button", class: "link traveller", "data-key": `${prefix}:${j.journey_id}`,
      "aria-label": `打开个案 ${who(j)} / Open the case of ${who(j)}`,
      onclick: (e) => state.hooks.open(j.journey_id, summaryOf(j), purpose, e.currentTarget) },
    el("span", { class: "native" }, j.name_native || "—"), " ",
    el("span", { class: "latin", lang: "en" }, j.name_latin || ""));

  const summaryOf = (j) => ({
    journey_id: j.journey_id, name_native: j.name_native, name_latin: j.name_latin,
    stage: j.stage, risk: j.risk, destination: j.destination, room: j.room,
  });

  // ---- the SLA clock ---------------------------------------------------------------------
  const setClock = (cell) => {
    const deadline = Date.parse(cell.dataset.deadline);
    if (Number.isNaN(deadline)) return;
    const left = deadline - now();
    const overdue = left < 0;
    const shown = S.clock(left);
    const timeNode = cell.querySelector(".time");
    if (timeNode.textContent !== shown) timeNode.textContent = shown;
    if (cell.dataset.overdue !== String(overdue)) {
      cell.dataset.overdue = String(overdue);
      cell.querySelector(".clock-words").replaceChildren(overdue ? bi("超时", "overdue") : bi("剩余", "left"));
    }
    const row = cell.closest("tr");
    if (row && row.classList.contains("overdue") !== overdue) row.classList.toggle("overdue", overdue);
  };

  const clockCell = (j) => {
    if (!j.deadline) {
      return el("td", { class: "clock", "data-started": "false" },
        el("span", { class: "not-started" }, bi("未开始计时", "clock not started")),
        el("span", { class: "why" }, " (", bi("尚未入住", "not checked in yet"), ")"));
    }
    const cell = el("td", { class: "clock", "data-started": "true", "data-deadline": j.deadline, "data-overdue": "" },
      el("b", { class: "time" }, ""), " ", el("span", { class: "clock-words" }),
      el("span", { class: "deadline" }, bi("截止", "due by"), ` ${time(j.deadline)}`));
    setClock(cell);
    return cell;
  };

  const tickClocks = () => {
    for (const cell of document.querySelectorAll("#worklist .clock[data-deadline]")) setClock(cell);
  };

  // ---- the worklist ----------------------------------------------------------------------
  const renderWorklist = () => {
    const answer = state.worklist;
    const journeys = (answer.journeys || []).filter((j) => !state.surveyedHere.has(j.journey_id));
    // Once the views no longer list a journey surveyed here, nothing needs hiding any more.
    const listed = new Set((answer.journeys || []).map((j) => j.journey_id));
    for (const id of [...state.surveyedHere]) if (!listed.has(id)) state.surveyedHere.delete(id);
    const container = $("worklist");
    keepFocus(container, () => {
      container.replaceChildren(...journeys.map((j) =>
        el("tr", { "data-journey": j.journey_id, "data-risk": j.risk || "none", "data-stage": j.stage,
          class: state.selected === j.journey_id ? "selected" : "" },
        el("th", { scope: "row" }, nameButton(j, "survey", "open")),
        el("td", {}, el("span", { class: `risk risk-${j.risk || "none"}` }, j.risk === "high" ? "⚠ " : "", W.risk(j.risk))),
        el("td", { class: "stage" }, W.stage(j.stage)),
        el("td", { class: "destination" }, place(j.destination, j.room)),
        clockCell(j))));
    });
    tickClocks(); // the rows' own colours, now that each clock is in its row
    const overdue = journeys.filter((j) => j.deadline && Date.parse(j.deadline) < now()).length;
    const total = Math.max(0, (answer.total ?? journeys.length) - (answer.journeys || []).length + journeys.length);
    $("worklist-empty").hidden = journeys.length > 0;
    $("worklist-count").textContent = `(${total})`;
    $("worklist-summary").replaceChildren(
      bi("待流调", "Due"), `: ${total}`, " · ",
      el("span", { class: overdue ? "overdue-count late" : "overdue-count" }, bi("已超时", "overdue"), `: ${overdue}`));
    $("sla-zh").textContent = String(answer.sla_hours ?? 24);
    $("sla-en").textContent = String(answer.sla_hours ?? 24);
  };

  // ---- tests due -------------------------------------------------------------------------
  const renderTests = () => {
    const tests = (state.tests && state.tests.tests) || [];
    const container = $("tests");
    keepFocus(container, () => {
      container.replaceChildren(...tests.map((t) =>
        el("tr", { "data-journey": t.journey_id, "data-day": String(t.day), class: t.overdue ? "overdue" : "" },
          el("th", { scope: "row" }, nameButton(t, "test_follow_up", `test:${t.day}`)),
          el("td", { class: "num" }, String(t.day)),
          el("td", {}, t.due_on || "—", t.overdue ? el("span", { class: "late" }, " ", bi("逾期", "overdue")) : null),
          el("td", {}, place(t.destination, t.room)))));
    });
    $("tests-empty").hidden = tests.length > 0;
    $("tests-count").textContent = `(${tests.length})`;
  };

  // ---- reading ---------------------------------------------------------------------------
  const setLive = (mode) => {
    const live = $("live");
    live.dataset.state = mode;
    if (mode === "live") live.replaceChildren("● ", bi("实时", "Live"));
    else if (mode === "retrying") live.replaceChildren(bi("连接中断，重试中", "Connection lost, retrying"));
    else live.replaceChildren(bi("未连接", "Offline"));
  };

  const refresh = async () => {
    // Today's tests (the server's day) unless the desk chose a day: a desk left open overnight
    // moves on to the new day by itself.
    const on = state.testsOn;
    const [worklist, tests] = await Promise.all([
      SurveyApi.get("/api/survey/worklist"),
      SurveyApi.get(`/api/quarantine/tests-due${on ? `?on=${encodeURIComponent(on)}` : ""}`),
    ]);
    if (state.stopped) return;
    state.worklist = worklist;
    state.tests = tests;
    learnClock(worklist.now);
    if (!state.testsOn && tests.on) $("tests-on").value = tests.on;
    const updated = $("updated");
    updated.textContent = time(worklist.now);
    updated.dateTime = worklist.now || "";
    for (const render of [renderWorklist, renderTests]) {
      try {
        render();
      } catch (failure) {
        console.error(failure);
        showError(`页面显示出错 / Display error: ${failure.message}`);
      }
    }
    $("desk").dataset.position = String(worklist.position);
  };

  const poll = async () => {
    state.timer = null;
    if (state.stopped) return;
    try {
      await refresh();
      setLive("live");
    } catch (failure) {
      if (state.stopped || failure.status === 401) return;
      setLive("retrying");
      if (failure.status === 403) {
        showError(failure);
        return;
      }
    }
    if (!state.stopped) state.timer = setTimeout(poll, POLL_MS);
  };

  // Now, and then every POLL_MS; a refresh asked for meanwhile (after a command) comes first.
  const refreshSoon = () => {
    if (state.stopped) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, 0);
  };

  const start = async () => {
    state.stopped = false;
    state.offset = null;
    await refresh(); // the first read's failure is the caller's to show
    setLive("live");
    clearInterval(state.tick);
    state.tick = setInterval(tickClocks, TICK_MS);
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, POLL_MS);
  };

  const stop = () => {
    state.stopped = true;
    clearTimeout(state.timer);
    clearInterval(state.tick);
    state.worklist = null;
    state.tests = null;
    state.surveyedHere.clear();
    state.selected = null;
    state.testsOn = "";
    $("tests-on").value = "";
    $("worklist").replaceChildren();
    $("tests").replaceChildren();
    setLive("off");
  };

  // ---- tabs ------------------------------------------------------------------------------
  const TABS = ["tab-worklist", "tab-tests"];
  const choose = (id, focus) => {
    for (const tab of TABS) {
      const on = tab === id;
      $(tab).setAttribute("aria-selected", String(on));
      $(tab).tabIndex = on ? 0 : -1;
      $($(tab).getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) $(id).focus();
  };

  const init = (hooks) => {
    state.hooks = hooks;
    for (const id of TABS) {
      $(id).addEventListener("click", () => choose(id, false));
      $(id).addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 1, ArrowUp: -1 }[event.key];
        if (!step) return;
        event.preventDefault();
        choose(TABS[(TABS.indexOf(id) + step + TABS.length) % TABS.length], true);
      });
    }
    $("tests-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      state.testsOn = $("tests-on").value;
      clearError();
      try {
        await refresh();
      } catch (failure) {
        showError(failure);
      }
    });
  };

  const find = (journeyId) => {
    const all = [...((state.worklist && state.worklist.journeys) || []), ...((state.tests && state.tests.tests) || [])];
    const found = all.find((j) => j.journey_id === journeyId);
    return found ? summaryOf(found) : null;
  };

  return {
    init, start, stop, refreshSoon, find,
    select: (journeyId) => {
      state.selected = journeyId;
      for (const row of $("worklist").querySelectorAll("tr[data-journey]")) {
        row.classList.toggle("selected", row.dataset.journey === journeyId);
      }
    },
    surveyed: (journeyId) => {
      state.surveyedHere.add(journeyId);
      if (state.worklist) renderWorklist();
    },
    place,
    siteName: (siteId) => {
      const all = [...((state.worklist && state.worklist.journeys) || []), ...((state.tests && state.tests.tests) || [])];
      const found = all.find((j) => j.destination && j.destination.site_id === siteId);
      return found ? `${found.destination.name} (${found.destination.code})` : "";
    },
    // The district's today, as the server last said (tests are due on its local days).
    today: () => {
      if (state.tests && state.tests.on && !state.testsOn) return state.tests.on;
      const d = new Date(now());
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    },
  };
})();
