// Hospital transfers on the dispatch console: a referral to hospital asks dispatch for the
// transport there (GET /api/dispatch's `transfers`). The dispatcher gives the request an idle
// vehicle (its one trip: a vehicle on a transfer is not offered for a run, and the other way
// round), and the pick-up and the delivery to a hospital are recorded here or by the escort.
//
// Why cards are kept rather than redrawn: the long-poll redraws the console on every change
// anywhere, and a dispatcher half-way through typing a hospital's name or a reason must not
// lose it. A card is rebuilt only when its transfer changed (status, vehicle, place); otherwise
// only its waiting time and its list of idle vehicles are brought up to date.
"use strict";

window.DispatchTransfers = (() => {
  const { $, el, bi, moment, keepFocus, say, showError, clearError, busy } = DispatchUi;
  const W = DispatchWords;
  const LONG_WAIT_MINUTES = 60;
  const URGENCY_ORDER = { urgent: 0, routine: 1 };
  const CANCELLABLE = ["requested", "vehicle_assigned"];
  const MAX_HOSPITAL = 100;
  const MAX_REASON = 500;
  // {snapshot(), canAct(), refresh(), openTimeline(), waitingMinutes(iso), runPlate(id)}
  let ctx = null;
  // Plates of runs the snapshot no longer lists (a traveller referred from a vehicle whose run
  // then closed), read once each from the run itself.
  const closedRunPlates = new Map();
  // Where focus goes once the desk shows the step just recorded: {id, key, status}. The
  // command's answer comes before the views have moved, so the next step's control (Record
  // pick-up after Assign vehicle) may appear one snapshot later.
  let pending = null;

  const snapshot = () => ctx.snapshot() || {};
  const transfers = () => (Array.isArray(snapshot().transfers) ? snapshot().transfers : []);
  const idleVehicles = () => (snapshot().vehicles || []).filter((v) => !v.active_run)
    .sort((a, b) => String(a.plate).localeCompare(String(b.plate)));

  const sorted = (list) => [...list].sort((a, b) =>
    (URGENCY_ORDER[a.urgency] ?? 9) - (URGENCY_ORDER[b.urgency] ?? 9)
    || Date.parse(a.requested_at) - Date.parse(b.requested_at)
    || String(a.transfer_id).localeCompare(String(b.transfer_id)));

  const who = (t) => `${t.name_native || ""} ${t.name_latin || ""}`.trim()
    || `旅客 / traveller ${String(t.journey_id || "").slice(0, 8)}`;

  const runPlate = (runId) => ctx.runPlate(runId) || closedRunPlates.get(runId) || "";

  const learnPlates = async (list) => {
    const unknown = list.map((t) => t.pickup || {})
      .filter((p) => p.kind === "vehicle" && p.run_id && !runPlate(p.run_id) && !closedRunPlates.has(p.run_id))
      .map((p) => p.run_id);
    if (!unknown.length) return;
    for (const id of unknown) closedRunPlates.set(id, ""); // asked once, whatever the answer
    await Promise.all(unknown.map(async (id) => {
      try {
        const run = await DispatchApi.get(`/api/runs/${encodeURIComponent(id)}`);
        if (run.plate) closedRunPlates.set(id, run.plate);
      } catch {
        // The card says "run …" instead: readable enough, and the panel must not fail for it.
      }
    }));
    render();
  };

  // Where the vehicle collects the traveller, in words: [kind code, text].
  const pickup = (t) => {
    const p = t.pickup || {};
    if (p.kind === "site") {
      const site = (snapshot().sites || []).find((s) => s.code === p.code);
      const place = p.name ? `${p.name} (${p.code})` : p.code || "—";
      return [site && site.kind === "home" ? "home" : "hotel",
        `${place}${p.room ? ` — 房间 / room ${p.room}` : ""}`];
    }
    if (p.kind === "vehicle") {
      const plate = runPlate(p.run_id);
      return ["vehicle", plate ? `车辆 / vehicle ${plate}` : `车次 / run ${String(p.run_id || "").slice(0, 8)}`];
    }
    if (p.kind === "desk") return ["desk", p.name && p.name !== p.code ? `${p.name} (${p.code})` : p.code || "—"];
    return [p.kind || "", "—"];
  };

  const vehicleOptions = () => {
    const idle = idleVehicles();
    return [
      ["", idle.length ? "— 选择车辆 / choose a vehicle —" : "没有空闲车辆 / No idle vehicle"],
      ...idle.map((v) => [v.plate, `${v.plate}（${v.seats} 座 / seats）`]),
    ];
  };

  const cardOf = (id) => $("transfers").querySelector(`li.transfer[data-transfer="${CSS.escape(id)}"]`);
  const errorOf = (id) => {
    const card = cardOf(id);
    return card ? card.querySelector(".transfer-error") : $("error");
  };
  const focusPending = () => {
    if (!pending) return;
    const active = document.activeElement;
    if (active && active !== document.body && !$("transfers-panel").contains(active)) {
      pending = null; // the dispatcher has gone on elsewhere: their focus is theirs
      return;
    }
    const card = cardOf(pending.id);
    const target = card && pending.key && card.querySelector(`[data-key="${CSS.escape(pending.key)}"]`);
    if (target) {
      target.focus();
      pending = null;
    } else if (!card) {
      $("transfers-title").focus(); // delivered or cancelled: it left the panel
      pending = null;
    } else if (card.dataset.status !== pending.status) {
      pending = null; // moved on another way (another dispatcher, the escort's phone)
    }
  };

  // ---- the commands ----------------------------------------------------------------------
  // One shape for all four: clear the card's error, send (with its Idempotency-Key, api.js),
  // say what was recorded, redraw, move focus to the next step. A refusal is shown on the
  // card; a conflict (409: the vehicle was taken meanwhile, another dispatcher moved the
  // transfer on) also re-reads the desk, so that the card shows what is true now.
  const act = (button, t, { path, body, done, next, refused }) =>
    busy(button, async () => {
      clearError(errorOf(t.transfer_id));
      try {
        await DispatchApi.command(`/api/transfers/${encodeURIComponent(t.transfer_id)}/${path}`, body);
        say(...done);
        pending = { id: t.transfer_id, key: next, status: t.status };
        await ctx.refresh();
        focusPending();
      } catch (failure) {
        showError(failure, errorOf(t.transfer_id), refused);
        if (failure.status === 409) ctx.refresh().catch(() => {});
      }
    });

  const assignVehicle = (event, t) => {
    event.preventDefault();
    const form = event.currentTarget;
    const select = form.querySelector("select");
    const error = errorOf(t.transfer_id);
    clearError(error);
    const plate = select.value;
    if (!plate) {
      error.textContent = "请选择一辆空闲车辆 / Choose an idle vehicle";
      select.focus();
      return;
    }
    const name = who(t);
    act(event.submitter || form.querySelector("button[type=submit]"), t, {
      path: "vehicle",
      body: { plate },
      done: [`已派车 ${plate}：${name}`, `Vehicle ${plate} assigned: ${name}`],
      next: `pickup:${t.transfer_id}`,
      refused: `派车 ${plate} 未成功 / Assigning ${plate} refused`,
    });
  };

  const pickUp = (button, t) => {
    const name = who(t);
    act(button, t, {
      path: "pickup",
      body: {},
      done: [`已接上：${name}`, `Picked up: ${name}`],
      next: `hospital:${t.transfer_id}`,
      refused: "记录接上未成功 / Recording the pick-up refused",
    });
  };

  const deliver = (event, t) => {
    event.preventDefault();
    const form = event.currentTarget;
    const input = form.querySelector("input");
    const error = errorOf(t.transfer_id);
    clearError(error);
    const hospital = input.value.trim();
    if (!hospital) {
      error.textContent = "请填写接收的医院 / Name the hospital that took the traveller";
      input.focus();
      return;
    }
    const name = who(t);
    act(event.submitter || form.querySelector("button[type=submit]"), t, {
      path: "delivery",
      body: { hospital },
      done: [`已送达 ${hospital}：${name}`, `Delivered to ${hospital}: ${name}`],
      refused: "记录送达未成功 / Recording the delivery refused",
    });
  };

  const cancel = (event, t) => {
    event.preventDefault();
    const form = event.currentTarget;
    const input = form.querySelector("input");
    const error = errorOf(t.transfer_id);
    clearError(error);
    const reason = input.value.trim();
    if (!reason) {
      error.textContent = "请填写取消原因 / Give the reason for cancelling";
      input.focus();
      return;
    }
    const name = who(t);
    act(event.submitter || form.querySelector("button[type=submit]"), t, {
      path: "cancellation",
      body: { reason },
      done: [`已取消转送：${name}`, `Transfer cancelled: ${name}`],
      refused: "取消转送未成功 / Cancelling the transfer refused",
    });
  };

  // ---- one card --------------------------------------------------------------------------
  // A folded form (cancel, change vehicle) that is opened puts the cursor in its first field.
  const openToField = (event) => {
    const details = event.currentTarget;
    const first = details.open && details.querySelector("select, input");
    if (first) first.focus();
  };

  const field = (id, zh, en, control) =>
    el("p", { class: "field" }, el("label", { for: id }, bi(zh, en)), control);

  const vehicleForm = (t, name, [zh, en]) => {
    const id = `transfer-vehicle-${t.transfer_id}`;
    const select = el("select", { id, class: "vehicle", "data-key": `vehicle:${t.transfer_id}` });
    DispatchRuns.fillSelect(select, vehicleOptions());
    return el("form", { class: "transfer-vehicle", novalidate: true, onsubmit: (e) => assignVehicle(e, t) },
      field(id, "选择空闲车辆", "Choose an idle vehicle", select),
      el("button", { type: "submit", class: "primary", "data-key": `assign:${t.transfer_id}`,
        "aria-label": `${zh} / ${en}: ${name}` }, bi(zh, en)));
  };

  const cancelForm = (t, name) => {
    const id = `transfer-reason-${t.transfer_id}`;
    return el("details", { class: "transfer-cancel", ontoggle: openToField },
      el("summary", { "data-key": `cancel-open:${t.transfer_id}` }, bi("取消转送", "Cancel this transfer")),
      el("form", { novalidate: true, onsubmit: (e) => cancel(e, t) },
        field(id, "取消原因", "Reason for cancelling",
          el("input", { id, maxlength: MAX_REASON, autocomplete: "off", "data-key": `reason:${t.transfer_id}` })),
        el("button", { type: "submit", "data-key": `cancel:${t.transfer_id}`,
          "aria-label": `确认取消转送 / Confirm cancellation: ${name}` }, bi("确认取消转送", "Confirm cancellation"))));
  };

  const actions = (t) => {
    if (!ctx.canAct()) return [];
    const name = who(t);
    const parts = [];
    if (t.status === "requested") parts.push(vehicleForm(t, name, ["派车", "Assign vehicle"]));
    if (t.status === "vehicle_assigned") {
      parts.push(el("p", { class: "actions" },
        el("button", { type: "button", class: "primary", "data-key": `pickup:${t.transfer_id}`,
          "aria-label": `记录已接上 / Record pick-up: ${name}`,
          onclick: (e) => pickUp(e.currentTarget, t) }, bi("记录已接上", "Record pick-up"))));
      parts.push(el("details", { class: "transfer-change", ontoggle: openToField },
        el("summary", { "data-key": `change-open:${t.transfer_id}` }, bi("换车", "Change vehicle")),
        vehicleForm(t, name, ["换车", "Change vehicle"])));
    }
    if (t.status === "picked_up") {
      const id = `transfer-hospital-${t.transfer_id}`;
      parts.push(el("form", { class: "transfer-delivery", novalidate: true, onsubmit: (e) => deliver(e, t) },
        field(id, "接收医院", "Hospital that took the traveller",
          el("input", { id, maxlength: MAX_HOSPITAL, autocomplete: "off", "data-key": `hospital:${t.transfer_id}` })),
        el("button", { type: "submit", class: "primary", "data-key": `deliver:${t.transfer_id}`,
          "aria-label": `记录送达 / Record delivery: ${name}` }, bi("记录送达", "Record delivery"))));
    }
    if (CANCELLABLE.includes(t.status)) parts.push(cancelForm(t, name));
    return parts;
  };

  // What a card shows that, when it changes, calls for a new card (anything else is updated
  // in place, see `refreshCard`).
  const signature = (t) => JSON.stringify([t.status, t.status_at, t.plate, t.urgency, pickup(t),
    t.name_native, t.name_latin, ctx.canAct()]);

  const card = (t) => {
    const name = who(t);
    const titleId = `transfer-${t.transfer_id}`;
    const minutes = ctx.waitingMinutes(t.requested_at) ?? t.waiting_minutes ?? 0;
    const [kind, where] = pickup(t);
    const urgent = t.urgency === "urgent";
    return el("li", { class: "transfer", "data-transfer": t.transfer_id, "data-journey": t.journey_id,
      "data-status": t.status, "data-urgency": t.urgency, "data-signature": signature(t),
      "data-focus-group": `transfer:${t.transfer_id}` },
    el("article", { "aria-labelledby": titleId },
      el("header", {},
        el("h3", { id: titleId },
          el("button", { type: "button", class: "link member", "data-key": `tl:${t.journey_id}`,
            "aria-label": `时间线 ${name} / Timeline of ${name}`,
            onclick: (e) => ctx.openTimeline(t.journey_id, name, e.currentTarget) },
          el("span", { class: "native" }, t.name_native || "—"), " ",
          el("span", { class: "latin", lang: "en" }, t.name_latin || ""))),
        el("span", { class: `urgency urgency-${t.urgency}` }, urgent ? "⚠ " : "", W.urgency(t.urgency)),
        el("span", { class: "waiting", "data-since": t.requested_at, "data-long": String(minutes >= LONG_WAIT_MINUTES) },
          bi("等候", "Waiting"), " ", el("b", { class: "minutes" }, String(minutes)), " ", bi("分钟", "min"))),
      el("p", { class: "transfer-status" }, el("b", {}, W.transferStatus(t.status)), " ",
        el("span", { class: "since" }, bi("自", "since"), " ", el("time", { datetime: t.status_at || "" }, moment(t.status_at)))),
      el("dl", {},
        el("dt", {}, bi("接人地点", "Pick up at")),
        el("dd", { class: "pickup", "data-kind": kind },
          el("span", { class: "pickup-kind" }, W.pickupKind(kind)), ": ", el("span", { class: "place" }, where)),
        el("dt", {}, bi("车辆", "Vehicle")),
        el("dd", { class: "plate" }, t.plate || "—")),
      el("p", { class: "error transfer-error", role: "alert" }),
      actions(t)));
  };

  // A card kept from the last snapshot: its waiting time and its idle vehicles move on.
  const refreshCard = (node, t) => {
    const minutes = ctx.waitingMinutes(t.requested_at);
    const waiting = node.querySelector(".waiting");
    if (waiting && minutes !== null) {
      waiting.querySelector(".minutes").textContent = String(minutes);
      waiting.dataset.long = String(minutes >= LONG_WAIT_MINUTES);
    }
    for (const select of node.querySelectorAll("select.vehicle")) DispatchRuns.fillSelect(select, vehicleOptions());
  };

  // ---- the panel -------------------------------------------------------------------------
  const render = () => {
    const list = sorted(transfers());
    const container = $("transfers");
    const existing = new Map([...container.children].map((node) => [node.dataset.transfer, node]));
    keepFocus(container, () => {
      const nodes = list.map((t) => {
        const kept = existing.get(t.transfer_id);
        if (kept && kept.dataset.signature === signature(t)) {
          refreshCard(kept, t);
          return kept;
        }
        return card(t);
      });
      for (const node of existing.values()) if (!nodes.includes(node)) node.remove();
      nodes.forEach((node, index) => {
        if (container.children[index] !== node) container.insertBefore(node, container.children[index] || null);
      });
    });
    const urgent = list.filter((t) => t.urgency === "urgent").length;
    const waiting = list.filter((t) => t.status === "requested").length;
    $("transfers-empty").hidden = list.length > 0;
    $("transfers-count").textContent = list.length
      ? `(${list.length}：紧急 ${urgent}，待派车 ${waiting} / ${urgent} urgent, ${waiting} need a vehicle)`
      : "";
    $("transfers-panel").dataset.urgentWaiting = String(list.filter((t) => t.urgency === "urgent" && t.status === "requested").length);
    focusPending();
    learnPlates(list);
  };

  // The vehicle on a transfer, for the capacity panel: the open transfer it drives, or null.
  const transferOf = (vehicle) =>
    (vehicle && vehicle.active_run && transfers().find((t) => t.transfer_id === vehicle.active_run)) || null;

  const init = (context) => {
    ctx = context;
  };

  const reset = () => {
    pending = null;
    $("transfers").replaceChildren();
    $("transfers-count").textContent = "";
    $("transfers-empty").hidden = false;
  };

  return { init, update: render, reset, transferOf, who };
})();
