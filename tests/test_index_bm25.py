"""Incremental per-language BM25 equals a from-scratch BM25 (bm25s, method="lucene") on the same tokens."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from thaija.index.bm25 import BM25Index, BM25Store, segment_terms, whitespace_terms

DATA = Path(__file__).parent / "data"


def _lines(name: str, n: int) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").splitlines()[:n]


@pytest.fixture(scope="module")
def ja_terms() -> list[list[str]]:
    return [segment_terms(t, "ja") for t in _lines("ntrex_jpn.txt", 60)]


@pytest.fixture(scope="module")
def th_terms() -> list[list[str]]:
    return [segment_terms(t, "th") for t in _lines("ntrex_tha.txt", 60)]


def _scratch_scores(corpus: list[list[str]], query: list[str]) -> np.ndarray:
    import bm25s

    ref = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    ref.index(corpus, show_progress=False)
    return np.asarray(ref.get_scores(query), dtype=np.float64)


def test_segment_terms_are_words_not_characters(th_terms, ja_terms):
    flat_th = [t for ts in th_terms for t in ts]
    assert "ประเทศ" in flat_th or "รัฐบาล" in flat_th or any(len(t) > 3 for t in flat_th)
    assert all(t.strip() and not all(c in ".,!?()「」、。" for c in t) for t in flat_th)
    # Japanese is segmented into words (whitespace gives whole sentences)
    assert sum(len(ts) for ts in ja_terms) > 10 * len(ja_terms)
    assert len(whitespace_terms(_lines("ntrex_jpn.txt", 1)[0])) <= 2


@pytest.mark.parametrize("lang", ["th", "ja"])
def test_incremental_equals_from_scratch_after_adds_and_deletes(lang, th_terms, ja_terms):
    terms = th_terms if lang == "th" else ja_terms
    rng = random.Random(7)
    ix = BM25Index()
    live: dict[int, tuple[str, list[str]]] = {}
    row = 0
    # random sequence: add batches, delete documents, re-add a replaced document
    for step in range(12):
        if step % 3 == 2 and live:
            victims = rng.sample(sorted({d for d, _ in live.values()}), k=min(3, len(live)))
            ix.remove_docs(victims)
            live = {r: v for r, v in live.items() if v[0] not in victims}
        else:
            batch = rng.sample(range(len(terms)), 6)
            rows, ids, toks = [], [], []
            for i in batch:
                doc = f"d{i}"
                if any(v[0] == doc for v in live.values()):
                    ix.remove_docs([doc])  # replace
                    live = {r: v for r, v in live.items() if v[0] != doc}
                rows.append(row); ids.append(doc); toks.append(terms[i])
                live[row] = (doc, terms[i])
                row += 1
            ix.add(rows, ids, toks)
        order = sorted(live)
        assert ix.rows.tolist() == order
        corpus = [live[r][1] for r in order]
        for qi in rng.sample(range(len(terms)), 3):
            query = terms[qi][:8]
            got = ix.scores(query)
            want = _scratch_scores(corpus, query)
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)


def test_repeated_query_terms_count_like_bm25s(ja_terms):
    ix = BM25Index()
    ix.add(list(range(20)), [f"d{i}" for i in range(20)], ja_terms[:20])
    q = ja_terms[3][:3] * 2
    np.testing.assert_allclose(ix.scores(q), _scratch_scores(ja_terms[:20], q), rtol=2e-5, atol=1e-5)


def test_top_respects_mask_and_save_load_roundtrip(tmp_path, th_terms):
    store = BM25Store(tmp_path / "bm25")
    store.add("th", list(range(30)), [f"d{i}" for i in range(30)], th_terms[:30])
    store.remove_docs(["d3", "d4"])
    store.save()
    again = BM25Store(tmp_path / "bm25")
    q = th_terms[5][:6]
    np.testing.assert_array_equal(store.index("th").scores(q), again.index("th").scores(q))
    assert again.index("th").doc_ids == store.index("th").doc_ids
    mask = np.zeros(len(again.index("th")), dtype=bool)
    rows, scores = again.index("th").top(q, 10, mask)
    assert rows.size == 0  # nothing allowed -> nothing ranked
    rows, scores = again.index("th").top(q, 5)
    assert 5 in rows.tolist() and list(scores) == sorted(scores, reverse=True)
    # saved state is JSON + .npy only
    assert {p.suffix for p in (tmp_path / "bm25").rglob("*") if p.is_file()} == {".json", ".npy"}


def test_loaded_index_is_memory_mapped_and_scores_the_same(tmp_path, ja_lines, th_lines):
    """A saved index loads memory-mapped (postings, term hashes), reads its vocabulary/doc ids only
    when asked, scores exactly as before saving, and stays writable (add/remove after load)."""
    from thaija.index.bm25 import BM25Index, LazyList, segment_terms

    ix = BM25Index()
    texts = ja_lines[:30] + th_lines[:30]
    ix.add(list(range(60)), [f"d{i // 3}" for i in range(60)], [segment_terms(t) for t in texts])
    queries = [segment_terms(t) for t in (ja_lines[3][:20], th_lines[5][:30], "東京 กรุงเทพ")]
    want = [ix.scores(q) for q in queries]
    ix.save(tmp_path / "ja")
    back = BM25Index.load(tmp_path / "ja")
    assert isinstance(back._postings()[2], np.memmap) and isinstance(back.rows, np.memmap)
    assert isinstance(back.doc_ids, LazyList) and not back.doc_ids._loaded and len(back.doc_ids) == 60
    assert back.vocab._d is None and len(back.vocab) == len(ix.vocab)
    for q, w in zip(queries, want):
        np.testing.assert_array_equal(back.scores(q), w)
    assert back.vocab._d is None                   # lookups went through the hash array
    assert back.row_position()[41] == 41 and back.row_position().get(999) is None
    back.remove_docs(["d0"])
    back.add([100], ["dx"], [segment_terms(ja_lines[40])])
    fresh = BM25Index()
    keep = [i for i in range(60) if i >= 3]
    fresh.add(keep, [f"d{i // 3}" for i in keep], [segment_terms(texts[i]) for i in keep])
    fresh.add([100], ["dx"], [segment_terms(ja_lines[40])])
    for q in queries:
        np.testing.assert_allclose(back.scores(q)[np.argsort(back.rows)], fresh.scores(q)[np.argsort(fresh.rows)],
                                   rtol=1e-6)


def test_save_writes_the_postings_in_term_ranges_exactly_as_the_in_memory_index(tmp_path, th_terms, ja_terms):
    """save() writes a big document's BM25 without joining its adds or building the postings in
    memory (a range of terms at a time): the files equal those of the same index joined, and the
    postings equal the in-memory ones (scipy CSR -> CSC) value for value."""
    terms = th_terms + ja_terms
    ix, joined = BM25Index(), BM25Index()
    for k in range(0, 120, 3):                          # 40 adds: 40 pending blocks
        rows = list(range(k, k + 3))
        toks = [terms[r % len(terms)] if r % 11 else [] for r in rows]   # some rows without terms
        ix.add(rows, [f"d{r // 4}" for r in rows], toks)
        joined.add(rows, [f"d{r // 4}" for r in rows], toks)
    ix.remove_docs(["d2"])                              # joins, then more pending adds
    joined.remove_docs(["d2"])
    for k in range(200, 290):                           # > 64 pending adds: merged into one block
        ix.add([k], [f"e{k}"], [terms[k % len(terms)]])
        joined.add([k], [f"e{k}"], [terms[k % len(terms)]])
    assert ix._pending and len(ix._pending) <= 65
    joined._join()
    ix.save(tmp_path / "a")
    assert ix._pending and ix._csc is None              # nothing joined or kept by the save
    (tmp_path / "b").mkdir()
    joined._save_postings(tmp_path / "b", list(joined._blocks()), int(joined._indptr[-1]), step=7)
    post = joined._postings()                           # the in-memory (scipy) postings
    for name, want in zip(("post_indptr", "post_indices", "post_w"), post):
        got = np.load(tmp_path / "a" / f"{name}.npy")
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.load(tmp_path / "b" / f"{name}.npy"), want)   # many small ranges
    for name, want in (("indptr", joined._indptr), ("indices", joined._indices), ("tf", joined._tf)):
        np.testing.assert_array_equal(np.load(tmp_path / "a" / f"{name}.npy"), want)
    back = BM25Index.load(tmp_path / "a")
    for q in (th_terms[4][:5], ja_terms[9][:5]):
        np.testing.assert_array_equal(back.scores(q), joined.scores(q))
        np.testing.assert_array_equal(ix.scores(q), joined.scores(q))


def test_a_reader_never_mixes_two_saves(tmp_path):
    """Session 6 QA Q1-9: a second process read the BM25 folder while a writer swapped in its new save
    and got arrays of two saves (numpy: operands could not be broadcast, (5981,) vs (5980,)). A writer
    process keeps saving a growing index; this process loads it over and over: every load is one save."""
    import subprocess
    import sys
    import textwrap

    folder = tmp_path / "bm25"
    store = BM25Store(folder)
    store.add("th", [0], ["d0"], [["a", "b"]])
    store.save()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from pathlib import Path
        from thaija.index.bm25 import BM25Store
        s = BM25Store(Path({str(folder)!r}))
        for i in range(1, 400):
            s.add("th", [i], [f"d{{i}}"], [["a", "b", f"t{{i}}"]])
            s.save()
    """)])
    loads = 0
    try:
        while writer.poll() is None or loads < 5:
            s = BM25Store(folder)
            ix = s.indexes["th"]
            n = len(ix)
            assert len(ix.rows) == len(ix.lengths) == n and len(list(ix.doc_ids)) == n
            assert ix.scores(["a"]).shape == (n,) and list(ix.doc_ids)[-1] == f"d{n - 1}"
            loads += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0 and loads >= 5


