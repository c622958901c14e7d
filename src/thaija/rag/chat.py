"""Chat on top of :func:`thaija.rag.pipeline.answer`: follow-ups resolved against earlier turns,
OpenAI-shaped replies, server-sent-event chunks and token usage in a named tokenizer.

Functions the server calls (``thaija serve``'s ``/v1/chat/completions``):

- ``resolve_followup(messages) -> Resolution``: the standalone question for the last user turn
  (a follow-up such as ``แล้วไส้กรองต้องเปลี่ยนบ่อยแค่ไหน`` borrows the topic of the earlier user
  turn: ``AirPure 300 …``); ``.question`` goes to retrieval, ``.borrowed`` lists what was added.
- ``chat_completion(messages, *, db, config=None, model="thaija-rag", search=None) -> dict``: the
  full non-streaming reply: ``{"id", "object": "chat.completion", "created", "model", "choices":
  [{"index": 0, "message": {"role": "assistant", "content"}, "finish_reason": "stop"}],
  "usage": {"prompt_tokens", "completion_tokens", "total_tokens", "tokenizer"}, "citations",
  "thaija": {…the ask --json dict without prompt_tokens: usage is the one count…}}``.
- ``stream_chunks(reply) -> Iterator[str]``: the same reply as OpenAI ``stream=true`` SSE lines
  (``data: {"object": "chat.completion.chunk", …}\\n\\n`` … ``data: [DONE]\\n\\n``); the server
  writes them with ``Content-Type: text/event-stream``. The last content chunk carries
  ``finish_reason: "stop"`` (``"length"`` when ``limit_tokens`` cut it), ``usage`` and ``citations``.
- ``limit_tokens(reply, max_tokens) -> dict``: the request's ``max_tokens`` honoured (cut at a
  sentence/word boundary, ``finish_reason: "length"``).
- ``usage(prompt_texts, completion, tokenizer) -> dict``: counts in the named tokenizer of the
  thaija cost registry (``o200k_base`` for the extractive reader and the openai generator,
  the model's own tokenizer for ``local``).
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Sequence

from thaija.errors import ThaijaError

#: Words that open a follow-up turn ("and then …", "what about …") per language.
FOLLOWUP_MARKERS: dict[str, tuple[str, ...]] = {
    "th": ("แล้ว", "และ", "ส่วน", "งั้น", "ถ้าอย่างนั้น", "แล้วก็", "มัน", "อันนี้", "ตัวนี้", "เครื่องนี้"),
    "ja": ("では", "じゃあ", "それで", "それでは", "あと", "また", "それ", "その", "これ", "この"),
    "en": ("and", "what about", "how about", "then", "also", "it", "its", "this", "that", "they"),
}
#: markers that refer back ("it", มัน, それ) rather than open an elliptical "what about X"
_PRONOUNS = frozenset({"it", "its", "this", "that", "they", "มัน", "それ", "これ", "その", "この"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*|[\u30a0-\u30ff]{2,}")
#: a product/model name: letters with a digit (RX-9, AP-220, R7) or a CamelCase word (CleanBot)
_MODEL = re.compile(r"[A-Za-z][A-Za-z\-]*\d[A-Za-z0-9\-]*|\b[A-Z][a-z]+[A-Z][A-Za-z0-9]*")


@dataclass
class Resolution:
    """The standalone question of the last user turn."""

    question: str
    original: str
    followup: bool = False
    borrowed: list[str] = field(default_factory=list)
    #: a turn without a follow-up marker that names no product while the earlier turn did
    #: (``ไส้กรองต้องเปลี่ยนบ่อยแค่ไหน`` after ``AirPure 300 …``): the question with the earlier
    #: names, tried first and kept only when its answer cites a document naming them
    maybe: str | None = None


#: Put before a low-confidence answer in the chat reply's content (the answer is given, but
#: weakly supported and queued for review; ``thaija.reason`` says ``low_confidence`` too).
LOW_CONFIDENCE_NOTE = {
    "th": "(ความมั่นใจต่ำ: โปรดตรวจสอบแหล่งที่มา คำถามนี้ถูกส่งให้เจ้าหน้าที่ตรวจสอบ) ",
    "ja": "（確信度が低い回答です。出典をご確認ください。担当者の確認に回しました）",
    "en": "(Low confidence: please check the sources; this question was sent for review.) ",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _user_turns(messages: Sequence[dict[str, Any]]) -> list[str]:
    return [t for t in (_text(m.get("content")).strip() for m in messages if m.get("role") == "user") if t]


def resolve_followup(messages: Sequence[dict[str, Any]], max_terms: int = 4) -> Resolution:
    """Resolve the last user turn against earlier user turns (see the module doc).

    A turn is a follow-up when it opens with a follow-up marker of its language (แล้ว, では, and …)
    or names fewer than three content terms, and an earlier turn named something it lacks.
    The earlier turn's names (Latin/digit words, katakana words) come first, then its other
    content terms, at most ``max_terms``; they are put before the follow-up text.
    """
    from thaija.retrieve.query import analyse, content_terms, term_weight

    turns = _user_turns(messages)
    if not turns:
        raise ThaijaError("no user message to answer")
    last = turns[-1]
    if len(turns) == 1:
        return Resolution(last, last)
    q = analyse(last)
    low = last.lower().lstrip()
    opener = _marker(low, q.lang)
    marker = opener is not None
    mine = set(q.content)
    # "แล้ว X ล่ะ" / "じゃあXは？" / "what about X?": the earlier question asked again about X
    ellipsis = _elliptic(turns[-2], last, q.lang, opener) if opener not in (None, *_PRONOUNS) else None
    if ellipsis is not None:
        question, kept = ellipsis
        return Resolution(question, last, True, kept)
    # the turn names a model of its own (แล้ว CleanBot RX-9 ล่ะ): an earlier turn's model is not borrowed
    own_model = bool(_MODEL.search(last))
    for prev in reversed(turns[:-1]):
        # names: Latin/digit and katakana words of a Thai/Japanese turn; in English, model-like ones only
        plang = analyse(prev).lang
        prev_names = [m.group(0) for m in (_MODEL if plang == "en" else _NAME).finditer(prev)]
        names = [] if own_model else [n for n in prev_names if n.lower() not in mine]
        # the earlier turn's words in its own language ("AirPure 300は？" reads as English after a
        # Japanese question: 保証期間 is still a Japanese word)
        others = [t for t in dict.fromkeys(content_terms(prev, plang)) if t not in mine
                  and term_weight(t, plang) == 1.0          # never a generic word (場合, เวลา, time …)
                  and not any(t in n.lower() or n.lower() in t for n in prev_names)]
        if not names and not others:
            continue
        borrowed = list(dict.fromkeys(names))[:max_terms]
        if not (marker or len(mine) < 3):
            if borrowed and not _NAME.search(last):
                return Resolution(last, last, False, borrowed, _with(borrowed, last, q.lang))
            return Resolution(last, last)
        # the earlier turn's first content words name its subject (เครื่องฟอกอากาศ, 在宅勤務) — not when a
        # model name is borrowed and the turn asks about something of its own (แล้วชาร์จแบตนานเท่าไรล่ะ
        # after a warranty question: the product, not รับประกัน, is the context)
        asks_own = any(term_weight(t, q.lang) == 1.0 for t in mine)
        extra = 0 if (borrowed and asks_own) else (1 if borrowed else 2)
        borrowed += others[:max(0, min(extra, max_terms - len(borrowed)))]
        return Resolution(_with(borrowed, last, q.lang if q.lang in ("th", "ja") else plang), last, True, borrowed)
    return Resolution(last, last)


_TH_TAIL = re.compile(r"\s*(?:ล่ะ|หล่ะ|ละ|บ้าง)?\s*(?:ครับ|ค่ะ|คะ|จ้ะ|จ้า|นะ)?\s*[?？!！。]*\s*$")
_JA_TAIL = re.compile(r"(?:の場合|だと|では|って|は)?(?:どう|どうですか|ですか)?\s*[?？!！。]*\s*$")
_EN_TAIL = re.compile(r"\s*[?!.]*\s*$")


def _marker(low: str, lang: str) -> str | None:
    """The longest follow-up marker of ``lang`` the lower-cased turn ``low`` opens with, else None."""
    found = [m for m in FOLLOWUP_MARKERS.get(lang, ()) if low.startswith(m)]
    return max(found, key=len) if found else None


def _elliptic(prev: str, turn: str, lang: str, marker: str) -> tuple[str, list[str]] | None:
    """An elliptical follow-up — a marker (แล้ว, じゃあ, what about) and only a short noun phrase X, no
    question word — as the earlier question with X in place of what it asked about: the earlier
    turn's model name when X names a model (``AiroPure AP-220 รับประกันกี่ปี`` + ``แล้ว CleanBot RX-9
    ล่ะ`` → ``CleanBot RX-9 รับประกันกี่ปี``), else the word of it that shares most with X
    (``ลาพักร้อนได้กี่วัน`` + ``แล้วลาป่วยล่ะ`` → ``ลาป่วยได้กี่วัน``). (question, the earlier turn's
    words kept) or None (then the earlier words are borrowed before the turn). ``marker``: the
    follow-up marker ``turn`` opens with (:func:`_marker`)."""
    from thaija.rag.agent import question_words
    from thaija.retrieve.query import analyse, content_terms, term_weight

    body = turn.strip()[len(marker):].strip(" 、,，")
    body = {"th": _TH_TAIL, "ja": _JA_TAIL}.get(lang, _EN_TAIL).sub("", body).strip()
    if not body or len(body) > 40 or question_words(body, lang):
        return None
    terms = content_terms(body, lang)
    if not terms or len(terms) > 3 or (lang == "en" and len(body.split()) > 4):
        return None
    if _MODEL.search(body):
        models = list(_MODEL.finditer(prev))
        if not models:
            return None
        a, b = models[0].start(), models[0].end()
        for m in _NAME.finditer(prev, b):   # the whole name: AiroPure AP-220, AirPure 300 (words, spaces only)
            if prev[b:m.start()].strip():
                break
            b = m.end()
    else:
        plang = analyse(prev).lang
        names = [m.group(0).lower() for m in (_MODEL if plang == "en" else _NAME).finditer(prev)]
        cands = [t for t in content_terms(prev, plang) if term_weight(t, plang) == 1.0
                 and not any(t in n or n in t for n in names) and t not in terms and prev.lower().find(t) >= 0]
        # the word X stands in for: the one sharing the most with it (ในประเทศ for ต่างประเทศ, ลาพักร้อน
        # for ลาป่วย, annual leave for sick leave); none shares two characters: no ellipsis to resolve
        # here ("and the warranty?" after a charging question is a new attribute, not a new battery)
        low_prev = prev.lower()
        # a modifier shares through the word after it: "annual" (leave) for "sick leave"
        x = " ".join(terms).lower()   # X's content words ("the" of "the warranty" shares nothing)
        own = {t: _shared(t, x) for t in cands}
        near = {t: max(own[t], _shared(low_prev[low_prev.find(t):low_prev.find(t) + len(t) + 12], x)) for t in cands}
        least = 4 if x.isascii() else 2   # a Thai/Japanese word of two letters (ลา, 出張); English: a stem
        cands = [t for t in cands if near[t] >= least]
        if not cands:
            return None
        first = max(cands, key=lambda t: (own[t], near[t], -cands.index(t)))
        a = prev.lower().find(first)
        b = a + len(first)
        while b < len(prev) and _spaced(prev[a]) and prev[b].isalpha() and _spaced(prev[b]):
            b += 1   # a whole English word
    rest = prev[b:]
    last_word = body.split()[-1] if body.split() else ""
    if last_word.isascii() and rest.lower().lstrip().startswith(last_word.lower() + " "):
        rest = rest.lstrip()[len(last_word):]   # "annual leave" → "sick leave", not "sick leave leave"
    question = prev[:a] + body + rest
    if question.strip() == prev.strip():
        return None
    kept = [t for t in content_terms(question, lang) if t not in terms]
    return question, kept


def _shared(a: str, b: str) -> int:
    """Length of the longest common substring of ``a`` and ``b`` (counted from 2 characters)."""
    best = 0
    for i in range(len(a)):
        for j in range(i + 2, len(a) + 1):
            if a[i:j] in b:
                best = max(best, j - i)
            else:
                break
    return best


def _spaced(ch: str) -> bool:
    """``ch`` is of a script written with spaces between words (not Thai, kana or han)."""
    o = ord(ch)
    return not (0x0E00 <= o <= 0x0E7F or 0x3040 <= o <= 0x30FF or 0x4E00 <= o <= 0x9FFF)


def _speaks_of(answer_text: str, turn: str) -> bool:
    """The answer holds one of the turn's own non-generic content words (ลาคลอด of แล้วลาคลอดล่ะ)."""
    from thaija.retrieve.query import analyse, term_weight

    q = analyse(turn)
    low = answer_text.lower()
    return any(t.lower() in low for t in q.content if len(t) > 1 and term_weight(t, q.lang) == 1.0)


