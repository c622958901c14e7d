"""A chunk opens with the words it shares with the chunk before it, usually the tail of a sentence,
and may end inside a long one: the answer stage widens such a chunk to whole sentences from the
stored document (``rag.pipeline.whole_sentences``), so an answer never quotes half a sentence.

FLORES dev slice (tests/data/flores_*.txt, line-aligned translations): ten Japanese sentences as
one document, cut into small chunks; each Thai sentence asks for its Japanese translation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from thaija.rag.pipeline import AskConfig, answer, whole_sentences
from thaija.retrieve import Hit

DATA = Path(__file__).parent / "data"
JA = (DATA / "flores_jpn.txt").read_text("utf-8").splitlines()[:10]
TH = (DATA / "flores_tha.txt").read_text("utf-8").splitlines()[:10]
TEXT = "\n".join(JA)


@pytest.fixture(scope="module")
def small_chunks(tmp_path_factory):
    from thaija.index import Index
    from thaija.index.config import IndexConfig
    from thaija.retrieve import close_index

    d = tmp_path_factory.mktemp("whole")
    (d / "docs.jsonl").write_text(json.dumps({"id": "a", "text": TEXT, "lang": "ja"}, ensure_ascii=False), "utf-8")
    ix = Index(IndexConfig(db=str(d / "k.db"), chunk_tokens=64, overlap=16))
    ix.add_paths([str(d / "docs.jsonl")], progress=False)
    ix.close()
    yield str(d / "k.db"), None
    close_index(str(d / "k.db"))


def test_chunks_really_open_inside_sentences(small_chunks):
    """The fixture is what it claims: some chunks start (and end) inside a sentence line."""
    from thaija.index.handles import open_index

    db, _ = small_chunks

    starts = [r[0] for r in open_index(db).registry._read("SELECT start FROM chunks WHERE doc_id='a'")]
    assert len(starts) > 3
    assert any(s > 0 and TEXT[s - 1] != "\n" for s in starts)


def test_every_quote_is_a_whole_sentence_line(small_chunks):
    """Before: 5 of the 10 answers lacked their translation (a quote cut at a chunk's edge:
    "が、まだ被害や洪水は報告されていません。"); now each quotes whole lines and holds it."""
    db, _ = small_chunks
    for th, ja in zip(TH, JA):
        r = answer(th, db=db, config=AskConfig(review=False, min_support=0)).to_dict()
        assert ja in r["answer"], (th, r["answer"])
        for c in r["citations"]:
            q = c["quote"].strip()
            assert q in JA or any(line.startswith(q) for line in JA), c   # never a sentence's tail
            assert TEXT[c["start"]:c["end"]] == c["quote"]                # offsets into the original


def test_hits_not_from_the_stored_text_are_left_alone(small_chunks):
    """A hit whose text is not the stored document's at its offsets (a prompt's blocks, a stale
    index) is not widened; one that is gets whole sentences, and text == document[start:end]."""
    from thaija.index.handles import open_index

    db, _ = small_chunks
    index = open_index(db)
    s = TEXT.index(JA[3]) + 5                      # inside the fourth line
    e = TEXT.index(JA[4]) + 7                      # inside the fifth
    h = Hit(1, 1.0, "a#1", "a", "ja", s, e, TEXT[s:e], "docs.jsonl")
    (w,) = whole_sentences(index, [h])
    assert (w.start, w.end) == (TEXT.index(JA[3]), TEXT.index(JA[4]) + len(JA[4])) and w.text == TEXT[w.start:w.end]
    assert w.chunk_id == "a#1" and w.rank == 1
    other = Hit(1, 1.0, "a#1", "a", "ja", s, e, "別の本文" + TEXT[s + 4:e], "docs.jsonl")
    assert whole_sentences(index, [other]) == [other]
    assert whole_sentences(None, [h]) == [h]


def test_text_slice_reads_only_the_parts_it_spans(tmp_path, monkeypatch):
    """Registry.text_slice over a big file's document, stored in ``doc_text`` parts (read block by
    block, as a 50 MB line is), equals slicing the whole text."""
    import thaija.index.documents as documents
    import thaija.index.registry as registry
    from thaija.index import Index
    from thaija.index.handles import close_index, open_index

    monkeypatch.setattr(registry, "TEXT_PART", 4000)
    monkeypatch.setattr(documents, "FILE_BLOCK_BYTES", 1024)
    monkeypatch.setenv("THAIJA_STREAM_CHARS", "3000")
    lines = (DATA / "flores_jpn.txt").read_text("utf-8").splitlines()
    text = "\n".join(lines + lines)
    (tmp_path / "big.txt").write_text(text, "utf-8")
    ix = Index(str(tmp_path / "p.db"))
    ix.add_paths([str(tmp_path / "big.txt")], progress=False)
    ix.close()
    reg = open_index(str(tmp_path / "p.db")).registry
    (doc_id,) = [r[0] for r in reg._read("SELECT doc_id FROM documents")]
    assert reg._read("SELECT COUNT(*) FROM doc_text WHERE doc_id=?", (doc_id,))[0][0] >= 3
    whole = reg.text_of(doc_id)
    assert len(whole) > 8000
    spans = [(0, 10), (3995, 4005), (3990, 8010), (0, len(whole)), (len(whole) - 3, len(whole) + 40), (30, 30)]
    for a, b in spans:
        assert reg.text_slice(doc_id, a, b) == whole[a:b], (a, b)
    assert reg.text_slice("nope", 0, 5) is None
    # with a cache (one answer's hits) the same slices, and the parted document is not looked up again
    cache: dict = {}
    for a, b in spans:
        assert reg.text_slice(doc_id, a, b, cache=cache) == whole[a:b], (a, b)
    assert cache == {doc_id: False}
    assert reg.text_slice("nope", 0, 5, cache=cache) is None and cache["nope"] is None
    close_index(str(tmp_path / "p.db"))


def test_a_short_document_is_read_once_for_all_its_hits(small_chunks):
    """whole_sentences reads a short document once per answer, however many of its chunks were hit."""
    from thaija.index.handles import open_index

    db, _ = small_chunks
    index = open_index(db)
    reg = index.registry
    hits = [Hit(rank=i + 1, score=1.0, chunk_id=f"a#{i}", doc_id="a", lang="ja", start=a, end=b, text=TEXT[a:b],
                source="docs.jsonl") for i, (a, b) in enumerate([(5, 40), (60, 120), (130, 170)])]
    reads = []
    real = reg._read

    def counting(sql, *args):
        reads.append(sql)
        return real(sql, *args)

    reg._read = counting
    try:
        out = whole_sentences(index, hits)
    finally:
        del reg._read
    assert len(reads) == 2   # is it stored in parts? + its text; never per hit
    assert all(TEXT[h.start:h.end] == h.text for h in out)
    assert out[0].start == 0 and out[0].text.endswith("。")


def test_overlapping_chunks_give_each_sentence_once(small_chunks):
    """Two retrieved chunks of one document share their overlap (and, widened, the sentence at their
    edge): every sentence is one candidate unit, kept with the better-ranked hit."""
    from thaija.index.handles import open_index
    from thaija.rag.evidence import units

    db, _ = small_chunks
    rows = open_index(db).registry._read("SELECT chunk_id, start, \"end\" FROM chunks WHERE doc_id='a' ORDER BY start")
    (c1, s1, e1), (c2, s2, e2) = rows[1], rows[2]
    assert s2 < e1                                                   # they overlap
    hits = [Hit(1, 1.0, c2, "a", "ja", s2, e2, TEXT[s2:e2], "d"), Hit(2, 0.9, c1, "a", "ja", s1, e1, TEXT[s1:e1], "d")]
    us = units(whole_sentences(open_index(db), hits))
    spans = [(u.start, u.end) for u in us]
    assert len(spans) == len(set(spans))
    for i, (x, y) in enumerate(spans):                               # no unit half inside another
        assert not any(min(y, q) - max(x, p) >= (y - x) / 2 for j, (p, q) in enumerate(spans) if j != i and q > x and p < y)
    assert all(u.text.strip() in JA for u in us)                     # whole lines only
    touched = [ln for ln in JA if TEXT.index(ln) < max(e1, e2) and TEXT.index(ln) + len(ln) > min(s1, s2)]
    assert sorted(u.text.strip() for u in us) == sorted(touched)      # each sentence of either chunk, once
    shared = [u for u in us if u.start < e1 and u.end > s2]           # sentences in the shared words
    assert shared and all(u.hit == 0 for u in shared)                # the better-ranked hit keeps them
