"""Word segmentation with engine dispatch (in the style of PyThaiNLP's ``engine=``).

Thai: ``nlpo3`` (default; Rust newmm, same output about 4x faster), ``newmm``, ``newmm-safe`` or any
other PyThaiNLP engine. Japanese: ``mecab`` (MeCab via fugashi + unidic-lite, default) or ``chars``.
English: ``regex``. Mixed text is split into language runs first; each run goes to its own
segmenter (Latin words and numbers inside a Thai or Japanese run stay with that run's segmenter,
which handles them, so a Thai line gives exactly PyThaiNLP's tokens).
"""
from __future__ import annotations

import bisect
import functools
import os
import re
from itertools import accumulate, compress, islice, repeat
from typing import Callable, ClassVar, NamedTuple

from thaija.errors import MissingDependency, ThaijaError
from thaija.lang.config import LANGS
from thaija.lang.detect import DEFAULT_LANGS, Span, detect
from thaija.lang.spans import JsonSpan

# words keep their combining marks (Thai vowels/tone marks, accents, kana voicing marks)
_W = r"[\w\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u3099\u309a]"
_EN_WORD = re.compile(rf"{_W}+(?:['’\-]{_W}+)*|[^\w\s]")


class _TokenFields(NamedTuple):
    text: str
    start: int
    end: int
    lang: str
    norm: str


class Token(_TokenFields, JsonSpan):
    """A word: ``text == original[start:end]``; ``norm`` is its form for matching (BM25 terms).

    An immutable named tuple (``Token(text=..., start=..., end=..., lang=..., norm=...)``), so that
    :func:`segment` builds tokens in bulk without a Python call per token.
    """

    __slots__ = ()
    _json: ClassVar[tuple[str, ...]] = ("text", "start", "end", "lang")


_make = functools.partial(tuple.__new__, Token)  # Token from a 5-tuple, in C


def ensure_pythainlp_data() -> None:
    """Keep PyThaiNLP from writing into the user's home: unless PYTHAINLP_DATA is set, point it at
    ``<thaija cache>/pythainlp`` (see :func:`thaija.config.cache_dir`)."""
    if "PYTHAINLP_DATA" not in os.environ and "PYTHAINLP_DATA_DIR" not in os.environ:
        from thaija.config import cache_dir

        os.environ["PYTHAINLP_DATA"] = str(cache_dir() / "pythainlp")


# ----------------------------------------------------------------------------- engines
_THAI_EXTRAS = {"attacut": "attacut", "deepcut": "deepcut", "icu": "PyICU", "han_solo": "pythainlp[han_solo]",
                "nercut": "pythainlp[wangchanberta]", "sefr_cut": "sefr_cut", "oskut": "oskut", "tltk": "tltk"}


def _thai(engine: str) -> Callable[[str], list[str]]:
    ensure_pythainlp_data()
    try:
        from pythainlp.tokenize import word_tokenize
    except ImportError as exc:  # pragma: no cover
        raise MissingDependency("pythainlp", "Thai segmentation") from exc
    if engine == "nlpo3":
        try:
            import nlpo3  # noqa: F401
        except ImportError as exc:  # pragma: no cover
            raise MissingDependency("nlpo3", "the nlpo3 Thai engine") from exc
    try:  # probe once: unknown names and engines whose extra package is missing fail here
        word_tokenize("ทดสอบ", engine=engine)
    except ImportError as exc:
        raise MissingDependency(_THAI_EXTRAS.get(engine, str(getattr(exc, "name", "") or engine)),
                                f"the Thai engine {engine!r}") from None
    except Exception as exc:  # noqa: BLE001 - PyThaiNLP raises ValueError/others for unknown engines
        raise ThaijaError(f"unknown Thai engine {engine!r}: use one of {', '.join(ENGINES['th'])} "
                          f"(or another PyThaiNLP engine that is installed; {type(exc).__name__})") from None
    if engine == "nlpo3":
        fast = _nlpo3_direct()
        if fast is not None:
            return fast
    return lambda text: word_tokenize(text, engine=engine)


