// The command board (`/board`): sign in, follow the board over the websocket (feed.js, applied by
// state.js), draw it (render.js), and show any past moment from GET /api/board?as_of=… while the
// live state keeps following in the background. The other scripts: lang.js (the language
// switch), and the dispatch console's ui.js, words.js, api.js and timeline.js (a traveller's
// custody timeline on a click), loaded as they are.
"use strict";

(() => {
  const { $, dateTime } = DispatchUi;
  const W = DispatchWords;
  const VIEWERS = ["commander", "dispatcher", "admin", "surveyor"];

  const state = {
    live: null, // the board as the websocket keeps it
    past: null, // { board, at (ms) } while showing a past moment, else null
    feed: null,
    tick: null,
    drawQueued: false,
    lastDraw: -Infinity,
    asked: 0, // the newest time-travel request wins
    range: null, // { first, last } in ms
  };

  const say = (zh, en) => {
    $("status").replaceChildren(zh || en ? BoardLang.bi(zh, en) : "");
  };
  const showError = (zh, en) => {
    $("error").replaceChildren(zh || en ? BoardLang.bi(zh, en) : "");
  };

  const shown = () => (state.past ? state.past.board : state.live);

  // ---- drawing -----------------------------------------------------------------------------------
  const runPlate = (runId) => {
    const board = shown() || {};
    const run = (board.runs && board.runs[runId]) || (state.live && state.live.runs && state.live.runs[runId]);
    return run ? run.plate : "";
  };
  const siteName = (siteId) => {
    for (const board of [shown(), state.live]) {
      const site = board && board.sites && board.sites[siteId];
      if (site) return `${site.name} (${site.code})`;
    }
    return "";
  };
  const openTimeline = (journeyId, who, from) => DispatchTimeline.open(journeyId, who, from);

  const draw = () => {
    state.drawQueued = false;
    state.lastDraw = performance.now();
    const board = shown();
    if (!board) return;
    const failures = BoardRender.render(board, {
      dimension: $("timing-dimension").value,
      openTimeline,
      measuredAt: state.past ? () => state.past.at : () => Date.now(),
    });
    if (failures.length) showError("页面显示出错", `Display error: ${failures[0].message}`);
    const mode = $("board-mode");
    if (state.past) {
      mode.dataset.mode = "as-of";
      mode.replaceChildren(BoardLang.bi("显示历史时刻", "Showing as of"), ` ${dateTime(new Date(state.past.at).toISOString())}`);
    } else {
      mode.dataset.mode = "live";
      mode.replaceChildren(BoardLang.bi("显示：实时", "Showing: live"));
    }
    document.body.dataset.mode = state.past ? "as-of" : "live";
    $("travel-live").disabled = !state.past;
    followRange();
  };

  // Many deltas a second must not mean many redraws a second: a wall is read by people, so at
  // most one redraw every MIN_GAP_MS, on an animation frame (and by a timer as well, since
  // frames stop while the tab is hidden and the state must still be drawn on return).
  const MIN_GAP_MS = 200;
  const queueDraw = () => {
    if (state.drawQueued) return;
    state.drawQueued = true;
    const wait = Math.max(0, state.lastDraw + MIN_GAP_MS - performance.now());
    setTimeout(() => requestAnimationFrame(() => state.drawQueued && draw()), wait);
    setTimeout(() => state.drawQueued && draw(), wait + 500);
  };

  // ---- live --------------------------------------------------------------------------------------
  const setLive = (mode, info) => {
    const live = $("board-live");
    live.dataset.state = mode;
    if (mode === "live") live.replaceChildren("● ", BoardLang.bi("实时连接", "Live"));
    else if (mode === "connecting") live.replaceChildren(BoardLang.bi("连接中…", "Connecting…"));
    else if (mode === "retrying") {
      const seconds = Math.max(1, Math.round((info && info.delay) / 1000 || 0));
      live.replaceChildren(BoardLang.bi(`连接中断，${seconds} 秒后重连`, `Connection lost, retrying in ${seconds} s`));
    } else if (mode === "dropped") live.replaceChildren(BoardLang.bi("跟不上，重新连接", "Too slow to follow; reconnecting"));
    else live.replaceChildren(BoardLang.bi("未连接", "Offline"));
  };

  const startFeed = () => {
    if (state.feed) state.feed.stop();
    state.feed = BoardFeed.start({
      token: () => StaffSession.token(),
      holds: () => state.live,
      onSnapshot: (board) => {
        state.live = board;
        if (!board.day && board.at) board.day = BoardState.localDay(board.at);
        if (!state.past) queueDraw();
        say("", "");
      },
      onDelta: (delta) => {
        BoardState.apply(state.live, delta);
        if (!state.past) queueDraw();
        else followRange();
      },
      onState: setLive,
      onSignedOut: () => signOut("登录已过期，请重新登录", "Your sign-in has expired; please sign in again"),
      onForbidden: () => {
        $("board").hidden = true;
        showError(`您的角色（${StaffSession.role()}）不能查看指挥大屏`,
          `Your role (${StaffSession.role()}) may not see the command board`);
      },
    });
  };

  // ---- time travel -------------------------------------------------------------------------------
  const toLocalInput = (ms) => {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };

  // The slider runs over whole seconds from the first event to the last one the page knows of.
  const setRange = (first, last) => {
    if (Number.isNaN(first) || Number.isNaN(last)) return;
    state.range = { first, last: Math.max(first, last) };
    const slider = $("travel-slider");
    slider.min = String(Math.floor(first / 1000));
    slider.max = String(Math.ceil(state.range.last / 1000));
    slider.disabled = false;
    if (!state.past) slider.value = slider.max;
    $("travel-at").min = toLocalInput(Math.floor(first / 1000) * 1000);
    $("travel-at").max = toLocalInput(Math.ceil(state.range.last / 1000) * 1000);
    $("travel-range").textContent = `${dateTime(new Date(first).toISOString())} — ${dateTime(new Date(state.range.last).toISOString())}`;
  };

  // Live events move the end of the range along without asking the server again.
  const followRange = () => {
    const at = state.live && Date.parse(state.live.at || "");
    if (!state.range || !at || Number.isNaN(at) || at <= state.range.last) return;
    setRange(state.range.first, at);
  };

  const loadRange = async () => {
    try {
      const range = await DispatchApi.get("/api/board/range");
      BoardRender.setSla(range.sla);
      queueDraw();
      if (range.first && range.last) setRange(Date.parse(range.first), Date.parse(range.last));
      else $("travel-range").replaceChildren(BoardLang.bi("还没有事件", "No events yet"));
    } catch (failure) {
      $("travel-error").textContent = failure.message;
    }
  };

  const showPast = async (ms) => {
    if (Number.isNaN(ms)) return;
    const mine = ++state.asked;
    $("travel-error").textContent = "";
    $("travel-at").value = toLocalInput(ms);
    try {
      const iso = new Date(ms).toISOString();
      const board = await DispatchApi.get(`/api/board?as_of=${encodeURIComponent(iso)}`);
      if (mine !== state.asked) return;
      if (!board.day && board.at) board.day = BoardState.localDay(board.at);
      state.past = { board, at: ms };
      draw();
    } catch (failure) {
      if (mine !== state.asked) return;
      $("travel-error").textContent = failure.message;
    }
  };

  const backToLive = () => {
    state.asked += 1; // a request still in flight must not take us out of live again
    state.past = null;
    $("travel-error").textContent = "";
    $("travel-at").value = "";
    if (state.range) $("travel-slider").value = $("travel-slider").max;
    draw();
  };

  const bindTravel = () => {
    const slider = $("travel-slider");
    slider.addEventListener("input", () => {
      $("travel-at").value = toLocalInput(Number(slider.value) * 1000);
    });
    slider.addEventListener("change", () => {
      if (slider.value === slider.max && !state.past) return;
      showPast(Number(slider.value) * 1000);
    });
    // Refresh the range whenever someone reaches for the control.
    slider.addEventListener("focus", loadRange);
    $("travel-at").addEventListener("focus", () => {
      if (!state.range) loadRange();
    });
    const go = () => {
      const value = $("travel-at").value;
      if (!value) {
        $("travel-error").replaceChildren(BoardLang.bi("请选择时刻", "Choose a moment"));
        return;
      }
      const ms = new Date(value).getTime(); // a datetime-local value is this computer's local time
      if (state.range) slider.value = String(Math.round(ms / 1000));
      showPast(ms);
    };
    $("travel-go").addEventListener("click", go);
    $("travel-at").addEventListener("keydown", (event) => {
      if (event.key === "Enter") go();
    });
    $("travel-live").addEventListener("click", backToLive);
  };

  // ---- sign-in and start -------------------------------------------------------------------------
  const stop = () => {
    if (state.feed) state.feed.stop();
    state.feed = null;
    clearInterval(state.tick);
    state.live = null;
    state.past = null;
  };

  const signOut = (zh, en) => {
    stop();
    StaffSession.clear();
    DispatchTimeline.close();
    $("board").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    setLive("off");
    showError("", "");
    say(zh || "", en || "");
    $("username").focus();
  };

  const start = async () => {
    $("sign-in").hidden = true;
    $("who").hidden = false;
    const role = StaffSession.role();
    $("who-role").textContent = W.role(role);
    showError("", "");
    if (!VIEWERS.includes(role)) {
      showError(`您的角色（${role}）不能查看指挥大屏`, `Your role (${role}) may not see the command board`);
      return;
    }
    document.body.dataset.role = role;
    $("board").hidden = false;
    say("正在连接…", "Connecting…");
    startFeed();
    loadRange();
    clearInterval(state.tick);
    state.tick = setInterval(BoardRender.updateElapsed, 1000);
  };

  document.addEventListener("DOMContentLoaded", () => {
    BoardLang.init();
    DispatchApi.setSignedOutHandler(() =>
      signOut("登录已过期，请重新登录", "Your sign-in has expired; please sign in again"));
    DispatchTimeline.init({ run: runPlate, site: siteName });
    StaffSession.bindSignInForm(start);
    $("sign-out").addEventListener("click", () => signOut("已退出", "Signed out"));
    $("timing-dimension").addEventListener("change", draw);
    bindTravel();
    if (StaffSession.token()) start();
    else {
      $("sign-in").hidden = false;
      $("username").focus();
    }
  });
})();
