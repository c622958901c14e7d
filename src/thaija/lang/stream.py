"""Big inputs in bounded memory: read text in pieces, segment / normalize / chunk piece by piece.

A 50 MB single-line file cannot be segmented in one call: every token, offset and normalization map
of the whole line would be held at once (several GB). Here the input is decoded block by block and
cut into pieces of at most ``max_chars`` characters. A piece ends at a line end when one comes in
time (short lines are never cut, so results equal the per-line functions); a longer run is cut at
the last paragraph break, sentence end (``。！？.!?``), or whitespace of the window, and only as a
last resort between grapheme clusters (never before a combining mark, a Thai vowel or tone mark, a
kana voicing mark, a variation selector or a zero-width joiner). Offsets of every result index the
whole line (``segment`` / ``normalize``) or the whole document (``chunk``), as if it had been read
at once.

What a cut changes: a word or chunk never spans a cut (in Thai or Japanese text without spaces for
``max_chars`` characters a word may be split there), and chunks do not overlap across a cut.
"""
from __future__ import annotations

import codecs
import dataclasses
import os
import re
from dataclasses import dataclass
from typing import IO, Iterable, Iterator

from thaija.errors import ThaijaError

DEFAULT_PIECE_CHARS = 1 << 16        # 65,536 characters: tens of MB of working memory per piece
BLOCK_BYTES = 1 << 20                # bytes decoded per read
_NO_CUT_BEFORE = re.compile(
    "[\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u3099-\u309c\uff9e\uff9f\ufe00-\ufe0f\u200d\u20d0-\u20ff]")
_SENTENCE_END = re.compile(r"[。！？!?](?:[」』）)\"'”’]*)|\.(?=\s)")


@dataclass(frozen=True)
class Piece:
    """A slice of the input: ``text`` starts at character ``offset`` of line ``line`` (0-based; with
    ``lines=False`` the whole input is line 0); ``last`` is True for the final piece of its line."""

    line: int
    offset: int
    text: str
    last: bool


def read_blocks(source: str | os.PathLike | IO[bytes], block_bytes: int = BLOCK_BYTES, *,
                name: str | None = None) -> Iterator[str]:
    """Decoded UTF-8 text of a file path or binary file object, block by block (a character split
    between two blocks is kept whole). Invalid UTF-8 raises :class:`ThaijaError` with its byte offset."""
    own = isinstance(source, (str, os.PathLike))
    fh: IO[bytes] = open(source, "rb") if own else source  # type: ignore[arg-type]
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    name = name or (os.fspath(source) if own else str(getattr(source, "name", "input")))
    try:
        while True:
            block = fh.read(block_bytes)
            try:
                text = dec.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise ThaijaError(f"{name}: not valid UTF-8 at byte {offset + exc.start}") from None
            offset += len(block)
            if text:
                yield text
            if not block:
                return
    finally:
        if own:
            fh.close()


def _cut(buf: str, start: int, max_chars: int, paragraphs: bool) -> int:
    """Where to end a piece that begins at ``buf[start]`` and would exceed ``max_chars``."""
    end = start + max_chars
    lo = start + max_chars // 2  # prefer a boundary in the second half of the window
    if paragraphs:
        for sep in ("\n\n", "\n"):
            k = buf.rfind(sep, lo, end)
            if k != -1:
                return k + len(sep)
    last = None
    for m in _SENTENCE_END.finditer(buf, lo, end):
        last = m.end()
    if last is not None and last < end:
        return last
    for k in range(end - 1, lo - 1, -1):
        if buf[k].isspace():
            return k + 1
    k = end
    while k > start + 1 and _NO_CUT_BEFORE.match(buf, k):
        k -= 1
    return k


