// The phone scanner page: sign in, choose the handoff, read a personal code (camera, scanner gun
// or typed), show go / check / stop, and record the boarding or check-in.
//
// Why a queue: escorts and receivers work on a flaky mobile network. A confirmed handoff is put
// in localStorage first (its Idempotency-Key, body and device time fixed at the tap) and only
// then sent, oldest first. A failed send stays queued and is retried when `online` fires or on a
// timer; because the key and scan_id travel with it, a replay has one effect on the server.
// Signing in is static/staff/session.js; the queue lives in localStorage so that closing the
// tab offline loses no handoff.
"use strict";

(() => {
  const QUEUE_KEY = "tracking.scanner.queue";
  const SETUP_KEY = "tracking.scanner.setup";
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

  const $ = (id) => document.getElementById(id);
  const state = {
    setup: null, // {handoff, run_id, site, entry_point}
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
  };

  const say = (zh, en) => {
    $("status").textContent = zh && en ? `${zh} / ${en}` : "";
  };
  const token = StaffSession.token;

  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    // Plain-HTTP origins other than localhost lack randomUUID; getRandomValues is everywhere.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

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
          const outcome = answer.outcome || "recorded";
          const words = {
            accepted: "已记录 / Recorded",
            duplicate: "重复扫码，已记录过 / Already recorded",
            misdirected: "错误交接已登记 / Misdirected scan logged",
          }[outcome] || outcome;
          log(`${words}: ${entry.label}`, outcome === "accepted" ? "ok" : "warn");
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

  const detailText = (answer) => {
    const detail = answer && answer.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    return "";
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
    $("run-id").value = setup.run_id || "";
    $("site").value = setup.site || "";
    $("entry-point").value = setup.entry_point || "";
    showSetupFields();
    $("setup").hidden = false;
    say("", "");
  };

  const showSetupFields = () => {
    const chosen = $("setup-form").querySelector("input[name=handoff]:checked");
    for (const row of $("setup-form").querySelectorAll("[data-for]")) {
      row.hidden = !chosen || row.dataset.for !== chosen.value;
    }
  };

  const submitSetup = (event) => {
    event.preventDefault();
    const error = $("setup-error");
    error.textContent = "";
    const chosen = $("setup-form").querySelector("input[name=handoff]:checked");
    if (!chosen) {
      error.textContent = "请选择交接环节 / Choose the handoff";
      return;
    }
    const setup = {
      handoff: chosen.value,
      run_id: $("run-id").value.trim().toLowerCase(),
      site: $("site").value.trim().toUpperCase(),
      entry_point: $("entry-point").value.trim().toUpperCase(),
    };
    if (setup.handoff === "boarding" && !UUID_PATTERN.test(setup.run_id)) {
      error.textContent = "请输入车次编号（调度单上的 UUID）/ Enter the run id (the UUID on the dispatch sheet)";
      $("run-id").focus();
      return;
    }
    if (setup.handoff === "check_in" && !setup.site) {
      error.textContent = "请输入酒店/社区代码 / Enter the site code";
      $("site").focus();
      return;
    }
    localStorage.setItem(SETUP_KEY, JSON.stringify(setup));
    state.setup = setup;
    showScanner();
  };

  const showScanner = () => {
    const { handoff, run_id: runId, site, entry_point: entryPoint } = state.setup;
    const words = HANDOFFS[handoff];
    const context = handoff === "boarding" ? runId.slice(0, 8) : handoff === "check_in" ? site : entryPoint;
    $("handoff-summary").textContent = `${words.zh} / ${words.en}${context ? ` · ${context}` : ""}`;
    $("setup").hidden = true;
    $("scanner").hidden = false;
    $("code").focus(); // a scanner gun types into whatever has focus
  };

  // ---- look-up and the result panel --------------------------------------------------------
  const setupKey = () => {
    const s = state.setup;
    return `${s.handoff}|${s.run_id}|${s.site}|${s.entry_point}`;
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
      } else if (response.status === 404) {
        showProblem(code, "stop", "无效码：请旅客出示个人码页面，或核对接待台名单。", detailText(answer));
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
    $("result-verdict").textContent = `${words.zh} ${words.en}`;
    fill("result-name-native", result.name_native);
    $("result-name-latin").textContent = result.name_latin || "";
    fill("result-doc", result.document_last4);
    fill("result-party", result.party_size ? String(result.party_size) : "");
    const place = [result.destination_name, result.room, result.destination_address].filter(Boolean);
    fill("result-destination", place.join(" · "));
    fill("result-plate", result.plate);
    fill("result-stage", result.stage);
    $("result-reason").textContent = result.reason || "";
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

  const showProblem = (code, verdict, zh, en) => {
    showResult(code, { verdict, reason: `${zh} ${en}`.trim() }, false);
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

  const confirmShown = () => {
    const shown = state.shown;
    if (!shown || !shown.result.journey_id) return;
    $("confirm").disabled = true; // one tap, one scan_id: a double tap must not make two
    const s = state.setup;
    const journey = encodeURIComponent(shown.result.journey_id);
    const body = {
      scan_id: uuid(),
      where: HANDOFFS[s.handoff].where,
      occurred_at: new Date().toISOString(), // the device's clock: data, never ordering
    };
    let path;
    if (s.handoff === "boarding") {
      path = `/api/journeys/${journey}/boarding`;
      body.run_id = s.run_id;
    } else if (s.handoff === "check_in") {
      path = `/api/journeys/${journey}/check-in`;
      body.site = s.site;
    } else {
      return;
    }
    const label = [shown.result.name_native, shown.result.document_last4].filter(Boolean).join(" ");
    hideResult();
    say("已确认，正在上传", `Confirmed ${label}; sending`);
    enqueue({ key: uuid(), path, body, label, queued_at: body.occurred_at });
    $("code").focus();
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
    $("setup-form").addEventListener("change", showSetupFields);
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
