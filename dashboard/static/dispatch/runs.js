// Vehicle runs on the dispatch console: plan a run, the open runs with their seats, a run's
// boarding list, depart / arrive, the PDF manifest, and moving a party to another run.
"use strict";

window.DispatchRuns = (() => {
  const { $, el, bi, keepFocus, say, showError, clearError, busy } = DispatchUi;
  const W = DispatchWords;
  const OPEN_FOR_SEATS = ["planned", "boarding"];
  let ctx = null; // {snapshot(), canAct(), refresh(), entryPoints(), openTimeline()}
  const state = { runId: null, detail: null, asked: 0, reassign: null };

  const runs = () => (ctx.snapshot() && ctx.snapshot().runs) || [];
  const runById = (id) => runs().find((r) => r.run_id === id) || null;

  // A run the whole party fits on: same entry point, still taking passengers, enough seats.
  const fits = (run, size, entryPoint) =>
    OPEN_FOR_SEATS.includes(run.status) && run.entry_point === entryPoint && Number(run.free) >= size;

  const runLabel = (run) =>
    `${run.plate} — ${W.runStatus(run.status)} — 空座 ${run.free} free — 押运 / escort ${run.escort || "—"}`;

  // Options of a <select>, keeping the chosen value when it is still offered.
  const fillSelect = (select, options) => {
    const chosen = select.value;
    select.replaceChildren(...options.map(([value, label, extra]) => el("option", { value, ...(extra || {}) }, label)));
    if ([...select.options].some((o) => o.value === chosen && !o.disabled)) select.value = chosen;
  };

  // ---- plan a run ------------------------------------------------------------------------
  const renderPlanForm = () => {
    const snapshot = ctx.snapshot();
    $("plan-form").hidden = !ctx.canAct();
    const idle = ((snapshot && snapshot.vehicles) || []).filter((v) => !v.active_run);
    fillSelect($("plan-plate"), [
      ["", idle.length ? "— 选择车辆 / choose a vehicle —" : "没有空闲车辆 / No idle vehicle"],
      ...idle.map((v) => [v.plate, `${v.plate}（${v.seats} 座 / seats）`]),
    ]);
    fillSelect($("plan-entry"), [
      ["", "— 选择入境点 / choose an entry point —"],
      ...ctx.entryPoints().map((e) => [e.code, `${e.name} (${e.code})`]),
    ]);
  };

  const prefillPlan = ({ plate, entry_point: entryPoint }) => {
    renderPlanForm();
    if (plate) $("plan-plate").value = plate;
    if (entryPoint) $("plan-entry").value = entryPoint;
    $("plan-form").scrollIntoView({ block: "nearest" });
    $("plan-escort").focus();
  };

  const submitPlan = (event) => {
    event.preventDefault();
    const error = $("plan-error");
    clearError(error);
    const body = {
      plate: $("plan-plate").value,
      escort: $("plan-escort").value.trim(),
      entry_point: $("plan-entry").value,
    };
    if (!body.plate || !body.escort || !body.entry_point) {
      error.textContent = "请选择车辆、填写押运人员并选择入境点 / Choose a vehicle, name the escort and choose the entry point";
      return;
    }
    busy($("plan-submit"), async () => {
      try {
        await DispatchApi.command("/api/runs", body);
        $("plan-escort").value = "";
        say("已新建车次", `Run planned: ${body.plate} at ${body.entry_point}`);
        await ctx.refresh();
      } catch (failure) {
        showError(failure, error);
      }
    });
  };

  // ---- the open runs ---------------------------------------------------------------------
  const actionButton = (key, zh, en, label, onclick) =>
    el("button", { type: "button", "data-key": key, "aria-label": label, onclick }, bi(zh, en));

  const renderRuns = () => {
    const list = [...runs()].sort(
      (a, b) => OPEN_FOR_SEATS.includes(b.status) - OPEN_FOR_SEATS.includes(a.status) || a.plate.localeCompare(b.plate),
    );
    const body = $("runs-table");
    $("runs-empty").hidden = list.length > 0;
    keepFocus(body, () => {
      body.querySelectorAll("tbody").forEach((old) => old.remove());
      body.append(...list.map((run) => {
        const actions = [
          actionButton(`list:${run.run_id}`, "乘客名单", "Boarding list", `乘客名单 ${run.plate} / Boarding list ${run.plate}`,
            () => openBoarding(run.run_id)),
        ];
        // Depart while the run takes passengers (the domain says if someone is missing);
        // arrive once it is on the road.
        if (ctx.canAct() && OPEN_FOR_SEATS.includes(run.status)) {
          actions.push(actionButton(`depart:${run.run_id}`, "发车", "Depart", `发车 ${run.plate} / Depart ${run.plate}`,
            (e) => move(e.currentTarget, run, "departure")));
        }
        if (ctx.canAct() && run.status === "departed") {
          actions.push(actionButton(`arrive:${run.run_id}`, "到达", "Arrive", `到达 ${run.plate} / Arrive ${run.plate}`,
            (e) => move(e.currentTarget, run, "arrival")));
        }
        actions.push(actionButton(`pdf:${run.run_id}`, "清单", "PDF", `下载清单 ${run.plate} / Manifest PDF ${run.plate}`,
          (e) => manifest(e.currentTarget, run.run_id, run.plate)));
        // Two rows per run: the numbers, then its buttons (a desk column is too narrow for both).
        const selected = state.runId === run.run_id ? " selected" : "";
        return el("tbody", { "data-run": run.run_id, "data-focus-group": `run:${run.run_id}`,
          "data-status": run.status, class: `run${selected}` },
          el("tr", {},
            el("th", { scope: "row", class: "plate" }, run.plate),
            el("td", {}, run.entry_point || "—"),
            el("td", { class: "status" }, W.runStatus(run.status)),
            el("td", { class: "num free" }, String(run.free)),
            el("td", { class: "num seated" }, String(run.seated)),
            el("td", { class: "num boarded" }, String(run.boarded)),
            el("td", { class: "escort" }, run.escort || "—")),
          el("tr", { class: "run-actions" }, el("td", { colspan: 7 }, el("div", { class: "actions" }, actions))));
      }));
    });
  };

  const move = (button, run, what) =>
    busy(button, async () => {
      clearError();
      const [zh, en] = what === "departure" ? ["发车", "Depart"] : ["到达", "Arrive"];
      try {
        await DispatchApi.command(`/api/runs/${run.run_id}/${what}`, {});
        say(what === "departure" ? `${run.plate} 已发车` : `${run.plate} 已到达`,
          what === "departure" ? `Run ${run.plate} departed` : `Run ${run.plate} arrived`);
        await ctx.refresh();
        // The next step of a departed run is its arrival.
        const next = $("runs-table").querySelector(`[data-key="arrive:${CSS.escape(run.run_id)}"]`);
        if (what === "departure" && next) next.focus();
      } catch (failure) {
        showError(failure, null, `${zh} ${run.plate} 未成功 / ${en} ${run.plate} refused`);
      }
    });

  // The manifest needs the bearer token, so it is fetched and handed over as an object URL.
  const manifest = (button, runId, plate) =>
    busy(button, async () => {
      clearError();
      say("正在生成清单…", `Preparing the manifest of ${plate}…`);
      try {
        const blob = await DispatchApi.blob(`/api/runs/${runId}/manifest.pdf`);
        const url = URL.createObjectURL(blob);
        const link = el("a", { href: url, download: `manifest-${plate}.pdf`, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        say("清单已下载", `Manifest of ${plate} downloaded`);
      } catch (failure) {
        say("", "");
        showError(failure, null, `清单 ${plate} / Manifest ${plate}`);
      }
    });

  // ---- boarding list ---------------------------------------------------------------------
  const openBoarding = async (runId) => {
    state.runId = runId;
    state.detail = null;
    closeReassign();
    $("boarding").hidden = false;
    const run = runById(runId);
    $("boarding-title").replaceChildren(bi("乘客名单", "Boarding list"), `: ${run ? run.plate : ""}`);
    $("passengers").replaceChildren();
    renderRuns();
    await loadBoarding();
    $("boarding").focus();
  };

  const closeBoarding = () => {
    const runId = state.runId;
    state.runId = null;
    state.detail = null;
    closeReassign();
    $("boarding").hidden = true;
    renderRuns();
    const back = runId && $("runs-table").querySelector(`[data-key="list:${CSS.escape(runId)}"]`);
    if (back) back.focus();
  };

  const loadBoarding = async () => {
    if (!state.runId) return;
    const runId = state.runId;
    const mine = ++state.asked;
    try {
      const detail = await DispatchApi.get(`/api/runs/${encodeURIComponent(runId)}`);
      if (mine !== state.asked || state.runId !== runId) return;
      state.detail = detail;
      renderBoarding();
    } catch (failure) {
      if (mine !== state.asked) return;
      showError(failure, null, "乘客名单 / Boarding list");
    }
  };

  const renderBoarding = () => {
    const run = state.detail;
    if (!run) return;
    $("boarding").dataset.run = run.run_id;
    $("boarding-title").replaceChildren(
      bi("乘客名单", "Boarding list"),
      `: ${run.plate} — ${W.runStatus(run.status)} — 空座 ${run.free_seats ?? "?"} free / ${run.seats} — 押运 / escort ${run.escort || "—"}`,
    );
    const passengers = Array.isArray(run.passengers) ? run.passengers : [];
    $("passengers-empty").hidden = passengers.length > 0;
    // One party sits together; its members are rows side by side and share one Reassign button.
    const parties = new Map();
    for (const p of passengers) {
      const key = p.party_id || p.journey_id;
      if (!parties.has(key)) parties.set(key, []);
      parties.get(key).push(p);
    }
    const rows = [];
    for (const [partyId, members] of parties) {
      members.sort((a, b) => (a.seat ?? 0) - (b.seat ?? 0));
      members.forEach((p, index) => {
        const who = `${p.name_native || ""} ${p.name_latin || ""}`.trim() || p.journey_id;
        const cells = [
          el("th", { scope: "row" },
            el("button", { type: "button", class: "link member", "data-key": `tl:${p.journey_id}`,
              "aria-label": `时间线 ${who} / Timeline of ${who}`,
              onclick: (e) => ctx.openTimeline(p.journey_id, who, e.currentTarget) },
            el("span", { class: "native" }, p.name_native || "—"), " ", el("span", { class: "latin", lang: "en" }, p.name_latin || ""))),
          el("td", { class: "num seat" }, p.seat ?? "—"),
          el("td", { class: `boarded ${p.boarded ? "yes" : "no"}` }, p.boarded ? bi("✓ 是", "yes") : bi("✗ 否", "no")),
          el("td", {}, p.site_name ? `${p.site_name} (${p.site_code || ""})` : p.site_code || "—"),
          el("td", { class: "room" }, p.room || "—"),
        ];
        if (index === 0) {
          const label = `${members[0].name_native || ""} 等 ${members.length} 人 / party of ${members.length}`;
          cells.push(el("td", { rowspan: members.length, class: "party-cell" },
            `${members.length} 人 / people`,
            ctx.canAct() && OPEN_FOR_SEATS.includes(run.status) && !members.some((m) => m.boarded)
              ? el("button", { type: "button", "data-key": `reassign:${partyId}`,
                "aria-label": `改派 ${label} / Reassign ${label}`,
                onclick: (e) => openReassign(members, e.currentTarget) }, bi("改派", "Reassign"))
              : null));
        }
        rows.push(el("tr", { "data-journey": p.journey_id, "data-party": partyId }, cells));
      });
    }
    keepFocus($("passengers"), () => $("passengers").replaceChildren(...rows));
    if (state.reassign) fillReassignRuns();
  };

  // ---- reassign a party ------------------------------------------------------------------
  const openReassign = (members, opener) => {
    state.reassign = { journeyId: members[0].journey_id, size: members.length, opener,
      label: members.map((m) => m.name_native || m.name_latin).join("、") };
    $("reassign-legend").replaceChildren(bi("改派同行组", "Reassign party"), `: ${state.reassign.label}（${members.length} 人 / people）`);
    $("reassign-reason").value = "";
    clearError($("reassign-error"));
    fillReassignRuns();
    $("reassign-form").hidden = false;
    $("reassign-run").focus();
  };

  const fillReassignRuns = () => {
    const detail = state.detail;
    const r = state.reassign;
    if (!detail || !r) return;
    const targets = runs().filter((run) => run.run_id !== detail.run_id && fits(run, r.size, detail.entry_point));
    fillSelect($("reassign-run"), [
      ["", targets.length ? "— 选择车次 / choose a run —" : "没有座位够全组的车次 / No run has seats for the whole party"],
      ...targets.map((run) => [run.run_id, runLabel(run)]),
    ]);
  };

  const closeReassign = () => {
    const opener = state.reassign && state.reassign.opener;
    state.reassign = null;
    $("reassign-form").hidden = true;
    return opener;
  };

  const submitReassign = (event) => {
    event.preventDefault();
    const r = state.reassign;
    if (!r) return;
    const error = $("reassign-error");
    clearError(error);
    const body = { run_id: $("reassign-run").value, reason: $("reassign-reason").value.trim() };
    if (!body.run_id || !body.reason) {
      error.textContent = "请选择车次并填写原因 / Choose the run and give the reason";
      return;
    }
    const target = runById(body.run_id);
    busy(event.submitter || $("reassign-form").querySelector("button[type=submit]"), async () => {
      try {
        await DispatchApi.command(`/api/journeys/${r.journeyId}/seats/reassignment`, body);
        closeReassign();
        say(`已改派到 ${target ? target.plate : ""}`, `${r.label}: moved to run ${target ? target.plate : body.run_id}`);
        await ctx.refresh();
        $("boarding").focus();
      } catch (failure) {
        showError(failure, error);
      }
    });
  };

  // ---- wiring ----------------------------------------------------------------------------
  const init = (context) => {
    ctx = context;
    $("plan-form").addEventListener("submit", submitPlan);
    $("boarding-close").addEventListener("click", closeBoarding);
    $("manifest").addEventListener("click", (e) => {
      if (state.detail) manifest(e.currentTarget, state.detail.run_id, state.detail.plate);
    });
    $("reassign-form").addEventListener("submit", submitReassign);
    $("reassign-cancel").addEventListener("click", () => {
      const opener = closeReassign();
      if (opener && opener.isConnected) opener.focus();
    });
  };

  // A new snapshot: redraw, and re-read the open boarding list (it may have changed too).
  const update = () => {
    renderPlanForm();
    renderRuns();
    if (state.runId) loadBoarding();
  };

  const reset = () => {
    state.runId = null;
    state.detail = null;
    closeReassign();
    $("boarding").hidden = true;
  };

  return { init, update, reset, fits, runLabel, prefillPlan, openBoarding, fillSelect };
})();
