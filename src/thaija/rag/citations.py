"""Evidence support and citations: which retrieved span backs which answer sentence.

Support is lexical: the share of a claim's content terms (segmented with ``thaija.lang.segment``,
normalised forms, function and question words removed) found in a retrieved sentence or chunk.
A citation is ``[n]`` in the answer resolving to a chunk id, doc id, source and the exact
character span ``[start, end)`` of the document; its ``quote`` is the document text there.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

from thaija.retrieve.query import STOPWORDS, content_terms, usable as _usable  # noqa: F401 (re-exported)


def terms(text: str, lang: str) -> tuple[str, ...]:
    """Content terms of ``text`` (normalised forms, in order, repeats kept)."""
    return content_terms(text, lang if lang in STOPWORDS else "auto")


def coverage(query: Sequence[str], evidence: set[str] | frozenset[str], weights: dict[str, float] | None = None) -> float:
    """Share (by weight) of the distinct query terms present in the evidence terms."""
    q = set(query)
    if not q:
        return 0.0
    w = weights or {}
    total = sum(w.get(t, 1.0) for t in q)
    return sum(w.get(t, 1.0) for t in q if t in evidence) / total if total else 0.0


@dataclass(frozen=True)
class Evidence:
    """One sentence of a retrieved chunk: ``text == document[start:end]``."""

    hit: int  # index into the prompt's hit list (document [hit + 1])
    start: int
    end: int
    text: str
    lang: str = "auto"


def hit_lang(hit: Any, default: str = "auto") -> str:
    lang = getattr(hit, "lang", None)
    return lang if lang in STOPWORDS else default


@lru_cache(maxsize=4096)
def _sentence_offsets(text: str, lang: str) -> tuple[tuple[int, int], ...]:
    from thaija.lang import sentences

    spans = [(s.start, s.end) for s in sentences(text, lang=lang)]
    return tuple((a, b) for a, b in spans if text[a:b].strip()) or ((0, len(text)),)


def sentence_evidence(hits: Sequence[Any]) -> list[Evidence]:
    """Every sentence of every hit, with document offsets (``hit.start`` + local offset).

    Sentences overlapping instruction-like text (prompt injection, see
    :func:`thaija.rag.prompt.injection_spans`) are left out: they can never be quoted or cited.
    """
    from thaija.rag.prompt import injection_spans

    out = []
    for i, h in enumerate(hits):
        bad = injection_spans(h.text)
        for a, b in _sentence_offsets(h.text, hit_lang(h)):
            if any(a < y and x < b for x, y in bad):
                continue
            # trim surrounding whitespace so quotes are clean but still exact document text
            while a < b and h.text[a].isspace():
                a += 1
            while b > a and h.text[b - 1].isspace():
                b -= 1
            if b > a:
                out.append(Evidence(i, h.start + a, h.start + b, h.text[a:b], hit_lang(h)))
    return out


#: Shortest evidence window per language, in characters: Thai "sentences" are space-separated
#: phrases, so a window grows over following phrases until it reaches this length.
MIN_CHARS: dict[str, int] = {"th": 160, "ja": 40, "en": 60}


def evidence_windows(hits: Sequence[Any], min_chars: dict[str, int] | None = None) -> list[Evidence]:
    """One window per sentence: the sentence grown forward over whole following sentences of the
    same chunk until it has ``min_chars[lang]`` characters (backward at a chunk's end); always a
    contiguous document span that never crosses left-out (instruction-like) text."""
    sizes = min_chars or MIN_CHARS
    ev = sentence_evidence(hits)
    out = []
    for i, e in enumerate(ev):
        want = sizes.get(e.lang, sizes.get("en", 60))
        h = hits[e.hit]
        end = e.end
        for nxt in ev[i + 1:]:
            if end - e.start >= want or nxt.hit != e.hit:
                break
            if h.text[end - h.start:nxt.start - h.start].strip():
                break  # a left-out (instruction-like) sentence lies between: never quote across it
            end = nxt.end
        start = e.start
        for prev in reversed(ev[:i]):  # still short at the end of a chunk: grow backward
            if end - start >= want or prev.hit != e.hit:
                break
            if h.text[prev.end - h.start:start - h.start].strip():
                break
            start = prev.start
        if (start, end) == (e.start, e.end):
            out.append(e)
            continue
        out.append(Evidence(e.hit, start, end, h.text[start - h.start:end - h.start], e.lang))
    return out


@dataclass(frozen=True)
class Citation:
    """A resolved citation marker ``[n]``."""

    n: int
    chunk_id: str
    doc_id: str
    source: str
    start: int
    end: int
    quote: str
    lang: str = ""  # language of the quoted source text (th/ja/en)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_citation(n: int, hit: Any, start: int, end: int) -> Citation:
    """Citation for document span ``[start, end)`` inside ``hit`` (quote taken from the hit text)."""
    if not (hit.start <= start < end <= hit.end):
        raise ValueError(f"span {start}:{end} outside chunk {hit.chunk_id} ({hit.start}:{hit.end})")
    quote = hit.text[start - hit.start:end - hit.start]
    lang = hit_lang(hit, "")
    if lang in ("th", "ja", "en"):
        from thaija.rag.evidence import foreign

        if foreign(quote, lang):          # an English sentence inside a chunk detected as Thai
            lang = ""
    if lang not in ("th", "ja", "en"):
        from thaija.lang import detect

        lang = detect(quote).lang if quote.strip() else ""
    return Citation(n, hit.chunk_id, hit.doc_id, str(getattr(hit, "source", "") or ""), start, end, quote, lang)


_MARK = re.compile(r"\s*\[(\d{1,3})\]")
# a claim ends after its citation markers or a sentence terminator (Thai spaces do not end claims);
# closing quotes after a terminator (。» 。」 ." ) and a terminator right after the markers
# (Japanese ます[1]。) stay with the claim, so resolving the markers never drops them (QA Q22)
_CLOSE = "»」』”’)）\""
_CLAIM_END = re.compile(rf"(?:[。！？!?]+[{_CLOSE}]*|\.[{_CLOSE}]*(?=\s|\[|$))?(?:\s*\[\d{{1,3}}\])+(?:[。．！？!?]+[{_CLOSE}]*|\.(?=\s|$))?"
                        rf"|[。！？!?]+[{_CLOSE}]*|\.[{_CLOSE}]*(?=\s|$)|\n+")


def split_claims(answer: str) -> list[str]:
    """Answer claims, each with its trailing ``[n]`` markers."""
    out, pos = [], 0
    for m in _CLAIM_END.finditer(answer):
        if m.end() > pos:
            out.append(answer[pos:m.end()])
            pos = m.end()
    out.append(answer[pos:])
    return [c.strip() for c in out if c.strip()]


@dataclass
class Resolved:
    """An answer whose markers were checked against the retrieved evidence."""

    answer: str
    citations: list[Citation]
    removed: int = 0          # markers that did not resolve to supporting retrieved text
    added: int = 0            # markers attached to unmarked but supported sentences
    unsupported: list[str] = field(default_factory=list)  # sentences dropped: no evidence
    crosslingual: int = 0     # claims backed only by meaning (another language's sentence): review

    @property
    def supported(self) -> bool:
        return bool(self.citations)


def best_evidence(claim: Sequence[str], evidence: Sequence[Evidence], only_hit: int | None = None) -> tuple[float, Evidence | None]:
    """The evidence sentence covering most of the claim's terms (ties: earlier = higher ranked)."""
    best, arg = 0.0, None
    for ev in evidence:
        if only_hit is not None and ev.hit != only_hit:
            continue
        s = coverage(claim, set(terms(ev.text, ev.lang)))
        if s > best:
            best, arg = s, ev
    return best, arg


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # any script's digits: 15, ๑๕, １５, 3,000


def numbers(text: str) -> frozenset[str]:
    """The numbers written in ``text`` with digits (Thai, full-width and ASCII alike; thousands
    separators dropped): ``"3,000 บาท ๑๕ วัน"`` → ``{"3000", "15"}``."""
    out = set()
    for m in _NUMBER.finditer(text):
        digits = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in m.group())
        out.add(digits.replace(",", "").rstrip("."))
    return frozenset(out)


