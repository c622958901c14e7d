"""`thaija eval`: retrieval quality on a BEIR-layout folder, metrics by ranx.

DIR/corpus.jsonl (id, title, text, optional lang), DIR/queries.jsonl (id, text, optional lang),
DIR/qrels.tsv (header `query-id corpus-id score`). Each corpus record is one document; it is
chunked like any ingested document and chunk hits are aggregated to documents (max score).
Modes:
- bm25             per-language BM25 on thaija.lang segmentation (query routed to its language)
- bm25-whitespace  the naive baseline: one BM25 over lowercase whitespace tokens
- dense            the embedder across all languages (Milvus/registry index in a temp folder)
- hybrid           bm25 + dense fused (--fusion weighted | rrf)
"""
from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from thaija.errors import ThaijaError
from thaija.retrieve.config import EVAL_MODES, EvalConfig  # noqa: F401 (defined once, re-exported)

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def load_beir(folder: str | Path) -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    """(corpus, queries, qrels) with file:line errors for malformed input."""
    from thaija.index.documents import iter_beir_jsonl

    d = Path(folder)
    if not d.is_dir():
        raise ThaijaError(f"{folder}: not a folder (want corpus.jsonl, queries.jsonl, qrels.tsv)")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (d / name).is_file():
            raise ThaijaError(f"{d / name}: missing (BEIR layout: corpus.jsonl, queries.jsonl, qrels.tsv)")
    corpus, queries, seen = [], [], set()
    from thaija.validate import check_fields, iter_tsv, parse_number

    for n, rec in iter_beir_jsonl(d / "corpus.jsonl"):
        check_fields(rec, {"id": "id", "title": "str", "lang": "str", "text": "str"}, f"{d / 'corpus.jsonl'}:{n}")
        if "id" not in rec or not isinstance(rec.get("text"), str):
            raise ThaijaError(f"{d / 'corpus.jsonl'}:{n}: need 'id' and a string 'text'")
        if str(rec["id"]) in seen:
            raise ThaijaError(f"{d / 'corpus.jsonl'}:{n}: duplicate id {rec['id']!r}")
        seen.add(str(rec["id"]))
        corpus.append(rec)
    for n, rec in iter_beir_jsonl(d / "queries.jsonl"):
        check_fields(rec, {"id": "id", "text": "str"}, f"{d / 'queries.jsonl'}:{n}")
        if "id" not in rec or not isinstance(rec.get("text"), str) or not rec["text"].strip():
            raise ThaijaError(f"{d / 'queries.jsonl'}:{n}: need 'id' and a non-empty 'text'")
        queries.append(rec)
    qrels: dict[str, dict[str, int]] = {}
    for n, parts in iter_tsv(d / "qrels.tsv", min_columns=3):  # UTF-8, NUL, column count checked
        if n == 1 and parts[0] in ("query-id", "query_id", "qid"):
            continue
        score = int(parse_number(parts[2], f"{d / 'qrels.tsv'}:{n}", "score"))  # inf/nan refused
        qrels.setdefault(parts[0], {})[parts[1]] = score
    return corpus, queries, qrels


def _docs(corpus: list[dict]):
    from thaija.index.documents import Document

    return [Document(id=str(r["id"]), text=r["text"], title=str(r.get("title") or ""),
                     lang=r.get("lang") if r.get("lang") in ("th", "ja", "en") else None,
                     source="corpus.jsonl") for r in corpus]


def _aggregate(rows: list[tuple[int, float]], row_doc: dict[int, str], k: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for r, s in rows:
        d = row_doc.get(r)
        if d is not None and (d not in out or s > out[d]):
            out[d] = float(s)
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:k])


def _bm25_memory(docs, queries, cfg: EvalConfig, progress) -> tuple[dict, float, float]:
    """BM25 modes need no vectors: chunk + index in memory with the same code as `Index`."""
    from thaija.index.bm25 import BM25Index, BM25Store, segment_terms, segment_terms_with_langs, whitespace_terms
    from thaija.index.embed import get_embedder
    from thaija.index.ingest import IndexConfig
    from thaija.index.writer import prepare

    t0 = time.perf_counter()
    emb = get_embedder(cfg.embedder)
    max_tok = min(cfg.chunk_tokens, emb.max_tokens)
    ws = cfg.mode == "bm25-whitespace"
    store = BM25Store(None)
    flat = BM25Index()
    row_doc: dict[int, str] = {}
    row = 0
    task = progress.add("chunking + indexing", len(docs))
    # the ingest's own chunking and BM25 terms (Markdown sections, title/heading context: index/writer.py)
    pcfg = IndexConfig(db=str(Path(tempfile.gettempdir()) / "eval.db"), chunk_tokens=cfg.chunk_tokens,
                       overlap=min(32, cfg.chunk_tokens - 1), context="none" if ws else None)
    pcfg.context = pcfg.context or "title+heading"
    for d in docs:
        chunks, terms, _ = prepare(d, pcfg, emb.count_tokens, max_tok)
        for c, t in zip(chunks, terms):
            if ws:
                flat.add([row], [d.id], [whitespace_terms(c.text)])
            else:
                store.add(c.lang if c.lang in ("th", "ja", "en") else "other", [row], [d.id], [t])
            row_doc[row] = d.id
            row += 1
        progress.advance(task, 1)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    run: dict[str, dict[str, float]] = {}
    depth = cfg.k * 3
    task = progress.add("searching", len(queries))
    for q in queries:
        if ws:
            rows, scores = flat.top(whitespace_terms(q["text"]), depth)
            hits = list(zip(rows.tolist(), scores.tolist()))
        else:
            terms, langs = segment_terms_with_langs(q["text"])
            found: dict[int, float] = {}
            for lang in sorted(set(langs)):
                ix = store.indexes.get(lang)
                if ix is not None and len(ix):
                    rows, scores = ix.top(terms, depth)
                    for r, s in zip(rows.tolist(), scores.tolist()):
                        found[r] = max(found.get(r, 0.0), s)
            hits = list(found.items())
        run[str(q["id"])] = _aggregate(hits, row_doc, cfg.k)
        progress.advance(task, 1)
    return run, t_index, time.perf_counter() - t0


