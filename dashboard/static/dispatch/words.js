// The dispatch console's words: every code the API answers with (stages, run states, alert
// kinds, suggestion reasons, event types, roles) in Chinese and English. The API speaks codes
// and English; the desk reads both languages side by side, like the scanner page.
"use strict";

window.DispatchWords = (() => {
  const STAGES = {
    registered: ["已登记", "Registered"],
    screened: ["已筛查", "Screened"],
    destination_assigned: ["已定目的地", "Destination assigned"],
    seat_assigned: ["已排座位", "Seat assigned"],
    boarded: ["已上车", "Boarded"],
    in_transit: ["转运途中", "In transit"],
    arrived: ["已到达", "Arrived"],
    checked_in: ["已入住", "Checked in"],
    under_quarantine: ["隔离中", "Under quarantine"],
    released: ["已解除", "Released"],
    referred_to_hospital: ["转送医院", "Referred to hospital"],
    no_show: ["未到", "No-show"],
    cancelled: ["已取消", "Cancelled"],
  };
  const RUN_STATUS = {
    planned: ["已计划", "Planned"],
    boarding: ["上车中", "Boarding"],
    departed: ["已发车", "Departed"],
    arrived: ["已到达", "Arrived"],
    closed: ["已结束", "Closed"],
  };
  const RISK = {
    high: ["高风险", "HIGH risk"],
    medium: ["中风险", "Medium risk"],
    low: ["低风险", "Low risk"],
  };
  const SITE_KIND = { hotel: ["酒店", "Hotel"], home: ["居家", "Home"] };
  const ALERTS = {
    not_boarded: ["未上车", "Not boarded"],
    not_checked_in: ["未入住", "Not checked in"],
    not_handed_over: ["未交接", "Not handed over"],
    custody_not_accepted: ["监护未接收", "Custody not accepted"],
    off_route: ["偏离路线", "Off route"],
    survey_overdue: ["流调超时", "Survey overdue"],
  };
  // domain/dispatch.py's reason codes; an unknown code falls back to the API's English text.
  const REASONS = {
    keeps_destination: "该组已有目的地",
    home_by_street: "按旅客所在街道居家隔离",
    home_not_allowed_for_risk: "该风险等级不允许居家隔离",
    street_full: "旅客所在街道已满",
    street_unknown: "旅客所在街道不接收居家隔离",
    hotel_most_free_rooms: "空房最多的酒店",
    family_one_room: "家庭同住一间",
    family_one_vehicle: "家庭同乘一车",
    run_to_same_destination: "该车已载往同一目的地的旅客",
    fills_open_run: "填满已计划的车次",
    high_risk_not_mixed: "高风险旅客不与他人同车",
    plan_new_run: "没有合适的已计划车次：用此空闲车辆新建车次",
  };
  const EVENTS = {
    Registered: ["登记", "Registered"],
    Amended: ["修改登记", "Amended"],
    Screened: ["筛查", "Screened"],
    DestinationAssigned: ["分配目的地", "Destination assigned"],
    DestinationWithdrawn: ["撤销目的地", "Destination withdrawn"],
    SeatAssigned: ["安排座位", "Seat assigned"],
    SeatWithdrawn: ["撤销座位", "Seat withdrawn"],
    SeatReassigned: ["改派车次", "Seat reassigned"],
    CustodyOffered: ["提出交接", "Custody offered"],
    CustodyOfferWithdrawn: ["撤回交接", "Custody offer withdrawn"],
    CustodyAccepted: ["接收监护", "Custody accepted"],
    Boarded: ["上车（车门）", "Boarded (car door)"],
    MisdirectedScanRecorded: ["错误交接扫码", "Misdirected scan"],
    Departed: ["发车", "Departed"],
    Arrived: ["到达", "Arrived"],
    CheckedIn: ["入住（房门）", "Checked in (room door)"],
    SurveyRecorded: ["流调", "Survey recorded"],
    QuarantineStarted: ["开始隔离", "Quarantine started"],
    QuarantineExtended: ["延长隔离", "Quarantine extended"],
    QuarantineShortened: ["缩短隔离", "Quarantine shortened"],
    TestResultRecorded: ["检测结果", "Test result recorded"],
    Released: ["解除隔离", "Released"],
    ReferredToHospital: ["转送医院", "Referred to hospital"],
    MarkedNoShow: ["未到", "No-show"],
    Cancelled: ["取消", "Cancelled"],
  };
  const ROLES = {
    admin: ["管理员", "admin"],
    screener: ["登记员", "screener"],
    dispatcher: ["调度员", "dispatcher"],
    escort: ["转运人员", "escort"],
    receiver: ["接收人员", "receiver"],
    surveyor: ["流调员", "surveyor"],
    commander: ["指挥部", "commander"],
    traveller: ["旅客本人", "traveller"],
  };
  const CUSTODIAN_KIND = {
    desk: ["接待台", "desk"],
    escort: ["押运", "escort"],
    receiver: ["接收方", "receiver"],
    hospital: ["医院", "hospital"],
  };

  // Hospital transfers (domain/transfer.py): the transport a referral to hospital asks of
  // dispatch, its urgency, where it collects the traveller, and what a vehicle is doing.
  const TRANSFER_STATUS = {
    requested: ["待派车", "Waiting for a vehicle"],
    vehicle_assigned: ["已派车，待接人", "Vehicle assigned, not yet picked up"],
    picked_up: ["已接上，送医途中", "Picked up, on the way to hospital"],
    delivered: ["已送达医院", "Delivered to hospital"],
    cancelled: ["已取消", "Cancelled"],
  };
  const URGENCY = {
    urgent: ["紧急", "Urgent"],
    routine: ["常规", "Routine"],
  };
  const PICKUP_KIND = {
    site: ["隔离地点", "Quarantine place"],
    hotel: ["隔离酒店", "Quarantine hotel"],
    home: ["居家隔离（街道）", "Home quarantine (street)"],
    vehicle: ["转运车上", "On board a vehicle"],
    desk: ["入境点接待台", "Entry point desk"],
  };
  const VEHICLE_STATE = {
    idle: ["空闲", "Idle"],
    on_run: ["执行车次", "On a run"],
    on_transfer: ["转送医院", "On a hospital transfer"],
    busy: ["占用", "Busy"],
  };

  // "中文 / English" for a code of a table, or the code itself if the table lacks it.
  const pair = (table, code, fallback) => {
    const words = table[code];
    if (words) return `${words[0]} / ${words[1]}`;
    return fallback || code || "—";
  };

  return {
    STAGES, RUN_STATUS, RISK, SITE_KIND, ALERTS, REASONS, EVENTS, ROLES, CUSTODIAN_KIND,
    TRANSFER_STATUS, URGENCY, PICKUP_KIND, VEHICLE_STATE,
    stage: (code) => pair(STAGES, code),
    runStatus: (code) => pair(RUN_STATUS, code),
    risk: (code) => pair(RISK, code, "未评估 / Not assessed"),
    siteKind: (code) => pair(SITE_KIND, code),
    // An alert kind this page does not know shows the API's English message instead.
    alert: (kind, message) => (ALERTS[kind] ? pair(ALERTS, kind) : message || kind),
    reason: (code, text) => (REASONS[code] ? `${REASONS[code]} / ${text || code}` : text || code),
    event: (type) => pair(EVENTS, String(type || "").split(".").pop(), type),
    role: (code) => pair(ROLES, code),
    transferStatus: (code) => pair(TRANSFER_STATUS, code),
    urgency: (code) => pair(URGENCY, code),
    pickupKind: (code) => pair(PICKUP_KIND, code),
    vehicleState: (code) => pair(VEHICLE_STATE, code),
  };
})();
