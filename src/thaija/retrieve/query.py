"""A query analysed once: language spans, normalised content terms per language, sentences.

Search, the agent, evidence selection, citations and the prompt all take a :class:`Query` instead
of re-detecting and re-segmenting the question text.

>>> q = analyse("CleanBot R7 ชาร์จแบตเต็มใช้เวลากี่ชั่วโมง")        # doctest: +SKIP
>>> q.lang, q.terms["th"]                                          # doctest: +SKIP
('th', ('cleanbot', 'r7', 'ชาร์จ', 'แบต', 'เต็ม', 'ชั่วโมง'))
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Function words and question words: they carry no evidence (ละ: "per" of วันละ / สัปดาห์ละ). Kept short on purpose; content
# verbs such as เกิด (born) or 設立 (found) must stay, since questions hinge on them.
STOPWORDS: dict[str, frozenset[str]] = {
    "th": frozenset(
        "ที่ ของ และ หรือ กับ ใน จาก ให้ ได้ ว่า ไม่ ไหม มั้ย หรือไม่ หรือเปล่า เปล่า เป็น อยู่ คือ มี การ ความ "
        "โดย ซึ่ง นี้ นั้น นั่น โน้น แล้ว ก็ จะ ได้แก่ ต่อ แก่ แต่ ถ้า เพื่อ จึง ยัง เคย กัน อัน ทั้ง "
        "อะไร ใคร ไหน ที่ไหน ตรงไหน เมื่อไร เมื่อไหร่ ตอนไหน ช่วงไหน เท่าไร เท่าไหร่ อย่างไร ยังไง ทำไม "
        "กี่ บ้าง หรอ ครับ ค่ะ คะ นะ จ๊ะ จ้ะ เหรอ ล่ะ ละ ใด ไร ไหร่ ๆ แค่ แค่ไหน เพียงใด เพียงไร "
        # the formal ใด forms the segmenter keeps whole (iapp: ที่ใด 17, เมื่อใด 14, เท่าใด 5, สิ่งใด 4 questions):
        # unseen by the index, they took its highest IDF and every answer "missed" them
        "ที่ใด เมื่อใด เท่าใด สิ่งใด ผู้ใด อย่างใด แห่งใด ประการใด อันใด ใดบ้าง ไหนบ้าง".split()
    ),
    "ja": frozenset(
        "は が の を に で と か も へ や から まで より です ます でした ました だ である ある いる する "
        "なる れる られる た て な ない こと もの これ それ あれ どれ 何 なに なん 誰 だれ いつ どこ "
        "どの どう どんな なぜ 何故 いくつ いくら どれくらい どのくらい どちら ？ ? 。 、 よう 的 性 化 "
        "いつ頃 いつごろ 何処 何時 何時頃 幾つ 幾ら".split()
    ),
    "en": frozenset(
        "a an the of in on at to for from by with and or but is are was were be been being do does "
        "did has have had it its this that these those as into about which who whom whose what when "
        "where why how many much there their they he she his her not no yes than then so if can "
        "could would will shall should may might i you we my your our me us until till".split()
    ),
}

#: Generic words: content words that appear in almost any question of a domain (work, day, week,
#: use, time …). They count, but with :data:`GENERIC_WEIGHT` of their IDF weight, so that a
#: sentence matching only them ("ทำงาน", "วัน", "สัปดาห์") is not taken for an answer.
GENERIC: dict[str, frozenset[str]] = {
    "th": frozenset(
        "ทำงาน งาน วัน สัปดาห์ เดือน ปี ครั้ง คน ต้อง ใช้ ทำ เวลา สามารถ ควร เรื่อง ข้อมูล ระบบ แบบ ส่วน "
        "เครื่อง กรณี ตาม ทาง ต้องการ ใช้เวลา ได้รับ พนักงาน บริษัท".split()
    ),
    "ja": frozenset(
        "場合 時間 日 週 月 年 回 人 必要 できる 出来る 行う 使う 使用 方法 について 以上 以下 ため 際 中 "
        "社員 会社 従業 員 時 分".split()
    ),
    "en": frozenset(
        "work day days week weeks month year time times use used need make get company employee employees "
        "people person way".split()
    ),
}
GENERIC_WEIGHT = 0.35

_HIRAGANA = re.compile(r"^[\u3040-\u309f\u30fc]+$")
LANGS = ("th", "ja", "en")


def usable(term: str, lang: str) -> bool:
    """True when a normalised token is a content term of ``lang``."""
    if not any(unicodedata.category(c)[0] in "LN" for c in term):
        return False
    if term in STOPWORDS.get(lang, ()):
        return False
    if lang == "ja" and _HIRAGANA.match(term) and len(term) <= 3:
        return False  # particles, auxiliaries, inflection endings
    return True


@lru_cache(maxsize=16384)
def content_terms(text: str, lang: str = "auto") -> tuple[str, ...]:
    """Content terms of ``text`` (normalised forms, in order, repeats kept)."""
    from thaija.lang import segment

    lang = lang if lang in LANGS else "auto"
    out = []
    for t in segment(text, lang=lang, normalize=True):
        norm = (t.norm or t.text).lower()
        tl = t.lang if t.lang in LANGS else lang
        if tl == "ja" and len(norm) > 1 and norm[0] == "何" and norm not in STOPWORDS["ja"]:
            norm = norm[1:]   # 何党 / 何語 / 何県 ask for a party, a language, a prefecture: the answer holds 党, 語, 県
        if usable(norm, tl):
            out.append(norm)
    return tuple(out)


def term_weight(term: str, lang: str) -> float:
    """Multiplier of a term's IDF weight: :data:`GENERIC_WEIGHT` for generic words, else 1."""
    return GENERIC_WEIGHT if term in GENERIC.get(lang, ()) else 1.0


