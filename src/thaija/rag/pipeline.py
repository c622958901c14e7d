"""The ask pipeline: detect → retrieve (hybrid, caller's groups) → grounded prompt → generate →
citations → refusal / review queue.

>>> from thaija.rag import ask
>>> r = ask("สุวัฒน์ วรรณศิริกุล เกิดวันที่เท่าไร", db="./thaija.db")   # doctest: +SKIP
>>> r["answer"], r["citations"][0]["quote"]                           # doctest: +SKIP
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from thaija.errors import ThaijaError
from thaija.rag.generators import GENERATORS, Generator, make_generator

SearchFn = Callable[[str, int], list[Any]]
from thaija.retrieve.search import MODES  # noqa: E402 (defined once, in retrieve)


@dataclass
class AskConfig:
    """Settings of one ask call (validated; every CLI flag maps to one field).

    ``redact``: replace PII (Thai ID, My Number, phones, e-mail, cards) in the answer and in the
    quotes by ``[TYPE]`` placeholders; such citations carry ``"redacted": true`` (their quote then
    differs from the document text exactly at the placeholders).
    ``min_support``: refuse when the best retrieved chunk holds less than this share of the
    question's content terms. Calibrated on corpora/wiki_th + wiki_ja with questions from other
    paragraphs as unanswerable ones (see docs/rag.md). ``citation_support``: a generated
    sentence's citation must cover this share of its content terms, else it is removed.
    """

    generator: str = "extractive"
    k: int = 5
    mode: str = "hybrid"
    groups: tuple[str, ...] | None = None
    agentic: bool = False
    max_rounds: int = 3
    min_support: float = 0.5
    citation_support: float = 0.5
    context_tokens: int | None = None
    model: str | None = None
    adapter: str | None = None
    base_url: str | None = None
    review: bool = True
    redact: bool = False

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ThaijaError(f"unknown generator {self.generator!r}: choose one of {', '.join(GENERATORS)}")
        if self.mode not in MODES:
            raise ThaijaError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if not 1 <= int(self.k) <= 100:
            raise ThaijaError(f"--k must be between 1 and 100, got {self.k}")
        if not 1 <= int(self.max_rounds) <= 10:
            raise ThaijaError(f"--max-rounds must be between 1 and 10, got {self.max_rounds}")
        for name in ("min_support", "citation_support"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ThaijaError(f"{name} must be between 0 and 1")
        if self.context_tokens is not None and self.context_tokens < 256:
            raise ThaijaError("context_tokens must be at least 256")
        if self.groups is not None:
            self.groups = tuple(g.strip() for g in self.groups if g and g.strip()) or None
        if self.adapter and self.generator != "local":
            raise ThaijaError("--adapter needs --generator local")


def detect_lang(text: str) -> str:
    """The question's language (th/ja/en; anything else answers in English)."""
    from thaija.lang import detect

    lang = detect(text).lang
    return lang if lang in ("th", "ja", "en") else "en"


def default_search(db: str, mode: str, groups: Sequence[str] | None) -> SearchFn:
    """``search(query, k)`` over the index ``db`` with the caller's access groups."""
    from thaija.retrieve import search

    def run(query: str, k: int) -> list[Any]:
        return search(query, db=db, k=k, mode=mode, groups=list(groups) if groups else None)

    return run


_GEN_CACHE: dict[tuple, Generator] = {}


def get_generator(cfg: AskConfig) -> Generator:
    """One generator object per configuration (a loaded local model is reused across calls)."""
    key = (cfg.generator, cfg.model, cfg.adapter, cfg.base_url, cfg.context_tokens)
    if key not in _GEN_CACHE:
        _GEN_CACHE[key] = make_generator(cfg.generator, model=cfg.model, adapter=cfg.adapter,
                                         base_url=cfg.base_url, context_tokens=cfg.context_tokens)
    return _GEN_CACHE[key]


@dataclass
class Answer:
    """The result of :func:`answer`; :meth:`to_dict` is the ``thaija ask --json`` shape."""

    question: str
    lang: str
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    trace: list[dict[str, Any]]
    review_id: int | None = None
    reason: str | None = None
    support: float = 0.0
    removed_citations: int = 0
    prompt_tokens: int = 0
    generator: str = ""
    model: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("question", "lang", "answer", "refused", "citations", "trace",
                                           "review_id", "reason", "support", "removed_citations",
                                           "prompt_tokens", "generator", "model", "seconds")}
        d.update(self.extra)
        return d


