// Small DOM helpers shared by the dispatch console's scripts. Everything is built with
// createElement/textContent: names come from travellers, so nothing is ever parsed as HTML.
"use strict";

window.DispatchUi = (() => {
  const $ = (id) => document.getElementById(id);

  // el("button", {type: "button", class: "x", "data-key": "k", onclick: fn}, "text", node, …)
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "class") {
        node.className = value;
      } else if (name === "hidden" || name === "disabled" || name === "selected" || name === "value") {
        node[name] = value;
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  // The page's bilingual convention: <span lang=zh-CN>中文</span> / <span lang=en>English</span>.
  const bi = (zh, en) => {
    const part = document.createDocumentFragment();
    part.append(el("span", { lang: "zh-CN" }, zh), " / ", el("span", { lang: "en" }, en));
    return part;
  };

  const pad = (n) => String(n).padStart(2, "0");
  const time = (iso) => {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "—";
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };
  const dateTime = (iso) => {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time(iso)}`;
  };

  // Today's moments as a time, older ones with their date.
  const moment = (iso) => {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "—";
    return d.toDateString() === new Date().toDateString() ? time(iso) : dateTime(iso);
  };
  // 75 → "1 小时 15 分钟 / 1 h 15 min"
  const duration = (minutes) => {
    if (minutes === null || minutes === undefined) return "";
    if (minutes < 60) return `${minutes} 分钟 / ${minutes} min`;
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    return `${h} 小时 ${m} 分钟 / ${h} h ${m} min`;
  };

  // Re-renders `container` with `build()` and gives focus back to the control that had it (by
  // its data-key), so that a live update never throws a keyboard user out of the list.
  // If that control is gone (a Depart button once the run has left), focus stays in its
  // group (the element with the same data-focus-group), on the group's first button.
  const keepFocus = (container, build) => {
    const active = document.activeElement;
    const inside = active && active !== document.body && container.contains(active);
    const key = inside ? active.dataset.key : null;
    const holder = inside ? active.closest("[data-focus-group]") : null;
    const group = holder ? holder.dataset.focusGroup : null;
    build();
    let again = key ? container.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
    if (!again && group) {
      const home = container.querySelector(`[data-focus-group="${CSS.escape(group)}"]`);
      again = home && home.querySelector("button, select, input");
    }
    if (again) again.focus({ preventScroll: true });
  };

  const say = (zh, en) => {
    $("status").textContent = zh || en ? `${zh} / ${en}` : "";
  };

  // Shows an error (an ApiError or words) in `target` (default: the page's alert line).
  const showError = (error, target, prefix) => {
    const box = target || $("error");
    const words = error instanceof Error ? error.message : String(error || "");
    box.textContent = prefix && words ? `${prefix}: ${words}` : words;
  };
  const clearError = (target) => {
    (target || $("error")).textContent = "";
  };

  // Runs `work` with `button` marked busy, so a second click while the first is answered does
  // nothing (the command's Idempotency-Key is the second line of defence, see api.js). The
  // button is not `disabled`: a disabled button loses keyboard focus.
  const busy = async (button, work) => {
    if (button.getAttribute("aria-busy") === "true") return undefined;
    button.setAttribute("aria-busy", "true");
    button.setAttribute("aria-disabled", "true");
    try {
      return await work();
    } finally {
      button.removeAttribute("aria-busy");
      button.removeAttribute("aria-disabled");
    }
  };

  return { $, el, bi, time, dateTime, moment, duration, keepFocus, say, showError, clearError, busy };
})();
