// The survey desk's commands. Reads go through DispatchApi.get (/static/dispatch/api.js); a
// command is sent here because the survey form needs the 422 answer's `problems` list
// ([{field, message}]) to put each message next to its field, which DispatchApi keeps only as
// one joined sentence.
//
// The Idempotency-Key rule is DispatchApi's: one key per intended action (the same path and
// body). A second click while it is in flight joins it; an action whose answer was lost to the
// network keeps its key, so trying again cannot record twice; once the server has answered
// (yes or no) the key is spent.
"use strict";

window.SurveyApi = (() => {
  const { ApiError } = DispatchApi;
  const { uuid, detailText } = StaffSession;
  let onSignedOut = () => {};

  const WORDS = {
    403: ["您的角色无权执行此操作", "Your role may not do this"],
    404: ["未找到", "Not found"],
    409: ["未记录：不符合规则", "Not recorded: a rule is broken"],
    422: ["输入有误，未记录", "Invalid input: nothing was recorded"],
    429: ["操作过于频繁，请稍候", "Too many requests; wait a moment"],
    503: ["数据库暂不可用，请稍后重试", "The store is unavailable; retry shortly"],
  };

  const failure = async (response) => {
    const answer = await response.json().catch(() => ({}));
    const s = response.status;
    if (s === 401) {
      onSignedOut();
      return new ApiError(s, "登录已过期，请重新登录", "Your sign-in has expired; please sign in again", "");
    }
    const [zh, en] = WORDS[s] || ["服务器出错", `The server answered ${s}`];
    const error = new ApiError(s, zh, en, detailText(answer));
    error.problems = Array.isArray(answer.problems) ? answer.problems : [];
    return error;
  };

  const actions = new Map();

  const command = async (path, body) => {
    const payload = JSON.stringify(body || {});
    const id = `${path}\n${payload}`;
    let action = actions.get(id);
    if (action && action.inFlight) return action.inFlight;
    if (!action) {
      action = { key: uuid(), inFlight: null };
      actions.set(id, action);
    }
    action.inFlight = (async () => {
      try {
        let response;
        try {
          response = await fetch(path, {
            method: "POST",
            headers: {
              Authorization: `Bearer ${StaffSession.token()}`,
              "Content-Type": "application/json",
              "Idempotency-Key": action.key,
            },
            body: payload,
          });
        } catch {
          throw new ApiError(0, "无法连接服务器，可再试一次（不会重复记录）", "Cannot reach the server; trying again records once", "");
        }
        if (!response.ok) throw await failure(response);
        actions.delete(id);
        return response.status === 204 ? {} : response.json().catch(() => ({}));
      } catch (error) {
        if (error.status !== 0) actions.delete(id);
        throw error;
      } finally {
        action.inFlight = null;
      }
    })();
    return action.inFlight;
  };

  return {
    get: (path, signal) => DispatchApi.get(path, signal),
    command,
    setSignedOutHandler: (fn) => {
      onSignedOut = fn;
      DispatchApi.setSignedOutHandler(fn);
    },
  };
})();