@dataclass
class Query:
    """A question analysed once (see the module doc).

    ``lang``: dominant language (th/ja/en; other scripts answer in English); ``spans``: the
    detector's language spans; ``terms``: content terms per language found in the text (plus
    ``"all"``: every content term in order); ``sentences``: sentence spans of the question;
    ``vector``: the index embedder's query vector, filled by the first user that needs it.
    """

    text: str
    lang: str
    spans: tuple[Any, ...] = ()
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sentences: tuple[Any, ...] = ()
    vector: Any = None

    @property
    def content(self) -> tuple[str, ...]:
        """Every content term of the question, in order."""
        return self.terms.get("all", ())

    def embed(self, embedder: Any) -> Any:
        """The query vector from ``embedder`` (computed once, then kept)."""
        if self.vector is None and embedder is not None:
            self.vector = embedder.query([self.text])[0]
        return self.vector


def analyse(text: str, lang: str | None = None) -> Query:
    """Analyse ``text`` once: detection, per-language content terms, sentences."""
    from thaija.lang import detect, sentences

    text = (text or "").strip()
    det = detect(text) if text else None
    qlang = lang or (det.lang if det is not None else "en")
    qlang = qlang if qlang in LANGS else "en"
    per: dict[str, list[str]] = {}
    for span in (det.spans if det is not None else ()):
        sl = span.lang if span.lang in LANGS else qlang
        per.setdefault(sl, []).extend(content_terms(text[span.start:span.end], sl))
    allt = content_terms(text, qlang) if text else ()
    terms = {k: tuple(v) for k, v in per.items()}
    terms["all"] = allt
    sents = tuple(sentences(text, lang=qlang)) if text else ()
    return Query(text, qlang, tuple(det.spans) if det is not None else (), terms, sents)


#: Question words that ask for a number / a date (an answer must then hold one), a person, a place.
ANSWER_TYPES: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "th": (
        ("date", re.compile(r"เมื่อ(?:ไร|ไหร่|ใด)|ปี(?:ใด|ไหน|อะไร)|ปี\s*(?:พ\.ศ\.|ค\.ศ\.)\s*(?:ใด|ไหน|อะไร|เท่าไ)|"
                            r"(?:พ\.ศ\.|ค\.ศ\.)\s*(?:ใด|ไหน|อะไร|เท่าไ)|วันที่\s*(?:เท่าไ|ใด|ไหน)|ตอนไหน|ช่วงไหน|สมัยใด|ศตวรรษ(?:ที่)?\s*(?:ใด|เท่าไ)")),
        ("number", re.compile(r"กี่|เท่า(?:ไร|ไหร่|ใด)|จำนวน(?:เท่าไ|กี่)?|ปริมาณ|ขนาดเท่า")),
        ("person", re.compile(r"ใคร|ผู้ใด|บุคคลใด")),
        ("place", re.compile(r"ที่ไหน|ที่ใด|แห่งใด|ตรงไหน|ประเทศ(?:ใด|ไหน|อะไร)|จังหวัด(?:ใด|ไหน|อะไร)|เมือง(?:ใด|ไหน)")),
    ),
    "ja": (
        ("date", re.compile(r"何年(?!間|ごと|分)|いつ|何月|何日(?!ごと|間|以内|前|分)|何世紀|何時代|何年代|何曜日|何時")),
        ("number", re.compile(r"何[人個本回倍%％つ度位点名社件枚頭台種匹キセメグトミ円歳番割日年]|いくつ|いくら|どのくらい|どれくらい|どれほど|何パーセント")),
        ("person", re.compile(r"誰|だれ|何者|どなた")),
        ("place", re.compile(r"どこ|何県|何市|何国|どの国|どの地域|どの都市")),
    ),
    "en": (
        ("date", re.compile(r"\bwhen\b|\bwhat year\b|\bwhich year\b|\bwhat date\b|\bwhat century\b", re.I)),
        ("number", re.compile(r"\bhow (?:many|much|long|old|far|often|tall|big|large)\b|\bwhat percentage\b", re.I)),
        ("person", re.compile(r"\bwho\b|\bwhom\b|\bwhose\b", re.I)),
        ("place", re.compile(r"\bwhere\b|\bwhich country\b|\bwhich city\b", re.I)),
    ),
}
_NUM = re.compile(r"[0-9０-９๐-๙][0-9０-９๐-๙,.]*|[一二三四五六七八九十百千万億両半]|(?<![a-z])(?:one|two|three|four|five|six|seven|eight|nine|ten|"
                  r"hundred|thousand|million)(?![a-z])|หนึ่ง|สอง|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|ร้อย|พัน|หมื่น|แสน|ล้าน|ครึ่ง", re.I)
