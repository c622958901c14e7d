"""Grounded-answer training data (``thaija tune qa-data``): QA pairs -> chat examples in exactly the
prompt format the ask pipeline sends to the local generator.

For each question the index is searched as ``ask`` would (same mode, k and prompt budget in the
model's own tokens), the prompt is built by :func:`thaija.rag.prompt.build_prompt` and rendered by
:func:`thaija.rag.generators.chat_messages` (the turns the model really sees). The target is what
the answer stage would write: the gold sentence quoted from a retrieved document, ending with its
``[n]`` marker. A question whose gold evidence is not in the prompt becomes a refusal example (the
language's exact refusal sentence), so the model also learns to say "not in the documents".

Sources: a BEIR folder (corpus.jsonl, queries.jsonl, answers.jsonl, optional qrels.tsv) or the
review queue's approved export (``thaija review export``: ``{"messages": [user, assistant], ...}``).
Records written: ``{"messages": [...], "lang": "th"|"ja"|"en", "source": "grounded"|"refusal", "id"}``, plus
``"groups"`` when a reviewed answer came from restricted documents (its prompt holds them).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from thaija.config import setting
from thaija.errors import ThaijaError
from thaija.retrieve.config import MODES

SOURCES = ("grounded", "refusal")


@dataclass
class QADataConfig:
    """Settings of one qa-data run (they must match the ask settings the model will serve with)."""

    k: int = setting(5, "Chunks retrieved per question (as `ask --k`).")
    mode: str = setting("hybrid", "Retrieval: hybrid, bm25 or dense (as `ask`).", choices=MODES)
    context_tokens: int | None = setting(None, "Prompt budget in the model's tokens [default: the local generator's, 1536].")
    model: str | None = setting(None, "Local model whose tokenizer budgets the prompt [default: offline Gemma-3-270m].")
    refusals: bool = setting(True, "Add refusal examples for questions whose gold evidence is not retrieved.")
    limit: int | None = setting(None, "Use only the first N questions.")

    def __post_init__(self) -> None:
        if not 1 <= int(self.k) <= 100:
            raise ThaijaError(f"--k must be between 1 and 100, got {self.k}")
        if self.mode not in MODES:
            raise ThaijaError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.context_tokens is not None and self.context_tokens < 256:
            raise ThaijaError("--context-tokens must be at least 256")
        if self.limit is not None and self.limit < 1:
            raise ThaijaError("--limit must be at least 1")


@dataclass
class Pair:
    """One QA pair: gold answer strings (BEIR) or an approved answer text (review)."""

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    gold_docs: set[str] = field(default_factory=set)
    answer_text: str | None = None
    groups: list[str] | None = None   # access groups of a reviewed answer from restricted documents


def beir_pairs(folder: str | Path) -> Iterator[Pair]:
    """Pairs of a BEIR folder with answers.jsonl (validated by the eval-qa loader)."""
    from thaija.rag.evaluate import load_qa

    _, queries, answers, qrels = load_qa(folder)
    for q in queries:
        qid = str(q["id"])
        yield Pair(qid, str(q.get("text", "")), answers[qid], set(qrels.get(qid, ())))


def review_pairs(path: str | Path) -> Iterator[Pair]:
    """Pairs of a review export (first user turn = question, last assistant turn = answer)."""
    from thaija.guard.review import strip_citation_marks

    p = Path(path)
    if not p.is_file():
        raise ThaijaError(f"{path}: no such file (write it with `thaija review export`)")
    with open(p, encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                msgs = rec["messages"]
                q = next(m["content"] for m in msgs if m["role"] == "user")
                a = [m["content"] for m in msgs if m["role"] == "assistant"][-1]
            except (json.JSONDecodeError, KeyError, TypeError, StopIteration, IndexError):
                raise ThaijaError(f"{path}:{n}: not a review export record "
                                  "({\"messages\": [user, assistant], ...})") from None
            groups = rec.get("groups") if isinstance(rec.get("groups"), list) else None
            yield Pair(str(rec.get("id", f"review-{n}")), q, answer_text=strip_citation_marks(a),
                       groups=groups or None)


def _gold_target(pair: Pair, hits: list[Any], lang: str) -> str | None:
    """The shortest retrieved sentence (or window) of a gold paragraph holding a gold answer, with
    its ``[n]`` (any retrieved paragraph when the pair names no gold paragraph)."""
    from thaija.rag.citations import evidence_windows, sentence_evidence

    best = None
    for pool in (sentence_evidence(hits), evidence_windows(hits)):
        for ev in pool:
            if not any(a and a in ev.text for a in pair.answers):
                continue
            if pair.gold_docs and hits[ev.hit].doc_id not in pair.gold_docs:
                continue  # the answer string in another paragraph is a coincidence, not evidence
            key = (len(ev.text), ev.hit)
            if best is None or key < best[0]:
                best = (key, ev)
        if best is not None:
            break
    if best is None:
        return None
    ev = best[1]
    return f"{ev.text.strip()}{'' if lang == 'ja' else ' '}[{ev.hit + 1}]"


def _review_target(pair: Pair, hits: list[Any], lang: str, min_support: float) -> str | None:
    """The approved answer with markers resolved against the prompt's hits (None: unsupported)."""
    from thaija.rag.citations import resolve

    res = resolve(pair.answer_text or "", hits, lang, min_support=min_support)
    if not res.citations or res.unsupported:
        return None
    return res.answer


