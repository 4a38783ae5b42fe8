// The survey desk (流调工作台): sign in, then the worklist and the tests due (worklist.js),
// and one traveller's case at a time (record.js: the purpose, the health record and derived
// contacts; form.js: the survey; order.js: the quarantine order, its tests and decisions, the
// referral to hospital). For survey staff and commanders only: anyone else is told so, and
// the page reads nothing.
"use strict";

(() => {
  const { $, say, showError, clearError } = DispatchUi;
  const W = DispatchWords;
  const DESK_ROLES = ["surveyor", "commander"];

  const signOut = (zh, en) => {
    SurveyLists.stop();
    SurveyRecord.close();
    DispatchTimeline.close();
    StaffSession.clear();
    $("desk").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    clearError();
    say(zh || "", en || "");
    $("username").focus();
  };

  const start = async () => {
    $("sign-in").hidden = true;
    $("who").hidden = false;
    const role = StaffSession.role();
    $("who-role").textContent = W.role(role);
    clearError();
    if (!DESK_ROLES.includes(role)) {
      const words = W.ROLES[role] ? W.ROLES[role][0] : role;
      showError(`您的角色（${words}）不能使用流调工作台：流调信息仅限流调员和指挥部 / `
        + `Your role (${role}) cannot use the survey desk: survey data is for survey staff and commanders only`);
      return;
    }
    say("正在加载…", "Loading…");
    try {
      await SurveyLists.start();
      say("", "");
    } catch (failure) {
      say("", "");
      showError(failure);
      return;
    }
    $("desk").hidden = false;
  };

  document.addEventListener("DOMContentLoaded", () => {
    SurveyApi.setSignedOutHandler(() =>
      signOut("登录已过期，请重新登录", "Your sign-in has expired; please sign in again"));
    DispatchTimeline.init({ run: () => "", site: (id) => SurveyLists.siteName(id) });
    SurveyLists.init({ open: (journeyId, summary, purpose) => SurveyRecord.open(journeyId, summary, purpose) });
    SurveyRecord.init();
    StaffSession.bindSignInForm(start);
    $("sign-out").addEventListener("click", () => signOut("已退出", "Signed out"));
    $("error-dismiss").addEventListener("click", () => clearError());
    if (StaffSession.token()) start();
    else {
      $("sign-in").hidden = false;
      $("username").focus();
    }
  });
})();
