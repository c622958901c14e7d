// thaija workbench: the review page. Lists queued answers with filters, shows question, answer,
// citations and the retrieved candidates; approve / edit / reject / flag; export approved as JSONL.
"use strict";
(function () {
  const { el, api, langOf } = window.thaija;
  const list = document.getElementById("items");
  const detail = document.getElementById("detail");
  const message = document.getElementById("message");
  const filters = ["f-status", "f-lang", "f-reason"].map((id) => document.getElementById(id));
  const REASONS = { refused: "refused", low_confidence: "low confidence", user_flagged: "flagged by a user" };
  let items = [];
  let selected = null;

  function say(text, isError) {
    message.textContent = text;
    message.className = "message" + (isError ? " error" : "");
  }

  function badges(item) {
    return [el("span", { class: "badge " + item.status }, item.status),
      item.flagged ? el("span", { class: "badge flagged" }, "flagged") : null,
      el("span", { class: "badge" }, REASONS[item.reason] || item.reason),
      el("span", { class: "badge" }, item.lang),
      item.edited_answer !== null ? el("span", { class: "badge" }, "edited") : null];
  }

  async function load() {
    const [status, lang, reason] = filters.map((f) => f.value);
    const qs = new URLSearchParams({ status, lang, reason });
    try {
      const data = await api("/ui/api/review?" + qs);
      items = data.items;
      const c = data.counts;
      document.getElementById("counts").textContent =
        `${c.pending} pending · ${c.flagged} flagged · ${c.approved} approved · ${c.rejected} rejected`;
      renderList();
      if (data.matching > items.length) {
        list.append(el("li", { class: "hint" }, `Showing the newest ${items.length} of ${data.matching}: narrow the filters to see older items.`));
      }
      if (selected !== null) {
        const item = items.find((i) => i.id === selected);
        if (item) renderDetail(item); else { detail.hidden = true; selected = null; }
      }
    } catch (e) {
      say("Cannot load the queue: " + e.message, true);
    }
  }

  function renderList() {
    list.replaceChildren(...items.map((item) => el("li", {},
      el("button", { type: "button", "data-id": item.id, "aria-current": item.id === selected ? "true" : "false",
        onclick: () => { selected = item.id; renderList(); renderDetail(item); } },
        el("span", {}, `#${item.id} `, ...badges(item)),
        el("span", { class: "q", lang: langOf(item.lang) }, item.question)))));
    if (!items.length) list.append(el("li", { class: "hint" }, "Nothing here with these filters."));
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
        say(`#${updated.id}: ${updated.status}${updated.flagged ? ", flagged" : ""}` +
          (updated.status === "approved" && !updated.exportable ? " — a refusal approved as is is not exported; write the answer and use “Save edit” to teach it" : ""));
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
      el("p", { class: "meta" }, `asked ${item.created_at}` + (item.groups.length ? ` · groups ${item.groups.join(", ")}` : "") +
        (item.score !== null ? ` · evidence score ${Number(item.score).toFixed(2)}` : "") + (item.note ? ` · ${item.note}` : "")),
      el("h3", {}, "Question"), el("div", { class: "block", lang: langOf(item.lang), id: "d-question" }, item.question),
      el("h3", {}, item.edited_answer !== null ? "Answer given (a reviewer edited it below)" : "Answer given"),
      el("div", { class: "block", lang: langOf(item.lang), id: "d-answer" }, item.answer),
      item.reason === "refused" ? el("p", { class: "notice" },
        "This question was refused. If the documents do answer it, write the answer below and “Save edit”: approving the refusal as is will not be exported for training.") : null,
      el("h3", {}, `Citations (${item.citations.length})`), item.citations.length ? citationList(item.citations) : el("p", { class: "hint" }, "none"),
      el("h3", {}, `Retrieved candidates (${item.candidates.length})`),
      item.candidates.length ? candidateList(item.candidates) : el("p", { class: "hint" }, "none stored"),
      el("label", { for: "edit-answer" }, "Corrected answer"), answer,
      el("label", { for: "note" }, "Reviewer note"), note,
      el("div", { class: "actions" },
        el("button", { type: "button", id: "approve", onclick: act("approve") }, "Approve"),
        el("button", { type: "button", id: "save-edit", onclick: act("edit") }, "Save edit + approve"),
        el("button", { type: "button", id: "reject", class: "danger", onclick: act("reject") }, "Reject"),
        el("button", { type: "button", id: "flag", class: "secondary", onclick: act("flag") }, "Flag for a specialist")));
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
      say(`Exported ${n} approved answer(s) as tune JSONL.`);
    } catch (e) {
      say("Export failed: " + e.message, true);
    }
  }

  filters.forEach((f) => f.addEventListener("change", load));
  document.getElementById("export").addEventListener("click", exportApproved);
  document.addEventListener("thaija:key", load);
  load();
})();
