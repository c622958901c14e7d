"""Script-based language detection per span: th / ja / en / other, also on mixed lines.

Every character is classed by its script. Thai letters and marks -> ``th``; hiragana, katakana
(full and half width) and the iteration marks -> ``ja``; Latin letters (ASCII, Latin-1, full width)
-> ``en``; other letters -> ``other``. Digits, spaces, punctuation and symbols are *neutral* and
join a neighbouring span.

Han characters (kanji) are ambiguous between Japanese and Chinese. thaija decides them by the
active profiles: when ``"ja"`` is among ``langs`` (the default), Han belongs to Japanese, so a line
written only in kanji and katakana — or only in kanji — is Japanese; without the Japanese profile,
Han-only spans are ``other``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar
from thaija.lang.spans import JsonSpan

_TH = "\u0e00-\u0e7f"
_KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f\u3005\u303b\u3006"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\uff21-\uff3a\uff41-\uff5a"
_RUNS = re.compile(
    rf"(?P<th>[{_TH}]+)|(?P<kana>[{_KANA}]+)|(?P<han>[{_HAN}]+)|(?P<lat>[{_LATIN}]+)"
    rf"|(?P<oth>(?:(?![{_TH}{_KANA}{_HAN}{_LATIN}])[^\W\d_])+)"
)
# Evidence per language ~ words: Thai ~4.8 characters a word, Japanese ~1.7, so a kana/kanji counts 2;
# a Latin word counts as one word (4.4 characters) whatever its length, so long names
# ("Hesperonychus elizabethae") in a Thai or Japanese sentence do not outvote its grammar.
_WEIGHT = {"ja": 2.0}
_LATIN_WORD = 4.4
# Latin inside a line that also has Thai or Japanese is mostly names and loanwords: it counts half.
_LATIN_AMONG_TH_JA = 0.5
DEFAULT_LANGS: tuple[str, ...] = ("th", "ja", "en")


@dataclass(frozen=True)
class Span(JsonSpan):
    """A run of text in one language; ``start``/``end`` index the original string."""

    _json: ClassVar[tuple[str, ...]] = ("start", "end", "lang")

    start: int
    end: int
    lang: str


@dataclass(frozen=True)
class Detection:
    """Dominant language of a text and the language spans covering it."""

    lang: str
    spans: list[Span] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"lang": self.lang, "spans": [s.to_dict() for s in self.spans]}


def _class_lang(kind: str, langs: tuple[str, ...]) -> str:
    lang = {"th": "th", "kana": "ja", "han": "ja", "lat": "en"}.get(kind, "other")
    return lang if lang in langs else "other"


def detect(text: str, langs: tuple[str, ...] | list[str] = DEFAULT_LANGS) -> Detection:
    """Detect the dominant language of ``text`` and its language spans.

    Spans are contiguous and cover the whole text. Neutral characters between two runs of the same
    language join them; between different languages, a neutral gap is split after its last
    whitespace (``"iPhone 15 は"`` -> ``"iPhone 15 "`` + ``"は"``), or joins the preceding run.
    """
    langs = tuple(langs)
    runs: list[list] = []  # [start, end, lang]
    weights: dict[str, float] = {}
    for m in _RUNS.finditer(text):
        lang = _class_lang(m.lastgroup or "oth", langs)
        w = _LATIN_WORD if m.lastgroup == "lat" else (m.end() - m.start()) * _WEIGHT.get(lang, 1.0)
        weights[lang] = weights.get(lang, 0.0) + w
        if runs and runs[-1][2] == lang:
            runs[-1][1] = m.end()
        else:
            runs.append([m.start(), m.end(), lang])
    if not text:
        return Detection("other", [])
    if not runs:
        return Detection("other", [Span(0, len(text), "other")])
    runs[0][0] = 0
    runs[-1][1] = len(text)
    for prev, nxt in zip(runs, runs[1:]):
        gap = text[prev[1]:nxt[0]]
        ws = max(gap.rfind(" "), gap.rfind("\t"), gap.rfind("\u3000"), gap.rfind("\n"))
        cut = prev[1] + ws + 1 if ws >= 0 else nxt[0]
        prev[1] = cut
        nxt[0] = cut
    spans = [Span(s, e, lang) for s, e, lang in runs if e > s]
    if "en" in weights and ("th" in weights or "ja" in weights):
        weights["en"] *= _LATIN_AMONG_TH_JA
    dominant = max(weights.items(), key=lambda kv: kv[1])[0]
    return Detection(dominant, spans)


def detect_lang(text: str, langs: tuple[str, ...] | list[str] = DEFAULT_LANGS) -> str:
    """The dominant language of ``text`` only."""
    return detect(text, langs).lang