def _nlpo3_direct() -> Callable[[str], list[str]] | None:
    """``word_tokenize(text, engine="nlpo3")`` without its per-call dispatch: the same nlpo3 call
    and dictionary, and PyThaiNLP's own number rejoining when the text has a formatted number
    (without one it returns its input unchanged). None if PyThaiNLP's internals moved."""
    try:
        from nlpo3 import segment as nlpo3_segment
        from pythainlp.tokenize._utils import _DIGITS_WITH_SEPARATOR, rejoin_formatted_num
        from pythainlp.tokenize.nlpo3 import _NLPO3_DEFAULT_DICT_NAME, _ensure_default_dict_loaded

        _ensure_default_dict_loaded()
    except (ImportError, AttributeError, RuntimeError):  # pragma: no cover - other PyThaiNLP versions
        return None
    has_number = _DIGITS_WITH_SEPARATOR.search

    def split(text: str) -> list[str]:
        if not text:
            return []
        words = nlpo3_segment(text=text, dict_name=_NLPO3_DEFAULT_DICT_NAME, safe=False, parallel=False)
        return rejoin_formatted_num(words) if has_number(text) else words

    return split


@functools.lru_cache(maxsize=1)
def _tagger():
    try:
        import fugashi
    except ImportError as exc:  # pragma: no cover
        raise MissingDependency("fugashi", "Japanese segmentation") from exc
    try:
        import unidic_lite

        return fugashi.Tagger(f'-d "{unidic_lite.DICDIR}"')
    except ImportError:
        try:
            return fugashi.Tagger()
        except RuntimeError as exc:  # pragma: no cover
            raise MissingDependency("unidic-lite", "MeCab's dictionary") from exc


def _mecab(text: str) -> list[str]:
    tagger = _tagger()
    if "\n" not in text and "\x00" not in text:
        return [w.surface for w in tagger(text)]
    out: list[str] = []
    for line in text.split("\n"):
        for part in line.split("\x00"):  # MeCab reads C strings: it would stop at NUL
            out.extend(w.surface for w in tagger(part))
    return out


