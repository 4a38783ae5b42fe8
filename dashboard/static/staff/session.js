// Staff sign-in, shared by every staff page. The bearer token lives in sessionStorage: it ends
// with the tab and is never in a URL. The form is templates/staff/sign_in.html.
"use strict";

window.StaffSession = (() => {
  const TOKEN_KEY = "tracking.staff.token";
  const ROLE_KEY = "tracking.staff.role";

  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const role = () => sessionStorage.getItem(ROLE_KEY) || "";
  // Forgetting the token also ends its session on the server, so that a copy of it (another
  // tab's memory, a proxy log) stops working too. Every page's sign-out goes through here;
  // after a 401 the session is over already and the request is a harmless no-op.
  const clear = () => {
    const held = token();
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROLE_KEY);
    if (held) {
      fetch("/api/auth/sign-out", {
        method: "POST",
        headers: { Authorization: `Bearer ${held}` },
        keepalive: true, // survives the page going away right after
      }).catch(() => {});
    }
  };

  // Signs in with the form's username and password; calls onSignedIn once the token is kept.
  const bindSignInForm = (onSignedIn) => {
    const form = document.getElementById("sign-in-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("sign-in-error");
      const password = document.getElementById("password");
      error.textContent = "";
      const username = document.getElementById("username").value.trim();
      if (!username || !password.value) {
        error.textContent = "请输入用户名和密码 / Enter your username and password";
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const response = await fetch("/api/auth/token", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username, password: password.value }),
        });
        if (response.status === 401) {
          error.textContent = "用户名或密码错误 / Wrong username or password";
          return;
        }
        if (response.status === 429) {
          error.textContent = "尝试次数过多，请一分钟后再试 / Too many attempts; wait a minute";
          return;
        }
        if (!response.ok) {
          error.textContent = `登录失败 / Sign-in failed (${response.status})`;
          return;
        }
        const answer = await response.json();
        sessionStorage.setItem(TOKEN_KEY, answer.access_token);
        sessionStorage.setItem(ROLE_KEY, answer.role || "");
        password.value = "";
        await onSignedIn();
      } catch (failure) {
        error.textContent = "无法连接服务器 / Cannot reach the server";
        console.warn(failure);
      } finally {
        button.disabled = false;
      }
    });
  };

  // A fresh Idempotency-Key. Plain-HTTP origins other than localhost lack randomUUID;
  // getRandomValues is everywhere.
  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  // FastAPI answers {"detail": "..."} for domain errors and a list of problems for 422.
  const detailText = (answer) => {
    const detail = answer && answer.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d) => {
          const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
          return where ? `${where}: ${d.msg}` : d.msg || JSON.stringify(d);
        })
        .join("; ");
    }
    return "";
  };

  return { token, role, clear, bindSignInForm, uuid, detailText };
})();