#: Cosine (multilingual-e5, claim as query, sentence as passage) at which a claim in one language
#: counts as backed by a sentence in another: on FLORES dev th↔ja translation pairs this accepts
#: 94 % of true translations and 7 % of the next sentence of the same article (measured by hand
#: on 300 lines; such claims are answered but flagged for review).
CROSS_MIN_COSINE = 0.84
# a quotation inside a claim (its closing mark may sit in the next claim: claims end at 。)
_QUOTED = re.compile(r"[«「『“\"]([^«»「」『』“”\"]{4,})(?:[»」』”\"]|$)")


def resolve(answer: str, hits: Sequence[Any], lang: str, *, min_support: float = 0.5,
            similar: Callable[[str, list[str]], list[float]] | None = None) -> Resolved:
    """Check and renumber the ``[n]`` markers of a generated answer against the prompt's hits.

    For each answer sentence: a marker ``[n]`` is kept when document ``n`` exists and one of its
    sentences covers at least ``min_support`` of the sentence's content terms (the citation then
    quotes that sentence, or the verbatim claim when the claim is a substring); other markers are
    removed and counted. A sentence without a valid marker gets the best supporting sentence of
    any hit, if one reaches ``min_support``; otherwise it is dropped as unsupported. A claim that
    writes numbers is supported only by a sentence holding every one of them (a generated "12 days"
    is not backed by a source's "15 days", however many words they share).
    A claim written in another language than its source (a Thai answer from a Japanese manual) is
    backed by a quotation of the source inside it («…», 「…」) or, given ``similar(claim, texts)``
    (cosines from the index's multilingual embedder), by another language's sentence at
    :data:`CROSS_MIN_COSINE`; those claims are counted in ``crosslingual`` (review them).
    Markers are renumbered 1..m in order of appearance.
    """
    evidence = evidence_windows(hits)
    out_sents: list[str] = []
    cites: list[Citation] = []
    key_to_n: dict[tuple[str, int, int], int] = {}
    res = Resolved("", [])

    def cite(ev: Evidence, span: tuple[int, int] | None = None) -> int:
        a, b = span or (ev.start, ev.end)
        key = (hits[ev.hit].chunk_id, a, b)
        if key not in key_to_n:
            key_to_n[key] = len(cites) + 1
            cites.append(make_citation(key_to_n[key], hits[ev.hit], a, b))
        return key_to_n[key]

    for raw in split_claims(answer):
        marks = [int(m) for m in _MARK.findall(raw)]
        claim = _MARK.sub("", raw).strip()
        if not any(ch.isalnum() for ch in claim):
            continue
        cterms = terms(claim, lang if lang in STOPWORDS else "auto")
        cnums = numbers(claim)
        backing = [ev for ev in evidence if cnums <= numbers(ev.text)] if cnums else evidence
        ns: list[int] = []
        for m in dict.fromkeys(marks):
            if not 1 <= m <= len(hits):
                res.removed += 1
                continue
            h = hits[m - 1]
            pos = h.text.find(claim)
            if pos >= 0 and len(claim) >= 2:
                ev = Evidence(m - 1, h.start + pos, h.start + pos + len(claim), claim, hit_lang(h))
                ns.append(cite(ev))
                continue
            score, ev = best_evidence(cterms, backing, only_hit=m - 1)
            if ev is None or score < min_support:
                res.removed += 1
                continue
            ns.append(cite(ev))
        if not ns:
            score, ev = best_evidence(cterms, backing)
            if ev is not None and score >= min_support:
                ns.append(cite(ev))
                res.added += 1
        if not ns:
            ev, span = _cross_backing(claim, marks, hits, backing, lang, similar)
            if ev is not None:
                ns.append(cite(ev, span))
                res.crosslingual += 1
        if not ns:
            res.unsupported.append(claim)
            continue
        out_sents.append(_with_markers(raw, claim, list(dict.fromkeys(ns))))
    sep = "" if lang == "ja" else " "
    res.answer = sep.join(out_sents)
    res.citations = cites
    return res


