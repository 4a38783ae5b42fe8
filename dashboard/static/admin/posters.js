// Entry point QR posters: sign in, list the entry points, preview and download the posters.
// Signing in is static/staff/session.js.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const objectUrls = [];

  const say = (zh, en) => {
    $("status").textContent = zh && en ? `${zh} / ${en}` : "";
  };

  const token = StaffSession.token;

  const signOut = (zh, en) => {
    StaffSession.clear();
    objectUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    $("poster-list").replaceChildren();
    $("posters").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    say(zh, en);
    $("username").focus();
  };

  const authorised = async (path) => {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
    if (response.status === 401) {
      signOut("登录已过期，请重新登录", "Your sign-in has expired; please sign in again");
      throw new Error("signed out");
    }
    if (response.status === 403) {
      say("您的角色不能打印海报", "Your role cannot print posters");
      throw new Error("forbidden");
    }
    if (!response.ok) {
      say("服务器出错，请稍后重试", `The server answered ${response.status}; please retry shortly`);
      throw new Error(`HTTP ${response.status}`);
    }
    return response;
  };

  const download = async (button, path, filename) => {
    button.disabled = true;
    say("正在生成…", `Preparing ${filename}…`);
    try {
      const blob = await (await authorised(path)).blob();
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = filename;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      say("已下载", `Downloaded ${filename}`);
    } catch (error) {
      console.warn(error);
    } finally {
      button.disabled = false;
    }
  };

  const preview = async (img, entry) => {
    try {
      const blob = await (await authorised(entry.svg)).blob();
      const url = URL.createObjectURL(blob);
      objectUrls.push(url);
      img.src = url;
    } catch (error) {
      console.warn(error);
    }
  };

  const render = (entryPoints) => {
    const list = $("poster-list");
    const template = $("poster-item");
    list.replaceChildren();
    $("no-entry-points").hidden = entryPoints.length > 0;
    for (const entry of entryPoints) {
      const item = template.content.cloneNode(true);
      const headingId = `poster-${entry.code}`;
      const article = item.querySelector("article");
      const heading = item.querySelector(".name");
      heading.id = headingId;
      heading.textContent = entry.name;
      article.setAttribute("aria-labelledby", headingId);
      item.querySelector(".code-value").textContent = entry.code;
      const link = item.querySelector(".url-link");
      link.href = entry.registration_url;
      link.textContent = entry.registration_url;
      const img = item.querySelector(".preview-image");
      img.alt = `二维码海报预览 / QR poster preview: ${entry.name} (${entry.code}) → ${entry.registration_url}`;
      const svgButton = item.querySelector(".download-svg");
      const pdfButton = item.querySelector(".download-pdf");
      // Every card has the same button words; the card's heading tells them apart.
      svgButton.setAttribute("aria-describedby", headingId);
      pdfButton.setAttribute("aria-describedby", headingId);
      svgButton.addEventListener("click", () =>
        download(svgButton, entry.svg, `poster-${entry.code}.svg`));
      pdfButton.addEventListener("click", () =>
        download(pdfButton, entry.pdf, `poster-${entry.code}.pdf`));
      list.append(item);
      preview(img, entry);
    }
  };

  const showPosters = async () => {
    $("sign-in").hidden = true;
    $("who").hidden = false;
    $("who-role").textContent = StaffSession.role();
    say("正在加载…", "Loading…");
    try {
      const data = await (await authorised("/api/posters")).json();
      $("posters").hidden = false;
      render(data.entry_points);
      say("", "");
    } catch (error) {
      console.warn(error);
    }
  };

  document.addEventListener("DOMContentLoaded", () => {
    StaffSession.bindSignInForm(showPosters);
    $("sign-out").addEventListener("click", () => signOut("已退出", "Signed out"));
    if (token()) {
      showPosters();
    } else {
      signOut("", "");
    }
  });
})();
