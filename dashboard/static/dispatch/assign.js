// Assigning one travel party: a destination (hotel, optional room, or home street) and
// optionally a run, by hand or from a suggestion. A suggestion only fills the form and shows its
// reasons; nothing is recorded until the dispatcher presses Confirm, and then the destination and
// the seats of the whole party are recorded in one command (POST /api/journeys/{id}/dispatch).
"use strict";

window.DispatchAssign = (() => {
  const { $, el, bi, say, showError, clearError, busy } = DispatchUi;
  const W = DispatchWords;
  let ctx = null; // {snapshot(), findParty(id), canAct(), refresh(), focusQueue()}
  const state = { partyId: null, party: null, suggestion: null, asked: 0, recorded: false };

  const partyName = (party) =>
    party.members.map((m) => m.name_native || m.name_latin).join("、") || party.party_id;

  const sites = () => (ctx.snapshot() && ctx.snapshot().sites) || [];

  const siteOptions = (party) => {
    if (party.destination) {
      const d = party.destination;
      return [[d.site_code, `${d.site_name} (${d.site_code})${d.room ? ` — 房间 / room ${d.room}` : ""}`, { selected: true }]];
    }
    const option = (s) => {
      const mine = s.kind === "home" && party.street && party.street === s.code;
      const label = `${mine ? "★ " : ""}${s.name} (${s.code}) — 空 ${s.free} free${mine ? " — 登记街道 / registered street" : ""}`;
      return [s.code, label, { disabled: Number(s.free) < 1 }];
    };
    const hotels = sites().filter((s) => s.kind === "hotel");
    const homes = sites().filter((s) => s.kind === "home");
    return [["", "— 选择目的地 / choose a destination —"], { group: "酒店 / Hotels", items: hotels.map(option) },
      { group: "居家隔离街道 / Home quarantine (street)", items: homes.map(option) }];
  };

  // Like DispatchRuns.fillSelect, with option groups; keeps the chosen value when still offered.
  const fillSites = (party) => {
    const select = $("assign-site");
    const chosen = select.value;
    const option = ([value, label, extra]) => el("option", { value, ...(extra || {}) }, label);
    select.replaceChildren(...siteOptions(party).map((entry) => (Array.isArray(entry)
      ? option(entry)
      : el("optgroup", { label: entry.group }, entry.items.map(option)))));
    if (!party.destination && [...select.options].some((o) => o.value === chosen && !o.disabled)) {
      select.value = chosen;
    }
    select.disabled = Boolean(party.destination);
    $("assign-room").disabled = Boolean(party.destination);
    if (party.destination) $("assign-room").value = party.destination.room || "";
    $("assign-site-note").hidden = !party.destination;
  };

  const fillRuns = (party) => {
    const runs = ((ctx.snapshot() && ctx.snapshot().runs) || []).filter((r) =>
      DispatchRuns.fits(r, party.size, party.entry_point));
    DispatchRuns.fillSelect($("assign-run"), [
      ["", runs.length ? "不安排车次（稍后） / No run now" : "没有座位够全组的车次 / No run has seats for the whole party"],
      ...runs.map((r) => [r.run_id, DispatchRuns.runLabel(r)]),
    ]);
  };

  const renderSummary = (party) => {
    const names = party.members.map((m) =>
      el("li", {}, el("span", { class: "native" }, m.name_native || "—"), " ", el("span", { class: "latin", lang: "en" }, m.name_latin || "")));
    $("assign-party").replaceChildren(
      el("p", { class: "who" }, el("b", {}, `${party.size} 人 / ${party.size} ${party.size === 1 ? "person" : "people"}`), " · ",
        el("span", { class: `risk risk-${party.risk || "none"}` }, W.risk(party.risk)), " · ",
        `${party.entry_point_name} (${party.entry_point})`),
      el("ul", { class: "names" }, names),
      el("p", {}, bi("登记街道", "Street"), `: ${streetName(party.street)}`),
    );
  };

  const streetName = (code) => {
    if (!code) return "—";
    const site = sites().find((s) => s.code === code);
    return site ? `${site.name} (${code})` : code;
  };

  // ---- open / update / close -------------------------------------------------------------
  const open = (partyId) => {
    const party = ctx.findParty(partyId);
    if (!party) return;
    state.partyId = partyId;
    state.party = party;
    state.suggestion = null;
    state.recorded = false;
    $("assign-none").hidden = true;
    $("assign-form").hidden = false;
    $("suggestion").hidden = true;
    clearError($("assign-error"));
    $("assign-site").value = "";
    $("assign-room").value = "";
    $("assign-run").value = "";
    renderSummary(party);
    fillSites(party);
    fillRuns(party);
    ctx.markSelected(partyId);
    $("assign-party").focus();
  };

  const close = (focusBack) => {
    const partyId = state.partyId;
    state.partyId = null;
    state.party = null;
    state.suggestion = null;
    state.asked += 1;
    $("assign-form").hidden = true;
    $("assign-none").hidden = false;
    ctx.markSelected(null);
    if (focusBack && partyId) ctx.focusParty(partyId);
  };

  // A new snapshot: the party may have moved on (assigned here or by another dispatcher).
  const update = () => {
    if (!state.partyId) return;
    const party = ctx.findParty(state.partyId);
    if (!party) {
      if (!state.recorded) {
        say("该组已不在队列中（可能已由其他调度员安排）", "That party has left the queue (another dispatcher may have assigned it)");
      }
      close(false);
      return;
    }
    state.party = party;
    renderSummary(party);
    fillSites(party);
    fillRuns(party);
  };

  // ---- suggestion ------------------------------------------------------------------------
  const suggest = (button) =>
    busy(button, async () => {
      const party = state.party;
      if (!party) return;
      clearError($("assign-error"));
      const mine = ++state.asked;
      try {
        const s = await DispatchApi.get(`/api/journeys/${encodeURIComponent(party.journey_id)}/suggestion`);
        if (mine !== state.asked || state.party !== party) return;
        state.suggestion = s;
        showSuggestion(party, s);
      } catch (failure) {
        if (mine === state.asked) showError(failure, $("assign-error"), "建议 / Suggestion");
      }
    });

  const showSuggestion = (party, s) => {
    const facts = [];
    const fact = (zh, en, value) => facts.push(el("dt", {}, bi(zh, en)), el("dd", {}, value));
    if (s.site) {
      fact("目的地", "Destination", `${s.site.name} (${s.site.code}) — ${W.siteKind(s.site.kind)} — 空 ${s.site.free} free`);
      if (!party.destination) $("assign-site").value = s.site.code;
    } else {
      fact("目的地", "Destination", "—");
    }
    if (s.room) {
      fact("房间", "Room", s.room);
      if (!party.destination) $("assign-room").value = s.room;
    }
    if (s.run) {
      fact("车次", "Run", `${s.run.plate} — 空座 ${s.run.free} free`);
      // Offer the suggested run even if this page's snapshot is a moment behind.
      if (![...$("assign-run").options].some((o) => o.value === s.run.run_id)) {
        $("assign-run").append(el("option", { value: s.run.run_id }, `${s.run.plate} — 空座 ${s.run.free} free`));
      }
      $("assign-run").value = s.run.run_id;
    } else if (s.new_run) {
      fact("车次", "Run", `没有合适车次：可用空闲车辆 ${s.new_run.plate}（${s.new_run.seats} 座）新建 / no open run fits: plan one with idle vehicle ${s.new_run.plate} (${s.new_run.seats} seats)`);
      $("assign-run").value = "";
    } else {
      fact("车次", "Run", "—");
      $("assign-run").value = "";
    }
    $("suggestion-facts").replaceChildren(...facts);
    $("suggestion-problem").hidden = !s.problem;
    $("suggestion-problem").textContent = s.problem ? `问题 / Problem: ${s.problem}` : "";
    $("suggestion-reasons").replaceChildren(...(s.reasons || []).map((r) =>
      el("li", { "data-code": r.code }, W.reason(r.code, r.text))));
    $("suggestion-new-run").hidden = !(s.new_run && ctx.canAct());
    $("suggestion").hidden = false;
    $("suggestion").focus();
    say("已给出建议，请核对后确认", "Suggestion filled in: check it, then confirm");
  };

  const planSuggestedRun = () => {
    const s = state.suggestion;
    if (s && s.new_run && state.party) {
      DispatchRuns.prefillPlan({ plate: s.new_run.plate, entry_point: state.party.entry_point });
    }
  };

  // ---- confirm ---------------------------------------------------------------------------
  const confirm = (event) => {
    event.preventDefault();
    const party = state.party;
    if (!party) return;
    const error = $("assign-error");
    clearError(error);
    // The API's `site` is a code or "" (the party keeps the destination it has).
    const site = party.destination ? "" : $("assign-site").value;
    const runId = $("assign-run").value || null;
    if (!party.destination && !site) {
      error.textContent = "请选择目的地（或按“建议”） / Choose a destination (or press Suggest)";
      $("assign-site").focus();
      return;
    }
    if (party.destination && !runId) {
      error.textContent = "该组已有目的地，请选择车次 / The party has a destination: choose a run";
      $("assign-run").focus();
      return;
    }
    const body = { site, room: party.destination ? "" : $("assign-room").value.trim(), run_id: runId };
    const button = event.submitter || $("assign-confirm");
    busy(button, async () => {
      try {
        await DispatchApi.command(`/api/journeys/${encodeURIComponent(party.journey_id)}/dispatch`, body);
        state.recorded = true;
        const where = site || (party.destination && party.destination.site_code) || "";
        const run = runId && ((ctx.snapshot().runs || []).find((r) => r.run_id === runId) || { plate: runId });
        say(`已分配：${partyName(party)} → ${where}${run ? `，车辆 ${run.plate}` : ""}`,
          `Assigned: party of ${party.size} → ${where}${run ? `, vehicle ${run.plate}` : ""}`);
        close(false);
        await ctx.refresh();
        ctx.focusQueue();
      } catch (failure) {
        showError(failure, error);
      }
    });
  };

  const init = (context) => {
    ctx = context;
    $("assign-form").addEventListener("submit", confirm);
    $("suggest").addEventListener("click", (e) => suggest(e.currentTarget));
    $("assign-cancel").addEventListener("click", () => close(true));
    $("suggestion-plan-run").addEventListener("click", planSuggestedRun);
    // Escape in the form is "cancel", as in a dialog.
    $("assign-form").addEventListener("keydown", (e) => {
      if (e.key === "Escape") close(true);
    });
  };

  return { init, open, close, update, selected: () => state.partyId };
})();