def answer(question: str, *, db: str = "./thaija.db", config: AskConfig | None = None,
           search: SearchFn | None = None, generator: Generator | None = None) -> Answer:
    """Answer ``question`` from the index ``db`` (see :func:`ask` for the keyword form)."""
    from thaija.rag.agent import gather
    from thaija.rag.citations import evidence_support, resolve
    from thaija.rag.prompt import build_prompt, prompt_texts

    cfg = config or AskConfig()
    original = question or ""
    question = original.strip()
    if not question:
        raise ThaijaError("the question is empty")
    t0 = time.perf_counter()
    lang = detect_lang(question)
    texts = prompt_texts(lang)
    gen = generator or get_generator(cfg)
    search = search or default_search(db, cfg.mode, cfg.groups)

    # 1. retrieve (one round, or agentic rounds over sub-questions)
    subs: list[tuple[str, list[Any]]]
    if cfg.agentic:
        res = gather(question, lang, search, k=cfg.k, max_rounds=cfg.max_rounds, min_support=cfg.min_support,
                     complete=gen.complete if cfg.generator != "extractive" else None)
        trace = res.trace
        subs = [(s.question, s.hits) for s in res.subquestions if s.support >= cfg.min_support]
        hits = res.hits(cfg.k)
        support = max((s.support for s in res.subquestions), default=0.0)
        extra: dict[str, Any] = {"decomposition": res.decomposition,
                                 "sub_questions": [s.question for s in res.subquestions],
                                 "unanswered": [s.question for s in res.subquestions if s.support < cfg.min_support]}
    else:
        hits = search(question, cfg.k)
        trace = [{"round": 1, "query": question, "chunk_ids": [h.chunk_id for h in hits]}]
        support = evidence_support(question, hits, lang)
        subs = [(question, hits)] if support >= cfg.min_support else []
        extra = {}

    out = Answer(original, lang, texts.refusal, True, [], trace, support=round(support, 4),
                 generator=gen.name, model=gen.model, extra=extra)

    def finish(reason: str | None, review: str | None) -> Answer:
        out.reason = reason
        if cfg.redact and not out.refused:
            from thaija.guard.pii import redact

            out.answer, found = redact(out.answer)
            for c in out.citations:
                c["quote"], f = redact(c["quote"])
                if f:
                    c["redacted"] = True
            out.extra["redacted"] = len(found)
        if review and cfg.review:
            from thaija.guard.review import ReviewQueue

            out.review_id = ReviewQueue.for_index(db).add(
                question, out.answer, lang, out.citations, review, groups=list(cfg.groups or []),
                score=out.support, note=reason, candidates=hits)
        out.seconds = round(time.perf_counter() - t0, 4)
        return out

    if not subs:
        return finish("weak_evidence", "refused")

    # 2. prompt within the model's budget (its own tokens, via the cost stage)
    prompt = build_prompt(question, hits, lang, budget=gen.context_tokens, count=gen.count,
                          reserve=min(256, gen.context_tokens // 4), style=getattr(gen, "prompt_style", "tags"))
    out.prompt_tokens = prompt.tokens
    out.extra["prompt_hits"] = len(prompt.hits)

    # 3. generate + 4. citations
    if cfg.generator == "extractive":
        cites, parts = [], []
        for subq, sub_hits in subs:  # one best-supported sentence per (sub-)question
            allowed = {h.chunk_id for h in prompt.hits} if not cfg.agentic else {h.chunk_id for h in sub_hits}
            pool = [h for h in (sub_hits if cfg.agentic else prompt.hits) if h.chunk_id in allowed]
            sub_prompt = replace(prompt, hits=pool)
            g = gen.generate(sub_prompt, subq, lang)
            for c in g.citations or []:
                if any(c.chunk_id == x.chunk_id and c.start == x.start and c.end == x.end for x in cites):
                    continue
                cites.append(replace(c, n=len(cites) + 1))
                parts.append(f"{c.quote} [{len(cites)}]")
        if not cites:
            return finish("unsupported_answer", "refused")
        out.answer = ("" if lang == "ja" else " ").join(parts)
        out.citations = [c.to_dict() for c in cites]
        out.refused = False
        if extra.get("unanswered"):  # agentic: some sub-questions found no evidence
            return finish("low_confidence", "low_confidence")
        return finish(None, None)

    g = gen.generate(prompt, question, lang)
    raw = (g.text or "").strip()
    out.extra["raw_answer"] = raw
    if not raw or texts.refusal in raw or raw.startswith(texts.refusal[:12]):
        return finish("model_refused", "refused")
    resolved = resolve(raw, prompt.hits, lang, min_support=cfg.citation_support)
    out.removed_citations = resolved.removed
    out.extra["unsupported_sentences"] = len(resolved.unsupported)
    if not resolved.supported:
        return finish("unsupported_answer", "refused")
    out.answer = resolved.answer
    out.citations = [c.to_dict() for c in resolved.citations]
    out.refused = False
    low = resolved.removed > 0 or bool(resolved.unsupported)
    return finish("low_confidence" if low else None, "low_confidence" if low else None)


def ask(question: str, *, db: str = "./thaija.db", generator: str = "extractive", k: int = 5,
        agentic: bool = False, max_rounds: int = 3, groups: Sequence[str] | None = None,
        model: str | None = None, adapter: str | None = None, base_url: str | None = None,
        mode: str = "hybrid", review: bool = True, redact: bool = False, search: SearchFn | None = None,
        **options: Any) -> dict[str, Any]:
    """Answer a question from the index with citations; returns the ``thaija ask --json`` dict.

    Keys: question, lang, answer, refused, citations [{n, chunk_id, doc_id, source, start, end,
    quote}], trace [{round, query, chunk_ids}], review_id, plus reason, support,
    removed_citations, prompt_tokens, generator, model, seconds.
    """
    cfg = AskConfig(generator=generator, k=k, mode=mode, agentic=agentic, max_rounds=max_rounds,
                    groups=tuple(groups) if groups else None, model=model, adapter=adapter,
                    base_url=base_url, review=review, redact=redact, **options)
    return answer(question, db=db, config=cfg, search=search).to_dict()


def render(result: dict[str, Any], width: int = 120) -> str:
    """Human-readable form of an :func:`ask` result: the answer, then one line per citation."""
    lines = [result["answer"]]
    for c in result["citations"]:
        quote = c["quote"].replace("\n", " ")
        more = "…" if len(quote) > width else ""
        lines.append(f"  [{c['n']}] {c['doc_id']} {c['start']}:{c['end']} ({c['source']}): {quote[:width]}{more}")
    if result["refused"]:
        lines.append(f"(refused: {result.get('reason')}; review id {result.get('review_id')})")
    elif result.get("removed_citations"):
        lines.append(f"({result['removed_citations']} unsupported citation(s) removed)")
    return "\n".join(lines)
