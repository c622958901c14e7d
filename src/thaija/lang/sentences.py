"""Sentence splitting for Thai, Japanese and English (and mixed text).

- Japanese: after 。！？!?． plus any closing brackets/quotes that follow (」』）】…).
- English: after . ! ? (+ closing quotes) followed by whitespace, except after common abbreviations,
  single initials and inside numbers.
- Thai: a space between two Thai characters ends a sentence (Thai writes no full stop); with
  ``engine="crfcut"`` PyThaiNLP's CRF sentence segmenter decides instead.
- A newline always ends a sentence. Offsets index the original text; surrounding whitespace is
  trimmed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from thaija.errors import MissingDependency, ThaijaError
from thaija.lang.detect import DEFAULT_LANGS, detect
from thaija.lang.spans import JsonSpan

_CLOSERS = "」』）)】〕〉》\"'’”"
_JA_END = re.compile(f"(?:[。！？．｡]+|[!?]+)[{_CLOSERS}]*+(?![とっ、，,])")
_EN_END = re.compile(rf"(?<!\d)[.!?]+[{_CLOSERS}]*(?=\s)|(?<=\d)[.!?]+[{_CLOSERS}]*(?=\s+[A-Z\"'“])")
_TH_SPACE = re.compile("(?<=[\u0e00-\u0e7f])[ \u00a0\u3000]+(?=[\u0e00-\u0e7f])")
_ABBREV = {"mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "inc", "ltd", "co", "jr", "sr", "no",
           "fig", "e.g", "i.e", "u.s", "u.k", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
           "sept", "oct", "nov", "dec", "gen", "gov", "sen", "rep", "mt", "ft"}


@dataclass(frozen=True)
class Sentence(JsonSpan):
    """A sentence: ``text == original[start:end]``."""

    _json: ClassVar[tuple[str, ...]] = ("text", "start", "end", "lang")

    text: str
    start: int
    end: int
    lang: str


def _en_ok(text: str, end_dot: int) -> bool:
    """False when the '.' ending at ``end_dot`` belongs to an abbreviation or an initial."""
    m = re.search(r"([\w.]+)\.$", text[max(0, end_dot - 12):end_dot + 1])
    if not m:
        return True
    word = m.group(1).lower()
    return not (word in _ABBREV or (len(word) == 1 and word.isalpha()))


def _boundaries(line: str, engine: str | None) -> list[int]:
    cuts: set[int] = set()
    for m in _JA_END.finditer(line):
        cuts.add(m.end())
    for m in _EN_END.finditer(line):
        if m.group(0).startswith(".") and not _en_ok(line, m.start()):
            continue
        cuts.add(m.end())
    if engine == "crfcut" and re.search("[\u0e00-\u0e7f]", line):
        from thaija.lang.segment import ensure_pythainlp_data

        ensure_pythainlp_data()
        from pythainlp.tokenize import sent_tokenize

        try:
            import pycrfsuite  # noqa: F401
        except ImportError:
            raise MissingDependency("python-crfsuite", "the crfcut Thai sentence engine") from None

        pos = 0
        for s in sent_tokenize(line, engine="crfcut"):
            i = line.find(s, pos)
            if i >= 0:
                pos = i + len(s)
                cuts.add(pos)
    else:
        for m in _TH_SPACE.finditer(line):
            cuts.add(m.start())
    return sorted(c for c in cuts if 0 < c < len(line))


def sentences(
    text: str, lang: str = "auto", engine: str | None = None, langs: tuple[str, ...] = DEFAULT_LANGS
) -> list[Sentence]:
    """Split ``text`` into sentences with offsets into ``text``.

    The rules of every language apply wherever their characters occur, so mixed lines split
    correctly; ``lang`` only sets the language reported when it is not ``auto``.
    """
    if engine in ("rules", ""):
        engine = None
    if engine not in (None, "crfcut"):
        raise ThaijaError(f"unknown sentence engine {engine!r}: use rules (default) or crfcut")
    out: list[Sentence] = []
    pos = 0
    for line in text.split("\n"):
        bounds = [0, *_boundaries(line, engine), len(line)]
        for a, b in zip(bounds, bounds[1:]):
            seg = line[a:b]
            stripped = seg.strip()
            if not stripped:
                continue
            s = pos + a + (len(seg) - len(seg.lstrip()))
            e = s + len(stripped)
            out.append(Sentence(stripped, s, e, lang if lang != "auto" else detect(stripped, langs).lang))
        pos += len(line) + 1
    return out
