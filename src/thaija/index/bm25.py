"""Per-language BM25 with incremental add/remove, exact against a from-scratch BM25.

Scoring is the Lucene variant used by `bm25s` (method="lucene"):
    idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
    score    = sum over query tokens t of idf(t) * tf / (tf + k1 * (1 - b + b * len / avglen))
N, df and avglen always describe the live rows only, so after any sequence of adds and removes the
scores equal a BM25 built from scratch on the same tokens. State per language is a CSR row-term
matrix (.npy) + vocabulary/row ids (JSON); saved atomically (temp folder + rename), never pickled.

Loading memory-maps every array, including the precomputed term -> postings (CSC) weights, and
looks query terms up in a sorted array of 64-bit term hashes: a searching process reads only the
pages of the postings its queries touch. The vocabulary and row document ids (JSON) are read only
when something needs them (a writer, BM25 coverage of a hit).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from thaija.index.config import B, K1, BM25Config  # noqa: F401 (light config; re-exported)
from thaija.index.registry import Positions


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



def term_hash(term: str) -> int:
    """Stable 64-bit hash of a term (memory-mapped vocabulary lookups)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little") >> 1


class Vocab:
    """term -> id. A dict once anything writes; before that (a loaded index) lookups go through
    sorted memory-mapped term hashes and the JSON term list is read only when iterated."""

    def __init__(self, terms: dict[str, int] | None = None, folder: Path | None = None,
                 n: int = 0, hashes: np.ndarray | None = None, ids: np.ndarray | None = None,
                 source: Any = None) -> None:
        self._d = terms if terms is not None else ({} if folder is None else None)
        self._folder, self._n, self._hashes, self._ids = folder, n, hashes, ids
        self._source = source      # vocab.json opened at load time: the same save as the arrays

    def _dict(self) -> dict[str, int]:
        if self._d is None:
            self._d = {t: i for i, t in enumerate(_read_json(self._source or self._folder / "vocab.json"))}
            self._source = None
        return self._d

    def get(self, term: str, default: int | None = None) -> int | None:
        if self._d is not None:
            return self._d.get(term, default)
        if self._hashes is None or not len(self._hashes):
            return default
        h = term_hash(term)
        i = int(np.searchsorted(self._hashes, h))
        return int(self._ids[i]) if i < len(self._hashes) and int(self._hashes[i]) == h else default

    def __getitem__(self, term: str) -> int:
        i = self.get(term)
        if i is None:
            raise KeyError(term)
        return i

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __setitem__(self, term: str, i: int) -> None:
        self._dict()[term] = i

    def __len__(self) -> int:
        return len(self._d) if self._d is not None else self._n

    def __iter__(self):
        return iter(self._dict())

    def items(self):
        return self._dict().items()


def _read_json(src: Any) -> Any:
    """JSON from a path or from a file opened earlier (read from its start, then closed)."""
    if hasattr(src, "read"):
        with src:
            src.seek(0)
            return json.loads(src.read().decode("utf-8"))
    with open(src, encoding="utf-8") as f:
        return json.load(f)


class LazyList(list):
    """A list read from a JSON file on first use (its length is known without reading it)."""

    def __init__(self, path: Any, n: int) -> None:
        """``path``: the JSON file, or that file already opened (binary), so that a save that swaps
        the folder in between cannot give this list another save's contents."""
        super().__init__()
        self._path, self._n, self._loaded = path, n, False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            super().extend(_read_json(self._path))
            self._path = None

    def __len__(self) -> int:
        return super().__len__() if self._loaded else self._n

    def __iter__(self):
        self._load()
        return super().__iter__()

    def __getitem__(self, i):
        self._load()
        return super().__getitem__(i)

    def extend(self, items) -> None:
        self._load()
        super().extend(items)

    def __eq__(self, other) -> bool:
        self._load()
        return super().__eq__(other)

    def __reduce_ex__(self, protocol):  # pragma: no cover - copies are plain lists
        self._load()
        return (list, (list(super().__iter__()),))


class _RowPositions(Positions):
    """global row -> local position without a per-row dict (rows need not be sorted): the
    registry's sorted-rows lookup over the sorted copy, mapped back through the sort order."""

    def __init__(self, rows: np.ndarray) -> None:
        self._order = np.argsort(rows, kind="stable")
        super().__init__(rows[self._order])

    def get(self, row: int, default: int | None = None) -> int | None:
        i = super().get(row)
        return int(self._order[i]) if i is not None else default


