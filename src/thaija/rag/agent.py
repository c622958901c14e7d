"""Agentic retrieval: decompose a complex question, retrieve in bounded rounds, re-query gaps.

Decomposition is rule-based on Thai, Japanese and English conjunctions and enumerations
(และ หรือ กับ รวมถึง / および 及び また と や 、 / and or , ;) and on separate question sentences;
with an LLM generator the model proposes the sub-questions first and the rules take over when its
proposal is unusable. Each round retrieves every sub-question still lacking evidence; a
sub-question lacking evidence is re-queried with the context the split removed (round 2), then
with its content keywords only (round 3+). Every round's query and chunk ids go to the trace.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from thaija.rag.citations import STOPWORDS, evidence_support, terms

#: Conjunctions that join clauses or enumerated entities, per language.
CONJUNCTIONS: dict[str, tuple[str, ...]] = {
    "th": ("และ", "หรือ", "กับ", "รวมถึง", "ตลอดจน", "รวมทั้ง"),
    "ja": ("および", "及び", "また", "並びに", "ならびに", "と", "や", "あるいは", "または"),
    "en": ("and", "or", "as well as", "plus"),
}
#: Punctuation that separates clauses or list items.
SEPARATORS = re.compile(r"[,，、;；]")
# "หรือไม่" / "หรือเปล่า" end a yes/no question: not a conjunction.
_TH_OR_TAIL = ("ไม่", "เปล่า", "ยัง", "ป่าว", "มั้ย", "ไหม")
_QMARK = re.compile(r"[?？。.!！]+$")
_QSPLIT = re.compile(r"(?<=[?？。!！])\s*|\n+")

SearchFn = Callable[[str, int], list[Any]]
#: Question words (whole tokens of the language's segmenter): a part holding one asks on its own.
INTERROGATIVES: dict[str, frozenset[str]] = {
    "th": frozenset({"กี่", "เท่าไร", "เท่าไหร่", "เท่าใด", "อะไร", "ใคร", "ที่ไหน", "ไหน", "เมื่อไร", "เมื่อไหร่",
                     "เมื่อใด", "อย่างไร", "ยังไง", "แค่ไหน", "ไหม", "มั้ย", "ใด"}),
    "ja": frozenset({"何", "いつ", "どこ", "誰", "どう", "いくら", "いくつ", "どの", "どれ", "どちら", "なぜ", "どんな"}),
    "en": frozenset({"what", "when", "where", "who", "whom", "whose", "which", "why", "how"}),
}


def question_words(text: str, lang: str) -> int:
    """How many question words ``text`` holds (ja: not 何も / どこでも, which mean "any")."""
    lang = _lang_of(lang)
    toks = [t.text.lower() for t in segment_tokens(text, lang) if t.text.strip()]
    qs = INTERROGATIVES[lang]
    return sum(1 for i, w in enumerate(toks) if w in qs
               and not (lang == "ja" and toks[i + 1:i + 2] in (["も"], ["で"]) and "も" in toks[i + 1:i + 3]))


def _lang_of(lang: str) -> str:
    return lang if lang in CONJUNCTIONS else "en"


WEAK = frozenset({"กับ", "と", "や", ","})  # also mean "with" / a list inside one noun phrase


def _split_points(text: str, lang: str) -> list[tuple[int, int, bool]]:
    """(start, end, weak) of every conjunction token / separator in ``text``."""
    from thaija.lang import segment

    lang = _lang_of(lang)
    conj = CONJUNCTIONS[lang]
    toks = [t for t in segment(text, lang=lang) if t.text.strip()]
    points = []
    for i, t in enumerate(toks):
        word = t.text.lower()
        if word in conj:
            if lang == "th" and word == "หรือ" and (i + 1 == len(toks) or toks[i + 1].text in _TH_OR_TAIL):
                continue
            if lang == "ja" and word == "と" and (i + 1 < len(toks) and toks[i + 1].text in ("は", "いう", "も", "して", "なる")):
                continue  # 〜とは / 〜という / 〜として: quotative or topical と, not "and"
            points.append((t.start, t.end, word in WEAK))
    points += [(m.start(), m.end(), m.group(0) in WEAK) for m in SEPARATORS.finditer(text)]
    return sorted(set(points))


def _accept(sent: str, points: list[tuple[int, int, bool]], lang: str) -> list[tuple[int, int]]:
    """Keep split points whose both sides hold content; weak ones only around a listed entity."""
    kept: list[tuple[int, int]] = []
    for i, (a, b, weak) in enumerate(points):
        left = sent[kept[-1][1] if kept else 0:a]
        right = sent[b:points[i + 1][0] if i + 1 < len(points) else len(sent)]
        lt, rt = set(terms(left, lang)), set(terms(right, lang))
        if not lt or not rt:
            continue
        if weak:
            ent_side, frame = (left, rt) if lang == "ja" else (right, lt)
            # ja: "パスワードの長さ と 海外出張の日当を…": two noun phrases with their own heads
            own = lang == "ja" and len(lt) >= 2 and len(rt) >= 2 and any(
                t.text == "の" for t in segment_tokens(left, lang))
            if not own and (not _is_entity(ent_side, lang, before_long=lang == "ja") or len(frame) < 2):
                continue
        kept.append((a, b))
    return kept


def segment_tokens(text: str, lang: str) -> list[Any]:
    from thaija.lang import segment

    return list(segment(text, lang=_lang_of(lang)))


def _words(text: str, lang: str) -> list[Any]:
    from thaija.lang import segment

    return [t for t in segment(text, lang=_lang_of(lang)) if any(c.isalnum() for c in t.text)]


def _is_entity(part: str, lang: str, before_long: bool) -> bool:
    """A short list item ("ญี่ปุ่น", "日本", "Japan") rather than a clause of its own."""
    words = _words(part, lang)
    content = terms(part, lang)
    if not words or len(set(content)) > 2:
        return False
    if _lang_of(lang) == "ja" and before_long and any(t.text == "の" for t in segment_tokens(part, lang)):
        return False  # "パスワードの長さ" has its own head noun: a question of its own, not a list item
    edge = words[-1] if before_long else words[0]
    return edge.text.lower() not in STOPWORDS.get(_lang_of(lang), ())


def _substitute(entity: str, long: str, lang: str, before_long: bool) -> str:
    """Put ``entity`` where the matching item sits in ``long`` (its first or last content word)."""
    words = [w for w in _words(long, lang) if w.text.lower() not in STOPWORDS.get(_lang_of(lang), ())]
    if not words:
        return entity
    if before_long:      # ja: "タイ と 日本の首都は" -> "タイ" replaces "日本"
        w = words[0]
        return long[:w.start] + entity.strip() + long[w.end:]
    w = words[-1]        # th/en: "capital of Thailand and Japan?" -> "Japan?" replaces "Thailand"
    return long[:w.start] + entity.strip()


def asks_twice(question: str, lang: str) -> bool:
    """The question asks two or more things: two question words and :func:`decompose` splits it."""
    return question_words(question, lang) >= 2 and len(decompose(question, lang)) > 1


_LEAD_NAME = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9\-.]*\s*)+")


def _share_name(parts: list[str]) -> list[str]:
    """th: "GreenCut G3 ชาร์จนานแค่ไหน" + "รับประกันกี่ปี" → the later part gets the product name the
    first opens with ("GreenCut G3 รับประกันกี่ปี") when it names none of its own (no Latin word)."""
    m = _LEAD_NAME.match(parts[0])
    if not m or not re.search(r"[A-Za-z]", m.group(0)) or len(m.group(0).strip()) == len(parts[0].strip()):
        return parts
    name = m.group(0).strip()
    return [parts[0]] + [p if re.search(r"[A-Za-z]", p) else f"{name} {p}" for p in parts[1:]]


def _share_topic(parts: list[str], lang: str) -> list[str]:
    """ja: "CleanBot R7の充電時間" + "連続使用時間を教えてください" → the second part gets the first's
    topic ("CleanBot R7の連続使用時間を…") when it names none of its own; a bare list item is left
    to the entity rule."""
    toks = segment_tokens(parts[0], lang)
    nos = [t for t in toks if t.text == "の"]
    if not nos or _is_entity(parts[0], lang, before_long=True):
        return parts
    topic = parts[0][:nos[-1].end]
    out = [parts[0]]
    for p in parts[1:]:
        own = any(t.text == "の" for t in segment_tokens(p, lang))
        out.append(p if own or p.startswith(topic) else topic + p)
    return out


def decompose(question: str, lang: str, *, max_parts: int = 4) -> list[str]:
    """Sub-questions of ``question`` by rules (the question itself when it is simple)."""
    q = question.strip()
    if not q:
        return []
    lang = _lang_of(lang)
    end = _QMARK.search(q)
    final = end.group(0) if end else ""
    subs: list[str] = []
    # question sentences: split after ? ！ 。 and at line ends (Thai spaces are not sentence ends here)
    for sent in _QSPLIT.split(q):
        sent = sent.strip()
        if not sent:
            continue
        pts = _accept(sent, _split_points(sent, lang), lang)
        parts, pos = [], 0
        for a, b in pts:
            parts.append(sent[pos:a].strip())
            pos = b
        parts.append(sent[pos:].strip())
        parts = [p for p in parts if p and any(c.isalnum() for c in p)]
        if lang == "ja" and len(parts) > 1:
            parts = _share_topic(parts, lang)
        if lang == "th" and len(parts) > 1:
            parts = _share_name(parts)
        if len(parts) <= 1:
            subs.append(sent)
            continue
        # two question words (ลาป่วยได้กี่วัน และลาพักร้อนได้กี่วัน): every part holding one asks on its own
        own = {i for i, p in enumerate(parts) if question_words(p, lang)} if question_words(sent, lang) >= 2 else set()
        longs = [i for i, p in enumerate(parts)
                 if i in own or (not (_is_entity(p, lang, before_long=True) and lang == "ja")
                                 and not (_is_entity(p, lang, before_long=False) and lang != "ja" and i > 0))]
        if not longs:
            subs.append(sent)
            continue
        for i, p in enumerate(parts):
            if i in longs:
                subs.append(p)
                continue
            # an enumerated entity: borrow the frame of the nearest clause
            j = min((x for x in longs if x > i), default=None) if lang == "ja" else max((x for x in longs if x < i), default=None)
            if j is None:
                subs.append(p)
            else:
                subs.append(_substitute(p, parts[j], lang, before_long=lang == "ja"))
    out = []
    for s in subs:
        s = s.strip()
        if final and not _QMARK.search(s):
            s += final
        if s and s not in out:
            out.append(s)
    return out[:max_parts] or [q]


def llm_decompose(question: str, lang: str, complete: Callable[..., str | None], *, max_parts: int = 4) -> list[str] | None:
    """Ask an LLM for sub-questions (one per line); None when its answer is unusable."""
    messages = [
        {"role": "system", "content": "Split the user's question into at most 4 simple, self-contained "
         "sub-questions in the same language as the question, one per line, nothing else. If the question "
         "is already simple, repeat it unchanged."},
        {"role": "user", "content": question},
    ]
    try:
        text = complete(messages, 96)
    except Exception:
        return None
    if not text:
        return None
    qterms = set(terms(question, lang))
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)、:]|[（(]?\d+[)）])\s*", "", line).strip()
        if not line or len(line) > 2 * len(question) + 20:
            continue
        if qterms and not (set(terms(line, lang)) & qterms):
            return None  # an off-topic line: do not trust this decomposition
        if line not in lines:
            lines.append(line)
    return lines[:max_parts] if lines else None


@dataclass
class SubQuestion:
    """One sub-question and the best evidence found for it."""

    question: str
    query: str
    hits: list[Any] = field(default_factory=list)
    support: float = 0.0
    rounds: int = 0


@dataclass
class AgentResult:
    subquestions: list[SubQuestion]
    trace: list[dict[str, Any]]
    decomposition: str  # "rules" | "llm" | "single"

    def hits(self, k: int) -> list[Any]:
        """Evidence merged round-robin over sub-questions (best of each first), no duplicates."""
        seen: set[str] = set()
        out: list[Any] = []
        lists = [s.hits for s in self.subquestions]
        for i in range(max((len(x) for x in lists), default=0)):
            for lst in lists:
                if i < len(lst) and lst[i].chunk_id not in seen:
                    seen.add(lst[i].chunk_id)
                    out.append(lst[i])
        return out[:max(k, len(self.subquestions))] if k else out


def _requery(sub: SubQuestion, original: str, lang: str, round_no: int) -> str:
    if round_no == 2:
        extra = [t for t in dict.fromkeys(terms(original, lang)) if t not in set(terms(sub.question, lang))]
        if extra:
            return f"{sub.question} {' '.join(extra)}"
    keys = list(dict.fromkeys(terms(sub.query, lang)))
    return " ".join(keys) if keys else sub.question


def gather(question: str, lang: str, search: SearchFn, *, k: int = 5, max_rounds: int = 3,
           min_support: float = 0.5, complete: Callable[..., str | None] | None = None) -> AgentResult:
    """Retrieve evidence for every sub-question of ``question`` in at most ``max_rounds`` rounds."""
    if max_rounds < 1:
        raise ValueError("max_rounds must be at least 1")
    subs = llm_decompose(question, lang, complete) if complete else None
    how = "llm" if subs else "rules"
    subs = subs or decompose(question, lang)
    if len(subs) <= 1:
        how = "single"
        subs = [question]
    items = [SubQuestion(s, s) for s in subs]
    trace: list[dict[str, Any]] = []
    for r in range(1, max_rounds + 1):
        todo = [s for s in items if r == 1 or s.support < min_support]
        if not todo:
            break
        for s in todo:
            query = s.question if r == 1 else _requery(s, question, lang, r)
            if r > 1 and query == s.query:
                continue
            hits = search(query, k)
            sup = evidence_support(s.question, hits, lang)
            trace.append({"round": r, "query": query, "chunk_ids": [h.chunk_id for h in hits],
                          "sub_question": s.question, "support": round(sup, 4)})
            if r == 1 or sup > s.support:
                s.query, s.hits, s.support = query, hits, sup
            s.rounds = r
    return AgentResult(items, trace, how)