def build_examples(pairs: Iterator[Pair], db: str, config: QADataConfig | None = None, *,
                   on_item: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
    """Training records for ``pairs`` against the index ``db`` (see the module doc)."""
    from thaija.rag.generators import chat_messages, make_generator
    from thaija.rag.pipeline import detect_lang
    from thaija.rag.prompt import build_prompt, prompt_texts
    from thaija.retrieve import search

    cfg = config or QADataConfig()
    gen = make_generator("local", model=cfg.model, context_tokens=cfg.context_tokens)
    budget = gen.context_tokens
    for i, pair in enumerate(pairs):
        if cfg.limit is not None and i >= cfg.limit:
            break
        if on_item:
            on_item()
        question = pair.question.strip()
        if not question:
            continue
        lang = detect_lang(question)
        hits = search(question, db=db, k=cfg.k, mode=cfg.mode, groups=pair.groups)
        prompt = build_prompt(question, hits, lang, budget=budget, count=gen.count,
                              reserve=min(256, budget // 4), style=gen.prompt_style)
        if pair.answer_text is not None:
            target = _review_target(pair, prompt.hits, lang, 0.5)
        else:
            target = _gold_target(pair, prompt.hits, lang)
        source = "grounded"
        if target is None:
            if not cfg.refusals:
                continue
            if pair.answer_text is None and pair.gold_docs and any(
                    h.doc_id in pair.gold_docs for h in prompt.hits):
                continue  # gold paragraph retrieved but the answer string crosses a chunk edge
            target, source = prompt_texts(lang).refusal, "refusal"
        msgs = chat_messages(prompt.messages) + [{"role": "assistant", "content": target}]
        rec = {"messages": msgs, "lang": lang, "source": source, "id": pair.id}
        if pair.groups:  # its prompt holds documents of these groups: the label travels with the example
            rec["groups"] = list(pair.groups)
        yield rec


def write_qa_data(output: str | Path, records: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Write records as JSONL (temporary file, then rename); return counts per language/source."""
    out = Path(output)
    if out.is_dir():
        raise ThaijaError(f"{output}: is a directory; give a .jsonl file name")
    if not out.parent.exists():
        raise ThaijaError(f"{output}: folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    stats: dict[str, Any] = {"output": str(out), "examples": 0, "by_lang": {}, "by_source": {}}
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                stats["examples"] += 1
                for key, val in (("by_lang", rec["lang"]), ("by_source", rec["source"])):
                    stats[key][val] = stats[key].get(val, 0) + 1
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return stats


def qa_data(output: str | Path, *, db: str, folder: str | Path | None = None,
            review_export: str | Path | None = None, config: QADataConfig | None = None,
            progress: bool = True) -> dict[str, Any]:
    """`thaija tune qa-data`: write grounded-answer examples for ``folder`` or ``review_export``.

    A BEIR folder's corpus is indexed into ``db`` first when ``db`` does not exist yet.
    """
    if (folder is None) == (review_export is None):
        raise ThaijaError("give a BEIR folder or --review-export FILE (one of them)")
    exists = os.path.exists(db) or os.path.exists(f"{db}.state")
    if folder is not None:
        pairs = list(beir_pairs(folder))
        if not exists:
            from thaija.rag.evaluate import build_index

            build_index(folder, db, progress=progress)
    else:
        if not exists:
            raise ThaijaError(f"no index at {db}: the review export is answered against the index "
                              "its questions were asked on")
        pairs = list(review_pairs(review_export))  # type: ignore[arg-type]
    cfg = config or QADataConfig()
    total = min(len(pairs), cfg.limit) if cfg.limit else len(pairs)
    bar = task = None
    if progress:
        from rich.console import Console
        from rich.progress import Progress

        bar = Progress(console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task("qa-data", total=total)
    try:
        stats = write_qa_data(output, build_examples(
            iter(pairs), db, cfg, on_item=(lambda: bar.advance(task)) if bar else None))
    finally:
        if bar:
            bar.stop()
    stats["questions"] = total
    return stats
