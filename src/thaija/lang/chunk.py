"""Chunking measured in the target model's tokens, on sentence and word boundaries.

A chunk is a slice ``document[start:end]``: it ends at a sentence boundary when one fits, else at a
word boundary, and never cuts inside a Thai or Japanese word. Only a single word longer than the
whole limit (e.g. a long URL under a BPE tokenizer with a tiny limit) is cut, between grapheme
clusters. Consecutive chunks share up to ``overlap`` tokens of whole words.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, ClassVar

from thaija.errors import ThaijaError
from thaija.lang.config import ChunkConfig, Counter, TokenizerSpec  # noqa: F401 (light; re-exported)
from thaija.lang.detect import detect
from thaija.lang.segment import segment
from thaija.lang.sentences import sentences
from thaija.lang.spans import JsonSpan

_GRAPHEME = re.compile("(?s:.)[\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u3099\u309a\ufe00-\ufe0f\u200d]*")


@dataclass(frozen=True)
class Chunk(JsonSpan):
    """A piece of a document: ``text == document[start:end]``; ``tokens`` in the chosen tokenizer."""

    _json: ClassVar[tuple[str, ...]] = ("id", "start", "end", "text", "tokens")

    id: str
    start: int
    end: int
    text: str
    tokens: int
    lang: str


def get_counter(tokenizer: TokenizerSpec) -> tuple[Counter | None, Callable[[list[str]], list[int]] | None]:
    """``(count, count_batch)`` for "words"/"chars"/"bytes", a ``str -> int`` callable, or an object with
    ``.count`` (and optionally ``.count_batch``) such as a :class:`thaija.tokenizers.Tokenizer`;
    ``(None, None)`` for "words". Model tokenizer names are resolved by the caller
    (``thaija.tokenizers.get_tokenizer(name)``): the language layer never imports that stage."""
    if tokenizer in (None, "words"):
        return None, None
    if tokenizer == "chars":
        return len, lambda texts: [len(t) for t in texts]
    if tokenizer == "bytes":
        f = lambda t: len(t.encode("utf-8"))  # noqa: E731
        return f, lambda texts: [f(t) for t in texts]
    count = getattr(tokenizer, "count", None)
    if callable(count) and not isinstance(tokenizer, str):
        batch = getattr(tokenizer, "count_batch", None)
        return count, (batch if callable(batch) else (lambda texts: [count(t) for t in texts]))
    if callable(tokenizer):
        return tokenizer, lambda texts: [tokenizer(t) for t in texts]
    raise ThaijaError(f"chunk: tokenizer {tokenizer!r} is not words, chars, bytes or a counter; pass a model "
                      f"tokenizer as thaija.tokenizers.get_tokenizer({str(tokenizer)!r}) (or its .count)")


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    count: int
    sent_end: bool


def _split_word(text: str, w: _Word, max_tokens: int, count: Counter) -> list[_Word]:
    """Cut a single over-long word between grapheme clusters (last resort)."""
    pieces: list[_Word] = []
    clusters = [(m.start() + w.start, m.end() + w.start) for m in _GRAPHEME.finditer(text[w.start:w.end])]
    i = 0
    while i < len(clusters):
        j = i
        while j + 1 < len(clusters) and count(text[clusters[i][0]:clusters[j + 1][1]]) <= max_tokens:
            j += 1
        s, e = clusters[i][0], clusters[j][1]
        n = count(text[s:e])
        if n > max_tokens:
            raise ThaijaError(f"a single character needs {n} tokens, more than max_tokens={max_tokens}")
        pieces.append(_Word(s, e, n, w.sent_end and j == len(clusters) - 1))
        i = j + 1
    return pieces


def _invisible(s: str) -> bool:
    """Only format characters and spaces (U+FEFF, U+200B …): nothing a chunk should hold alone."""
    return all(unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp", "Cc") for ch in s)


def _words(text: str, cfg: ChunkConfig, count: Counter | None, batch) -> list[_Word]:
    out: list[_Word] = []
    for sent in sentences(text, cfg.lang if cfg.lang != "auto" else "auto"):
        # a byte-order mark or zero-width run alone is no word
        toks = [t for t in segment(sent.text, cfg.lang) if not _invisible(t.text)]
        counts = [1] * len(toks) if batch is None else batch([t.text for t in toks])
        for k, (t, c) in enumerate(zip(toks, counts)):
            w = _Word(sent.start + t.start, sent.start + t.end, c, k == len(toks) - 1)
            if count is not None and c > cfg.max_tokens:
                out.extend(_split_word(text, w, cfg.max_tokens, count))
            else:
                out.append(w)
    return out


def _fit(text: str, words: list[_Word], i: int, j: int, lo: int, max_tokens: int, count: Counter) -> tuple[int, int]:
    """Shrink ``words[i..j]`` until its exact count fits: give back new words (down to ``lo``)
    first, then drop overlap words from the front; binary search, so a long run of words that
    count 0 alone but many together costs O(log n) counts, not O(n)."""
    def fits(a: int, b: int) -> bool:
        return count(text[words[a].start:words[b].end]) <= max_tokens

    if fits(i, j):
        return i, j
    if lo < j and fits(i, lo):
        good, bad = lo, j  # largest end that fits
        while bad - good > 1:
            mid = (good + bad) // 2
            good, bad = (mid, bad) if fits(i, mid) else (good, mid)
        return i, good
    j = lo
    if i < j and not fits(i, j):
        bad, good = i, j  # smallest start that fits (one word alone fits: it was split to fit)
        while good - bad > 1:
            mid = (good + bad) // 2
            bad, good = (bad, mid) if fits(mid, j) else (mid, good)
        i = good
    return i, j


def chunk(
    text: str,
    max_tokens: int = 256,
    overlap: int = 32,
    tokenizer: TokenizerSpec = "words",
    lang: str = "auto",
    doc_id: str = "doc",
) -> list[Chunk]:
    """Cut ``text`` into chunks of at most ``max_tokens`` tokens with ``overlap`` tokens shared.

    ``tokenizer``: ``"words"`` (segmenter tokens), ``"chars"``, ``"bytes"``, a callable ``str -> int``,
    or a loaded tokenizer (``thaija.tokenizers.get_tokenizer("cl100k_base")``).
    """
    cfg = ChunkConfig(max_tokens, overlap, tokenizer, lang)
    count, batch = get_counter(tokenizer)
    words = _words(text, cfg, count, batch)
    chunks: list[Chunk] = []
    i, n = 0, len(words)
    new_from = 0  # first word not yet in any chunk
    while i < n:
        j, total = i, words[i].count
        while j + 1 < n and total + words[j + 1].count <= max_tokens:
            j += 1
            total += words[j].count
        if j < n - 1:  # prefer ending at a sentence boundary that still adds new words
            for b in range(j, max(i, new_from) - 1, -1):
                if words[b].sent_end:
                    j = b
                    break
        if count is not None:  # exact count for non-additive tokenizers (BPE merges across words)
            i, j = _fit(text, words, i, j, min(max(i, new_from), j), max_tokens, count)
        s, e = words[i].start, words[j].end
        ntok = sum(w.count for w in words[i:j + 1]) if count is None else count(text[s:e])
        chunks.append(Chunk(f"{doc_id}#{len(chunks)}", s, e, text[s:e], ntok, detect(text[s:e]).lang))
        if j >= n - 1:
            break
        new_from = j + 1
        k, o = j + 1, 0
        while k - 1 > i and o + words[k - 1].count <= overlap:
            k -= 1
            o += words[k].count
        # the next chunk must reach at least one new word
        while k <= j and o + words[j + 1].count > max_tokens:
            o -= words[k].count
            k += 1
        # and move past half of this one: words counted 0 tokens alone (punctuation runs) would
        # otherwise let the overlap cover all but one word, one chunk per word (quadratic)
        i = max(k, i + (j - i + 2) // 2)
    return chunks
