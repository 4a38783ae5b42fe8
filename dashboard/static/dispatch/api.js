// The dispatch console's link to the JSON API: reads, commands and the live long-poll.
//
// Why commands look the way they do: a dispatcher's double-click, or a retry after the
// network dropped the answer, must not assign twice. Every command carries an Idempotency-Key
// (the server answers a repeat with the first answer). The key belongs to one intended action
// (the same path and body): while that action is in flight a second click joins it instead of
// sending again, and if the answer was lost to the network the next try reuses the key. Once
// the server has answered (yes or no) the key is spent and a new click is a new action.
"use strict";

window.DispatchApi = (() => {
  // Raised for any answer the page should show in words; `status` is 0 for no network.
  class ApiError extends Error {
    constructor(status, zh, en, detail) {
      super(`${zh} / ${en}${detail ? ` — ${detail}` : ""}`);
      this.status = status;
      this.detail = detail || "";
    }
  }

  let onSignedOut = () => {};

  const { uuid, detailText } = StaffSession;

  const failure = async (response) => {
    const detail = detailText(await response.json().catch(() => ({})));
    const s = response.status;
    if (s === 401) {
      onSignedOut();
      return new ApiError(s, "登录已过期，请重新登录", "Your sign-in has expired; please sign in again", "");
    }
    if (s === 403) return new ApiError(s, "您的角色无权执行此操作", "Your role may not do this", detail);
    if (s === 404) return new ApiError(s, "未找到", "Not found", detail);
    if (s === 409) return new ApiError(s, "未记录：不符合规则", "Not recorded: a rule is broken", detail);
    if (s === 422) return new ApiError(s, "输入有误", "Invalid input", detail);
    if (s === 429) return new ApiError(s, "操作过于频繁，请稍候", "Too many requests; wait a moment", detail);
    if (s === 503) {
      return new ApiError(s, "数据库暂不可用，请稍后重试", "The store is unavailable; retry shortly", detail);
    }
    return new ApiError(s, "服务器出错", `The server answered ${s}`, detail);
  };

  const headers = (extra) => ({ Authorization: `Bearer ${StaffSession.token()}`, ...extra });

  const send = async (path, init) => {
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (init && init.signal && init.signal.aborted) throw error;
      throw new ApiError(0, "无法连接服务器", "Cannot reach the server", "");
    }
    if (!response.ok) throw await failure(response);
    return response;
  };

  const get = async (path, signal) =>
    (await send(path, { headers: headers(), signal, cache: "no-store" })).json();

  const blob = async (path) => (await send(path, { headers: headers() })).blob();

  // Keys of actions not yet answered, by path and body (see the comment at the top).
  const actions = new Map();

  const command = async (path, body) => {
    const payload = JSON.stringify(body || {});
    const id = `${path}\n${payload}`;
    let action = actions.get(id);
    if (action && action.inFlight) return action.inFlight; // a second click joins the first
    if (!action) {
      action = { key: uuid(), inFlight: null };
      actions.set(id, action);
    }
    action.inFlight = (async () => {
      try {
        const response = await send(path, {
          method: "POST",
          headers: headers({ "Content-Type": "application/json", "Idempotency-Key": action.key }),
          body: payload,
        });
        actions.delete(id);
        return response.status === 204 ? {} : response.json().catch(() => ({}));
      } catch (error) {
        // No answer (status 0): keep the key so that trying again cannot record twice.
        if (error.status !== 0) actions.delete(id);
        throw error;
      } finally {
        action.inFlight = null;
      }
    })();
    return action.inFlight;
  };

  // Long-polls /api/dispatch/changes and calls `onChange(position)` whenever the views have
  // moved past what the page shows; `onState("live" | "retrying", delayMs)` drives the
  // indicator. Network errors back off 1 s, 2 s, 4 s … up to 30 s. The browser's own
  // offline/online events cut that short: losing the network ends the waiting request at once
  // (the desk sees "retrying" now, not 20 s later) and getting it back retries at once.
  // Returns a stop function.
  const follow = ({ position, onChange, onState }) => {
    let stopped = false;
    let request = null; // the AbortController of the long-poll in flight
    let wake = null; // ends the back-off pause early
    let delay = 1000;
    const pause = (ms) =>
      new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wake = done;
      });
    const onOffline = () => request && request.abort();
    const onOnline = () => {
      delay = 1000;
      if (wake) wake();
    };
    window.addEventListener("offline", onOffline);
    window.addEventListener("online", onOnline);

    (async () => {
      while (!stopped) {
        const asked = Date.now();
        request = new AbortController();
        try {
          // Before the first snapshot the page has seen nothing (-1): ask from 0.
          const after = encodeURIComponent(Math.max(0, position()));
          const answer = await get(`/api/dispatch/changes?after=${after}`, request.signal);
          if (stopped) return;
          delay = 1000;
          onState("live");
          if (typeof answer.position === "number" && answer.position !== position()) {
            await onChange(answer.position);
          } else if (Date.now() - asked < 1000) {
            // "Nothing new" should take ~20 s; answered at once, it must not become a busy loop.
            await pause(1000);
          }
        } catch (error) {
          if (stopped) return;
          if (error.status === 401) return; // signed out; the page shows the sign-in form
          // Offline, there is no point knocking before the browser says the network is back.
          const wait = navigator.onLine === false ? 30_000 : delay;
          onState("retrying", wait, error);
          await pause(wait);
          delay = Math.min(delay * 2, 30_000);
          // Catch up with whatever happened while the line was down; if that read works, the
          // line is back (the next long-poll may take its full ~20 s to say so).
          if (!stopped) {
            try {
              await onChange(null);
              if (!stopped) onState("live");
            } catch {
              // still down: the long-poll below fails again and backs off further
            }
          }
        } finally {
          request = null;
        }
      }
    })();

    return () => {
      stopped = true;
      window.removeEventListener("offline", onOffline);
      window.removeEventListener("online", onOnline);
      if (request) request.abort();
      if (wake) wake();
    };
  };

  return {
    ApiError,
    get,
    blob,
    command,
    follow,
    detailText,
    setSignedOutHandler: (fn) => {
      onSignedOut = fn;
    },
  };
})();