_DATE = re.compile(r"[0-9０-９๐-๙][0-9０-９๐-๙,.]*|พ\.ศ\.|ค\.ศ\.|ศตวรรษ|รัชกาล|สมัย|มกรา|กุมภา|มีนา|เมษา|พฤษภา|มิถุนา|กรกฎา|สิงหา|กันยา|ตุลา|"
                   r"พฤศจิกา|ธันวา|[一二三四五六七八九十]+年|年|世紀|時代|元年|明治|大正|昭和|平成|令和|"
                   r"january|february|march|april|may|june|july|august|september|october|november|december|century", re.I)


_PLACE = re.compile(r"ชั้น|อาคาร|ตึก|ถนน|ซอย|จังหวัด|อำเภอ|ตำบล|เขต|ประเทศ|เมือง|ภาค|ทวีป|แม่น้ำ|ภูเขา|เกาะ|ข้าง|ด้านหน้า|ด้านหลัง|"
                    r"ใกล้|ติดกับ|ตั้งอยู่|อยู่ที่|อยู่ใน|ที่ตั้ง|ห้อง|ลาน|ใต้|บน(?!พื้นฐาน)|ภายใน|ภายนอก|ริม|มุม|"
                    r"[階棟館号室]|ビル|地下|屋上|隣|横|向かい|そば|近く|通り|丁目|番地|[都道府県市区町村郡州国島駅港]|所在地|位置|"
                    r"の(?:下|上|中|奥|裏|前|後ろ|内側|外側)|"
                    r"\b(?:floor|building|street|road|room|city|country|province|near|next to|behind|in front of)\b", re.I)
_PERSON = re.compile(r"นาย|นาง|นางสาว|ดร\.|ศาสตราจารย์|พระ|สมเด็จ|เจ้า|คุณ|ผู้|นัก|ชาว|กษัตริย์|"
                     r"氏|さん|様|社長|監督|教授|選手|博士|天皇|将軍|王|家|者|[\u30a0-\u30ff]{2,}|"
                     r"\b[A-Z][a-z]+ [A-Z][a-z]+\b|\b(?:Mr|Mrs|Ms|Dr|Prof)\.?\s")


_WIKIREF = re.compile(r"\[\d{1,3}\]")


def en_stem(term: str) -> str:
    """A crude English stem so that inflections match (charge, charges, charged, charging -> charg)."""
    t = term.lower()
    if len(t) <= 3 or not t.isascii() or not t.isalpha():
        return t
    for suf, rep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if t.endswith(suf) and len(t) - len(suf) >= 3 and not (suf == "s" and t.endswith(("ss", "us", "is"))):
            t = t[: len(t) - len(suf)] + rep
            break
    return t[:-1] if t.endswith("e") and len(t) > 4 else t


def answer_type(text: str, lang: str) -> str | None:
    """What the question asks for: ``date``, ``number``, ``person``, ``place`` or None."""
    for name, pat in ANSWER_TYPES.get(lang, ()):
        if pat.search(text):
            return name
    return None


def has_type(text: str, kind: str | None, question: str = "") -> bool | None:
    """Whether ``text`` holds an entity of ``kind`` not already in the question: number/date (a
    numeral, an era or date word), place (a location word: floor, building, street, 階, 県, near …),
    person (a title or name-like span); None when the question asks for none of these."""
    if kind not in ("number", "date", "place", "person"):
        return None
    pat = {"number": _NUM, "date": _DATE, "place": _PLACE, "person": _PERSON}[kind]
    text = _WIKIREF.sub(" ", text)  # reference marks [1] are no numbers
    asked = {m.group(0).lower() for m in pat.finditer(question)}
    return any(m.group(0).lower() not in asked for m in pat.finditer(text))


def as_query(q: "Query | str", lang: str | None = None) -> Query:
    """``q`` itself when already analysed, else :func:`analyse` of the text."""
    return q if isinstance(q, Query) else analyse(q, lang)
