// The board's language switch: both languages side by side (the staff pages' convention), only
// Chinese, or only English — a wall screen read from across the room has room for one.
//
// The page writes every phrase as <span lang=zh-CN>…</span><span class=sep> / </span><span
// lang=en>…</span>, and CSS hides one language and the separator. What other scripts write
// (the shared sign-in, the dispatch console's timeline) follows the same convention with a bare
// " / " text node, or as one "中文 / English" string; a MutationObserver brings those into the
// page's form as they appear, so the switch reaches them too. <option>s cannot hold spans:
// theirs carry data-zh / data-en and are rewritten.
"use strict";

window.BoardLang = (() => {
  const KEY = "tracking.board.show";
  const MODES = ["both", "zh", "en"];
  const CJK = /[\u2e80-\u9fff\uf900-\ufaff\u{20000}-\u{3134f}]/u;
  // "中文… / English…": Chinese on the left, none on the right, which has Latin letters.
  const PAIR = /^(\s*)([^/]*?\S)\s\/\s(\S[^]*?)(\s*)$/u;
  const SKIP = new Set(["SCRIPT", "STYLE", "TITLE", "OPTION", "SELECT", "TEXTAREA", "INPUT", "TIME"]);
  let current = "both";

  const span = (lang, text) => {
    const node = document.createElement("span");
    node.lang = lang;
    node.textContent = text;
    return node;
  };
  const sep = () => {
    const node = document.createElement("span");
    node.className = "sep";
    node.textContent = " / ";
    return node;
  };

  const hasLang = (node) => node && node.nodeType === Node.ELEMENT_NODE && node.hasAttribute("lang");

  const tidyText = (text) => {
    const parent = text.parentNode;
    if (!parent || parent.nodeType !== Node.ELEMENT_NODE) return;
    if (SKIP.has(parent.nodeName) || parent.classList.contains("sep") || parent.closest("[data-no-split]")) return;
    const value = text.nodeValue;
    // A bare separator between two phrases.
    if (value.trim() === "/" && hasLang(text.previousSibling) && hasLang(text.nextSibling)) {
      const node = sep();
      node.textContent = value;
      parent.replaceChild(node, text);
      return;
    }
    // One "中文 / English" string, unless it already sits in one language's span.
    if (parent.closest("[lang]:not(html)") || !value.includes(" / ")) return;
    const match = PAIR.exec(value);
    if (!match) return;
    const [, lead, zh, en, tail] = match;
    if (!CJK.test(zh) || CJK.test(en) || !/[A-Za-z]/.test(en) || en.includes(" / ")) return;
    const part = document.createDocumentFragment();
    if (lead) part.append(lead);
    part.append(span("zh-CN", zh), sep(), span("en", en));
    if (tail) part.append(tail);
    parent.replaceChild(part, text);
  };

  const tidy = (root) => {
    if (root.nodeType === Node.TEXT_NODE) {
      tidyText(root);
      return;
    }
    if (root.nodeType !== Node.ELEMENT_NODE || SKIP.has(root.nodeName)) return;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    texts.forEach(tidyText);
  };

  const labelOptions = () => {
    for (const option of document.querySelectorAll("option[data-zh][data-en]")) {
      const { zh, en } = option.dataset;
      option.textContent = current === "zh" ? zh : current === "en" ? en : `${zh} / ${en}`;
    }
  };

  const show = (mode) => {
    current = MODES.includes(mode) ? mode : "both";
    const root = document.documentElement;
    root.dataset.show = current;
    root.lang = current === "en" ? "en" : "zh-CN";
    for (const button of document.querySelectorAll(".languages button[data-show]")) {
      button.setAttribute("aria-pressed", String(button.dataset.show === current));
    }
    labelOptions();
    try {
      localStorage.setItem(KEY, current);
    } catch {
      // private windows may refuse storage: the switch still works for this visit
    }
    document.dispatchEvent(new CustomEvent("board:language", { detail: current }));
  };

  const init = () => {
    tidy(document.body);
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === "characterData") tidy(record.target);
        else record.addedNodes.forEach(tidy);
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
    for (const button of document.querySelectorAll(".languages button[data-show]")) {
      button.addEventListener("click", () => show(button.dataset.show));
    }
    let saved = "both";
    try {
      saved = localStorage.getItem(KEY) || "both";
    } catch {
      // as above
    }
    show(saved);
  };

  // One phrase in the page's form, for scripts building the board.
  const bi = (zh, en) => {
    const part = document.createDocumentFragment();
    part.append(span("zh-CN", zh), sep(), span("en", en));
    return part;
  };

  return { init, show, bi, mode: () => current };
})();
