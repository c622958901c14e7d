"""Normalization that keeps a map back to the original character offsets.

Rules are regex rewrites applied in order; each output character remembers the original span it
came from, so tokens, sentences and chunks found in normalized text report ORIGINAL offsets.

- ``zero_width``: drop ZWSP, ZWNJ, ZWJ, word joiner and BOM.
- ``thai``: PyThaiNLP's normalization rules (``pythainlp.util.normalize``): SARA E + SARA E -> SARA AE,
  tone mark before an above/below vowel reordered after it, NIKHAHIT + SARA AA -> SARA AM, follow
  vowel before tone mark reordered, duplicated vowels/signs and tone marks removed.
- ``nfkc``: Unicode NFKC per character cluster (a base plus its combining marks; a half-width
  katakana plus its voiced mark), skipping Thai characters (NFKC splits SARA AM). This is the
  full-width / half-width handling for Japanese: ＡＢＣ１２３ -> ABC123, ｶﾞｷﾞ -> ガギ.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

_ZW = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")

# Thai character classes (as in pythainlp: thai_tonemarks, above/below/follow vowels)
_TONE = "\u0e48-\u0e4b"
_ABOVE = "\u0e31\u0e34-\u0e37\u0e47"
_BELOW = "\u0e38-\u0e3a"
_FOLLOW = "\u0e30\u0e32\u0e33\u0e45"
_LEAD = "\u0e40-\u0e44"
_NOREPEAT = _FOLLOW + _LEAD + _ABOVE + _BELOW + "\u0e4c\u0e4d\u0e4e"
_THAI_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile("\u0e40\u0e40"), "\u0e41"),
    (re.compile(f"([{_TONE}\u0e4c]+)([{_ABOVE}{_BELOW}]+)"), r"\2\1"),
    (re.compile(f"\u0e4d([{_TONE}]*)\u0e32"), "\\1\u0e33"),
    (re.compile(f"([{_FOLLOW}]+)([{_TONE}]+)"), r"\2\1"),
    (re.compile(f"([{_NOREPEAT}])\\1+"), r"\1"),
    (re.compile(f"[{_TONE}]{{2,}}"), lambda m: m.group(0)[-1]),
]
_CLUSTER = re.compile(
    "[\uff66-\uff9d][\uff9e\uff9f]|(?s:.)[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\u3099\u309a]*"
)
_THAI_CHAR = re.compile("[\u0e00-\u0e7f]")


@dataclass(frozen=True)
class Normalized:
    """Normalized text plus, for each of its characters, the original span it came from."""

    text: str
    starts: list[int]
    ends: list[int]
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the normalized slice ``[start, end)``."""
        if start >= end:
            pos = self.starts[start] if start < len(self.starts) else self.original_length
            return pos, pos
        return self.starts[start], self.ends[end - 1]


def _rewrite(norm: Normalized, pattern: re.Pattern[str], repl) -> Normalized:
    """Apply one regex rewrite, carrying the offset map along."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    text = norm.text
    for m in pattern.finditer(text):
        a, b = m.span()
        new = repl(m) if callable(repl) else m.expand(repl)
        if new == m.group(0):
            continue
        out.append(text[pos:a])
        starts.extend(norm.starts[pos:a])
        ends.extend(norm.ends[pos:a])
        if new:
            src_start = norm.starts[a] if a < b else (norm.starts[a] if a < len(text) else norm.original_length)
            src_end = norm.ends[b - 1] if a < b else src_start
            out.append(new)
            starts.extend([src_start] * len(new))
            ends.extend([src_end] * len(new))
        pos = b
    if pos == 0 and not out:
        return norm
    out.append(text[pos:])
    starts.extend(norm.starts[pos:])
    ends.extend(norm.ends[pos:])
    return Normalized("".join(out), starts, ends, norm.original_length)


def _nfkc(m: re.Match[str]) -> str:
    s = m.group(0)
    if _THAI_CHAR.search(s):
        return s
    return unicodedata.normalize("NFKC", s)


def normalize(
    text: str,
    lang: str = "auto",
    *,
    nfkc: bool | None = None,
    thai: bool | None = None,
    zero_width: bool | None = None,
) -> Normalized:
    """Normalize ``text`` with the options of ``lang``'s profile (``auto``: all rules that are safe
    for mixed th/ja/en text). Keyword arguments override the profile."""
    if lang == "auto":
        opts = {"nfkc": True, "thai": True, "zero_width": True}
    else:
        from thaija.lang.profiles import get_profile

        opts = dict(get_profile(lang).normalize)
    for key, val in (("nfkc", nfkc), ("thai", thai), ("zero_width", zero_width)):
        if val is not None:
            opts[key] = val
    n = len(text)
    norm = Normalized(text, list(range(n)), list(range(1, n + 1)), n)
    if opts.get("zero_width", True):
        norm = _rewrite(norm, _ZW, "")
    if opts.get("thai", False) and _THAI_CHAR.search(norm.text):
        for pattern, repl in _THAI_RULES:
            norm = _rewrite(norm, pattern, repl)
    if opts.get("nfkc", False) and not unicodedata.is_normalized("NFKC", norm.text):
        norm = _rewrite(norm, _CLUSTER, _nfkc)
    return norm
