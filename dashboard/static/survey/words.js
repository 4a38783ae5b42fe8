// The survey desk's own words, in Chinese and English: derived-contact relations, symptoms,
// purposes of a read, test kinds and outcomes, order changes, and the API's English messages
// about survey answers. Stages, risks and roles come from /static/dispatch/words.js.
"use strict";

window.SurveyWords = (() => {
  const RELATIONS = {
    party: ["同行家属", "same travel party"],
    vehicle: ["同车", "same vehicle"],
    flight: ["同航班", "same flight"],
    nearby_seats: ["邻近座位", "nearby seats"],
  };
  // tracking/traveller_details.py SYMPTOMS, in its order; words as on the traveller's form.
  const SYMPTOMS = [
    ["fever", "发热", "Fever"],
    ["cough", "咳嗽", "Cough"],
    ["sore_throat", "咽痛", "Sore throat"],
    ["short_of_breath", "呼吸急促", "Short of breath"],
    ["loss_of_smell_or_taste", "嗅觉或味觉减退", "Loss of smell or taste"],
    ["diarrhoea", "腹泻", "Diarrhoea"],
    ["fatigue", "乏力", "Tiredness"],
    ["muscle_pain", "肌肉酸痛", "Muscle pain"],
  ];
  // domain/audit.py PURPOSES.
  const PURPOSES = [
    ["survey", "流调访谈", "Survey interview"],
    ["contact_tracing", "密接追踪", "Contact tracing"],
    ["test_follow_up", "检测随访", "Test follow-up"],
    ["quarantine_decision", "隔离决定", "Quarantine decision"],
    ["hospital_referral", "转诊医院", "Hospital referral"],
    ["command_review", "指挥部复核", "Command review"],
  ];
  // tracking/survey_answers.py Relation.
  const CONTACT_RELATIONS = [
    ["household", "同住家人", "Household"],
    ["family", "家属", "Family"],
    ["colleague", "同事", "Colleague"],
    ["fellow_traveller", "同行者", "Fellow traveller"],
    ["friend", "朋友", "Friend"],
    ["other", "其他", "Other"],
  ];
  const TEST_KINDS = [
    ["pcr", "核酸", "PCR"],
    ["antigen", "抗原", "Antigen"],
    ["antibody", "抗体", "Antibody"],
  ];
  const OUTCOMES = [
    ["negative", "阴性", "Negative"],
    ["positive", "阳性", "POSITIVE"],
    ["inconclusive", "不确定", "Inconclusive"],
  ];
  const RISKS = [
    ["low", "低风险", "Low risk"],
    ["medium", "中风险", "Medium risk"],
    ["high", "高风险", "HIGH risk"],
  ];
  const CHANGES = {
    QuarantineStarted: ["开始隔离", "Order started"],
    QuarantineExtended: ["延长隔离", "Extended"],
    QuarantineShortened: ["缩短隔离", "Shortened"],
    Released: ["解除隔离", "Released"],
  };
  // The API's fixed English sentences (tracking/survey_answers.py, tracking/validation.py,
  // tracking/traveller_details.py) and pydantic's commonest ones, in Chinese.
  const MESSAGES = {
    "give the day the first symptom began": "请填写首发症状的日期",
    "an onset day is given, but no symptom: choose the symptoms": "填写了发病日期但未选择症状：请选择症状",
    "this date is in the future": "日期不能晚于今天",
    "this date is too long ago to matter for the survey": "日期太早，与本次流调无关",
    "the date you left is before the date you arrived": "离开日期早于到达日期",
    "this field is empty": "此项为空",
    "this is too long": "内容过长",
    "this contains an invisible control or text-direction character; please type it again":
      "含有不可见的控制字符或文字方向字符，请重新输入",
    "this is not a phone number; include the country code, e.g. +44 20 7946 0958":
      "不是有效的电话号码，请加国家代码，例如 +44 20 7946 0958",
    "String should have at least 1 character": "此项必填",
    "Field required": "此项必填",
  };

  const pairOf = (list, code) => {
    const found = list.find((item) => item[0] === code);
    return found ? `${found[1]} / ${found[2]}` : code || "—";
  };

  // "中文 / English" for an API message, or the English alone when it is not known here.
  const message = (text) => {
    const english = String(text || "");
    if (MESSAGES[english]) return `${MESSAGES[english]} / ${english}`;
    if (english.startsWith("Input should be a valid date")) return `请填写有效日期 / ${english}`;
    if (english.startsWith("Input should be")) return `请从选项中选择 / ${english}`;
    return english;
  };

  const pad = (n) => String(n).padStart(2, "0");
  // The SLA clock: milliseconds left (negative once passed) → "23:59" (hours:minutes).
  const clock = (msLeft) => {
    const minutes = Math.floor(Math.abs(msLeft) / 60_000);
    return `${Math.floor(minutes / 60)}:${pad(minutes % 60)}`;
  };

  return {
    RELATIONS, SYMPTOMS, PURPOSES, CONTACT_RELATIONS, TEST_KINDS, OUTCOMES, RISKS, CHANGES,
    relation: (code) => (RELATIONS[code] ? `${RELATIONS[code][0]} / ${RELATIONS[code][1]}` : code),
    symptom: (code) => pairOf(SYMPTOMS, code),
    purpose: (code) => pairOf(PURPOSES, code),
    contactRelation: (code) => pairOf(CONTACT_RELATIONS, code),
    testKind: (code) => pairOf(TEST_KINDS, code),
    outcome: (code) => pairOf(OUTCOMES, code),
    change: (type) => (CHANGES[type] ? `${CHANGES[type][0]} / ${CHANGES[type][1]}` : type),
    message,
    clock,
  };
})();
