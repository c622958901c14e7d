"""Search an index: BM25 in the query's language(s) (Latin words and codes in every language's
documents), dense across languages, fused.

Access control is applied inside every mode before ranking (BM25 scores and dense similarities
of chunks the caller may not see are never ranked), using `thaija.index.store.allowed_mask`.
"""
from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from thaija.errors import ThaijaError
from thaija.retrieve.config import FUSIONS, MODES, SearchConfig  # noqa: F401 (defined once, re-exported)


@dataclass
class Hit:
    """One retrieved chunk; `text == Index(db).document_text(doc_id)[start:end]`."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    lang: str
    start: int
    end: int
    text: str
    source: str
    relevance: float | None = None  # calibrated in [0, 1], comparable across queries (see relevance())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


from thaija.index.handles import _OPEN, close_index, open_index  # noqa: E402,F401 (re-exported)


def _visible(text: str) -> bool:
    """True when ``text`` has something besides spaces and zero-width characters."""
    from thaija.lang.normalize import normalize

    return bool(normalize(text, "auto", nfkc=False, thai=False).text.strip())


def _allowed(snap, groups: Sequence[str] | None, lang: str | None) -> np.ndarray:
    """ACL (and language) mask over the snapshot's chunks; cached per snapshot. Do not modify."""
    from thaija.index.store import allowed_mask

    if lang and lang not in ("th", "ja", "en", "other"):
        raise ThaijaError(f"unknown language {lang!r}: use th, ja or en")
    key = (tuple(sorted(set(groups or ()))), lang or "")
    cache = snap.__dict__.setdefault("_masks", {})
    if key not in cache:
        mask = allowed_mask(snap.acl, snap.acl_keys, groups)
        if lang:
            li = snap.lang_names.index(lang) if lang in snap.lang_names else -1
            mask &= snap.langs == li
        mask.flags.writeable = False
        if len(cache) > 64:
            cache.clear()
        bias = np.where(mask, np.float32(0.0), np.float32(-np.inf)).astype(np.float32)
        cache[key] = (mask, bias)
    return cache[key][0]


def _bias(snap, mask: np.ndarray) -> np.ndarray:
    """0 / -inf per chunk for a cached mask (adding it is faster than masked assignment)."""
    for m, b in snap.__dict__.get("_masks", {}).values():
        if m is mask:
            return b
    return np.where(mask, np.float32(0.0), np.float32(-np.inf)).astype(np.float32)


def _latin_words(query: str) -> list[str]:
    """The query's Latin-script words as typed ("AX3000", "E1042", "Wi-Fi"), English function
    words left out: product and error codes, names and loanwords that documents of every language
    carry."""
    from thaija.index.bm25 import segment_terms
    from thaija.lang import segment
    from thaija.retrieve.query import usable

    runs: list[list[int]] = []
    for t in segment(query, lang="auto", normalize=True):
        if t.lang != "en":
            continue
        if runs and runs[-1][1] == t.start:
            runs[-1][1] = t.end
        else:
            runs.append([t.start, t.end])
    words = [unicodedata.normalize("NFKC", query[s:e]) for s, e in runs]     # ＡＸ３０００ -> AX3000
    # a word needs an ASCII letter: bare numbers (years, amounts) occur in every document and
    # matching them across languages drags cross-lingual hybrid ranking down
    return [w for w in words if any(c.isascii() and c.isalpha() for c in w)
            and any(usable(t, "en") for t in segment_terms(w, "en"))]


def _latin_scores(ix, words: Sequence[str], lang: str) -> np.ndarray:
    """BM25 scores of a per-language index's rows for Latin ``words`` found in its documents. Each
    word is segmented the way the index's writer segmented its documents (Thai and Japanese text
    splits "AX3000" into ax + 3000) and counts the mean of its pieces' scores, so that a code
    matched in a Thai chunk scores on the same scale as the one term matched in an English chunk.
    A row counts a word only when it holds every piece: AX5400 (ax + 5400) is no match for AX3000,
    nor is any E-code for E1042."""
    from thaija.index.bm25 import segment_terms

    total = np.zeros(len(ix), dtype=np.float32)
    for w in words:
        pieces = list(dict.fromkeys(segment_terms(w, lang if lang in ("th", "ja", "en") else None)))
        if not pieces:
            continue
        each = [ix.scores([p]) for p in pieces]
        held = np.logical_and.reduce([e > 0 for e in each])
        total += np.where(held, np.sum(each, axis=0) / np.float32(len(pieces)), np.float32(0.0))
    return total


