// The phone scanner page: sign in, choose the handoff, read a personal code (camera, scanner gun
// or typed), show go / check / stop, and record the boarding or check-in.
//
// Why a queue: escorts and receivers work on a flaky mobile network. A confirmed handoff is put
// in localStorage first (its Idempotency-Key, body and device time fixed at the tap) and only
// then sent, oldest first. A failed send stays queued and is retried when `online` fires or on a
// timer; because the key and scan_id travel with it, a replay has one effect on the server.
// Signing in is static/staff/session.js; the queue lives in localStorage so that closing the
// tab offline loses no handoff.
//
// Why off-route scans are posted although the screen is red: the domain records a traveller
// scanned at the wrong car door or the wrong room door as MisdirectedScanRecorded, which is how
// the dispatcher learns that someone is off their route. Turning them away without a record
// would lose exactly the event the line exists to catch, so those scans go through the same
// queue (own key, scan id, device time) as a confirmed handoff, and the page says so in red.
//
// Words: the server answers with a machine reason_code; the zh-CN / en sentence for each code
// and which codes are off-route come from the data island #scanner-words, rendered from the
// domain's codes (api/routers/scanner_page.py), so the page never matches English text.
"use strict";

(() => {
  const QUEUE_KEY = "tracking.scanner.queue";
  const SETUP_KEY = "tracking.scanner.setup";
  // A traveller turned away is often scanned again a minute later (the camera, a second try):
  // one off-route record per traveller and handoff in this window is the signal, more is noise.
  const OFF_ROUTE_QUIET_MS = 10 * 60_000;
  const TYPED = "__typed__"; // the picker option that reveals the typed fallback
  const WASM_URL = "/static/vendor/barcode-detector/zxing_reader.wasm";
  const RETRY_MS = 15_000;
  const FRAME_GAP_MS = 120;
  // After a code is dealt with it is often still in front of the camera.
  const SAME_CODE_QUIET_MS = 4_000;
  const CODE_PATTERN = /^[A-Za-z0-9_-]{4,200}$/;
  const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  const HANDOFFS = {
    boarding: { zh: "车门（上车）", en: "Car door (boarding)", where: "车门 car door" },
    check_in: { zh: "房门（入住）", en: "Room door (check-in)", where: "房门 room door" },
    desk: { zh: "入境点接待台", en: "Entry desk", where: "" },
  };
  const VERDICTS = {
    go: { zh: "✓ 通过", en: "GO", confirm: ["确认交接", "Confirm handoff"] },
    check: { zh: "! 请核对", en: "CHECK", confirm: ["已核对，确认", "Checked — confirm"] },
    stop: { zh: "✕ 停止", en: "STOP", confirm: null },
  };
  const DEFAULT_HANDOFF = { escort: "boarding", receiver: "check_in", screener: "desk" };
  const RUN_STATUS = {
    planned: "待出发 planned",
    boarding: "上车中 boarding",
    departed: "已出发 departed",
    arrived: "已到达 arrived",
  };
  const SITE_KIND = { hotel: "酒店 hotel", home: "社区·居家 street (home)" };
  // Where the off-route traveller belongs, per handoff: their vehicle, or their destination.
  const OFF_ROUTE = {
    boarding: {
      zh: "已登记为错误交接（不在计划路线上），调度已收到提醒。不要让其上车。",
      en: "Recorded as off-route — the dispatcher is alerted; do not let them board.",
      where: ["应乘车辆", "Their vehicle"],
      place: (r) => r.plate,
    },
    check_in: {
      zh: "已登记为错误交接（不在计划路线上），调度已收到提醒。不要办理入住。",
      en: "Recorded as off-route — the dispatcher is alerted; do not check them in.",
      where: ["应去", "Their destination"],
      place: (r) => [r.destination_name, r.room, r.destination_address].filter(Boolean).join(" · "),
    },
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    setup: null, // {handoff, run_id, site, entry_point} and each one's *_label for the title
    shown: null, // {code, result} on the panel now
    busy: false, // a look-up is in flight
    nextCode: "", // a manual code waiting for that look-up
    recent: { code: "", until: 0 },
    stream: null,
    detector: null,
    flushing: false,
    flushAgain: false,
    // Look-ups answered online, so a handoff can still be confirmed when the network drops
    // between scans. The server re-checks every rule when the queued command arrives.
    cache: new Map(),
    // `${setupKey}|${journey_id}` -> when its off-route scan was queued (OFF_ROUTE_QUIET_MS).
    offRouteSent: new Map(),
    // handoff -> the promise of its picker's list, loaded once each time the setup is shown.
    pickerLoads: {},
  };
  // Reason and stage words, from the page itself (see the header comment).
  const WORDS = JSON.parse($("scanner-words").textContent);

  const say = (zh, en) => {
    $("status").textContent = zh && en ? `${zh} / ${en}` : "";
  };
  const token = StaffSession.token;

  const { uuid, detailText } = StaffSession;

  // A personal QR code holds `{base}/t/{code}`; a scanner gun types the same URL. Staff may also
  // type the bare code. Anything else is refused here rather than sent to the server.
  const codeFrom = (text) => {
    let path = (text || "").trim();
    try {
      path = new URL(path).pathname;
    } catch {
      // not a URL: a bare code
    }
    const last = path.replace(/\/+$/, "").split("/").pop() || "";
    return CODE_PATTERN.test(last) ? last : null;
  };

  // ---- the queue -------------------------------------------------------------------------
  const readQueue = () => {
    try {
      const queue = JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
      return Array.isArray(queue) ? queue : [];
    } catch {
      return [];
    }
  };
  const writeQueue = (queue) => {
    localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
    showPending();
  };
  const showPending = () => {
    const count = readQueue().length;
    $("pending-count").textContent = String(count);
    $("pending").dataset.count = String(count);
  };
  const showNetwork = () => {
    const online = navigator.onLine;
    $("network").dataset.online = String(online);
    $("network").textContent = online ? "在线 / Online" : "离线 / Offline";
  };

  const log = (text, kind) => {
    const item = document.createElement("li");
    item.className = kind || "";
    const time = new Date().toLocaleTimeString();
    item.textContent = `${time} ${text}`;
    const list = $("log");
    list.prepend(item);
    while (list.children.length > 50) list.lastElementChild.remove();
  };

  const enqueue = (entry) => {
    writeQueue([...readQueue(), entry]);
    flush();
  };

  const dequeue = (key) => writeQueue(readQueue().filter((e) => e.key !== key));

  // Sends the queue oldest first and stops at the first failure that a later try may cure, so
  // the server sees the handoffs in the order they were confirmed.
  const flush = async () => {
    if (state.flushing) {
      state.flushAgain = true;
      return;
    }
    state.flushing = true;
    try {
      for (;;) {
        const entry = readQueue()[0];
        if (!entry || !token()) break;
        let response;
        try {
          response = await fetch(entry.path, {
            method: "POST",
            headers: {
              "Content-Type": "application/json",
              Authorization: `Bearer ${token()}`,
              "Idempotency-Key": entry.key,
            },
            body: JSON.stringify(entry.body),
          });
        } catch (error) {
          say("网络不通，已保存，稍后自动上传", "No network: saved, will send automatically");
          break;
        }
        if (response.ok) {
          const answer = await response.json().catch(() => ({}));
          dequeue(entry.key);
          logAnswer(entry, answer.outcome || "recorded");
          continue;
        }
        if (response.status === 401) {
          signOut("登录已过期，请重新登录；待上传记录已保存", "Sign-in expired; sign in again — pending records are kept");
          break;
        }
        if (response.status === 429 || response.status === 408 || response.status >= 500) {
          say("服务器忙，稍后自动重试", `The server answered ${response.status}; will retry`);
          break;
        }
        // 403 / 404 / 409 / 422: this request will never succeed as it is. Keeping it would
        // block every later handoff, so it leaves the queue and staff see why.
        const detail = await response.json().catch(() => ({}));
        dequeue(entry.key);
        log(`未能记录 / Not recorded (${response.status}): ${entry.label} — ${detailText(detail)}`, "bad");
        say("有一条记录被拒绝，见下方", "A record was refused: see the list below");
      }
    } finally {
      state.flushing = false;
      if (state.flushAgain) {
        state.flushAgain = false;
        flush();
      }
    }
  };

  // One line in the log per answered command. An off-route scan answered "misdirected" is the
  // expected, recorded outcome, but it is a traveller off their route: red, with where they
  // belong. "accepted" for an off-route scan means the dispatcher moved the traveller here
  // between the look-up and the send, so the record says they boarded although staff were told
  // to stop them: that must not read as a plain success.
  const logAnswer = (entry, outcome) => {
    if (entry.off_route) {
      const belongs = entry.belongs ? ` — ${entry.belongs}` : "";
      log(`错误交接已登记，已通知调度 / Recorded as off-route, dispatcher alerted: ${entry.label}${belongs}`,
        "bad off-route");
      return;
    }
    const words = {
      accepted: "已记录 / Recorded",
      duplicate: "重复扫码，已记录过 / Already recorded",
      misdirected: "错误交接已登记 / Misdirected scan logged",
    }[outcome] || outcome;
    log(`${words}: ${entry.label}`, outcome === "accepted" ? "ok" : "warn");
  };

  // ---- sign-in ---------------------------------------------------------------------------
  const signOut = (zh, en) => {
    StaffSession.clear();
    stopCamera();
    hideResult();
    $("scanner").hidden = true;
    $("setup").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    say(zh, en);
    $("username").focus();
  };

  // ---- handoff setup ---------------------------------------------------------------------
  const savedSetup = () => {
    try {
      return JSON.parse(localStorage.getItem(SETUP_KEY) || "null");
    } catch {
      return null;
    }
  };

  const showSetup = () => {
    stopCamera();
    hideResult();
    $("sign-in").hidden = true;
    $("scanner").hidden = true;
    $("who").hidden = false;
    const role = StaffSession.role();
    $("who-role").textContent = role;
    const setup = savedSetup() || { handoff: DEFAULT_HANDOFF[role] || "boarding" };
    const form = $("setup-form");
    const radio = form.querySelector(`input[name=handoff][value="${setup.handoff}"]`);
    if (radio) radio.checked = true;
    $("setup-error").textContent = "";
    // Lists are read afresh each time the setup is shown: runs open, fill up and leave.
    state.pickerLoads = {};
    showSetupFields();
    $("setup").hidden = false;
    say("", "");
  };

  const chosenHandoff = () => {
    const chosen = $("setup-form").querySelector("input[name=handoff]:checked");
    return chosen ? chosen.value : "";
  };

  const showSetupFields = () => {
    const handoff = chosenHandoff();
    for (const row of $("setup-form").querySelectorAll("[data-for]")) {
      row.hidden = row.dataset.for !== handoff;
    }
    if (PICKERS[handoff]) loadPicker(handoff);
  };

  // ---- pickers: the run, the site or the entry point, chosen from a list ------------------
  // Each handoff has one picker: a <select> filled from the API, plus a typed fallback revealed
  // by its last option. `field` is the setup's key for the value, `label` for its summary.
  const PICKERS = {
    boarding: {
      select: "run-pick", input: "run-id", note: "run-pick-note", field: "run_id",
      url: "/api/runs?open=true", options: (answer) => runOptions(answer.runs || []),
      empty: ["— 请选择车次 —", "choose the run"],
    },
    check_in: {
      select: "site-pick", input: "site", note: "site-pick-note", field: "site",
      url: "/api/reference", options: (answer) => siteOptions(answer.sites || []),
      empty: ["— 请选择酒店/社区 —", "choose the site"],
    },
    desk: {
      select: "entry-point-pick", input: "entry-point", note: "entry-point-pick-note",
      field: "entry_point", url: "/api/reference",
      options: (answer) => entryPointOptions(answer.entry_points || []),
      // The desk only looks codes up, so "any entry point" is a valid choice.
      empty: ["不限入境点", "any entry point"],
    },
  };

  // Options are [{group, value, text, label}]: `text` is what the list shows, `label` what the
  // scanner's title shows once chosen.
  // Runs still taking passengers first; runs on the road after them (nobody boards those, but
  // an escort may still look codes up there). Within each, the server's order (entry, plate).
  const BOARDING_GROUP = "可上车 / Boarding";
  const ON_THE_ROAD_GROUP = "已出发 / On the road";
  const runOptions = (runs) => {
    const toOption = (r) => ({
      group: r.status === "planned" || r.status === "boarding" ? BOARDING_GROUP : ON_THE_ROAD_GROUP,
      value: r.run_id,
      text: [
        r.plate,
        r.entry_point,
        RUN_STATUS[r.status] || r.status,
        `已排座 seated ${r.seated}/${r.seats}`,
        `已上车 boarded ${r.boarded}`,
        r.escort ? `护送 escort ${r.escort}` : "",
      ].filter(Boolean).join(" · "),
      label: `${r.plate} · ${r.entry_point}`,
    });
    const options = runs.map(toOption);
    return [
      ...options.filter((o) => o.group === BOARDING_GROUP),
      ...options.filter((o) => o.group === ON_THE_ROAD_GROUP),
    ];
  };

  const siteOptions = (sites) =>
    sites.map((s) => ({
      group: "",
      value: s.code,
      text: `${s.name} (${s.code}) · ${SITE_KIND[s.kind] || s.kind}`,
      label: `${s.name} (${s.code})`,
    }));

  const entryPointOptions = (points) =>
    points.map((p) => ({ group: "", value: p.code, text: `${p.name} (${p.code})`, label: `${p.name} (${p.code})` }));

  const option = (value, text, label) => {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    if (label) o.dataset.label = label;
    return o;
  };

  const fillPicker = (picker, options) => {
    const select = $(picker.select);
    const children = [option("", `${picker.empty[0]} / ${picker.empty[1]}`)];
    const groups = new Map();
    for (const o of options) {
      const element = option(o.value, o.text, o.label);
      if (!o.group) {
        children.push(element);
        continue;
      }
      if (!groups.has(o.group)) {
        const group = document.createElement("optgroup");
        group.label = o.group;
        groups.set(o.group, group);
        children.push(group);
      }
      groups.get(o.group).append(element);
    }
    children.push(option(TYPED, "手动输入… / Type it…"));
    select.replaceChildren(...children);
  };

  // Reads the list for one handoff (once per showing of the setup) and puts back the choice
  // remembered on this device: picked again if it is still listed, else typed, so a run id
  // from a paper sheet survives and nothing stale is silently replaced.
  const loadPicker = (handoff) => {
    if (state.pickerLoads[handoff]) return state.pickerLoads[handoff];
    const picker = PICKERS[handoff];
    const saved = savedSetup() || {};
    const remembered = saved[picker.field] || "";
    $(picker.note).textContent = "正在加载列表… / Loading the list…";
    const load = (async () => {
      let options = null;
      try {
        const response = await fetch(picker.url, { headers: { Authorization: `Bearer ${token()}` } });
        if (response.status === 401) {
          signOut("登录已过期，请重新登录", "Your sign-in has expired; please sign in again");
          return;
        }
        if (response.ok) options = picker.options(await response.json());
        else if (response.status === 403) {
          $(picker.note).textContent = "您的角色不能查看此列表，请手动输入 / Your role cannot read this list: type it";
        } else {
          $(picker.note).textContent = `列表暂不可用，请手动输入 / The list is unavailable (${response.status}): type it`;
        }
      } catch {
        $(picker.note).textContent = "离线：无法加载列表，请手动输入 / Offline: the list cannot be loaded; type it";
      }
      fillPicker(picker, options || []);
      if (options) {
        $(picker.note).textContent = options.length ? "" : "列表为空，可手动输入 / The list is empty: type it if you have it";
      }
      const listed = options && options.some((o) => o.value === remembered);
      const select = $(picker.select);
      if (listed) select.value = remembered;
      else if (remembered || !options) select.value = TYPED;
      else select.value = "";
      $(picker.input).value = listed ? "" : remembered;
      showTyped(handoff);
    })();
    state.pickerLoads[handoff] = load;
    return load;
  };

  const showTyped = (handoff) => {
    const picker = PICKERS[handoff];
    const typed = $(picker.select).value === TYPED;
    const row = $(picker.input).closest("[data-typed]");
    row.hidden = !typed;
  };

  // The value and the title label of a handoff's picker: the listed choice, or the typed one.
  const picked = (handoff) => {
    const picker = PICKERS[handoff];
    const select = $(picker.select);
    if (select.value === TYPED) {
      const value = $(picker.input).value.trim();
      return { value, label: value, typed: true };
    }
    const chosen = select.selectedOptions[0];
    return { value: select.value, label: (chosen && chosen.dataset.label) || select.value, typed: false };
  };

  const pickerChanged = (event) => {
    const select = event.target.closest("select");
    const handoff = Object.keys(PICKERS).find((h) => PICKERS[h].select === (select && select.id));
    if (!handoff) return;
    showTyped(handoff);
    if (select.value === TYPED) $(PICKERS[handoff].input).focus();
  };

  const setupProblem = (handoff, choice) => {
    if (handoff === "boarding" && !UUID_PATTERN.test(choice.value)) {
      return choice.typed
        ? "车次编号应为调度单上的 UUID / The run id is the UUID on the dispatch sheet"
        : "请选择车次 / Choose the run";
    }
    if (handoff === "check_in" && !choice.value) {
      return choice.typed ? "请输入酒店/社区代码 / Enter the site code" : "请选择酒店/社区 / Choose the site";
    }
    return "";
  };

  const submitSetup = async (event) => {
    event.preventDefault();
    const error = $("setup-error");
    error.textContent = "";
    const handoff = chosenHandoff();
    if (!handoff) {
      error.textContent = "请选择交接环节 / Choose the handoff";
      return;
    }
    await loadPicker(handoff); // a tap before the list arrived must not read an empty picker
    const choice = picked(handoff);
    // Typed ids are normalised as printed (UUIDs lower case, codes upper case); listed values
    // are the server's own and kept exactly.
    if (choice.typed) {
      choice.value = handoff === "boarding" ? choice.value.toLowerCase() : choice.value.toUpperCase();
      choice.label = choice.value;
    }
    const problem = setupProblem(handoff, choice);
    if (problem) {
      error.textContent = problem;
      $(choice.typed ? PICKERS[handoff].input : PICKERS[handoff].select).focus();
      return;
    }
    // Only the chosen handoff's place is kept: the others keep what was remembered before.
    const setup = { ...(savedSetup() || {}), handoff };
    setup[PICKERS[handoff].field] = choice.value;
    setup[`${PICKERS[handoff].field}_label`] = choice.label;
    localStorage.setItem(SETUP_KEY, JSON.stringify(setup));
    state.setup = setup;
    showScanner();
  };

  const showScanner = () => {
    const { handoff } = state.setup;
    const words = HANDOFFS[handoff];
    const field = PICKERS[handoff].field;
    const context = state.setup[field] ? state.setup[`${field}_label`] || state.setup[field] : "";
    $("handoff-summary").textContent = `${words.zh} / ${words.en}${context ? ` · ${context}` : ""}`;
    $("setup").hidden = true;
    $("scanner").hidden = false;
    $("code").focus(); // a scanner gun types into whatever has focus
  };

  // ---- look-up and the result panel --------------------------------------------------------
  // The handoff and its place: a look-up (and an off-route record) means something only there.
  const setupKey = () => {
    const s = state.setup;
    return `${s.handoff}|${s[PICKERS[s.handoff].field] || ""}`;
  };

  const lookup = async (code) => {
    if (!state.setup) return;
    if (state.busy) {
      // A code typed or scanned by gun while the camera's look-up is in flight is deliberate:
      // it runs next instead of being dropped.
      state.nextCode = code;
      return;
    }
    state.busy = true;
    const s = state.setup;
    const params = new URLSearchParams({ handoff: s.handoff });
    if (s.handoff === "boarding") params.set("run_id", s.run_id);
    if (s.handoff === "check_in") params.set("site", s.site);
    if (s.handoff === "desk" && s.entry_point) params.set("entry_point", s.entry_point);
    const cacheKey = `${setupKey()}|${code}`;
    say("正在查询…", "Looking up…");
    try {
      let response;
      try {
        response = await fetch(`/api/scans/${encodeURIComponent(code)}?${params}`, {
          headers: { Authorization: `Bearer ${token()}` },
        });
      } catch (error) {
        const cached = state.cache.get(cacheKey);
        if (cached) {
          showResult(code, cached, true);
          say("离线：显示之前的查询结果", "Offline: showing the earlier look-up");
          recordOffRoute(cached); // queued: it is sent when the network returns
        } else {
          showProblem(code, "check", "离线，无法查询此码。请手动核对证件并稍后重试。",
            "Offline: cannot look this code up. Check the document by hand and retry later.");
          say("离线 / Offline", "");
        }
        return;
      }
      if (response.status === 401) {
        signOut("登录已过期，请重新登录", "Your sign-in has expired; please sign in again");
        return;
      }
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        state.cache.set(cacheKey, answer);
        showResult(code, answer, false);
        say("", "");
        recordOffRoute(answer);
      } else if (response.status === 404) {
        showProblem(code, "stop", "无效码：请旅客出示个人码页面，或核对接待台名单。",
          "This code does not work: ask for the traveller's code page, or check the desk list.");
        say("", "");
      } else if (response.status === 403) {
        say("您的角色不能扫码核验", "Your role cannot use the scanner");
      } else if (response.status === 422) {
        say("交接设置有误，请点“更改”", `The handoff settings are invalid (${detailText(answer)}); tap Change`);
      } else {
        say("服务器出错，请稍后重试", `The server answered ${response.status}; please retry shortly`);
      }
    } finally {
      state.busy = false;
      const next = state.nextCode;
      state.nextCode = "";
      if (next) lookup(next);
    }
  };

  const fill = (id, text) => {
    $(id).textContent = text || "—";
  };

  const showResult = (code, result, fromCache) => {
    const verdict = VERDICTS[result.verdict] ? result.verdict : "check";
    const words = VERDICTS[verdict];
    state.shown = { code, result };
    $("result").dataset.verdict = verdict;
    $("result").dataset.cached = String(fromCache);
    $("result").dataset.reason = result.reason_code || "";
    $("result-verdict").textContent = `${words.zh} ${words.en}`;
    fill("result-name-native", result.name_native);
    $("result-name-latin").textContent = result.name_latin || "";
    fill("result-doc", result.document_last4);
    fill("result-party", result.party_size ? String(result.party_size) : "");
    fill("result-destination", destinationOf(result));
    fill("result-plate", result.plate);
    const stage = WORDS.stages[result.stage];
    fill("result-stage", stage ? `${stage.zh} / ${stage.en}` : result.stage);
    const reason = reasonWords(result);
    $("result-reason").replaceChildren(span("zh-CN", reason.zh), document.createElement("br"), span("en", reason.en));
    showOffRouteBanner(result);
    const confirm = $("confirm");
    const canRecord = Boolean(words.confirm && result.journey_id && state.setup.handoff !== "desk");
    confirm.hidden = !canRecord;
    confirm.disabled = false;
    if (canRecord) {
      confirm.replaceChildren(span("zh-CN", words.confirm[0]), " / ", span("en", words.confirm[1]));
    }
    $("result").hidden = false;
    $("code").value = "";
  };

  const destinationOf = (result) =>
    [result.destination_name, result.room, result.destination_address].filter(Boolean).join(" · ");

  // The page's own sentence for the server's reason_code. A code this page does not know yet
  // (a newer server) still gets both languages: a generic Chinese line beside the English reason.
  const reasonWords = (result) => {
    if (result.words) return result.words;
    const known = WORDS.reasons[result.reason_code];
    if (known) return known;
    return { zh: "未知情况：请与调度核实。", en: result.reason || "Unknown case: check with the dispatcher." };
  };

  const showProblem = (code, verdict, zh, en) => {
    showResult(code, { verdict, words: { zh, en } }, false);
  };

  const span = (lang, text) => {
    const s = document.createElement("span");
    s.lang = lang;
    s.textContent = text;
    return s;
  };

  const hideResult = () => {
    if (state.shown) state.recent = { code: state.shown.code, until: Date.now() + SAME_CODE_QUIET_MS };
    state.shown = null;
    $("result").hidden = true;
    $("result").dataset.verdict = "";
  };

  // ---- recording: confirmed handoffs and off-route scans -----------------------------------
  // The boarding or check-in command for the shown traveller at this scanner's place, with a
  // fresh scan_id and the device's clock; null at the desk, which records nothing.
  const handoffCommand = (result) => {
    const s = state.setup;
    const journey = encodeURIComponent(result.journey_id);
    const body = {
      scan_id: uuid(),
      where: HANDOFFS[s.handoff].where,
      occurred_at: new Date().toISOString(), // the device's clock: data, never ordering
    };
    if (s.handoff === "boarding") {
      return { path: `/api/journeys/${journey}/boarding`, body: { ...body, run_id: s.run_id } };
    }
    if (s.handoff === "check_in") {
      // The quarantine order starts at the room door (the district's standard order).
      const checkIn = { ...body, site: s.site, start_quarantine: true };
      return { path: `/api/journeys/${journey}/check-in`, body: checkIn };
    }
    return null;
  };

  const labelOf = (result) => [result.name_native, result.document_last4].filter(Boolean).join(" ");

  const confirmShown = () => {
    const shown = state.shown;
    if (!shown || !shown.result.journey_id) return;
    const command = handoffCommand(shown.result);
    if (!command) return;
    $("confirm").disabled = true; // one tap, one scan_id: a double tap must not make two
    const label = labelOf(shown.result);
    hideResult();
    say("已确认，正在上传", `Confirmed ${label}; sending`);
    enqueue({ key: uuid(), ...command, label, queued_at: command.body.occurred_at });
    $("code").focus();
  };

  const isOffRoute = (result) => {
    const known = WORDS.reasons[result.reason_code];
    return Boolean(result.journey_id && known && known.off_route && OFF_ROUTE[state.setup.handoff]);
  };

  const showOffRouteBanner = (result) => {
    const banner = $("off-route");
    const words = isOffRoute(result) && OFF_ROUTE[state.setup.handoff];
    banner.hidden = !words;
    if (!words) return;
    $("off-route-text").replaceChildren(span("zh-CN", words.zh), document.createElement("br"), span("en", words.en));
    $("off-route-where-label").textContent = `${words.where[0]} / ${words.where[1]}:`;
    $("off-route-where").textContent = words.place(result) || "— 请问调度 / ask the dispatcher";
  };

  // Posts an off-route scan without waiting for a tap (see the header comment): the domain
  // records it as misdirected and accepts nothing. Once per traveller and place in
  // OFF_ROUTE_QUIET_MS, so the camera seeing the same code again adds no second record.
  const recordOffRoute = (result) => {
    if (!isOffRoute(result)) return;
    const seen = `${setupKey()}|${result.journey_id}`;
    const sentAt = state.offRouteSent.get(seen);
    if (sentAt && Date.now() - sentAt < OFF_ROUTE_QUIET_MS) return;
    const command = handoffCommand(result);
    if (!command) return;
    state.offRouteSent.set(seen, Date.now());
    const words = OFF_ROUTE[state.setup.handoff];
    const place = words.place(result);
    enqueue({
      key: uuid(),
      ...command,
      // Never a boarding by surprise: if the traveller was moved here meanwhile, the server
      // refuses this record (409) instead of accepting someone staff were told to stop.
      body: { ...command.body, off_route: true },
      label: labelOf(result),
      queued_at: command.body.occurred_at,
      off_route: true,
      belongs: place ? `${words.where[0]} / ${words.where[1]}: ${place}` : "",
    });
  };

  const submitManual = (event) => {
    event.preventDefault();
    const code = codeFrom($("code").value);
    if (!code) {
      say("这不是个人码", "That is not a personal code");
      $("code").select();
      return;
    }
    lookup(code);
  };

  // ---- camera ----------------------------------------------------------------------------
  const makeDetector = async () => {
    const api = window.BarcodeDetectionAPI;
    if (!api) throw new Error("decoder script missing");
    // Served from this server: no CDN, and the CSP allows only 'self' (+ wasm compilation).
    await api.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path),
      },
      fireImmediately: true,
    });
    return new api.BarcodeDetector({ formats: ["qr_code"] });
  };

  const startCamera = async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("此浏览器无法使用摄像头（需要 HTTPS），请用扫码枪或手动输入",
        "No camera here (it needs HTTPS): use the scanner gun or type the code");
      return;
    }
    $("camera-start").disabled = true;
    say("正在打开摄像头…", "Starting the camera…");
    try {
      state.detector = state.detector || (await makeDetector());
      state.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
      const video = $("video");
      video.srcObject = state.stream;
      video.hidden = false;
      await video.play();
      $("camera-start").hidden = true;
      $("camera-stop").hidden = false;
      $("video").dataset.scanning = "true";
      say("对准二维码", "Point at the QR code");
      scanFrames(state.stream);
    } catch (error) {
      console.warn(error);
      stopCamera();
      say("无法打开摄像头，请用扫码枪或手动输入", `Camera unavailable (${error.name || error.message}): use the scanner gun or type the code`);
    } finally {
      $("camera-start").disabled = false;
    }
  };

  const stopCamera = () => {
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    const video = $("video");
    video.srcObject = null;
    video.hidden = true;
    video.dataset.scanning = "false";
    $("camera-start").hidden = false;
    $("camera-stop").hidden = true;
  };

  const scanFrames = async (stream) => {
    const video = $("video");
    while (state.stream === stream) {
      // While a result is on the panel the camera does not replace it: the staff member is
      // comparing that person with that document, and a tap on Confirm must mean them.
      if (!state.shown && !state.busy && video.readyState >= 2) {
        try {
          const found = await state.detector.detect(video);
          const code = found.map((b) => codeFrom(b.rawValue)).find(Boolean);
          const quiet = state.recent.code === code && Date.now() < state.recent.until;
          if (code && !quiet && state.stream === stream) await lookup(code);
        } catch (error) {
          console.warn(error);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, FRAME_GAP_MS));
    }
  };

  // ---- wiring ----------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    StaffSession.bindSignInForm(() => {
      showSetup();
      flush();
    });
    $("sign-out").addEventListener("click", () => signOut("已退出", "Signed out"));
    $("setup-form").addEventListener("submit", submitSetup);
    $("setup-form").addEventListener("change", (event) => {
      if (event.target.name === "handoff") showSetupFields();
      else pickerChanged(event);
    });
    $("change-handoff").addEventListener("click", showSetup);
    $("manual-form").addEventListener("submit", submitManual);
    $("confirm").addEventListener("click", confirmShown);
    $("next").addEventListener("click", () => {
      hideResult();
      say("", "");
      $("code").focus();
    });
    $("camera-start").addEventListener("click", startCamera);
    $("camera-stop").addEventListener("click", stopCamera);
    window.addEventListener("online", () => {
      showNetwork();
      flush();
    });
    window.addEventListener("offline", showNetwork);
    // Another tab of this page may have changed the queue.
    window.addEventListener("storage", (e) => {
      if (e.key === QUEUE_KEY) showPending();
    });
    // `online` is not fired when the network was "up" but the server unreachable: retry anyway.
    setInterval(() => {
      if (readQueue().length) flush();
    }, RETRY_MS);
    showNetwork();
    showPending();
    if (token()) {
      showSetup();
      flush();
    } else {
      signOut("", "");
    }
  });
})();