def _chars(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


def _regex(text: str) -> list[str]:
    return _EN_WORD.findall(text)


ENGINES: dict[str, tuple[str, ...]] = {
    "th": ("nlpo3", "newmm", "newmm-safe", "longest", "mm"),  # + any installed PyThaiNLP engine
    "ja": ("mecab", "chars"),
    "en": ("regex",),
}


@functools.lru_cache(maxsize=None)
def get_engine(lang: str, engine: str | None = None) -> Callable[[str], list[str]]:
    """The word splitter for ``lang`` (``engine=None``: the profile's default)."""
    if engine is None:
        from thaija.lang.profiles import get_profile

        engine = get_profile(lang).engine or "regex"
    if lang == "th" and engine not in ("regex", "chars", "mecab"):
        return _thai(engine)
    if engine == "mecab":
        return _mecab
    if engine == "chars":
        return _chars
    if engine == "regex":
        return _regex
    raise ThaijaError(
        f"unknown engine {engine!r} for {lang!r}; available: "
        + ", ".join(f"{k}: {'|'.join(v)}" for k, v in ENGINES.items())
    )


def engine_lang(engine: str | None) -> str | None:
    """The language an engine name belongs to (``mecab``/``chars`` -> ja, ``regex`` -> en, else th)."""
    if engine is None:
        return None
    if engine in ENGINES["ja"]:
        return "ja"
    return "en" if engine in ENGINES["en"] else "th"


# ----------------------------------------------------------------------------- segment
def _runs(spans: list[Span]) -> list[tuple[int, int, str]]:
    """Group language spans into segmenter runs: at most one of th/ja per run, Latin joins it."""
    runs: list[list] = []
    for sp in spans:
        strong = sp.lang if sp.lang in ("th", "ja") else None
        if runs and (strong is None or runs[-1][2] in (None, strong)):
            runs[-1][1] = sp.end
            runs[-1][2] = runs[-1][2] or strong
        else:
            runs.append([sp.start, sp.end, strong])
    return [(s, e, lang or "en") for s, e, lang in runs]


def _lang_at(spans: list[Span], starts: list[int], pos: int, default: str) -> str:
    i = bisect.bisect_right(starts, pos) - 1
    return spans[i].lang if 0 <= i < len(spans) and pos < spans[i].end else default


_NONSPACE = re.compile(r"\S+")
_SPACE = re.compile(r"\s")


def _locate(text: str, words: list[str]) -> list[tuple[int, int]]:
    """Offsets of ``words`` found in order inside ``text``.

    Characters a segmenter silently drops (MeCab stops at NUL, for instance) come back as tokens
    of their own, so the tokens always cover every non-space character.
    """
    if "".join(words) == text:  # the words tile the text (nlpo3/newmm keep spaces): running sums
        out, pos = [], 0
        for w in words:
            e = pos + len(w)
            if w and not w.isspace():
                out.append((pos, e))
            pos = e
        return out
    out: list[tuple[int, int]] = []
    pos = 0

    def gap(a: int, b: int) -> None:
        if a < b and not text[a:b].isspace():
            out.extend(m.span() for m in _NONSPACE.finditer(text, a, b))

    find = text.find
    for w in words:
        if not w or w.isspace():
            continue
        i = find(w, pos)
        if i < 0:
            raise ThaijaError(f"segmenter returned a token not in the text: {w!r}")
        if i > pos:
            gap(pos, i)
        pos = i + len(w)
        out.append((i, pos))
    gap(pos, len(text))
    return out


def segment(
    text: str,
    lang: str = "auto",
    engine: str | None = None,
    *,
    normalize: bool = False,
    langs: tuple[str, ...] = DEFAULT_LANGS,
) -> list[Token]:
    """Split ``text`` into words; offsets always index the original ``text``.

    ``lang="auto"`` detects language spans and segments each run with its language's engine
    (``engine`` then replaces the default engine of its own language only); a fixed ``lang`` sends the
    whole text to that language's segmenter (``engine`` picks one).
    ``normalize=True`` segments the normalized text (see :mod:`thaija.lang.normalize`) and maps the
    tokens back; ``Token.norm`` then holds the normalized, lower-cased form.
    """
    if not text:
        return []
    if lang not in LANGS:
        raise ThaijaError(f"unknown language {lang!r}: use auto, th, ja or en")
    script = _one_script(text, langs)
    if script is not None and not normalize:  # one language (the hot path)
        run_lang = lang if lang != "auto" else script
        tokens: list[Token] = []
        split = get_engine(run_lang, engine if lang != "auto" or engine_lang(engine) == run_lang else None)
        _plain_tokens(tokens, text, 0, len(text), split, None, [0], run_lang, script)
        return tokens
    if script is None and lang != "auto" and not normalize and langs == DEFAULT_LANGS and not text.isspace():
        # a fixed language over mixed scripts (Thai with Latin names): the span starts and languages
        # are all the tokens need (no Span objects)
        starts, span_langs = _span_table(text)
        tokens = []
        _plain_tokens(tokens, text, 0, len(text), get_engine(lang, engine), None, starts, lang,
                      span_langs[0] if len(starts) == 1 else None, [lang, *span_langs])
        return tokens
    det_spans = [Span(0, len(text), script)] if script is not None else _spans(text, langs)
    if len(det_spans) == 1 and not normalize and not text.isspace():  # one language: the hot path
        run_lang = lang if lang != "auto" else _RUN_LANG.get(det_spans[0].lang, "en")
        tokens: list[Token] = []
        split = get_engine(run_lang, engine if lang != "auto" or engine_lang(engine) == run_lang else None)
        _plain_tokens(tokens, text, 0, len(text), split, det_spans, [0], run_lang, det_spans[0].lang)
        return tokens
    starts = [sp.start for sp in det_spans]
    if lang == "auto":
        runs = _runs(det_spans) if len(det_spans) > 1 else [(0, len(text), _RUN_LANG.get(det_spans[0].lang, "en"))]
    else:
        runs = [(0, len(text), lang)]
    tokens = []
    for start, end, run_lang in runs:
        piece = text[start:end] if (start or end != len(text)) else text
        if not piece or piece.isspace():
            continue
        split = get_engine(run_lang, engine if lang != "auto" or engine_lang(engine) == run_lang else None)
        if normalize:
            from thaija.lang.normalize import normalize as _normalize

            norm = _normalize(piece, run_lang)
            for a, b in _locate(norm.text, split(norm.text)):
                s, e = norm.span(a, b)
                if e > s and piece[s:e].strip():
                    tokens.append(_make((piece[s:e], start + s, start + e,
                                         _lang_at(det_spans, starts, start + s, run_lang), norm.text[a:b].lower())))
        else:
            _plain_tokens(tokens, piece, start, end, split, det_spans, starts, run_lang)
    return tokens


_RUN_LANG = {"th": "th", "ja": "ja"}  # the run language of a text with one detected span (see _runs)


def _plain_tokens(tokens: list[Token], piece: str, start: int, end: int, split, spans: list[Span],
                  starts: list[int], run_lang: str, one: str | None = None,
                  table: list[str] | None = None) -> None:
    """Tokens of one run without normalization, built in bulk by C iterators (the hot path).

    Offsets are running sums of word lengths when the words tile the run (whitespace words
    dropped), else :func:`_locate`'s; a token's language is that of the detected span holding its
    start (as :func:`_lang_at`); ``one``: that language when the caller knows one span covers the run;
    ``table``: ``[run_lang, *span languages]`` when the caller has no Span objects (``spans=None``).
    """
    words = split(piece)
    if "".join(words) == piece:
        bounds = list(accumulate(map(len, words), initial=start))
        # (zip below stops at the last word, so ``bounds`` serves as the starts without a copy)
        if all(words) and not _SPACE.search(piece):  # no empty and no whitespace word
            texts, lo, hi = words, bounds, islice(bounds, 1, None)
        elif all(keep := list(map(str.strip, words))):  # keep: '' for empty or whitespace-only words
            texts, lo, hi = words, bounds, islice(bounds, 1, None)
        else:
            texts = list(compress(words, keep))
            lo, hi = list(compress(bounds, keep)), compress(islice(bounds, 1, None), keep)
    else:
        offs = _locate(piece, words)
        if not offs:
            return
        rel_lo, rel_hi = zip(*offs)
        texts = list(map(piece.__getitem__, map(slice, rel_lo, rel_hi)))
        lo, hi = list(map(start.__add__, rel_lo)), map(start.__add__, rel_hi)
    if one is None and spans is not None:
        one = _one_lang(spans, starts, start, end)
    if one is not None:
        langs = repeat(one)
    else:  # index i+1 of [run_lang, *span langs] is span i's language; spans cover the text
        if table is None:
            table = [run_lang] + [sp.lang for sp in spans]
        langs = map(table.__getitem__, map(functools.partial(bisect.bisect_right, starts), lo))
    # no character of a run without cased letters changes case: its words are their own norms
    norms = texts if piece.lower() == piece else map(str.lower, texts)
    tokens.extend(map(_make, zip(texts, lo, hi, langs, norms)))


def _one_script_patterns() -> dict[str, tuple["re.Pattern[str]", "re.Pattern[str]", "re.Pattern[str]"]]:
    from thaija.lang.detect import _HAN, _KANA, _LATIN, _TH

    # per language: (one of its characters, only its characters or non-letters, a letter of another
    # script range). detect() classes as neutral exactly the characters that are non-letters
    # ([\W\d_]) and outside the Thai/kana/Han/Latin ranges, so a text passing the three tests is
    # one span of that language.
    return {
        "th": (re.compile(f"[{_TH}]"), re.compile(rf"[{_TH}\W\d_]*"), re.compile(f"[{_KANA}{_HAN}{_LATIN}]")),
        "ja": (re.compile(f"[{_KANA}{_HAN}]"), re.compile(rf"[{_KANA}{_HAN}\W\d_]*"), re.compile(f"[{_TH}{_LATIN}]")),
    }


_ONE_SCRIPT = _one_script_patterns()


_TH_TESTS, _JA_TESTS = _ONE_SCRIPT["th"], _ONE_SCRIPT["ja"]


def _one_script(text: str, langs: tuple[str, ...]) -> str | None:
    """The language of ``text`` when ``detect(text, langs).spans`` is one Thai or one Japanese span
    (that script plus neutral characters only), found without running the detector; else None."""
    has, only, other = _TH_TESTS
    if not has.search(text):
        has, only, other = _JA_TESTS
        if not has.search(text):
            return None
        lang = "ja"
    else:
        lang = "th"
    if lang in langs and only.fullmatch(text) and not other.search(text):
        return lang
    return None


def _spans_pattern() -> "re.Pattern[str]":
    from thaija.lang.detect import _HAN, _KANA, _LATIN, _TH

    # detect()'s language runs in one match each: kana and Han together (both Japanese under the
    # default profiles), and the neutral characters between two pieces of one language inside the
    # match (detect() merges such pieces), so a line is a few matches rather than one per word
    neutral = rf"(?:(?![{_TH}{_KANA}{_HAN}{_LATIN}])[\W\d_])"
    other = rf"(?:(?![{_TH}{_KANA}{_HAN}{_LATIN}])[^\W\d_])"
    return re.compile("|".join(f"(?P<{name}>{cls}++(?:{neutral}*+{cls}++)*+)" for name, cls in (
        ("th", f"[{_TH}]"), ("ja", f"[{_KANA}{_HAN}]"), ("en", f"[{_LATIN}]"), ("other", other))))


_SPAN_RUNS = _spans_pattern()


def _spans(text: str, langs: tuple[str, ...]) -> list[Span]:
    """``detect(text, langs).spans`` without the dominant-language weights (default profiles only;
    other profile sets go to :func:`detect`)."""
    if tuple(langs) != DEFAULT_LANGS:
        return detect(text, langs).spans
    starts, span_langs = _span_table(text)
    ends = starts[1:] + [len(text)]
    out = []
    for a, b, lang in zip(starts, ends, span_langs):
        sp = _new(Span)
        _set(sp, "__dict__", {"start": a, "end": b, "lang": lang})
        out.append(sp)
    return out


def _span_table(text: str) -> tuple[list[int], list[str]]:
    """Starts and languages of ``detect(text).spans`` (default profiles; ``text`` not empty)."""
    ms = [(m.start(), m.end(), m.lastgroup) for m in _SPAN_RUNS.finditer(text)]
    if not ms:
        return [0], ["other"]
    # consecutive matches differ in language; a neutral gap between them is cut after its last
    # whitespace, else it joins the preceding run (as detect())
    cuts = [0]
    rfind = text.rfind
    for (_, prev_end, _), (nxt_start, _, _) in zip(ms, islice(ms, 1, None)):
        if text[nxt_start - 1] == " ":  # the usual gap ends with a space: cut right there
            cuts.append(nxt_start)
            continue
        ws = max(rfind(" ", prev_end, nxt_start), rfind("\t", prev_end, nxt_start),
                 rfind("\u3000", prev_end, nxt_start), rfind("\n", prev_end, nxt_start))
        cuts.append(ws + 1 if ws >= 0 else nxt_start)
    cuts.append(len(text))
    starts, langs = [], []
    for i, (_, _, lang) in enumerate(ms):
        if cuts[i + 1] > cuts[i]:
            starts.append(cuts[i])
            langs.append(lang)
    return starts, langs


_new = object.__new__      # Span(...) without the frozen dataclass' field-by-field __init__
_set = object.__setattr__


def _one_lang(spans: list[Span], starts: list[int], start: int, end: int) -> str | None:
    """The language of every position in [start, end) when one detected span covers it all."""
    i = bisect.bisect_right(starts, start) - 1
    if 0 <= i < len(spans) and spans[i].start <= start and end <= spans[i].end:
        return spans[i].lang
    return None


def tokenize(text: str, lang: str = "auto", engine: str | None = None, **kw) -> list[str]:
    """The words of ``text`` as strings (whitespace dropped)."""
    return [t.text for t in segment(text, lang, engine, **kw)]