def _bm25_rows(index, snap, query: str, depth: int, mask: np.ndarray, lang: str | None,
               latin_in_mixed: bool = True) -> list[tuple[int, float]]:
    """BM25 rows of the query's language(s); its Latin words (codes such as AX3000 or E1042, names)
    are also looked up in every other language's index (``lang``: only that one), since documents in
    any language carry them. Rows of all indexes are merged by score, best first.
    ``latin_in_mixed=False`` (hybrid): only a query made of Latin words alone is looked up across
    languages; a Thai or Japanese sentence that names something leaves the other languages to the
    dense retriever (names matched across languages pulled FLORES th->ja hybrid nDCG@10 0.0037 below
    dense)."""
    from thaija.index.bm25 import segment_terms_with_langs

    terms, term_langs = segment_terms_with_langs(query)
    if not terms:
        return []
    native = set(term_langs)
    latin = _latin_words(query) if "en" in native and (latin_in_mixed or native == {"en"}) else []
    if lang:
        qlangs = {lang}
    else:
        qlangs = native | (set(index.bm25.indexes) if latin else set())
    pos = snap.position()
    found: dict[int, float] = {}
    for ql in sorted(qlangs):
        ix = index.bm25.indexes.get(ql)
        if ix is None or not len(ix):
            continue
        cache = getattr(ix, "_snap_idx", None)
        if cache is None or cache[0] != snap.version or cache[1] is not ix.rows:
            idx = np.fromiter((pos.get(int(r), -1) for r in ix.rows), dtype=np.int64, count=len(ix))
            ix._snap_idx = cache = (snap.version, ix.rows, idx)
        idx = cache[2]
        local_mask = np.zeros(len(ix), dtype=bool)
        ok = idx >= 0
        local_mask[ok] = mask[idx[ok]]          # unknown rows are never allowed (fail closed)
        if ql in native or not latin:
            rows, scores = ix.top(terms, depth, local_mask)
        else:
            sc = _latin_scores(ix, latin, ql)
            sc[~local_mask] = 0.0
            cand = np.flatnonzero(sc > 0)
            if cand.size > depth:
                cand = cand[np.argpartition(-sc[cand], depth - 1)[:depth]]
            rows, scores = ix.rows[cand], sc[cand]
        for r, s in zip(rows.tolist(), scores.tolist()):
            if s > found.get(r, 0.0):
                found[r] = s
    return sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]


def _center_languages(sims: np.ndarray, langs: np.ndarray, mask: np.ndarray, min_rows: int = 3) -> None:
    """Remove the embedder's same-language bias in place: every language's mean similarity is moved
    to the overall mean (a Japanese question otherwise rates every Japanese chunk above the Thai
    chunk that answers it); means over the ``mask`` rows, shifts applied to every row of the
    language. One language only: nothing changes."""
    present = np.unique(langs[mask]) if mask.any() else []
    if len(present) < 2:
        return
    overall = float(sims[mask].mean())
    for li in present:
        sel = mask & (langs == li)
        if int(sel.sum()) >= min_rows:
            sims[langs == li] += overall - float(sims[sel].mean())


def _dense_rows(index, snap, query: str, depth: int, mask: np.ndarray, groups, lang,
                query_vector: np.ndarray | None = None) -> list[tuple[int, float]]:
    qv = index.embedder.query([query])[0] if query_vector is None else np.asarray(query_vector, np.float32)
    if index.config.use_milvus_search:   # server mode: vectors stay in Milvus (same ranking)
        from thaija.retrieve.dense_server import milvus_dense_rows

        return milvus_dense_rows(index, snap, qv, depth, mask, groups, lang)
    n_ok = int(mask.sum())
    if not len(snap.rows) or not n_ok:
        return []
    sims = snap.vectors @ qv.astype(np.float32)
    # statistics over the public chunks: the shift must not depend on the caller's groups
    _center_languages(sims, snap.langs, _allowed(snap, None, None))
    if n_ok < len(sims):
        sims += _bias(snap, mask)               # -inf: never rank what the caller may not see
    top = min(depth, n_ok)
    cand = np.argpartition(sims, len(sims) - top)[len(sims) - top:] if top < len(sims) else np.arange(len(sims))
    cand = cand[np.isfinite(sims[cand])]
    cand = cand[np.lexsort((snap.rows[cand], -sims[cand]))]
    return [(int(snap.rows[i]), float(sims[i])) for i in cand]