def iter_pieces(blocks: Iterable[str], max_chars: int = DEFAULT_PIECE_CHARS, *, lines: bool = True) -> Iterator[Piece]:
    """Pieces of the text in ``blocks`` (see :func:`read_blocks`), each at most ``max_chars`` long.

    ``lines=True``: one line after the other (``\\n`` and ``\\r\\n`` ends are dropped, as in
    ``str.split("\\n")`` without a trailing empty line), long lines in several pieces.
    ``lines=False``: the input is one document; pieces end at paragraph or line breaks when they can.
    """
    if max_chars < 16:
        raise ThaijaError(f"max_chars must be >= 16, got {max_chars}")
    buf, pos, line, off = "", 0, 0, 0
    for block in blocks:
        buf = buf[pos:] + block
        pos = 0
        while True:
            nl = buf.find("\n", pos, pos + max_chars + 1) if lines else -1
            if nl != -1:
                text = buf[pos:nl]
                if text.endswith("\r"):
                    text = text[:-1]
                yield Piece(line, off, text, True)
                pos, line, off = nl + 1, line + 1, 0
                continue
            if len(buf) - pos > max_chars:
                k = _cut(buf, pos, max_chars, paragraphs=not lines)
                yield Piece(line, off, buf[pos:k], False)
                off += k - pos
                pos = k
                continue
            break
    rest = buf[pos:]
    if rest or off:
        if lines and rest.endswith("\r"):
            rest = rest[:-1]
        yield Piece(line, off, rest, True)


def _pieces(source: str | os.PathLike | IO[bytes] | Iterable[str], max_chars: int, lines: bool) -> Iterator[Piece]:
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        source = read_blocks(source)  # type: ignore[arg-type]
    return iter_pieces(source, max_chars, lines=lines)  # type: ignore[arg-type]


def segment_stream(source, lang: str = "auto", engine: str | None = None, *, normalize: bool = False,
                   max_chars: int = DEFAULT_PIECE_CHARS) -> Iterator[tuple[Piece, list[dict]]]:
    """``(piece, tokens)`` for every piece of a file path, binary file or iterable of text blocks;
    tokens are :meth:`Token.to_dict` records with offsets into the whole line."""
    from thaija.lang.segment import segment

    for p in _pieces(source, max_chars, lines=True):
        toks = []
        for t in segment(p.text, lang=lang, engine=engine, normalize=normalize):
            d = t.to_dict()
            d["start"] += p.offset
            d["end"] += p.offset
            toks.append(d)
        yield p, toks


def normalize_stream(source, lang: str = "auto", *, max_chars: int = DEFAULT_PIECE_CHARS) -> Iterator[tuple[Piece, str]]:
    """``(piece, normalized text)`` for every piece; join the texts of one line for the whole line."""
    from thaija.lang.normalize import normalize

    for p in _pieces(source, max_chars, lines=True):
        yield p, normalize(p.text, lang).text


def chunk_stream(source, max_tokens: int = 256, overlap: int = 32, tokenizer="words", lang: str = "auto",
                 doc_id: str = "doc", *, max_chars: int = DEFAULT_PIECE_CHARS):
    """The chunks of ONE document read piece by piece (ids ``doc_id#0``, ``#1`` ... over the whole
    document; ``start``/``end`` index the whole document). Equals :func:`thaija.lang.chunk` on a
    document shorter than ``max_chars``."""
    from thaija.lang.chunk import ChunkConfig, chunk

    ChunkConfig(max_tokens, overlap, tokenizer, lang)  # validate before reading anything
    n = 0
    for p in _pieces(source, max_chars, lines=False):
        if not p.text.strip():
            continue
        for c in chunk(p.text, max_tokens=max_tokens, overlap=overlap, tokenizer=tokenizer, lang=lang,
                       doc_id=doc_id):
            yield dataclasses.replace(c, id=f"{doc_id}#{n}", start=c.start + p.offset, end=c.end + p.offset)
            n += 1


def sentences_stream(source, lang: str = "auto", engine: str | None = None, *,
                     max_chars: int = DEFAULT_PIECE_CHARS) -> Iterator:
    """The sentences of ONE document read piece by piece (offsets index the whole document). Pieces
    end at paragraph breaks, line ends or sentence ends when the window has one, so the result
    equals :func:`thaija.lang.sentences` except where a piece had to be cut inside a sentence."""
    from thaija.lang.sentences import sentences

    for p in _pieces(source, max_chars, lines=False):
        for sent in sentences(p.text, lang, engine):
            yield dataclasses.replace(sent, start=sent.start + p.offset, end=sent.end + p.offset)