def _with(borrowed: Sequence[str], turn: str, lang: str) -> str:
    """The turn with the borrowed words before it; Japanese joins them by の (東京の宿泊の領収書は？),
    never glued (東京場合の…)."""
    return "の".join(borrowed) + "の" + turn if lang == "ja" else " ".join([*borrowed, turn])


def count_tokens(text: str, tokenizer: str = "o200k_base") -> int:
    """Tokens of ``text`` in a named tokenizer of the thaija registry (no special tokens)."""
    from thaija.tokenizers import get_tokenizer

    return int(get_tokenizer(tokenizer).count(text))


def usage(prompt_texts: Sequence[str], completion: str, tokenizer: str = "o200k_base") -> dict[str, Any]:
    """OpenAI ``usage`` block counted in ``tokenizer`` (named in the block)."""
    p = sum(count_tokens(t, tokenizer) for t in prompt_texts if t)
    c = count_tokens(completion, tokenizer) if completion else 0
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c, "tokenizer": tokenizer}


def chat_completion(messages: Sequence[dict[str, Any]], *, db: str, config: Any = None, model: str = "thaija-rag",
                    search: Any = None, generator: Any = None) -> dict[str, Any]:
    """Answer the conversation's last user turn from the index (see the module doc); ``generator``:
    the server passes its shared (serialised) one."""
    from thaija.rag.pipeline import AskConfig, answer, get_generator
    from thaija.rag.prompt import build_prompt

    cfg = config or AskConfig()
    res = resolve_followup(messages)
    gen = generator or get_generator(cfg)
    quiet = replace(cfg, review=False)
    ans = None
    if res.maybe:
        # the earlier product, kept only if the answer comes from a document that names it (a new
        # topic, ลาพักร้อนได้กี่วัน after AirPure 300, is answered as asked)
        tried = answer(res.maybe, db=db, config=quiet, search=search, generator=gen)
        if not tried.refused and _cites_names(tried, res.borrowed, db):
            # ... and only when it is at least as well supported as the turn alone: a document titled
            # by the product lends its sentences some weight ("AirPure 300 พนักงานลาพักร้อน…" quoted the
            # filter rule at 0.61 while the leave question alone is answered at 0.88)
            alone = answer(res.original, db=db, config=quiet, search=search, generator=gen)
            if alone.refused or (tried.support or 0.0) >= (alone.support or 0.0):
                res, ans = Resolution(res.maybe, res.original, True, res.borrowed), tried
            else:
                ans = alone
    if not res.followup:
        ans = answer(res.question, db=db, config=cfg, search=search, generator=gen)
    else:
        # the borrowed words are context, not what is asked: when the resolved question finds no
        # support but the turn alone does ("領収書は？"), the turn alone is answered (queued once)
        if ans is None:
            ans = answer(res.question, db=db, config=quiet, search=search, generator=gen)
        # ... and when it is only weakly supported, the turn alone may name a new topic of the same kind
        # ("แล้วลาคลอดล่ะ" after a sick-leave question: ลาป่วย borrowed, the sick-leave rule again)
        if ans.refused or ans.reason == "low_confidence":
            alone = answer(res.original, db=db, config=quiet, search=search, generator=gen)
            # the turn alone wins when better supported, or when only it speaks of what this turn asks
            # (the borrowed answer quotes none of the turn's own words: the earlier topic again)
            if not alone.refused and (ans.refused or (alone.support or 0.0) > (ans.support or 0.0)
                                      or (_speaks_of(alone.answer, res.original) and not _speaks_of(ans.answer, res.original))):
                res = Resolution(res.original, res.original, False, [])
                ans = alone
        if cfg.review and (ans.refused or ans.reason):
            ans = answer(res.question, db=db, config=cfg, search=search, generator=gen)
    result = ans.to_dict()
    # one prompt count per reply: ``usage.prompt_tokens`` (QA Q12). The ask dict's own
    # ``prompt_tokens`` counts, for the extractive reader, only the question and the cited quotes
    # in another sense; an LLM generator's equals usage. It is not repeated here.
    result.pop("prompt_tokens", None)
    result["question"] = res.original
    result["resolved_question"] = res.question
    result["followup"] = res.followup
    tok = getattr(gen, "tokenizer", None) or "o200k_base"
    if cfg.generator == "extractive" or not getattr(gen, "tokenizer", None):
        # what the reader read: the conversation and the retrieved evidence (the grounded prompt
        # an LLM would have received), in o200k_base
        tok = "o200k_base"
    content = ans.answer
    if not ans.refused and ans.reason == "low_confidence":  # a chat client shows only the content
        content = LOW_CONFIDENCE_NOTE.get(ans.lang, LOW_CONFIDENCE_NOTE["en"]) + content
    hits = [c["quote"] for c in ans.citations]
    convo = [_text(m.get("content")) for m in messages]
    if cfg.generator != "extractive" and ans.prompt_tokens:
        u = {"prompt_tokens": int(ans.prompt_tokens)}
        u["completion_tokens"] = gen.count(content) if content else 0
        u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
        u["tokenizer"] = tok if getattr(gen, "tokenizer", None) else f"{gen.model} (own tokenizer)"
    else:
        try:
            p = build_prompt(res.question, _trace_hits(ans, db), ans.lang, budget=1 << 20,
                             count=lambda s: count_tokens(s, tok), reserve=0)
            prompt_parts = [m["content"] for m in p.messages] + convo[:-1]
        except Exception:
            prompt_parts = convo + hits
        u = usage(prompt_parts, content, tok)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": u,
        "citations": ans.citations,
        "thaija": result,
    }


