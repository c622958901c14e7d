"""Incremental ingest into a real Milvus Lite file: add, skip unchanged, replace, remove, resume."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from thaija.errors import ThaijaError
from thaija.index import Document, Index, IndexConfig
from thaija.index.bm25 import BM25Store

ROOT = Path(__file__).resolve().parents[1]
WIKI_JA = [json.loads(l) for l in (ROOT / "corpora/wiki_ja/corpus.jsonl").read_text(encoding="utf-8").splitlines()]
WIKI_TH = [json.loads(l) for l in (ROOT / "corpora/wiki_th/corpus.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("emb") / "embeddings.sqlite")


def _docs(n_ja: int = 4, n_th: int = 2) -> list[Document]:
    return ([Document(id=r["id"], text=r["text"], title=r["title"], lang="ja") for r in WIKI_JA[:n_ja]]
            + [Document(id=r["id"], text=r["text"], title=r["title"]) for r in WIKI_TH[:n_th]])


def _index(tmp_path: Path, cache: str, name: str = "t.db", dense: str = "auto") -> Index:
    return Index(IndexConfig(db=str(tmp_path / name), cache_path=cache, chunk_tokens=128, overlap=16,
                             dense_backend=dense))


def _milvus_in_step(idx: Index) -> None:
    """Milvus holds exactly the registry's chunks -- or none: a Lite file searched in-process
    (the default) keeps its rows out of Milvus Lite, whose engine holds every row in memory."""
    assert idx.milvus.count() == (idx.stats()["chunks"] if idx.milvus_rows else 0)


def _state(idx: Index) -> dict:
    snap = idx.snapshot()
    bm = {lang: sorted(zip(ix.rows.tolist(), ix.doc_ids, ix.scores(["梅雨", "の", "เป็น"]).round(5).tolist()))
          for lang, ix in sorted(idx.bm25.indexes.items()) if len(ix)}
    return {"docs": [(d["doc_id"], d["chunks"], d["groups"]) for d in idx.list()],
            "chunks": sorted(zip(snap.chunk_ids, snap.starts.tolist(), snap.ends.tolist())),
            "vectors": float(np.round(snap.vectors.sum(), 3)), "bm25": bm, "milvus": idx.milvus.count()}


@pytest.mark.parametrize("dense", ["auto", "milvus"])
def test_add_skip_replace_remove(tmp_path, cache, dense):
    idx = _index(tmp_path, cache, dense=dense)
    assert idx.milvus_rows == (dense == "milvus") == idx.stats()["milvus_rows"]
    s = idx.add_documents(_docs(), progress=False)
    assert (s["added"], s["replaced"], s["unchanged"]) == (6, 0, 0) and s["chunks_added"] >= 6
    n_chunks = s["chunks_added"]
    assert n_chunks == idx.stats()["chunks"]
    _milvus_in_step(idx)
    assert set(idx.stats()["chunks_by_lang"]) == {"ja", "th"}

    s = idx.add_documents(_docs(), progress=False)          # unchanged: nothing embedded, nothing written
    assert (s["added"], s["replaced"], s["unchanged"], s["chunks_embedded"]) == (0, 0, 6, 0)

    docs = _docs()
    docs[4] = Document(id=docs[4].id, text=docs[4].text + "\nเพิ่มประโยคใหม่ท้ายเอกสาร", title=docs[4].title)
    s = idx.add_documents(docs, progress=False)
    assert (s["added"], s["replaced"], s["unchanged"]) == (0, 1, 5)
    # only the changed tail chunk is new text: unchanged chunks come from the cache
    assert s["chunks_embedded"] <= 1 and s["chunks_removed"] >= 1
    assert idx.document_text(docs[4].id).endswith("เพิ่มประโยคใหม่ท้ายเอกสาร")
    _milvus_in_step(idx)

    # groups change only: replaced with no embedding, ACL updated
    docs[0] = Document(id=docs[0].id, text=docs[0].text, title=docs[0].title, lang="ja", groups=["hr"])
    s = idx.add_documents(docs, progress=False)
    assert s["replaced"] == 1 and s["chunks_embedded"] == 0
    assert [d["groups"] for d in idx.list() if d["doc_id"] == docs[0].id] == [["hr"]]

    r = idx.remove([docs[1].id, docs[5].id])
    assert r["removed"] == 2 and r["chunks_removed"] >= 2
    assert {d["doc_id"] for d in idx.list()} == {d.id for d in docs} - {docs[1].id, docs[5].id}
    assert all(docs[1].id not in ix.doc_ids for ix in idx.bm25.indexes.values())
    _milvus_in_step(idx)
    with pytest.raises(ThaijaError, match="unknown document id: nope"):
        idx.remove(["nope"])
    idx.close()

    again = _index(tmp_path, cache)                        # state survives reopening
    assert {d["doc_id"] for d in again.list()} == {d.id for d in docs} - {docs[1].id, docs[5].id}
    assert again.milvus_rows == (dense == "milvus")       # the index keeps its choice
    again.close()


def test_lite_index_opened_for_milvus_search_is_filled_from_the_registry(tmp_path, cache):
    """Built for in-process search (no Milvus Lite rows), then opened with dense_backend="milvus":
    the Lite file gets every chunk (vectors from the registry) once, and Milvus search agrees."""
    from thaija.retrieve.search import SearchConfig, search_rows

    idx = _index(tmp_path, cache)
    idx.add_documents(_docs(3, 1), progress=False)
    n = idx.stats()["chunks"]
    q = WIKI_JA[1]["text"][:40]
    want = [r for r, _ in search_rows(idx, q, SearchConfig(k=3, mode="dense"))]
    assert idx.milvus.count() == 0
    idx.close()
    m = _index(tmp_path, cache, dense="milvus")
    assert m.milvus_rows and m.milvus.count() == n
    assert [r for r, _ in search_rows(m, q, SearchConfig(k=3, mode="dense"))] == want
    m.close()
    again = _index(tmp_path, cache)                        # filled once: numpy-mode writers keep it in step
    assert again.milvus_rows
    again.remove([_docs(3, 1)[0].id])
    _milvus_in_step(again)
    again.close()


def test_interrupted_ingest_rerun_gives_same_state(tmp_path, cache, monkeypatch):
    ref = _index(tmp_path, cache, "ref.db")
    ref.add_documents(_docs(3, 1), progress=False)
    want = _state(ref)
    ref.close()

    idx = _index(tmp_path, cache, "crash.db")
    real_save = BM25Store.save

    def crash(self):
        raise KeyboardInterrupt("power cut after the registry commit, before BM25 is saved")

    monkeypatch.setattr(BM25Store, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        idx.add_documents(_docs(3, 1), progress=False)
    monkeypatch.setattr(BM25Store, "save", real_save)
    idx.close()
    idx = _index(tmp_path, cache, "crash.db")
    assert len(idx.list()) == 4                            # the registry committed: BM25 is rebuilt from it
    assert _state(idx) == want
    s = idx.add_documents(_docs(3, 1), progress=False)
    assert s["unchanged"] == 4 and s["chunks_embedded"] == 0
    assert _state(idx) == want
    idx.close()


def test_malformed_jsonl_line_strict_writes_nothing_else_only_that_line_is_skipped(tmp_path, cache):
    p = tmp_path / "c.jsonl"
    good = json.dumps({"id": "a", "text": WIKI_TH[0]["text"]}, ensure_ascii=False)
    p.write_text(good + "\n{broken\n", encoding="utf-8")
    idx = _index(tmp_path, cache)
    with pytest.raises(ThaijaError, match=r"c\.jsonl:2"):
        idx.add_paths([p], progress=False, strict=True)
    assert idx.list() == [] and not (tmp_path / "t.db").exists()
    s = idx.add_paths([p], progress=False)                  # QA F9: the good line is indexed, the bad one named
    assert s["added"] == 1 and [r["path"] for r in s["skipped"]] == [f"{p}:2"]
    assert [d["doc_id"] for d in idx.list()] == ["a"]
    idx.close()


def test_index_built_before_the_choice_was_recorded_keeps_its_lite_rows(tmp_path, cache):
    """An older index (chunks, rows in the Lite file, no ``milvus_rows`` record) stays in step."""
    idx = _index(tmp_path, cache, dense="milvus")
    idx.add_documents(_docs(1, 1), progress=False)
    with idx.registry.db:
        idx.registry.db.execute("DELETE FROM meta WHERE key='milvus_rows'")
    idx.close()
    old = _index(tmp_path, cache)
    assert old.milvus_rows
    old.add_documents(_docs(2, 1), progress=False)
    _milvus_in_step(old)
    old.close()


def test_second_process_gets_index_in_use(tmp_path, cache):
    idx = _index(tmp_path, cache)
    idx.add_documents(_docs(1, 0), progress=False)
    assert idx.milvus.count() == 0                        # this process now holds the Milvus Lite lock
    code = ("import sys\nfrom thaija.index import Index, IndexConfig, Document\nfrom thaija.errors import ThaijaError\n"
            f"i = Index(IndexConfig(db={str(tmp_path / 't.db')!r}, cache_path={cache!r}, lock_timeout=0))\n"
            "try:\n    i.remove(['jsquad-valid-0'])\nexcept ThaijaError as e:\n    print(e); sys.exit(3)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 3, p.stderr[-500:]
    assert "index in use by another process" in p.stdout
    idx.close()                                           # released: the other process may write now
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0, p.stdout + p.stderr[-500:]


def test_config_is_validated(tmp_path):
    with pytest.raises(ThaijaError, match=r"\.db"):
        IndexConfig(db=str(tmp_path / "x.sqlite"))
    with pytest.raises(ThaijaError, match="chunk-tokens"):
        IndexConfig(db=str(tmp_path / "x.db"), chunk_tokens=2)
    with pytest.raises(ThaijaError, match="does not exist"):
        IndexConfig(db=str(tmp_path / "no" / "x.db"))


def test_two_writers_in_turn_keep_each_others_documents(tmp_path, cache):
    """Two handles opened before either wrote (as two processes would): BM25 and registry keep both."""
    a, b = _index(tmp_path, cache), _index(tmp_path, cache)
    docs = _docs(2, 1)
    a.add_documents(docs[:1], progress=False)
    b.add_documents(docs[1:], progress=False)
    a.remove([docs[1].id])
    c = _index(tmp_path, cache)
    kept = {docs[0].id, docs[2].id}
    assert {d["doc_id"] for d in c.list()} == kept
    assert {d for ix in c.bm25.indexes.values() for d in ix.doc_ids} == kept
    _milvus_in_step(c)
    for i in (a, b, c):
        i.close()


MD = """# 勤務規程