def _indexed(docs, queries, cfg: EvalConfig, progress_enabled: bool, progress) -> tuple[dict, float, float]:
    from thaija.index.ingest import Index, IndexConfig
    from thaija.retrieve.search import SearchConfig, search_rows

    tmp = None
    db = cfg.db
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="thaija-eval-")
        db = str(Path(tmp.name) / "eval.db")
    try:
        t0 = time.perf_counter()
        index = Index(IndexConfig(db=db, embedder=cfg.embedder, chunk_tokens=cfg.chunk_tokens,
                                  cache_path=cfg.cache_path))
        ours = {d.id for d in docs}
        foreign = [r["doc_id"] for r in index.list() if r["doc_id"] not in ours or r["groups"]]
        if foreign:  # never merge eval data into (or change the groups of) a user's index
            index.close()
            raise ThaijaError(f"--db {db} already holds {len(foreign)} document(s) that are not this data set's "
                              f"(e.g. {foreign[0]}): give an empty or eval-only path")
        index.add_documents(docs, progress=progress_enabled)
        snap = index.snapshot()
        row_doc = {int(r): d for r, d in zip(snap.rows.tolist(), snap.doc_ids)}
        t_index = time.perf_counter() - t0
        scfg = SearchConfig(k=min(cfg.k * 3, 10000), mode=cfg.mode, fusion=cfg.fusion, bm25_weight=cfg.bm25_weight,
                            depth=max(100, cfg.k * 3))
        t0 = time.perf_counter()
        from thaija.index.embed import EmbeddingCache, default_cache_dir, embed_passages

        cache_path = cfg.cache_path if cfg.cache_path is not None else str(default_cache_dir() / "embeddings.sqlite")
        cache = EmbeddingCache(cache_path or None)
        task = progress.add("embedding queries", len(queries))
        qvecs = embed_passages([q["text"] for q in queries], index.embedder, cache, 32,
                               progress=lambda n: progress.advance(task, n), kind="query")
        cache.close()
        run: dict[str, dict[str, float]] = {}
        task = progress.add("searching", len(queries))
        for q, qv in zip(queries, qvecs):
            run[str(q["id"])] = _aggregate(search_rows(index, q["text"], scfg, query_vector=qv), row_doc, cfg.k)
            progress.advance(task, 1)
        t_search = time.perf_counter() - t0
        index.close()
        return run, t_index, t_search
    finally:
        if tmp is not None:
            tmp.cleanup()


def evaluate(folder: str | Path, config: EvalConfig | None = None, *, progress: bool = True,
             **kw: Any) -> dict[str, Any]:
    """Evaluate one mode on a BEIR folder; returns the `thaija eval --json` record."""
    from thaija.errors import require
    from thaija.index.ingest import _Progress

    cfg = config or EvalConfig(**kw)
    corpus, queries, qrels = load_beir(folder)
    queries = [q for q in queries if str(q["id"]) in qrels]
    if not queries:
        raise ThaijaError(f"{folder}: no query has a qrels line")
    docs = _docs(corpus)
    bar = _Progress(progress)
    with bar:
        if cfg.mode in ("bm25", "bm25-whitespace"):
            run, t_index, t_search = _bm25_memory(docs, queries, cfg, bar)
        else:
            run, t_index, t_search = _indexed(docs, queries, cfg, progress, bar)
    ranx = require("ranx", "ranx", "retrieval metrics")
    qr = {str(q["id"]): qrels[str(q["id"])] for q in queries}
    for qid in qr:
        if not run.get(qid):
            run[qid] = {"__none__": 0.0}  # ranx needs a non-empty run per query; scores 0 everywhere
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = ranx.evaluate(ranx.Qrels.from_dict(qr), ranx.Run.from_dict(run), list(METRICS))
    f = Path(folder).resolve()
    name = f"{f.parent.name}/{f.name}" if f.name in ("valid", "dev", "test", "train") else f.name
    out: dict[str, Any] = {"dataset": name, "mode": cfg.mode}
    if cfg.mode == "hybrid":
        out["fusion"] = cfg.fusion
    out["queries"] = len(queries)
    out.update({m: round(float(scores[m]), 4) for m in METRICS})
    out["seconds"] = {"index": round(t_index, 3), "search": round(t_search, 3)}
    return out