#: a pending block with more rows than this is not merged again (blocks after the last such one are)
_MERGED_ROWS = 1 << 12


class BM25Index:
    """Incremental BM25 over rows (int ids) of one language."""

    def __init__(self, config: BM25Config | None = None) -> None:
        self.config = config or BM25Config()
        self.vocab: Vocab = Vocab()
        self.rows = np.zeros(0, dtype=np.int64)          # global row id of each local row
        self.doc_ids: list[str] = []                      # document id of each local row
        self.lengths = np.zeros(0, dtype=np.float64)      # number of terms of each local row
        self._csr = (np.zeros(1, dtype=np.int64),         # CSR: local row -> (term id, tf)
                     np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        # rows added since the CSR was last joined: (indptr from 0, term ids, tfs) per add(), joined
        # into the CSR only when something reads it (save() writes them without joining, so a big
        # document's rows never sit in memory twice)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._csc = None                                  # lazily built term -> postings
        self._row_pos: _RowPositions | None = None

    # the CSR arrays (joined with the pending rows when read)
    def _join(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._pending:
            indptr, indices, tf = self._csr
            base = [int(indptr[-1])]
            for p in self._pending:
                base.append(base[-1] + int(p[0][-1]))
            self._csr = (np.concatenate([indptr] + [p[0][1:] + b for p, b in zip(self._pending, base)]),
                         np.concatenate([indices] + [p[1] for p in self._pending], dtype=np.int32),
                         np.concatenate([tf] + [p[2] for p in self._pending], dtype=np.float32))
            self._pending = []
        return self._csr

    @property
    def _indptr(self) -> np.ndarray:
        return self._join()[0]

    @property
    def _indices(self) -> np.ndarray:
        return self._join()[1]

    @property
    def _tf(self) -> np.ndarray:
        return self._join()[2]

    def _set_csr(self, indptr: np.ndarray, indices: np.ndarray, tf: np.ndarray) -> None:
        self._csr, self._pending = (indptr, indices, tf), []

    def _blocks(self):
        """(first local row, indptr from 0, term ids, tfs) of the joined CSR and of each pending add."""
        indptr, indices, tf = self._csr
        n = indptr.shape[0] - 1
        yield 0, indptr, indices, tf
        for p in self._pending:
            yield n, p[0], p[1], p[2]
            n += p[0].shape[0] - 1

    # ---- updates -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def add(self, rows: Sequence[int], doc_ids: Sequence[str], terms: Sequence[Sequence[str]]) -> None:
        """Append rows with their terms."""
        if not len(rows):
            return
        indptr, indices, tfs, lengths = [0], [], [], []
        base = 0
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
        # pending blocks are compact (term ids and counts as uint16 when they fit: 4 bytes a posting,
        # not 8; a 50 MB document has ~4M postings); joined or saved they are int32 / float32 again
        small = len(self.vocab) <= 1 << 16 and (not tfs or max(tfs) < 1 << 16)
        self._pending.append((np.asarray(indptr, dtype=np.int64),
                              np.asarray(indices, dtype=np.uint16 if small else np.int32),
                              np.asarray(tfs, dtype=np.uint16 if small else np.float32)))
        merged = max((k + 1 for k, q in enumerate(self._pending) if q[0].shape[0] > _MERGED_ROWS), default=0)
        if len(self._pending) - merged >= 64:   # many small adds: the small blocks become one (blocks
            keep, pend = self._pending[:merged], self._pending[merged:]   # merged before are not copied
            off = [0]                                                     # again: a big document's
            for q in pend:                                                # rows never sit in memory
                off.append(off[-1] + int(q[0][-1]))                       # twice while they are added)
            self._pending = keep + [(np.concatenate([pend[0][0][:1]] + [q[0][1:] + o for q, o in zip(pend, off)]),
                                     np.concatenate([q[1] for q in pend]), np.concatenate([q[2] for q in pend]))]
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
        indptr, indices, tf = self._join()
        counts = np.diff(indptr)
        entry_keep = np.repeat(keep, counts)
        self._set_csr(np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64),
                      indices[entry_keep], tf[entry_keep])
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
            csc = csr_matrix((self._tf, self._indices, self._indptr), shape=(n, max(len(self.vocab), 1))).tocsc()
            csc.sort_indices()
            df = np.diff(csc.indptr)
            N = float(n)
            idf = np.log(1.0 + (N - df + 0.5) / (df + 0.5))
            avg = float(self.lengths.mean()) if n else 1.0
            k1, b = self.config.k1, self.config.b
            norm = k1 * (1.0 - b + b * self.lengths / (avg or 1.0))
            # precompute each posting's contribution: idf * tf / (tf + norm), a block of postings
            # at a time (temporaries stay small on a big index: a 50 MB document has ~10M postings),
            # in place of the term frequencies (csc holds its own copy)
            w = csc.data if csc.data.dtype == np.float32 and csc.data.base is None else \
                np.empty(csc.data.shape[0], np.float32)
            step = 1 << 20
            for s in range(0, w.shape[0], step):
                e = min(s + step, w.shape[0])
                col = np.searchsorted(csc.indptr, np.arange(s, e), side="right") - 1
                tf = csc.data[s:e].astype(np.float64)
                w[s:e] = idf[col] * tf / (tf + norm[csc.indices[s:e]])
            self._csc = (csc.indptr, csc.indices, w)
        return self._csc

    def _weights(self):
        """(idf of each term, length norm of each row): the factors of a posting's weight."""
        n = len(self)
        df = self._df()
        N = float(n)
        idf = np.log(1.0 + (N - df + 0.5) / (df + 0.5))
        avg = float(self.lengths.mean()) if n else 1.0
        k1, b = self.config.k1, self.config.b
        return idf, k1 * (1.0 - b + b * self.lengths / (avg or 1.0))

    def _df(self) -> np.ndarray:
        V = max(len(self.vocab), 1)
        df = np.zeros(V, np.int64)
        for _, _, indices, _ in self._blocks():
            df += np.bincount(indices, minlength=V)[:V]
        return df

    def _save_postings(self, folder: Path, blocks: list, nnz: int, step: int = 1 << 16,
                       out_postings: int = 1 << 20) -> None:
        """Write the term -> postings arrays (what :meth:`_postings` computes, the same numbers) to
        ``folder`` without a CSC copy of the index: a counting sort over the terms, done for one
        range of terms (about ``out_postings`` postings) at a time, so besides the per-term arrays
        only that range's output (8 bytes a posting) and one ``step`` of input are held: each
        range's postings are placed at their final position (rows taken in order, ``step``
        postings at a time) and appended to the files."""
        df = self._df()
        post_indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
        np.save(folder / "post_indptr.npy", post_indptr)
        idf, norm = self._weights()
        V = df.shape[0]
        with open(folder / "post_indices.npy", "wb") as fr, open(folder / "post_w.npy", "wb") as fw:
            _npy_header(fr, np.int32, nnz)
            _npy_header(fw, np.float32, nnz)
            t0 = 0
            while t0 < V:                                 # terms t0 .. t1-1: postings lo .. hi-1
                lo = int(post_indptr[t0])
                t1 = int(np.searchsorted(post_indptr, lo + out_postings, side="right")) - 1
                t1 = min(max(t1, t0 + 1), V)
                hi = int(post_indptr[t1])
                cursor = post_indptr[t0:t1] - lo          # next free place of each term in the range
                post_rows = np.empty(hi - lo, np.int32)
                post_w = np.empty(hi - lo, np.float32)
                for first, indptr, indices, tf in blocks:
                    n = indptr.shape[0] - 1
                    r = 0
                    while r < n:
                        r2 = int(np.searchsorted(indptr, indptr[r] + step, side="right")) - 1
                        r2 = min(max(r2, r + 1), n)
                        s, e = int(indptr[r]), int(indptr[r2])
                        if e > s:
                            col = np.asarray(indices[s:e])
                            sel = np.flatnonzero((col >= t0) & (col < t1)) if t0 or t1 < V else None
                            if sel is None or sel.shape[0]:
                                row = np.repeat(np.arange(first + r, first + r2, dtype=np.int32),
                                                np.diff(indptr[r:r2 + 1]))
                                t = np.asarray(tf[s:e])
                                if sel is not None:
                                    col, row, t = col[sel], row[sel], t[sel]
                                order = np.argsort(col, kind="stable")   # by term, rows kept in order
                                col = col[order].astype(np.int64) - t0
                                row = row[order]
                                t = t[order].astype(np.float64)
                                starts = np.flatnonzero(np.concatenate([[True], col[1:] != col[:-1]]))
                                runs = np.diff(np.concatenate([starts, [col.shape[0]]]))
                                dest = cursor[col] + (np.arange(col.shape[0]) - np.repeat(starts, runs))
                                post_rows[dest] = row
                                post_w[dest] = idf[col + t0] * t / (t + norm[row])
                                cursor[col[starts]] += runs
                        r = r2
                post_rows.tofile(fr)
                post_w.tofile(fw)
                del post_rows, post_w
                t0 = t1

    def row_position(self) -> _RowPositions:
        """global row id -> local position (``.get(row)``, ``[row]``)."""
        if self._row_pos is None:
            self._row_pos = _RowPositions(self.rows)
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
        blocks = list(self._blocks())
        nnz = sum(b[2].shape[0] for b in blocks)

        def indptr():                                      # the pending adds' offsets continue the CSR's
            off = 0
            for k, (_, ip, _, _) in enumerate(blocks):
                yield ip[1:] + off if k else ip
                off += int(ip[-1])

        _write_npy(folder / "indptr.npy", np.int64, len(self) + 1, indptr())
        _write_npy(folder / "indices.npy", np.int32, nnz, (b[2] for b in blocks))
        _write_npy(folder / "tf.npy", np.float32, nnz, (b[3] for b in blocks))
        np.save(folder / "rows.npy", self.rows)
        np.save(folder / "lengths.npy", self.lengths)
        if self._csc is not None:                              # searchers memory-map these
            post_indptr, post_indices, post_w = self._csc
            np.save(folder / "post_indptr.npy", np.asarray(post_indptr, np.int64))
            np.save(folder / "post_indices.npy", np.asarray(post_indices, np.int32))
            np.save(folder / "post_w.npy", np.asarray(post_w, np.float32))
        else:
            self._save_postings(folder, blocks, nnz)
        terms = list(self.vocab)
        hashes = np.fromiter((term_hash(t) for t in terms), dtype=np.int64, count=len(terms))
        order = np.argsort(hashes, kind="stable")
        np.save(folder / "vocab_hash.npy", hashes[order])
        np.save(folder / "vocab_ids.npy", order.astype(np.int32))
        with open(folder / "vocab.json", "w", encoding="utf-8") as f:
            json.dump(terms, f, ensure_ascii=False)
        with open(folder / "doc_ids.json", "w", encoding="utf-8") as f:
            json.dump(list(self.doc_ids), f, ensure_ascii=False)
        with open(folder / "state.json", "w", encoding="utf-8") as f:
            json.dump({"format": 2, "k1": self.config.k1, "b": self.config.b, "rows": len(self),
                       "vocabulary": len(terms),
                       "hashes_unique": bool(len(hashes) < 2 or (np.diff(hashes[order]) != 0).all())}, f)

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        """Memory-mapped (read-only until a write replaces an array with an in-memory copy)."""
        with open(folder / "state.json", encoding="utf-8") as f:
            st = json.load(f)
        idx = cls(BM25Config(k1=st["k1"], b=st["b"]))

        def arr(name: str) -> np.ndarray:
            return np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)

        idx._set_csr(arr("indptr"), arr("indices"), arr("tf"))
        idx.rows, idx.lengths = arr("rows"), arr("lengths")
        if st.get("format", 1) == 1:   # older layout: everything in state.json, postings rebuilt
            idx.vocab = Vocab({t: i for i, t in enumerate(st["vocab"])})
            idx.doc_ids = list(st["doc_ids"])
            return idx
        if st.get("hashes_unique", False):
            idx.vocab = Vocab(folder=folder, n=int(st["vocabulary"]), hashes=arr("vocab_hash"), ids=arr("vocab_ids"),
                              source=open(folder / "vocab.json", "rb"))
        else:   # two terms share a 64-bit hash (never seen): look terms up in the JSON list instead
            idx.vocab = Vocab(folder=folder, n=int(st["vocabulary"]))
            idx.vocab._dict()
        idx.doc_ids = LazyList(open(folder / "doc_ids.json", "rb"), int(st["rows"]))
        idx._csc = (arr("post_indptr"), arr("post_indices"), arr("post_w"))
        n = int(st["rows"])
        if not len(idx.rows) == len(idx.lengths) == n or len(idx._indptr) != n + 1:
            raise ValueError(f"{folder}: BM25 arrays disagree with state.json ({n} rows)")
        # a shortened but valid .npy (QA session 6 Q1-12: a smaller post_w.npy went unnoticed) makes
        # the arrays disagree with each other: the caller rebuilds from the registry
        nnz = int(idx._indptr[-1]) if n else 0
        pi, px, pw = idx._csc
        v = int(st["vocabulary"])
        if (len(idx._indices) != nnz or len(idx._tf) != nnz or len(pi) != v + 1 or len(px) != len(pw)
                or (v and int(pi[-1]) != len(px)) or len(px) != nnz):
            raise ValueError(f"{folder}: BM25 postings disagree with each other or with state.json")
        if st.get("hashes_unique", False) and (len(idx.vocab._hashes) != v or len(idx.vocab._ids) != v):
            raise ValueError(f"{folder}: BM25 vocabulary arrays disagree with state.json ({v} terms)")
        return idx


