// The quarantine order of the open case: its dates, legal basis, test schedule (with a form
// to record each result), the history of its changes, the decisions that extend, shorten or
// end it (reason, legal basis, who decided), and the referral to hospital, which asks
// dispatch for the transport there.
//
// The order itself (GET /api/journeys/{id}/quarantine) is re-read after each command; test
// outcomes are shown from the health record read when the case was opened, plus those
// recorded here since: the order's own answer says only whether a day has a result.
"use strict";

window.SurveyOrder = (() => {
  const { $, el, bi, dateTime, busy } = DispatchUi;
  const W = DispatchWords;
  const S = SurveyWords;
  const CLOSED = ["released", "referred_to_hospital", "no_show", "cancelled"];

  const state = {
    journeyId: null, stage: null, order: null, results: new Map(), hooks: {},
    reasons: new Map(), typedReason: "",
  };

  const path = (tail) => `/api/journeys/${encodeURIComponent(state.journeyId)}${tail}`;

  // The words of a failed command, each problem of a 422 in Chinese too.
  const failureText = (failure) => {
    const problems = failure.problems || [];
    if (!problems.length) return failure.message;
    return `${failure.message.split(" — ")[0]}: ${problems.map((p) => `${p.field}: ${S.message(p.message)}`).join("; ")}`;
  };

  // ---- showing ---------------------------------------------------------------------------
  const resultWords = (test) => {
    const result = state.results.get(test.day);
    if (result) {
      return el("span", { class: `outcome outcome-${result.outcome}` }, S.outcome(result.outcome),
        el("span", { class: "details" }, ` · ${S.testKind(result.kind)}${result.taken_on ? ` · ${result.taken_on}` : ""}`));
    }
    if (test.recorded) return el("span", { class: "outcome" }, bi("已录入", "recorded"));
    const late = test.due_on && test.due_on < SurveyLists.today();
    return el("span", { class: late ? "outcome late" : "outcome pending" },
      bi("未出结果", "no result yet"), late ? el("span", {}, " — ", bi("逾期", "overdue")) : null);
  };

  const dayOptions = (tests) => {
    const select = $("result-day");
    const before = select.value;
    const today = SurveyLists.today();
    select.replaceChildren(...tests.map((t) =>
      el("option", { value: String(t.day) },
        `第 ${t.day} 天（${t.due_on || "—"}）${t.recorded ? " 已有结果" : ""} / Day ${t.day} (${t.due_on || "—"})${t.recorded ? " has a result" : ""}`)));
    const open = tests.filter((t) => !t.recorded);
    const next = open.find((t) => !t.due_on || t.due_on <= today) || open[0] || tests[0];
    if (before && tests.some((t) => String(t.day) === before && !t.recorded)) select.value = before;
    else if (next) select.value = String(next.day);
    showCorrection();
  };

  const showCorrection = () => {
    const test = ((state.order && state.order.tests) || []).find((t) => String(t.day) === $("result-day").value);
    $("result-correction-field").hidden = !(test && test.recorded);
  };

  const changeRow = (c) => {
    const end = c.planned_end
      ? (c.previous_end ? `${c.previous_end} → ${c.planned_end}` : c.planned_end)
      : c.early ? bi("提前解除", "released early") : "—";
    return el("tr", { "data-change": c.event_type },
      el("th", { scope: "row" }, S.change(c.event_type), el("br"), el("time", { class: "details", datetime: c.recorded_at }, dateTime(c.recorded_at))),
      el("td", { class: "end" }, end),
      el("td", { class: "reason" }, c.reason || "—"),
      el("td", { class: "basis" }, c.legal_basis || "—"),
      el("td", { class: "decided-by" }, c.decided_by || "—"),
      el("td", {}, `${c.actor || "—"} (${W.role(c.role)})`));
  };

  const render = () => {
    const order = state.order;
    const stage = state.stage;
    const open = !CLOSED.includes(stage);
    $("order-none").hidden = Boolean(order);
    $("start-form").hidden = Boolean(order) || stage !== "checked_in";
    $("order-body").hidden = !order;
    const active = stage === "under_quarantine";
    $("result-form").hidden = !order || !active || !(order.tests || []).length;
    $("decision-form").hidden = !order || !active;
    $("referral-form").hidden = !open;
    if (order) {
      $("order-starts").textContent = order.starts_on || "—";
      $("order-end").textContent = order.planned_end || "—";
      $("order-basis").textContent = order.legal_basis || "—";
      $("schedule").replaceChildren(...(order.tests || []).map((t) =>
        el("tr", { "data-day": String(t.day), "data-recorded": String(Boolean(t.recorded)) },
          el("td", { class: "num" }, String(t.day)),
          el("td", {}, t.due_on || "—"),
          el("td", { class: "result" }, resultWords(t)))));
      dayOptions(order.tests || []);
      $("changes").replaceChildren(...(order.changes || []).map(changeRow));
    }
    showEndField();
  };

  const showEndField = () => {
    const decision = document.querySelector("input[name=decision]:checked");
    $("decision-end-field").hidden = decision && decision.value === "release";
  };

  const reload = async () => {
    const asked = state.journeyId;
    try {
      const order = await SurveyApi.get(path("/quarantine"));
      if (asked !== state.journeyId) return;
      // The order's own read carries no reasons (they may be medical, and only the logged
      // health-record read shows them): keep the ones this case already has, and the one just
      // typed for the decision this page made.
      for (const c of order.changes || []) {
        const key = `${c.event_type}|${c.recorded_at}`;
        if (!state.reasons.has(key) && state.typedReason && c === order.changes[order.changes.length - 1]) {
          state.reasons.set(key, state.typedReason);
        }
        if (state.reasons.has(key)) c.reason = state.reasons.get(key);
      }
      state.typedReason = "";
      state.order = order;
      if (order.stage) state.stage = order.stage;
    } catch (failure) {
      if (asked !== state.journeyId) return;
      if (failure.status !== 404) throw failure;
      state.order = null;
    }
    render();
  };

  // ---- commands --------------------------------------------------------------------------
  const act = async (form, errorBox, work) => {
    const button = form.querySelector("button[type=submit]");
    await busy(button, async () => {
      errorBox.textContent = "";
      const asked = state.journeyId;
      try {
        const answer = await work();
        if (asked !== state.journeyId || !answer) return;
        if (answer.stage) {
          state.stage = answer.stage;
          state.hooks.stageChanged(answer.stage);
        }
        await reload();
      } catch (failure) {
        if (asked === state.journeyId) errorBox.textContent = failureText(failure);
      }
    });
  };

  const startOrder = (event) => {
    event.preventDefault();
    act($("start-form"), $("start-error"), async () => {
      const body = {};
      if ($("start-end").value) body.planned_end = $("start-end").value;
      if ($("start-basis").value.trim()) body.legal_basis = $("start-basis").value.trim();
      const answer = await SurveyApi.command(path("/quarantine"), body);
      state.hooks.say("隔离已开始", "The quarantine order has started");
      return answer;
    });
  };

  const recordResult = (event) => {
    event.preventDefault();
    act($("result-form"), $("result-error"), async () => {
      const outcome = $("result-outcome").value;
      if (!outcome) {
        $("result-error").textContent = "请选择结果 / Choose the outcome";
        $("result-outcome").focus();
        return null;
      }
      const day = Number($("result-day").value);
      const result = {
        outcome, kind: $("result-kind").value, taken_on: $("result-taken").value || null,
        note: $("result-note").value.trim(),
      };
      const body = { day, result };
      if (!$("result-correction-field").hidden) body.correction_reason = $("result-correction").value.trim();
      const answer = await SurveyApi.command(path("/test-results"), body);
      state.results.set(day, result);
      state.hooks.resultRecorded(day, result, body.correction_reason || "");
      for (const id of ["result-outcome", "result-taken", "result-note", "result-correction"]) $(id).value = "";
      state.hooks.say(`第 ${day} 天检测结果已录入`, `The day ${day} result is recorded`);
      if (outcome === "positive") {
        state.hooks.say(`第 ${day} 天检测阳性：可在下方转送医院`, `Day ${day} is POSITIVE: refer to hospital below if needed`);
      }
      return answer;
    });
  };

  const decide = (event) => {
    event.preventDefault();
    act($("decision-form"), $("decision-error"), async () => {
      const kind = document.querySelector("input[name=decision]:checked").value;
      const body = {
        reason: $("decision-reason").value.trim(),
        legal_basis: $("decision-basis").value.trim(),
        decided_by: $("decision-by").value.trim(),
      };
      if (kind !== "release") {
        if (!$("decision-end").value) {
          $("decision-error").textContent = "请填写新的解除日期 / Give the new planned end";
          $("decision-end").focus();
          return null;
        }
        body.planned_end = $("decision-end").value;
      }
      const answer = await SurveyApi.command(path(kind === "release" ? "/release" : `/quarantine/${kind}`), body);
      state.typedReason = body.reason;
      for (const id of ["decision-end", "decision-reason", "decision-basis", "decision-by"]) $(id).value = "";
      if (kind === "extension") state.hooks.say(`隔离已延长至 ${body.planned_end}`, `The order now ends on ${body.planned_end}`);
      if (kind === "shortening") state.hooks.say(`隔离已缩短至 ${body.planned_end}`, `The order now ends on ${body.planned_end}`);
      if (kind === "release") state.hooks.say("已解除隔离", "Released from quarantine");
      return answer;
    });
  };

  const refer = (event) => {
    event.preventDefault();
    act($("referral-form"), $("referral-error"), async () => {
      const urgency = document.querySelector("input[name=urgency]:checked").value;
      const answer = await SurveyApi.command(path("/hospital-referral"),
        { reason: $("referral-reason").value.trim(), urgency });
      $("referral-reason").value = "";
      const done = $("referral-done");
      done.hidden = false;
      done.replaceChildren(bi("已转送医院，调度台已收到转运请求", "Referred to hospital: the dispatch console has the transport request"),
        ` (${urgency === "urgent" ? "紧急 / urgent" : "常规 / routine"})`);
      state.hooks.say("已转送医院", "Referred to hospital");
      return answer;
    });
  };

  const init = (hooks) => {
    state.hooks = hooks;
    $("result-outcome").replaceChildren(el("option", { value: "" }, "请选择 / Choose"),
      ...S.OUTCOMES.map(([code, zh, en]) => el("option", { value: code }, `${zh} / ${en}`)));
    $("result-kind").replaceChildren(...S.TEST_KINDS.map(([code, zh, en]) => el("option", { value: code }, `${zh} / ${en}`)));
    $("result-day").addEventListener("change", showCorrection);
    for (const radio of document.querySelectorAll("input[name=decision]")) radio.addEventListener("change", showEndField);
    $("start-form").addEventListener("submit", startOrder);
    $("result-form").addEventListener("submit", recordResult);
    $("decision-form").addEventListener("submit", decide);
    $("referral-form").addEventListener("submit", refer);
  };

  // The case opens with the health record's order and test results.
  const open = (journeyId, record) => {
    state.journeyId = journeyId;
    state.stage = record.stage;
    state.order = record.quarantine || null;
    state.reasons = new Map();
    state.typedReason = "";
    for (const c of (state.order && state.order.changes) || []) {
      if (c.reason) state.reasons.set(`${c.event_type}|${c.recorded_at}`, c.reason);
    }
    state.results = new Map();
    for (const r of record.test_results || []) state.results.set(r.day, r); // later ones correct earlier
    for (const id of ["start-error", "result-error", "decision-error", "referral-error"]) $(id).textContent = "";
    $("referral-done").hidden = true;
    render();
  };

  return {
    init, open,
    setStage: (stage) => {
      state.stage = stage;
      if (state.journeyId) render();
    },
    close: () => {
      state.journeyId = null;
      state.order = null;
      state.results = new Map();
    },
  };
})();