def bm25_coverage(index, query: str, row: int) -> float:
    """IDF-weighted share of the query's content terms found in BM25 row ``row`` (generic words
    discounted, see :mod:`thaija.retrieve.query`); 1.0 when it cannot be measured."""
    import math

    from thaija.index.bm25 import segment_terms_with_langs
    from thaija.retrieve.query import content_terms, term_weight

    for ql, ix in index.bm25.indexes.items():
        p = ix.row_position().get(int(row)) if len(ix) else None
        if p is None:
            continue
        terms = list(dict.fromkeys(content_terms(query)))
        if ql in ("th", "ja") and ql not in set(segment_terms_with_langs(query)[1]):
            # a Latin code found in a Thai/Japanese chunk: its terms as that chunk's writer cut them
            terms = list(dict.fromkeys(content_terms(query, ql)))
        if not terms:
            return 1.0
        have = set(ix._indices[ix._indptr[p]:ix._indptr[p + 1]].tolist())
        indptr, n = ix._postings()[0], len(ix)
        got = total = 0.0
        for t in terms:
            i = ix.vocab.get(t)
            df = int(indptr[i + 1] - indptr[i]) if i is not None and i + 1 < len(indptr) else 0
            w = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * term_weight(t, ql)
            total += w
            got += w if i is not None and i in have else 0.0
        return got / total if total else 1.0
    return 1.0


def search_rows(index, query: str, cfg: SearchConfig, groups: Sequence[str] | None = None,
                lang: str | None = None, query_vector: np.ndarray | None = None) -> list[tuple[int, float]]:
    """(global row, score) best first: the core used by `search` and `thaija eval`.

    `query_vector`: a precomputed query embedding (skips the embedder).
    """
    from thaija.retrieve.fusion import fuse

    if not isinstance(query, str) or not _visible(query):
        raise ThaijaError("empty query")
    snap = index.snapshot()
    mask = _allowed(snap, groups, lang)
    if cfg.mode == "bm25":
        return _bm25_rows(index, snap, query, cfg.k, mask, lang)
    if cfg.mode == "dense":
        return _dense_rows(index, snap, query, cfg.k, mask, groups, lang, query_vector)
    b = _bm25_rows(index, snap, query, cfg.depth, mask, lang, latin_in_mixed=False)
    d = _dense_rows(index, snap, query, cfg.depth, mask, groups, lang, query_vector)
    if not b:
        return d[:cfg.k]
    # BM25 only counts as much as its best hit covers the query: a cross-language question whose
    # BM25 (in the question's language) finds same-language near misses must not drag dense down.
    # (only in indexes holding several languages: one-language indexes fuse exactly as before)
    wb = cfg.bm25_weight
    if np.unique(snap.langs[mask]).size > 1:
        wb *= min(1.0, bm25_coverage(index, query, b[0][0]) / 0.6)
    fused = fuse([b, d], cfg.fusion, weights=[wb, 1.0 - cfg.bm25_weight] if cfg.fusion == "weighted"
                 else [wb / max(cfg.bm25_weight, 1e-9), 1.0], rrf_k=cfg.rrf_k)
    return [(int(r), float(s)) for r, s in fused[:cfg.k]]


def hits_from_rows(index, rows: list[tuple[int, float]]) -> list[Hit]:
    snap = index.snapshot()
    pos = snap.position()
    docs: dict[str, dict] = {}
    out: list[Hit] = []
    for rank, (row, score) in enumerate(rows, start=1):
        i = pos[row]
        did = snap.doc_ids[i]
        if did not in docs:
            docs[did] = index.document(did)
        d = docs[did]
        s, e = int(snap.starts[i]), int(snap.ends[i])
        out.append(Hit(rank, round(float(score), 6), snap.chunk_ids[i], did, snap.lang_names[snap.langs[i]],
                       s, e, d["text"][s:e], d["source"]))
    return out


#: Relevance: how far a chunk's cosine stands above the mean cosine of the index's chunks in its
#: language for this query, mapped from [REL_MARGIN, REL_MARGIN + REL_SPAN] onto [0, 1];
#: REL_MEAN is the mean used when a language has fewer than REL_MIN_ROWS chunks (e5 scale).
REL_MARGIN, REL_SPAN, REL_MEAN, REL_MIN_ROWS = 0.02, 0.08, 0.78, 5


