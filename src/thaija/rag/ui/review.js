// thaija workbench: the review page. Lists queued answers with filters, shows question, answer,
// citations and the retrieved candidates; approve / edit / reject / flag; export approved as JSONL.
"use strict";
(function () {
  const { el, api, langOf, t } = window.thaija;
  const list = document.getElementById("items");
  const detail = document.getElementById("detail");
  const message = document.getElementById("message");
  const filters = ["f-status", "f-lang", "f-reason"].map((id) => document.getElementById(id));
  let items = [];
  let selected = null;

  function say(text, isError) {
    message.textContent = text;
    message.className = "message" + (isError ? " error" : "");
  }

  function badges(item) {
    return [el("span", { class: "badge " + item.status }, t(item.status)),
      item.flagged ? el("span", { class: "badge flagged" }, t("flagged")) : null,
      el("span", { class: "badge" }, t(item.reason)),
      el("span", { class: "badge" }, item.lang),
      item.edited_answer !== null ? el("span", { class: "badge" }, t("edited")) : null];
  }

  async function load() {
    const [status, lang, reason] = filters.map((f) => f.value);
    const qs = new URLSearchParams({ status, lang, reason });
    try {
      const data = await api("/ui/api/review?" + qs);
      items = data.items;
      const c = data.counts;
      document.getElementById("counts").textContent = t("counts", c);
      renderList();
      if (data.matching > items.length) {
        list.append(el("li", { class: "hint" }, t("more", { shown: items.length, total: data.matching })));
      }
      if (selected !== null) {
        const item = items.find((i) => i.id === selected);
        if (item) renderDetail(item); else { detail.hidden = true; selected = null; }
      }
    } catch (e) {
      say(t("loadFailed") + e.message, true);
    }
  }

  function renderList() {
    list.replaceChildren(...items.map((item) => el("li", {},
      el("button", { type: "button", "data-id": item.id, "aria-current": item.id === selected ? "true" : "false",
        onclick: () => { selected = item.id; renderList(); renderDetail(item); } },
        el("span", {}, `#${item.id} `, ...badges(item)),
        el("span", { class: "q", lang: langOf(item.lang) }, item.question)))));
    if (!items.length) list.append(el("li", { class: "hint" }, t("empty")));
  }

  function citationList(citations) {
    return el("ol", {}, ...citations.map((c) => el("li", { value: c.n },
      el("strong", {}, c.doc_id), ` [${c.start}:${c.end}] `, el("span", { lang: langOf(c.lang) }, c.quote))));
  }

  function candidateList(cands) {
    return el("ol", { class: "candidates" }, ...cands.map((c) => el("li", {},
      el("strong", {}, c.doc_id), ` [${c.start}:${c.end}] score ${c.score === null ? "?" : Number(c.score).toFixed(3)} `,
      el("div", { class: "block", lang: langOf(c.lang) }, c.text + (c.truncated ? " …" : "")))));
  }

  function renderDetail(item) {
    detail.hidden = false;
    const answer = el("textarea", { id: "edit-answer", rows: 5, lang: langOf(item.lang) });
    answer.value = item.reason === "refused" && item.edited_answer === null ? "" : item.final_answer;
    const note = el("input", { id: "note", type: "text", maxlength: 2000, value: item.reviewer_note || "" });
    const act = (action) => async () => {
      const body = { action, note: note.value };
      if (action === "edit") body.answer = answer.value;
      try {
        const updated = await api(`/ui/api/review/${item.id}`, { json: body });
        say(`#${updated.id}: ${t(updated.status)}${updated.flagged ? ", " + t("flagged") : ""}` +
          (updated.status === "approved" && !updated.exportable ? t("notExported") : ""));
        selected = updated.id;
        await load();
        const shown = items.find((i) => i.id === updated.id);
        if (!shown) renderDetail(updated);
      } catch (e) {
        say(`#${item.id}: ${e.message}`, true);
      }
    };
    detail.replaceChildren(
      el("h2", {}, `#${item.id} `, ...badges(item)),
      el("p", { class: "meta" }, t("asked", { t: item.created_at }) + (item.groups.length ? " · " + t("groups", { g: item.groups.join(", ") }) : "") +
        (item.score !== null ? " · " + t("score", { s: Number(item.score).toFixed(2) }) : "") + (item.note ? ` · ${item.note}` : "")),
      el("h3", {}, t("qHeading")), el("div", { class: "block", lang: langOf(item.lang), id: "d-question" }, item.question),
      el("h3", {}, t(item.edited_answer !== null ? "answerEdited" : "answerGiven")),
      el("div", { class: "block", lang: langOf(item.lang), id: "d-answer" }, item.answer),
      item.reason === "refused" ? el("p", { class: "notice" }, t("refusedNotice")) : null,
      el("h3", {}, t("citations", { n: item.citations.length })),
      item.citations.length ? citationList(item.citations) : el("p", { class: "hint" }, t("none")),
      el("h3", {}, t("candidates", { n: item.candidates.length })),
      item.candidates.length ? candidateList(item.candidates) : el("p", { class: "hint" }, t("noneStored")),
      el("label", { for: "edit-answer" }, t("corrected")), answer,
      el("label", { for: "note" }, t("note")), note,
      el("div", { class: "actions" },
        el("button", { type: "button", id: "approve", onclick: act("approve") }, t("approve")),
        el("button", { type: "button", id: "save-edit", onclick: act("edit") }, t("saveEdit")),
        el("button", { type: "button", id: "reject", class: "danger", onclick: act("reject") }, t("reject")),
        el("button", { type: "button", id: "flag", class: "secondary", onclick: act("flag") }, t("flag"))));
    if (window.matchMedia("(max-width: 720px)").matches) detail.scrollIntoView({ block: "start" });
  }

  async function exportApproved() {
    const lang = document.getElementById("f-lang").value;
    try {
      const res = await api("/ui/api/review/export?" + new URLSearchParams({ lang }), { raw: true });
      const n = res.headers.get("X-Thaija-Exported");
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: `review-${lang || "all"}.jsonl` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      say(t("exported", { n }));
    } catch (e) {
      say(t("exportFailed") + e.message, true);
    }
  }

  filters.forEach((f) => f.addEventListener("change", load));
  document.getElementById("export").addEventListener("click", exportApproved);
  document.addEventListener("thaija:key", load);
  load();
})();