def test_a_bm25_built_part_by_part_with_compact_blocks_saves_what_one_built_at_once_saves(tmp_path, th_terms,
                                                                                         ja_terms):
    """Issue 12 (a 50 MB document's BM25 under the 500 MB target): the rows of a big document are
    added part by part into compact pending blocks (uint16 term ids and counts while they fit), the
    small blocks are merged without copying merged ones again, and save() writes the postings a range
    of terms at a time. Files, postings and scores equal those of the same rows added at once; a
    vocabulary past 65,536 terms or a count past 65,535 keeps int32 / float32 blocks."""
    import thaija.index.bm25 as bm

    terms = th_terms + ja_terms
    rows = list(range(600))
    toks = [terms[r % len(terms)] + (["x"] * 70_000 if r == 7 else []) for r in rows]   # one huge count
    once, parts = BM25Index(), BM25Index()
    once.add(rows, ["big"] * 600, toks)
    for k in range(0, 600, 4):                          # 150 adds: merged blocks + a tail
        parts.add(rows[k:k + 4], ["big"] * 4, toks[k:k + 4])
    assert 1 < len(parts._pending) < 64
    assert any(b[1].dtype == np.uint16 for b in parts._pending)           # compact while they fit
    assert all(b[2].dtype == np.float32 for b in parts._pending if 7 in range(b[0].shape[0]))
    parts.save(tmp_path / "p")
    (tmp_path / "r").mkdir()
    once._save_postings(tmp_path / "r", list(once._blocks()), int(once._indptr[-1]), step=5, out_postings=37)
    once.save(tmp_path / "o")
    for name in ("indptr", "indices", "tf", "rows", "lengths", "post_indptr", "post_indices", "post_w"):
        want = np.load(tmp_path / "o" / f"{name}.npy")
        np.testing.assert_array_equal(np.load(tmp_path / "p" / f"{name}.npy"), want)
        if name.startswith("post"):
            np.testing.assert_array_equal(np.load(tmp_path / "r" / f"{name}.npy"), want)   # many term ranges
            np.testing.assert_array_equal(want, np.asarray(once._postings()[
                ("post_indptr", "post_indices", "post_w").index(name)]))
    assert parts._indices.dtype == np.int32 and parts._tf.dtype == np.float32   # joined: the usual dtypes
    for q in (th_terms[4][:5], ja_terms[9][:5], ["x"]):
        np.testing.assert_array_equal(parts.scores(q), once.scores(q))
        np.testing.assert_array_equal(BM25Index.load(tmp_path / "p").scores(q), once.scores(q))
    wide = BM25Index()
    wide.add([0], ["w"], [[f"t{i}" for i in range(bm._MERGED_ROWS)]])
    wide.add([1], ["w"], [[f"u{i}" for i in range(1 << 16)]])            # vocabulary past 65,536 terms
    assert wide._pending[-1][1].dtype == np.int32


@pytest.mark.parametrize("name", ["post_w", "post_indices", "post_indptr", "indices", "tf", "vocab_hash", "vocab_ids"])
def test_a_shortened_npy_is_damage_not_state(tmp_path, th_terms, name):
    """QA session 6 (Q1-12): a valid but shorter .npy (here three values fewer) loaded without a word and
    scored from the wrong postings; every array is now checked against the others and state.json, so
    the loader reports damage (ValueError) and the index rebuilds BM25 from the registry."""
    from thaija.index.bm25 import BM25Index

    store = BM25Store(tmp_path / "bm25")
    store.add("th", list(range(30)), [f"d{i}" for i in range(30)], th_terms[:30])
    store.save()
    folder = tmp_path / "bm25" / "th"
    BM25Index.load(folder)                                   # intact: loads
    path = folder / f"{name}.npy"
    np.save(path, np.load(path)[:-3])
    with pytest.raises(ValueError):
        BM25Index.load(folder)
