// thaija workbench: the chat page. Asks /v1/chat/completions, turns [n] into buttons that open the
// cited document with the quoted span highlighted, says plainly when an answer was refused or weak.
"use strict";
(function () {
  const { el, api, langOf, scriptLang, t } = window.thaija;
  const conversation = document.getElementById("conversation");
  const form = document.getElementById("ask-form");
  const box = document.getElementById("question");
  const button = document.getElementById("ask");
  const viewer = document.getElementById("viewer");

  const STATUS = { refused: "statusRefused", low_confidence: "statusLow" };

  // Answer text with each [n] (or [1, 2]) marker turned into buttons opening citation n.
  function answerText(text, citations, lang) {
    const byN = new Map(citations.map((c) => [c.n, c]));
    const node = el("p", { class: "text", lang: langOf(lang) });
    let last = 0;
    for (const m of text.matchAll(/\[(\d+(?:\s*[,，、]\s*\d+)*)\]/g)) {
      node.append(text.slice(last, m.index));
      const ns = m[1].split(/[,，、]/).map((s) => parseInt(s, 10));
      for (const n of ns) {
        const c = byN.get(n);
        node.append(c ? el("button", { type: "button", class: "cite", "data-n": n, title: c.doc_id,
          onclick: () => openSource(c) }, `[${n}]`) : `[${n}]`);
      }
      last = m.index + m[0].length;
    }
    node.append(text.slice(last));
    return node;
  }

  function sourceList(citations) {
    if (!citations.length) return null;
    return el("ol", { class: "sources", "aria-label": "Sources" }, ...citations.map((c) => el("li", {},
      el("button", { type: "button", class: "cite", "data-n": c.n, onclick: () => openSource(c) }, `[${c.n}]`), " ",
      el("strong", {}, c.doc_id), " ",
      el("span", { class: "quote", lang: langOf(c.lang) }, "“" + (c.quote.length > 140 ? c.quote.slice(0, 139) + "…" : c.quote) + "”"))));
  }

  async function openSource(c) {
    const title = document.getElementById("viewer-title");
    const meta = document.getElementById("viewer-meta");
    const body = document.getElementById("viewer-text");
    viewer.hidden = false;
    document.body.classList.add("viewing");
    title.textContent = `[${c.n}] ${c.doc_id}`;
    meta.textContent = t("loading");
    body.replaceChildren();
    try {
      const doc = await api("/ui/api/doc?id=" + encodeURIComponent(c.doc_id));
      title.textContent = `[${c.n}] ${doc.title || doc.doc_id}`;
      const exact = doc.text.slice(c.start, c.end) === c.quote;
      meta.textContent = `${doc.doc_id} · ${t("chars", { a: c.start, b: c.end })}` + (exact ? "" : " · " + t("redacted"));
      const mark = el("mark", { id: "highlight", lang: langOf(c.lang) }, doc.text.slice(c.start, c.end));
      body.append(doc.text.slice(0, c.start), mark, doc.text.slice(c.end));
      mark.scrollIntoView({ block: "center" });
    } catch (e) {
      meta.textContent = t("openFailed") + e.message;
    }
    document.getElementById("viewer-close").focus();
  }

  function closeSource() { viewer.hidden = true; document.body.classList.remove("viewing"); }
  document.getElementById("viewer-close").addEventListener("click", closeSource);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !viewer.hidden) closeSource(); });

  async function report(question, reply, node) {
    node.disabled = true;
    try {
      const r = await api("/ui/api/flag", { json: { question, answer: reply.content, citations: reply.citations } });
      node.replaceWith(el("span", { class: "badge flagged" }, t("reported", { id: r.id })));
    } catch (e) {
      node.disabled = false;
      node.textContent = t("reportFailed") + e.message;
    }
  }

  function renderAnswer(question, data) {
    const content = data.choices[0].message.content;
    const citations = data.citations || [];
    const info = data.thaija || {};
    const kind = info.refused ? "refused" : (info.reason === "low_confidence" ? "low_confidence" : null);
    const card = el("article", { class: "msg answer" + (kind ? " " + kind : ""), "data-refused": info.refused ? "true" : "false" });
    card.append(el("div", {},
      el("span", { class: "badge" }, info.lang || "?"),
      kind === "refused" ? el("span", { class: "badge refused" }, t("badgeRefused")) : null,
      kind === "low_confidence" ? el("span", { class: "badge low" }, t("badgeLow")) : null,
      !kind ? el("span", { class: "badge ok" }, t("sources", { n: citations.length })) : null));
    card.append(answerText(content, citations, info.lang));
    if (kind) {
      const queued = info.review_id ? t("queued", { id: info.review_id }) : "";
      card.append(el("p", { class: "status " + (kind === "refused" ? "refused" : "low"), role: "status" }, t(STATUS[kind]) + queued));
    }
    card.append(sourceList(citations) || "");
    const flag = el("button", { type: "button", class: "secondary report" }, t("report"));
    flag.addEventListener("click", () => report(question, { content, citations }, flag));
    if (!info.review_id) card.append(el("div", { class: "actions" }, flag));
    return card;
  }

  async function ask(question) {
    const intro = document.getElementById("intro");
    if (intro) intro.remove();
    conversation.append(el("div", { class: "msg question", lang: scriptLang(question) }, question));
    const pending = el("p", { class: "hint", role: "status" }, t("searching"));
    conversation.append(pending);
    button.disabled = true;
    try {
      const data = await api("/v1/chat/completions", { json: { model: "thaija-rag", messages: [{ role: "user", content: question }] } });
      pending.replaceWith(renderAnswer(question, data));
    } catch (e) {
      pending.replaceWith(el("p", { class: "message error", role: "alert" }, t("askFailed") + e.message));
    } finally {
      button.disabled = false;
      window.scrollTo(0, document.body.scrollHeight);
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = box.value.trim();
    if (!q || button.disabled) return;
    box.value = "";
    ask(q);
  });
  box.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter is a new line; never while an input method (Thai/Japanese IME) is composing
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
})();