def relevance(index, query: str, rows: Sequence[tuple[int, float]], query_vector: np.ndarray | None) -> list[float]:
    """Relevance in [0, 1] of each row, comparable across queries (the fused ``score`` is min-max
    scaled within one result list: the first hit of any query, however unrelated, is near 1).

    ``dense``: the chunk's cosine with the query minus the mean cosine of the public chunks in the
    same language (the embedder rates every text in the query's own language higher, and some
    queries sit closer to everything), mapped from [0.02, 0.10] onto [0, 1] (a language with
    fewer than 5 chunks uses the mean 0.78): an unrelated query's best chunk stands 0.01–0.03 above
    its language's mean, a passage that answers it 0.04–0.12.
    ``lexical``: the IDF-weighted share of the query's content terms in the chunk (generic words
    discounted). Relevance = ``dense + 0.5 * max(0, lexical - dense)`` (words only raise it: a
    cross-language match shares none). Without a query vector (``mode="bm25"``) or stored vectors
    (server mode) it is ``0.5 * lexical``."""
    snap = index.snapshot()
    pos = snap.position()
    vecs = getattr(snap, "vectors", None)
    sims = means = sums = counts = public = None
    if query_vector is not None and vecs is not None and len(vecs):
        sims = vecs @ np.asarray(query_vector, np.float32)
        public = _allowed(snap, None, None)
        means = True
        sums, counts = {}, {}
        for li in np.unique(snap.langs).tolist():
            sel = public & (snap.langs == li)
            sums[li], counts[li] = float(sims[sel].sum()), int(sel.sum())
    out = []
    for row, _ in rows:
        lex = bm25_coverage(index, query, row) if rows else 0.0
        i = pos.get(row)
        if sims is None or i is None:
            rel = 0.5 * lex
        else:
            li, c = int(snap.langs[i]), float(sims[i])
            # mean of the OTHER chunks of its language (the chunk itself would pull it up in a small
            # index), shrunk towards REL_MEAN by REL_MIN_ROWS pseudo-chunks
            n = counts[li] - (1 if public[i] else 0)
            base = (sums[li] - (c if public[i] else 0.0) + REL_MIN_ROWS * REL_MEAN) / (max(n, 0) + REL_MIN_ROWS)
            dense = min(1.0, max(0.0, (c - base - REL_MARGIN) / REL_SPAN))
            rel = dense + 0.5 * max(0.0, lex - dense)
        out.append(round(min(1.0, max(0.0, rel)), 4))
    return out


def search(query: str, *, db: str = "./thaija.db", k: int = 10, mode: str = "hybrid",
           groups: Sequence[str] | str | None = None, lang: str | None = None, fusion: str = "weighted",
           config: SearchConfig | None = None, query_vector: np.ndarray | None = None,
           min_score: float | None = None) -> list[Hit]:
    """Search the index at `db`; only chunks the caller's `groups` may see (or public ones) come back.

    mode: "bm25" (the query's language; its Latin words such as product or error codes in every
    language's documents), "dense" (all languages) or "hybrid" (both, fused).
    lang: restrict results to chunks in this language.
    Every hit carries ``score`` (the ranking score: fused scores are min-max scaled per query, so the
    first hit of any query is near 1) and ``relevance`` (calibrated in [0, 1], comparable across
    queries, see :func:`relevance`). ``min_score`` (default ``config.min_score``, 0) drops hits whose
    relevance is below it: an unrelated query then returns nothing.
    """
    from thaija.index.documents import validate_groups

    cfg = config or SearchConfig(k=k, mode=mode, fusion=fusion, min_score=min_score or 0.0)
    floor = cfg.min_score if min_score is None else float(min_score)
    if not 0.0 <= floor <= 1.0:
        raise ThaijaError(f"min_score must be between 0 and 1, got {floor}")
    index = open_index(db)
    if query_vector is None and cfg.mode != "bm25" and isinstance(query, str) and _visible(query):
        query_vector = index.embedder.query([query])[0]
    rows = search_rows(index, query, cfg, validate_groups(groups), lang, query_vector)
    hits = hits_from_rows(index, rows)
    for h, rel in zip(hits, relevance(index, query, rows, query_vector)):
        h.relevance = rel
    return [h for h in hits if h.relevance >= floor] if floor > 0 else hits
