"""The tokenizer interface every backend implements, the baselines, and shared helpers.

``count``/``count_batch`` never include special tokens (BOS/EOS). :func:`approx_count` is the one
characters/2 fallback of the package: callers that must not fail when a tokenizer library is
missing use :func:`counter` (it falls back to it and says so in ``counter.exact``).
"""
from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Callable, Iterable

from thaija.errors import MissingDependency, ThaijaError

__all__ = ["Tokenizer", "BaselineTokenizer", "approx_count", "counter", "cache_dir"]


def cache_dir() -> Path:
    """thaija's cache folder (see :func:`thaija.config.cache_dir`)."""
    from thaija.config import cache_dir as _cache_dir

    return _cache_dir()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (no half-written cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def package_dir(module: str, pip_name: str) -> Path:
    """Folder of an installed package that ships tokenizer files (MissingDependency if absent)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(pip_name, "this tokenizer's file")
    return Path(list(spec.submodule_search_locations)[0])


def approx_count(text: str) -> int:
    """Characters / 2, rounded up: a rough over-estimate used only when no tokenizer can load.

    It under-counts Thai and Japanese on some tokenizers (cl100k_base): prefer a real tokenizer.
    """
    return (len(text) + 1) // 2


class Tokenizer:
    """A loaded tokenizer: ``count``/``count_batch`` never add special tokens."""

    name: str
    kind: str

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        raise NotImplementedError

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (batched where the library allows)."""
        return [self.encode(t) for t in texts]

    def count(self, text: str) -> int:
        """Number of tokens of ``text`` (no special tokens)."""
        return len(self.encode(text))

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        """Token count of each text, batch-encoded."""
        texts = list(texts)
        return [len(ids) for ids in self.encode_batch(texts)] if texts else []

    @property
    def vocab_size(self) -> int | None:
        """Vocabulary size including special/added tokens (None for open-ended baselines)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} vocab={self.vocab_size}>"


class BaselineTokenizer(Tokenizer):
    """``chars`` (code points), ``bytes`` (UTF-8) or ``words`` (thaija.lang.segment tokens)."""

    def __init__(self, name: str) -> None:
        if name not in ("chars", "bytes", "words"):
            raise ThaijaError(f"unknown baseline {name!r}: chars, bytes or words")
        super().__init__(name, "baseline")

    def encode(self, text: str) -> list[int]:
        if self.name == "chars":
            return [ord(c) for c in text]
        if self.name == "bytes":
            return list(text.encode("utf-8"))
        raise ThaijaError("the 'words' baseline has no token ids; use count() / count_batch()")

    def count(self, text: str) -> int:
        if self.name == "chars":
            return len(text)
        if self.name == "bytes":
            return len(text.encode("utf-8"))
        if not text:
            return 0
        from thaija.lang import segment  # lazy: the language layer pulls pythainlp / fugashi

        return len(segment(text))

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        return [self.count(t) for t in texts]


def baseline(name: str) -> Tokenizer:
    """Registry loader of the three baselines."""
    return BaselineTokenizer(name)


class _Counter:
    """A ``str -> int`` callable over a registry tokenizer, or over :func:`approx_count`."""

    def __init__(self, fn: Callable[[str], int], name: str, exact: bool, reason: str = "") -> None:
        self._fn, self.name, self.exact, self.reason = fn, name, exact, reason

    def __call__(self, text: str) -> int:
        return self._fn(text)


def counter(name: str | None = "o200k_base", *, fallback: bool = True) -> Callable[[str], int]:
    """A counting callable for a tokenizer or model name; with ``fallback`` characters/2 when it cannot load.

    The returned callable has ``.name``, ``.exact`` (False on the fallback) and ``.reason``.
    """
    from thaija.tokenizers.registry import resolve

    try:
        tok = resolve(name or "o200k_base")
    except (ThaijaError, ImportError) as exc:
        if not fallback:
            raise
        return _Counter(approx_count, "chars/2", False, f"{name}: {exc}")
    return _Counter(tok.count, tok.name, True)
