// One traveller's case. Opening a case reads nothing: the desk first says why it reads
// (the purpose, written to the access log by the API with the read), then reads the health
// record and the derived contacts once. Nothing re-reads them on a timer; closing the case
// takes the health data off the page.
"use strict";

window.SurveyRecord = (() => {
  const { $, el, bi, dateTime, say, showError, clearError } = DispatchUi;
  const W = DispatchWords;
  const S = SurveyWords;

  const state = { journeyId: null, summary: null, record: null, asked: 0 };

  const who = (x) => `${x.name_native || ""} ${x.name_latin || ""}`.trim();
  const yesNo = (value) => (value ? bi("是", "yes") : bi("否", "no"));

  // ---- the case's head -------------------------------------------------------------------
  const showFacts = () => {
    const x = { ...state.summary, ...(state.record || {}) };
    $("case-title").replaceChildren(bi("个案", "Case"), ": ",
      el("span", { class: "native" }, x.name_native || "—"), " ",
      el("span", { class: "latin", lang: "en" }, x.name_latin || ""));
    const risk = x.survey_risk || x.risk;
    $("case-facts").replaceChildren(
      el("span", { class: "stage", "data-stage": x.stage || "" }, W.stage(x.stage)),
      el("span", { class: `risk risk-${risk || "none"}` }, risk === "high" ? "⚠ " : "", W.risk(risk),
        x.survey_risk ? el("span", { class: "details" }, " (", bi("流调判定", "from the survey"), ")") : null),
      x.destination ? el("span", { class: "destination" }, SurveyLists.place(x.destination, x.room)) : null);
  };

  // ---- the health record -----------------------------------------------------------------
  const dl = (pairs) => el("dl", { class: "facts-list" },
    pairs.filter(Boolean).map(([zh, en, value]) => [el("dt", {}, bi(zh, en)), el("dd", {}, value)]).flat());

  const stops = (list) => (list && list.length
    ? list.map((s) => `${s.place}${s.arrived || s.left ? ` (${s.arrived || "?"} – ${s.left || "?"})` : ""}`).join("；")
    : "—");

  const surveyItem = (s) => {
    const a = s.answers || {};
    if (a.erased) return el("li", {}, bi("已删除", "erased"));
    return el("li", { class: "survey-entry" },
      el("p", {}, el("b", {}, W.risk(s.risk)), ` — ${dateTime(s.recorded_at)} — ${s.actor || ""}`),
      el("p", { class: "details" }, bi("理由", "Reason"), `: ${a.risk_reason || "—"}`),
      el("p", { class: "details" }, bi("症状", "Symptoms"), `: ${(a.symptoms || []).map(S.symptom).join("、") || "—"}`,
        a.symptom_onset_on ? ` · ${"发病 / onset"} ${a.symptom_onset_on}` : ""),
      el("p", { class: "details" }, bi("旅居史", "Travel history"), `: ${stops(a.travel_history)}`),
      el("p", { class: "details" }, bi("密切接触者", "Close contacts"),
        `: ${(a.close_contacts || []).map((c) => `${c.name} (${S.contactRelation(c.relation)})`).join("；") || "—"}`));
  };

  const renderRecord = () => {
    const r = state.record;
    const d = r.declaration || {};
    const s = r.screening;
    const parts = [
      el("h4", {}, bi("登记时申报", "Declared at registration")),
      d.erased ? el("p", {}, bi("已删除", "erased")) : dl([
        ["来自", "Came from", d.came_from || "—"],
        ["航班·座位", "Flight · seat", `${d.flight || "—"}${d.flight_seat ? ` · ${d.flight_seat}` : ""}`],
        ["申报症状", "Declared symptoms", (d.symptoms || []).map(S.symptom).join("、") || bi("无", "none")],
        ["体温", "Temperature", d.temperature ? `${d.temperature} °C` : "—"],
        ["申报旅居史", "Declared travel history", stops(d.travel_history)],
      ]),
      el("h4", {}, bi("入境筛查", "Screening at entry")),
      s ? dl([
        ["风险", "Risk", W.risk(s.risk)],
        ["体温", "Temperature", s.temperature ? `${s.temperature} °C` : "—"],
        ["有症状", "Symptomatic", yesNo(s.symptomatic)],
        ["已采样", "Sample taken", yesNo(s.sample_taken)],
        ["筛查人", "Screened by", `${s.actor || "—"} — ${dateTime(s.recorded_at)}`],
      ]) : el("p", { class: "empty" }, bi("尚未筛查", "Not screened yet")),
      el("h4", {}, bi("流调记录", "Surveys"), ` (${(r.surveys || []).length})`),
      (r.surveys || []).length
        ? el("ol", { class: "surveys" }, r.surveys.map(surveyItem))
        : el("p", { class: "empty" }, bi("尚无流调记录", "No survey yet")),
      el("h4", {}, bi("隔离期检测结果", "Test results of the order")),
      (r.test_results || []).length
        ? el("ul", { class: "results" }, r.test_results.map((t) => el("li", {},
          `第 ${t.day} 天 / Day ${t.day}: `, el("b", {}, S.outcome(t.outcome)),
          ` · ${S.testKind(t.kind)}${t.taken_on ? ` · ${t.taken_on}` : ""}${t.note ? ` · ${t.note}` : ""}`,
          t.correction_reason ? el("span", { class: "details" }, ` (${"更正 / corrected"}: ${t.correction_reason})`) : null)))
        : el("p", { class: "empty" }, bi("尚无结果", "No results yet")),
    ];
    $("record-body").replaceChildren(...parts);
  };

  const renderContacts = (contacts) => {
    $("contacts").replaceChildren(...contacts.map((c) => el("tr", { "data-journey": c.journey_id, "data-relations": c.relations.join(" ") },
      el("th", { scope: "row" }, el("button", { type: "button", class: "link traveller",
        "aria-label": `打开个案 ${who(c)} / Open the case of ${who(c)}`,
        onclick: () => open(c.journey_id, c, "contact_tracing") },
      el("span", { class: "native" }, c.name_native || "—"), " ", el("span", { class: "latin", lang: "en" }, c.name_latin || ""))),
      el("td", { class: "relations" }, c.relations.map(S.relation).join("、")),
      el("td", {}, W.stage(c.stage), " · ", W.risk(c.risk)),
      el("td", {}, yesNo(c.surveyed)),
      el("td", {}, SurveyLists.place(c.destination, c.room)))));
    $("contacts-empty").hidden = contacts.length > 0;
  };

  // ---- opening and closing ---------------------------------------------------------------
  const forget = () => {
    state.record = null;
    $("record").hidden = true;
    $("record-body").replaceChildren();
    $("contacts").replaceChildren();
    $("contacts-pending").hidden = true;
    SurveyForm.close();
    SurveyOrder.close();
  };

  const open = (journeyId, summary, purpose) => {
    state.asked++;
    forget();
    state.journeyId = journeyId;
    state.summary = summary || { journey_id: journeyId };
    SurveyLists.select(journeyId);
    $("case-none").hidden = true;
    $("case-body").hidden = false;
    $("purpose-form").hidden = false;
    $("purpose-used").hidden = true;
    $("purpose-error").textContent = "";
    $("purpose").value = purpose || "survey";
    showFacts();
    $("case").dataset.journey = journeyId;
    $("purpose").focus();
  };

  const read = async (event) => {
    event.preventDefault();
    const journeyId = state.journeyId;
    const purpose = $("purpose").value;
    const mine = ++state.asked;
    const button = $("purpose-open");
    await DispatchUi.busy(button, async () => {
      $("purpose-error").textContent = "";
      const id = encodeURIComponent(journeyId);
      const why = encodeURIComponent(purpose);
      try {
        const [record, contacts] = await Promise.all([
          SurveyApi.get(`/api/journeys/${id}/health-record?purpose=${why}`),
          // A traveller registered a moment ago may not be in the views yet: no contacts to
          // derive is no reason to withhold the record.
          SurveyApi.get(`/api/journeys/${id}/contacts?purpose=${why}`).catch((failure) => {
            if (failure.status === 404) return null;
            throw failure;
          }),
        ]);
        if (mine !== state.asked) return;
        state.record = record;
        showFacts();
        renderRecord();
        renderContacts(contacts ? contacts.contacts || [] : []);
        $("contacts-pending").hidden = Boolean(contacts);
        $("contacts-empty").hidden = !contacts || $("contacts-empty").hidden;
        SurveyForm.open(journeyId, record);
        SurveyOrder.open(journeyId, record);
        $("purpose-form").hidden = true;
        const used = $("purpose-used");
        used.hidden = false;
        used.replaceChildren(bi("查阅目的", "Purpose"), `: ${S.purpose(purpose)} — `,
          bi("已记入访问日志", "written to the access log"), " ",
          el("button", { type: "button", class: "link", onclick: () => {
            forget();
            $("purpose-form").hidden = false;
            used.hidden = true;
            $("purpose").focus();
          } }, bi("换个目的重新查阅", "Read again for another purpose")));
        $("record").hidden = false;
        $("record-title").focus();
      } catch (failure) {
        if (mine !== state.asked) return;
        $("purpose-error").textContent = failure.status === 503
          ? `${failure.message}（访问日志无法写入，因此不显示任何数据 / the access log could not be written, so nothing is shown）`
          : failure.message;
      }
    });
  };

  const close = () => {
    state.asked++;
    forget();
    state.journeyId = null;
    state.summary = null;
    SurveyLists.select(null);
    $("case-body").hidden = true;
    $("case-none").hidden = false;
    $("case-title").replaceChildren(bi("个案", "Case"));
    delete $("case").dataset.journey;
  };

  // The survey was stored: the page shows it at once (the views follow by themselves).
  const recorded = (journeyId, body, answer) => {
    if (journeyId !== state.journeyId || !state.record) return;
    const me = StaffSession.role();
    state.record.surveys = [...(state.record.surveys || []),
      { risk: body.risk, answers: body.answers, actor: `${W.role(me)}（本页 / this page）`, recorded_at: new Date().toISOString() }];
    state.record.latest_survey = state.record.surveys[state.record.surveys.length - 1];
    state.record.survey_risk = body.risk;
    if (answer && answer.stage) state.record.stage = answer.stage;
    renderRecord();
    showFacts();
    SurveyLists.surveyed(journeyId);
    say(`流调已记录：${who(state.record)}`, `Survey recorded: ${who(state.record)}`);
  };

  const init = () => {
    $("purpose").replaceChildren(...S.PURPOSES.map(([code, zh, en]) => el("option", { value: code }, `${zh} / ${en}`)));
    $("purpose-form").addEventListener("submit", read);
    $("case-close").addEventListener("click", close);
    $("case-timeline").addEventListener("click", (e) => {
      const x = { ...state.summary, ...(state.record || {}) };
      DispatchTimeline.open(state.journeyId, who(x), e.currentTarget);
    });
    SurveyForm.init({ recorded });
    SurveyOrder.init({
      stageChanged: (stage) => {
        if (state.record) state.record.stage = stage;
        if (state.summary) state.summary.stage = stage;
        showFacts();
        SurveyLists.refreshSoon();
      },
      // A result recorded here joins the record's list at once (read when the case opened).
      resultRecorded: (day, result, correction) => {
        if (!state.record) return;
        state.record.test_results = [...(state.record.test_results || []),
          { day, ...result, correction_reason: correction, recorded_at: new Date().toISOString() }];
        renderRecord();
      },
      say: (zh, en) => {
        clearError();
        say(zh, en);
      },
    });
  };

  return { init, open, close, showError };
})();
