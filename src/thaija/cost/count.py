"""Token counts of a text or of the lines of a file, as plain records."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from thaija.errors import ThaijaError

__all__ = ["count_text", "count_lines", "count_per_line", "read_lines"]


def _tok(tokenizer):
    """``(Tokenizer, ModelMatch | None)`` for a loaded tokenizer, a registry name/path or a model name."""
    if not isinstance(tokenizer, str):
        return tokenizer, None
    import os

    from thaija.tokenizers import REGISTRY, get_tokenizer, lookup_model

    name = tokenizer.strip()
    if name in REGISTRY or os.path.exists(os.path.expanduser(name)):
        return get_tokenizer(name), None
    try:
        match = lookup_model(name)
    except ThaijaError:
        return get_tokenizer(name), None  # the registry's error lists the names (or a hub id online)
    return get_tokenizer(match.tokenizer), match


def _model(rec: dict, match) -> dict:
    if match is not None:
        rec.update({"model": match.model, "approximation": match.approximation,
                    "approximation_reason": match.reason})
    return rec


def read_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 text file (``-`` = standard input; universal newlines, trailing newlines dropped).

    Raises ThaijaError naming the file when it is missing, not UTF-8, or empty.
    """
    if str(path) == "-":
        import sys

        try:
            text = sys.stdin.buffer.read().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError as exc:
            raise ThaijaError(f"standard input: not valid UTF-8 (byte {exc.start})") from None
        text = text.rstrip("\n")  # a BOM is kept: counted like the reference reading the file as UTF-8
        if not text.strip():
            raise ThaijaError("standard input: empty")
        return text.split("\n")
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as f:  # newline=None: \r\n and \r become \n
            text = f.read()
    except FileNotFoundError:
        raise ThaijaError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ThaijaError(f"{p}: is a folder, not a text file") from None
    except UnicodeDecodeError as exc:
        raise ThaijaError(f"{p}: not valid UTF-8 (byte {exc.start}); convert it to UTF-8 first") from None
    except OSError as exc:
        raise ThaijaError(f"{p}: cannot read ({exc.strerror})") from None
    text = text.rstrip("\n")  # a BOM is kept: counted like the reference reading the file as UTF-8
    if not text.strip():
        raise ThaijaError(f"{p}: empty file")
    if "\x00" in text:  # binary data is not text (one-line error, as in every file-reading command)
        raise ThaijaError(f"{p}:{text.count(chr(10), 0, text.index(chr(0))) + 1}: NUL character (binary data is not text)")
    return text.split("\n")


def _record(name: str, tokens: int, texts: list[str]) -> dict:
    return {
        "tokenizer": name,
        "tokens": int(tokens),
        "characters": sum(len(t) for t in texts),
        "bytes": sum(len(t.encode("utf-8")) for t in texts),
        "lines": len(texts),
    }


def count_text(text: str, tokenizer="cl100k_base") -> dict:
    """Count ``text`` encoded once as a whole (no special tokens).

    ``tokenizer``: a loaded tokenizer, a registry name or path, or a model name (then the record also has
    ``model``, ``approximation`` and ``approximation_reason``, as ``thaija cost count --model`` prints).
    Returns ``{"tokenizer", "tokens", "characters", "bytes", "lines"}``.
    """
    tok, match = _tok(tokenizer)
    lines = text.split("\n") if text else [""]
    rec = _record(tok.name, tok.count(text), [text])
    rec["lines"] = len(lines)
    return _model(rec, match)


def count_lines(lines: Iterable[str], tokenizer="cl100k_base") -> dict:
    """Count a list of lines, each encoded alone; ``tokens`` is the sum (characters/bytes exclude line breaks)."""
    tok, match = _tok(tokenizer)
    lines = list(lines)
    return _model(_record(tok.name, sum(tok.count_batch(lines)), lines), match)


def count_per_line(lines: Iterable[str], tokenizer="cl100k_base") -> list[dict]:
    """One record per line: ``{"line" (1-based), "tokenizer", "tokens", "characters", "bytes"}``."""
    tok, match = _tok(tokenizer)
    lines = list(lines)
    return [
        _model({"line": i, "tokenizer": tok.name, "tokens": n, "characters": len(t), "bytes": len(t.encode("utf-8"))},
               match)
        for i, (t, n) in enumerate(zip(lines, tok.count_batch(lines)), start=1)
    ]
