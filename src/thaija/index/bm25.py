"""Per-language BM25 with incremental add/remove, exact against a from-scratch BM25.

Scoring is the Lucene variant used by `bm25s` (method="lucene"):
    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
    score    = sum over query tokens t of idf(t) * tf / (tf + k1 * (1 - b + b * len / avglen))
N, df and avglen always describe the live rows only, so after any sequence of adds and removes the
scores equal a BM25 built from scratch on the same tokens. State per language is a CSR row-term
matrix (.npy) + vocabulary/row ids (JSON); saved atomically (temp folder + rename), never pickled.
"""
from __future__ import annotations

import json
import os
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

K1 = 1.5
B = 0.75


def _is_term(tok: str) -> bool:
    """Keep tokens holding at least one letter, mark or digit (drop punctuation/space)."""
    return any(unicodedata.category(c)[0] in "LMN" for c in tok)


def segment_terms(text: str, lang: str | None = None) -> list[str]:
    """BM25 terms of a text: thaija.lang segmentation (per language span), normalized forms."""
    from thaija.lang import segment

    toks = segment(text, lang=lang or "auto", normalize=True)
    return [t.norm for t in toks if t.norm and _is_term(t.norm)]


def segment_terms_with_langs(text: str, lang: str | None = None) -> tuple[list[str], list[str]]:
    """Terms plus the language of each term (to route a query to the right BM25 indexes)."""
    from thaija.lang import segment

    toks = segment(text, lang=lang or "auto", normalize=True)
    keep = [t for t in toks if t.norm and _is_term(t.norm)]
    return [t.norm for t in keep], [t.lang for t in keep]


def whitespace_terms(text: str) -> list[str]:
    """The naive baseline: lowercase, split on whitespace (what most BM25 libraries do)."""
    return [t for t in text.lower().split() if _is_term(t)]


@dataclass
class BM25Config:
    """BM25 parameters (bm25s defaults)."""

    k1: float = K1
    b: float = B

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={self.k1}, b={self.b})")