def _with_markers(raw: str, claim: str, ns: Sequence[int]) -> str:
    """The claim as written, its markers replaced by ``ns`` where the first one stood (``です[1]。``,
    ``«…» [1]``); a claim written without markers gets `` [n]`` at its end."""
    found = list(_MARK.finditer(raw))
    if not found:
        return claim + "".join(f" [{n}]" for n in ns)
    first = found[0].group(0)
    lead = first[: len(first) - len(first.lstrip())]
    head, tail = raw[: found[0].start()], _MARK.sub("", raw[found[0].end():])
    return (head + "".join(f"{lead}[{n}]" for n in ns) + tail).strip()


def _cross_backing(claim: str, marks: Sequence[int], hits: Sequence[Any], backing: Sequence[Evidence], lang: str,
                   similar: Callable[[str, list[str]], list[float]] | None) -> tuple[Evidence | None, tuple[int, int] | None]:
    """Evidence in another language for ``claim``: a quotation of a hit inside the claim (cited at its
    exact span), else the most similar sentence of another language at :data:`CROSS_MIN_COSINE`
    (within the marked documents when the claim has markers)."""
    for m in _QUOTED.finditer(claim):
        quote = m.group(1).strip()
        for i, h in enumerate(hits):
            pos = h.text.find(quote)
            if pos >= 0:
                a = h.start + pos
                return Evidence(i, a, a + len(quote), quote, hit_lang(h)), (a, a + len(quote))
    if similar is None:
        return None, None
    marked = {m - 1 for m in marks if 1 <= m <= len(hits)}
    foreign = [ev for ev in backing if ev.lang not in (lang, "auto") and (not marked or ev.hit in marked)]
    if not foreign:
        return None, None
    cos = similar(claim, [ev.text for ev in foreign])
    best = max(range(len(foreign)), key=lambda k: cos[k])
    return (foreign[best], None) if cos[best] >= CROSS_MIN_COSINE else (None, None)


def evidence_support(question: str, hits: Sequence[Any], lang: str) -> float:
    """How well the best retrieved chunk covers the question: the share of the question's
    distinct content terms found in it (0 when nothing was retrieved). The refusal threshold
    applies to this number."""
    q = terms(question, lang if lang in STOPWORDS else "auto")
    if not q or not hits:
        return 0.0
    return max(coverage(q, set(terms(h.text, hit_lang(h)))) for h in hits)