この規程は社員の勤務について定める。

## テレワーク

在宅勤務は週に二日まで認められる。申請は前日までに上長へ行う。

## 残業

休日の残業代は通常の一・三五倍とする。深夜の場合はさらに割増がある。
"""


def test_markdown_headings_start_chunks_and_are_context_not_text(tmp_path, cache):
    from thaija.index.sections import heading_at, sections

    assert [h for _, _, h in sections(MD)] == ["勤務規程", "テレワーク", "残業"]
    assert heading_at(MD, MD.index("休日")) == "残業"
    (tmp_path / "rules.md").write_text(MD, encoding="utf-8")
    idx = _index(tmp_path, cache)
    idx.add_paths([str(tmp_path / "rules.md")], progress=False)
    snap = idx.snapshot()
    text = idx.document_text("rules.md")
    pieces = [text[s:e] for s, e in zip(snap.starts.tolist(), snap.ends.tolist())]
    assert len(pieces) == 3 and not any("#" in p for p in pieces)          # one chunk per section, no heading lines
    assert pieces[2].startswith("休日の残業代")
    assert idx.list()[0]["title"] == "勤務規程"
    ja = idx.bm25.indexes["ja"]
    # the heading is a BM25 term of its own section only (title field), not of the others
    hit = ja.scores(["テレワーク"])
    assert hit[1] > 0 and hit[0] == 0 and hit[2] == 0
    assert (ja.scores(["規程"]) > 0).all()                                  # the title reaches every chunk
    idx.close()


def test_context_is_fixed_per_index(tmp_path, cache):
    idx = Index(IndexConfig(db=str(tmp_path / "c.db"), cache_path=cache, context="none"))
    idx.add_documents(_docs(1, 0), progress=False)
    idx.close()
    with pytest.raises(ThaijaError, match="built with context 'none'"):
        Index(IndexConfig(db=str(tmp_path / "c.db"), cache_path=cache, context="title"))
    again = Index(IndexConfig(db=str(tmp_path / "c.db"), cache_path=cache))
    assert again.stats()["context"] == "none"
    again.close()