class BM25Index:
    """Incremental BM25 over rows (int ids) of one language."""

    def __init__(self, config: BM25Config | None = None) -> None:
        self.config = config or BM25Config()
        self.vocab: dict[str, int] = {}
        self.rows = np.zeros(0, dtype=np.int64)          # global row id of each local row
        self.doc_ids: list[str] = []                      # document id of each local row
        self.lengths = np.zeros(0, dtype=np.float64)      # number of terms of each local row
        self._indptr = np.zeros(1, dtype=np.int64)        # CSR: local row -> (term id, tf)
        self._indices = np.zeros(0, dtype=np.int32)
        self._tf = np.zeros(0, dtype=np.float32)
        self._csc = None                                  # lazily built term -> postings
        self._row_pos: dict[int, int] | None = None

    # ---- updates -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def add(self, rows: Sequence[int], doc_ids: Sequence[str], terms: Sequence[Sequence[str]]) -> None:
        """Append rows with their terms."""
        if not len(rows):
            return
        indptr, indices, tfs, lengths = [], [], [], []
        base = int(self._indptr[-1])
        for toks in terms:
            ids: dict[int, int] = {}
            for t in toks:
                i = self.vocab.get(t)
                if i is None:
                    i = self.vocab[t] = len(self.vocab)
                ids[i] = ids.get(i, 0) + 1
            keys = sorted(ids)
            indices.extend(keys)
            tfs.extend(ids[k] for k in keys)
            base += len(keys)
            indptr.append(base)
            lengths.append(len(toks))
        self._indptr = np.concatenate([self._indptr, np.asarray(indptr, dtype=np.int64)])
        self._indices = np.concatenate([self._indices, np.asarray(indices, dtype=np.int32)])
        self._tf = np.concatenate([self._tf, np.asarray(tfs, dtype=np.float32)])
        self.rows = np.concatenate([self.rows, np.asarray(rows, dtype=np.int64)])
        self.lengths = np.concatenate([self.lengths, np.asarray(lengths, dtype=np.float64)])
        self.doc_ids.extend(doc_ids)
        self._invalidate()

    def remove_docs(self, doc_ids: Iterable[str]) -> int:
        """Drop every row of these documents; returns the number of rows removed."""
        drop = set(doc_ids)
        keep = np.array([d not in drop for d in self.doc_ids], dtype=bool)
        removed = int((~keep).sum())
        if removed:
            self._keep_rows(keep)
        return removed

    def _keep_rows(self, keep: np.ndarray) -> None:
        counts = np.diff(self._indptr)
        entry_keep = np.repeat(keep, counts)
        self._indices = self._indices[entry_keep]
        self._tf = self._tf[entry_keep]
        self._indptr = np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64)
        self.rows = self.rows[keep]
        self.lengths = self.lengths[keep]
        self.doc_ids = [d for d, k in zip(self.doc_ids, keep) if k]
        self._invalidate()

    def _invalidate(self) -> None:
        self._csc = None
        self._row_pos = None

    # ---- scoring -------------------------------------------------------------------------
    def _postings(self):
        if self._csc is None:
            from scipy.sparse import csr_matrix

            n = len(self)
            m = csr_matrix((self._tf, self._indices, self._indptr), shape=(n, max(len(self.vocab), 1)))
            csc = m.tocsc()
            csc.sort_indices()
            df = np.diff(csc.indptr)
            N = float(n)
            idf = np.log(1.0 + (N - df + 0.5) / (df + 0.5))
            avg = float(self.lengths.mean()) if n else 1.0
            k1, b = self.config.k1, self.config.b
            norm = k1 * (1.0 - b + b * self.lengths / (avg or 1.0))
            # precompute each posting's contribution: idf * tf / (tf + norm)
            col = np.repeat(np.arange(csc.shape[1]), df)
            w = (idf[col] * csc.data / (csc.data + norm[csc.indices])).astype(np.float32)
            self._csc = (csc.indptr, csc.indices, w)
        return self._csc

    def row_position(self) -> dict[int, int]:
        """global row id -> local position."""
        if self._row_pos is None:
            self._row_pos = {int(r): i for i, r in enumerate(self.rows.tolist())}
        return self._row_pos

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every local row (float32, repeated query terms count again)."""
        n = len(self)
        if not n:
            return np.zeros(0, dtype=np.float32)
        indptr, indices, w = self._postings()
        ids = [i for i in (self.vocab.get(t) for t in query_terms) if i is not None and indptr[i + 1] > indptr[i]]
        if not ids:
            return np.zeros(n, dtype=np.float32)
        if len(ids) == 1:
            out = np.zeros(n, dtype=np.float32)
            out[indices[indptr[ids[0]]:indptr[ids[0] + 1]]] = w[indptr[ids[0]]:indptr[ids[0] + 1]]
            return out
        rows = np.concatenate([indices[indptr[i]:indptr[i + 1]] for i in ids])
        ws = np.concatenate([w[indptr[i]:indptr[i + 1]] for i in ids])
        return np.bincount(rows, weights=ws, minlength=n).astype(np.float32)

    def top(self, query_terms: Sequence[str], k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(global rows, scores) of the k best rows with score > 0, restricted to `mask`."""
        sc = self.scores(query_terms)
        if mask is not None:
            sc[~mask] = 0.0
        cand = np.flatnonzero(sc > 0)
        if cand.size > k:
            part = np.argpartition(-sc[cand], k - 1)[:k]
            cand = cand[part]
        order = cand[np.lexsort((self.rows[cand], -sc[cand]))]
        return self.rows[order], sc[order]

    # ---- persistence ---------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "indptr.npy", self._indptr)
        np.save(folder / "indices.npy", self._indices)
        np.save(folder / "tf.npy", self._tf)
        np.save(folder / "rows.npy", self.rows)
        np.save(folder / "lengths.npy", self.lengths)
        with open(folder / "state.json", "w", encoding="utf-8") as f:
            json.dump({"format": 1, "k1": self.config.k1, "b": self.config.b,
                       "vocab": list(self.vocab), "doc_ids": self.doc_ids}, f, ensure_ascii=False)

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        with open(folder / "state.json", encoding="utf-8") as f:
            st = json.load(f)
        idx = cls(BM25Config(k1=st["k1"], b=st["b"]))
        idx.vocab = {t: i for i, t in enumerate(st["vocab"])}
        idx.doc_ids = list(st["doc_ids"])
        idx._indptr = np.load(folder / "indptr.npy", allow_pickle=False)
        idx._indices = np.load(folder / "indices.npy", allow_pickle=False)
        idx._tf = np.load(folder / "tf.npy", allow_pickle=False)
        idx.rows = np.load(folder / "rows.npy", allow_pickle=False)
        idx.lengths = np.load(folder / "lengths.npy", allow_pickle=False)
        return idx


class BM25Store:
    """One BM25Index per language, saved under one folder (e.g. thaija.db.state/bm25/)."""

    def __init__(self, folder: Path | None = None, config: BM25Config | None = None) -> None:
        self.folder = folder
        self.config = config or BM25Config()
        self.indexes: dict[str, BM25Index] = {}
        if folder is not None and (folder / "langs.json").exists():
            langs = json.loads((folder / "langs.json").read_text(encoding="utf-8"))
            for lang in langs:
                self.indexes[lang] = BM25Index.load(folder / lang)

    def index(self, lang: str) -> BM25Index:
        if lang not in self.indexes:
            self.indexes[lang] = BM25Index(self.config)
        return self.indexes[lang]

    def add(self, lang: str, rows: Sequence[int], doc_ids: Sequence[str], terms: Sequence[Sequence[str]]) -> None:
        self.index(lang).add(rows, doc_ids, terms)

    def remove_docs(self, doc_ids: Iterable[str]) -> int:
        ids = set(doc_ids)
        return sum(ix.remove_docs(ids) for ix in self.indexes.values())

    def langs(self) -> list[str]:
        return sorted(k for k, v in self.indexes.items() if len(v))

    def save(self) -> None:
        """Write every language to a temp folder, then swap it in (a crash keeps the old state)."""
        if self.folder is None:
            return
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        old = self.folder.with_name(self.folder.name + ".old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        langs = self.langs()
        for lang in langs:
            self.indexes[lang].save(tmp / lang)
        (tmp / "langs.json").write_text(json.dumps(langs), encoding="utf-8")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            os.replace(self.folder, old)
        os.replace(tmp, self.folder)
        shutil.rmtree(old, ignore_errors=True)


def recover_folder(folder: Path) -> None:
    """Finish an interrupted save: if only `<folder>.old` exists, put it back."""
    old = folder.with_name(folder.name + ".old")
    if not folder.exists() and old.exists():
        os.replace(old, folder)