def _cites_names(ans: Any, names: Sequence[str], db: str) -> bool:
    """Whether a document the answer cites names one of ``names`` (its title or text)."""
    from thaija.index.handles import open_index
    from thaija.rag.quantity import mentions

    index = open_index(db)
    for c in ans.citations:
        d = index.document(c["doc_id"]) or {}
        text = f"{d.get('title') or ''}\n{d.get('text') or ''}"
        if any(mentions(text, n) for n in names):
            return True
    return False


def _trace_hits(ans: Any, db: str) -> list[Any]:
    """The retrieved hits of the answer's first round (re-read from the index by chunk id)."""
    from types import SimpleNamespace

    from thaija.index.handles import open_index

    ids = ans.trace[0]["chunk_ids"] if ans.trace else []
    if not ids:
        return []
    index = open_index(db)
    snap = index.snapshot()
    pos = {c: i for i, c in enumerate(snap.chunk_ids)}
    out = []
    for cid in ids:
        i = pos.get(cid)
        if i is None:
            continue
        did = snap.doc_ids[i]
        s, e = int(snap.starts[i]), int(snap.ends[i])
        d = index.document(did)
        out.append(SimpleNamespace(chunk_id=cid, doc_id=did, text=d["text"][s:e], source=d.get("source", ""),
                                   start=s, end=e, lang=snap.lang_names[snap.langs[i]]))
    return out