def _npy_header(f, dtype, n: int) -> None:
    np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                             "fortran_order": False, "shape": (int(n),)})


_WRITE_STEP = 1 << 18


def _write_npy(path: Path, dtype, n: int, parts) -> None:
    """A 1-D .npy file of ``n`` values written part by part (what ``np.save`` of their
    concatenation writes, without the concatenation)."""
    with open(path, "wb") as f:
        _npy_header(f, dtype, n)
        written = 0
        for a in parts:
            for i in range(0, a.shape[0], _WRITE_STEP):   # converted a slice at a time (a compact
                b = np.ascontiguousarray(a[i:i + _WRITE_STEP], dtype)   # block is never copied whole)
                b.tofile(f)
                written += b.shape[0]
    if written != n:
        raise AssertionError(f"{path}: wrote {written} values, expected {n}")


class BM25Store:
    """One BM25Index per language, saved under one folder (e.g. thaija.db.state/bm25/)."""

    def __init__(self, folder: Path | None = None, config: BM25Config | None = None) -> None:
        self.folder = folder
        self.config = config or BM25Config()
        self.indexes: dict[str, BM25Index] = {}
        if folder is not None:
            self._load(folder)

    def _load(self, folder: Path) -> None:
        """Every language of one save. A writer's save swaps the whole folder (``save``) and writes a
        new token into ``langs.json``: when the token read after loading differs from the one read
        before (or the folder is briefly missing while ``.old`` exists), reading starts
        again, so a reader never mixes two saves (inode numbers are reused, tokens are not)."""
        import time

        def token():
            try:
                raw = json.loads((folder / "langs.json").read_text(encoding="utf-8"))
            except FileNotFoundError:
                if folder.with_name(folder.name + ".old").exists():
                    return None                           # between the two renames of a save
                return [], "none"                         # no state (or a folder without langs.json)
            if isinstance(raw, list):                     # saved before tokens: no swap check
                return raw, ""
            return list(raw["langs"]), str(raw["save"])

        for attempt in range(400):                        # a swap takes milliseconds; 400 x 25 ms = 10 s
            last = attempt == 399
            before = token()
            if before is None and not last:
                time.sleep(0.025)
                continue
            if before is None or before[1] == "none":
                self.indexes = {}
                return
            self.indexes = {}
            try:
                for lang in before[0]:
                    self.indexes[lang] = BM25Index.load(folder / lang)
            except (OSError, ValueError, KeyError, TypeError):
                if last or not before[1] or token() == before:
                    raise                                 # damaged, not swapped: the caller handles it
                time.sleep(0.025)
                continue
            if not before[1] or token() == before:
                return
            time.sleep(0.025)

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
        # the save's own token: a reader that finds the same token before and after reading read one save
        (tmp / "langs.json").write_text(json.dumps({"langs": langs, "save": os.urandom(8).hex()}), encoding="utf-8")
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
