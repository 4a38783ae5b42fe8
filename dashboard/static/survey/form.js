// The survey form (POST /api/journeys/{id}/survey): the 14-day travel history, close
// contacts, symptoms with their onset, vaccination, tests so far, and the risk level with its
// reason. Places, contacts and tests are repeatable rows; a row left empty is not sent.
// Fellow passengers are never typed here: the API derives them (the contacts table above).
//
// The server is the one judge of the answers: a 422 answer's problems ({field, message}, e.g.
// "answers.close_contacts.0.phone") are put next to the field they name, and nothing is stored.
"use strict";

window.SurveyForm = (() => {
  const { $, el, bi, busy, dateTime } = DispatchUi;
  const S = SurveyWords;

  const ROWS = {
    places: {
      container: "places", add: "add-place", words: ["旅居地", "Place"], list: "travel_history",
      fields: [
        { name: "place", zh: "地点（城市、国家）", en: "Place (city, country)", maxlength: 100 },
        { name: "arrived", zh: "到达日期", en: "Arrived on", type: "date" },
        { name: "left", zh: "离开日期", en: "Left on", type: "date" },
      ],
    },
    contacts: {
      container: "close-contacts", add: "add-contact", words: ["接触者", "Contact"], list: "close_contacts",
      fields: [
        { name: "name", zh: "姓名", en: "Name", maxlength: 100 },
        { name: "relation", zh: "关系", en: "Relation", options: S.CONTACT_RELATIONS, initial: "other" },
        { name: "phone", zh: "电话", en: "Phone", maxlength: 30, type: "tel" },
        { name: "last_contact_on", zh: "最后接触日期", en: "Last contact on", type: "date" },
        { name: "where", zh: "接触地点", en: "Where", maxlength: 100 },
      ],
    },
    tests: {
      container: "tests-so-far", add: "add-test", words: ["检测", "Test"], list: "tests_so_far",
      fields: [
        { name: "taken_on", zh: "采样日期", en: "Taken on", type: "date" },
        { name: "kind", zh: "类型", en: "Kind", options: S.TEST_KINDS, initial: "pcr" },
        { name: "outcome", zh: "结果", en: "Outcome", options: S.OUTCOMES, blank: true },
        { name: "where", zh: "检测地点", en: "Where", maxlength: 100 },
      ],
    },
  };

  const state = { journeyId: null, hooks: {}, sent: {}, counter: 0 };

  // ---- building --------------------------------------------------------------------------
  const errorSpan = (id, path) => el("span", { id, class: "field-error", "data-error-for": path });

  const control = (field, id) => {
    if (field.options) {
      const select = el("select", { id, "data-name": field.name, "aria-describedby": `${id}-error` },
        field.blank ? el("option", { value: "" }, "请选择 / Choose") : null,
        field.options.map(([code, zh, en]) => el("option", { value: code }, `${zh} / ${en}`)));
      select.value = field.initial || "";
      return select;
    }
    return el("input", { id, type: field.type || "text", "data-name": field.name, maxlength: field.maxlength,
      autocomplete: "off", "aria-describedby": `${id}-error`, inputmode: field.type === "tel" ? "tel" : undefined });
  };

  const renumber = (kind) => {
    const spec = ROWS[kind];
    [...$(spec.container).children].forEach((row, index) => {
      const n = index + 1;
      row.setAttribute("aria-label", `${spec.words[0]} ${n} / ${spec.words[1]} ${n}`);
      row.querySelector(".row-title").textContent = `${spec.words[0]} ${n} / ${spec.words[1]} ${n}`;
      row.querySelector("button.remove").setAttribute("aria-label",
        `删除${spec.words[0]} ${n} / Remove ${spec.words[1].toLowerCase()} ${n}`);
    });
  };

  const addRow = (kind, values, focus) => {
    const spec = ROWS[kind];
    const uid = `${kind}-${++state.counter}`;
    const row = el("div", { class: "row", role: "group", "data-kind": kind },
      el("p", { class: "row-head" },
        el("span", { class: "row-title", "aria-hidden": "true" }),
        el("button", { type: "button", class: "remove link", onclick: () => {
          // Focus stays near: on the next row (or the one before), else on "Add".
          const next = row.nextElementSibling || row.previousElementSibling;
          row.remove();
          renumber(kind);
          (next ? next.querySelector("input, select") : $(spec.add)).focus();
        } }, bi("删除", "Remove"))),
      el("div", { class: "cells" }, spec.fields.map((field) => {
        const id = `${uid}-${field.name}`;
        const input = control(field, id);
        const value = values && values[field.name];
        if (value !== undefined && value !== null) input.value = String(value);
        return el("p", { class: "field" },
          el("label", { for: id }, bi(field.zh, field.en)), input, errorSpan(`${id}-error`, ""));
      })),
      el("p", { class: "field-error row-error" }));
    $(spec.container).append(row);
    renumber(kind);
    if (focus) row.querySelector("input, select").focus();
    return row;
  };

  const setRows = (kind, list) => {
    $(ROWS[kind].container).replaceChildren();
    for (const values of list || []) addRow(kind, values, false);
  };

  // ---- filling in ------------------------------------------------------------------------
  const clearProblems = () => {
    for (const node of $("survey-form").querySelectorAll(".field-error")) node.textContent = "";
    for (const node of $("survey-form").querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    $("survey-error").textContent = "";
  };

  const fill = (record) => {
    clearProblems();
    const latest = record.latest_survey;
    const answers = (latest && latest.answers) || {};
    const declaration = record.declaration || {};
    if (latest && !latest.answers.erased) {
      $("survey-prefill").replaceChildren(bi("已按上次流调预填", "Filled in from the latest survey"),
        `: ${dateTime(latest.recorded_at)} — ${latest.actor || ""}`);
    } else {
      $("survey-prefill").replaceChildren(bi("尚无流调记录；旅居史按旅客申报预填。", "No survey yet: the travel history is filled in from the traveller's declaration."));
    }
    const places = latest ? answers.travel_history : declaration.travel_history;
    setRows("places", places && places.length ? places : [{}]);
    setRows("contacts", answers.close_contacts && answers.close_contacts.length ? answers.close_contacts : [{}]);
    setRows("tests", answers.tests_so_far || []);
    const symptoms = new Set(answers.symptoms || []);
    for (const box of $("symptoms").querySelectorAll("input[type=checkbox]")) box.checked = symptoms.has(box.value);
    $("onset").value = answers.symptom_onset_on || "";
    const declared = declaration.symptoms || [];
    $("declared-symptoms").hidden = !declared.length;
    $("declared-symptoms").textContent = declared.length
      ? `旅客申报 / Declared by the traveller: ${declared.map(S.symptom).join("、")}` : "";
    const vaccination = answers.vaccination || {};
    $("doses").value = vaccination.doses ? String(vaccination.doses) : "";
    $("last-dose").value = vaccination.last_dose_on || "";
    $("vaccine").value = vaccination.vaccine || "";
    $("survey-risk").value = latest ? latest.risk || "" : "";
    $("risk-reason").value = answers.risk_reason || "";
    $("survey-notes").value = answers.notes || "";
  };

  // ---- sending ---------------------------------------------------------------------------
  const valueOf = (row, name) => row.querySelector(`[data-name="${name}"]`).value.trim();
  const typedIn = (row, names) => names.some((name) => valueOf(row, name) !== "");

  const collect = () => {
    state.sent = { places: [], contacts: [], tests: [] };
    const rows = (kind, significant, shape) =>
      [...$(ROWS[kind].container).children].filter((row) => typedIn(row, significant)).map((row) => {
        state.sent[kind].push(row);
        return shape(row);
      });
    const orNull = (v) => (v === "" ? null : v);
    const doses = $("doses").value.trim();
    return {
      risk: $("survey-risk").value,
      answers: {
        travel_history: rows("places", ["place", "arrived", "left"], (r) => ({
          place: valueOf(r, "place"), arrived: orNull(valueOf(r, "arrived")), left: orNull(valueOf(r, "left")),
        })),
        close_contacts: rows("contacts", ["name", "phone", "last_contact_on", "where"], (r) => ({
          name: valueOf(r, "name"), relation: valueOf(r, "relation"), phone: valueOf(r, "phone"),
          last_contact_on: orNull(valueOf(r, "last_contact_on")), where: valueOf(r, "where"),
        })),
        symptoms: [...$("symptoms").querySelectorAll("input:checked")].map((box) => box.value),
        symptom_onset_on: orNull($("onset").value),
        vaccination: {
          doses: doses === "" ? 0 : Number(doses),
          last_dose_on: orNull($("last-dose").value),
          vaccine: $("vaccine").value.trim(),
        },
        tests_so_far: rows("tests", ["taken_on", "outcome", "where"], (r) => ({
          taken_on: orNull(valueOf(r, "taken_on")), kind: valueOf(r, "kind"),
          outcome: orNull(valueOf(r, "outcome")), where: valueOf(r, "where"),
        })),
        risk_reason: $("risk-reason").value.trim(),
        notes: $("survey-notes").value.trim(),
      },
    };
  };

  const KIND_OF_LIST = { travel_history: "places", close_contacts: "contacts", tests_so_far: "tests" };

  // Where a problem goes: [the control (or null), the element its message is written into].
  const placeOf = (problem) => {
    const parts = String(problem.field || "").split(".");
    const form = $("survey-form");
    if (parts.join(".") === "answers") {
      // The answers as a whole: symptoms and their onset go together.
      if (problem.message.startsWith("give the day the first symptom")) return [$("onset"), $("onset-error")];
      if (problem.message.startsWith("an onset day is given")) return [$("symptoms-set"), $("symptoms-error")];
      return [null, $("survey-error")];
    }
    if (parts[0] === "answers" && parts[1] === "symptoms") return [$("symptoms-set"), $("symptoms-error")];
    const kind = parts[0] === "answers" ? KIND_OF_LIST[parts[1]] : null;
    if (kind) {
      const row = state.sent[kind][Number(parts[2])];
      if (!row) return [$(`${ROWS[kind].container}`), $("survey-error")];
      if (parts[3]) {
        const input = row.querySelector(`[data-name="${parts[3]}"]`);
        if (input) return [input, $(`${input.id}-error`)];
      }
      return [row, row.querySelector(".row-error")];
    }
    const input = form.querySelector(`[data-field="${CSS.escape(problem.field)}"]`);
    if (input) return [input, form.querySelector(`[data-error-for="${CSS.escape(problem.field)}"]`)];
    return [null, $("survey-error")];
  };

  const showProblems = (problems, fallback) => {
    let first = null;
    for (const problem of problems) {
      const [control, box] = placeOf(problem);
      const words = S.message(problem.message);
      box.textContent = box.textContent ? `${box.textContent}; ${words}` : words;
      if (control) {
        control.setAttribute("aria-invalid", "true");
        if (!first) first = control;
      }
    }
    if (!problems.length) $("survey-error").textContent = fallback;
    else $("survey-error").textContent = `${fallback}（见标出的字段 / see the marked fields）`;
    if (first) (first.matches("input, select, textarea") ? first : first.querySelector("input, select") || first).focus();
  };

  const submit = async (event) => {
    event.preventDefault();
    const journeyId = state.journeyId;
    if (!journeyId) return;
    await busy($("survey-submit"), async () => {
      clearProblems();
      const body = collect();
      try {
        const answer = await SurveyApi.command(`/api/journeys/${encodeURIComponent(journeyId)}/survey`, body);
        if (journeyId !== state.journeyId) return;
        state.hooks.recorded(journeyId, body, answer);
      } catch (failure) {
        if (journeyId !== state.journeyId) return;
        showProblems(failure.problems || [], failure.message);
      }
    });
  };

  const init = (hooks) => {
    state.hooks = hooks;
    $("symptoms").replaceChildren(...S.SYMPTOMS.map(([code, zh, en]) =>
      el("label", { class: "check" }, el("input", { type: "checkbox", value: code, name: "symptom" }), el("span", {}, bi(zh, en)))));
    $("survey-risk").replaceChildren(el("option", { value: "" }, "请选择 / Choose"),
      ...S.RISKS.map(([code, zh, en]) => el("option", { value: code }, `${zh} / ${en}`)));
    for (const kind of Object.keys(ROWS)) $(ROWS[kind].add).addEventListener("click", () => addRow(kind, null, true));
    $("survey-form").addEventListener("submit", submit);
  };

  return {
    init,
    open: (journeyId, record) => {
      state.journeyId = journeyId;
      fill(record);
    },
    close: () => {
      state.journeyId = null;
    },
  };
})();