def _pieces(text: str) -> list[str]:
    """Stream pieces: whole sentences and citation markers (never a cut inside a word)."""
    parts = re.split(r"(?<=[。！？!?»」”\]\s])(?!\s)", text)
    return [p for p in parts if p]


def _fitting_words(piece: str, before: str, tok: str, max_tokens: int) -> str:
    """The longest run of whole words (thaija.lang's segmenter: Thai and Japanese words too) from the
    start of ``piece`` that keeps ``before`` + it within ``max_tokens``."""
    from thaija.lang import segment

    end = 0
    for w in segment(piece, lang="auto"):
        if count_tokens(before + piece[:w.end], tok) > max_tokens:
            break
        end = w.end
    return piece[:end]


def _whole_chars(text: str, n: int) -> int:
    """``n`` moved back so that the cut leaves no combining mark (Thai vowels and tones) or joiner
    without its base character."""
    import unicodedata

    while 0 < n < len(text) and (unicodedata.combining(text[n]) or unicodedata.category(text[n]) in ("Mn", "Mc", "Me")
                                 or text[n - 1] in "\u200d\u200c" or text[n] in "\u200d\ufe0f"):
        n -= 1
    return n


def limit_tokens(reply: dict[str, Any], max_tokens: int | None) -> dict[str, Any]:
    """The OpenAI ``max_tokens`` contract on a chat ``reply``: an answer longer than ``max_tokens``
    completion tokens (counted in the ``usage`` block's tokenizer) is cut to fit — at the last
    whole sentence, word or citation marker that fits (:func:`_pieces`), else inside the first one
    — with ``finish_reason`` ``"length"``, ``usage`` recounted and only the citations whose marker
    is left. A reply that fits is returned unchanged."""
    if not max_tokens or not reply.get("choices"):
        return reply
    tok = reply.get("usage", {}).get("tokenizer", "o200k_base")
    msg = reply["choices"][0]["message"]
    text = msg.get("content") or ""
    if count_tokens(text, tok) <= max_tokens:
        return reply
    out = ""
    for piece in _pieces(text):
        if count_tokens(out + piece, tok) <= max_tokens:
            out += piece
            continue
        out += _fitting_words(piece, out, tok, max_tokens)   # a long clause: its words that fit
        break
    if not out:  # not even one word fits: the longest prefix of whole characters (marks kept on theirs)
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if count_tokens(text[:mid], tok) <= max_tokens else (lo, mid - 1)
        out = text[:_whole_chars(text, lo)]
    out = out.rstrip()
    u = reply.get("usage") or {}
    c = count_tokens(out, tok) if out else 0
    p = int(u.get("prompt_tokens", 0))
    cut = {**reply, "choices": [{**reply["choices"][0], "message": {**msg, "content": out}, "finish_reason": "length"}],
           "usage": {**u, "completion_tokens": c, "total_tokens": p + c}}
    left = lambda cs: [x for x in cs if not isinstance(x, dict) or "n" not in x or f"[{x['n']}]" in out]  # noqa: E731
    if isinstance(reply.get("citations"), list):
        cut["citations"] = left(reply["citations"])
    if isinstance(reply.get("thaija"), dict):   # the ask fields beside it say the same (not the whole answer)
        th = dict(reply["thaija"])
        th["answer"] = out
        if isinstance(th.get("citations"), list):
            th["citations"] = left(th["citations"])
        th["truncated"] = True
        cut["thaija"] = th
    return cut


def stream_chunks(reply: dict[str, Any], include_usage: bool = False) -> Iterator[str]:
    """``reply`` (from :func:`chat_completion`) as OpenAI-style server-sent events. The finishing
    chunk carries ``usage`` and ``citations``; with ``include_usage`` (the request's
    ``stream_options.include_usage``) a last chunk with ``"choices": []`` and ``usage`` follows, as
    the OpenAI API sends it."""
    base = {"id": reply["id"], "object": "chat.completion.chunk", "created": reply["created"], "model": reply["model"]}

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return "data: " + json.dumps(body, ensure_ascii=False) + "\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in _pieces(reply["choices"][0]["message"]["content"]):
        yield event({"content": piece})
    yield event({}, reply["choices"][0].get("finish_reason") or "stop", usage=reply["usage"],
                citations=reply.get("citations", []))
    if include_usage:
        yield "data: " + json.dumps({**base, "choices": [], "usage": reply["usage"]}, ensure_ascii=False) + "\n\n"
    yield "data: [DONE]\n\n"
