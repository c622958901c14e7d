import pytest

from thaija.errors import ThaijaError
from thaija.lang import chunk, segment


def _check(doc, chunks, limit):
    covered = set()
    for c in chunks:
        assert doc[c.start:c.end] == c.text
        assert 0 < c.tokens <= limit
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(doc) if not ch.isspace())


def test_thai_document_words(th_lines):
    doc = "\n".join(th_lines[:60])
    cs = chunk(doc, max_tokens=48, overlap=8, lang="th", doc_id="th")
    _check(doc, cs, 48)
    assert [c.id for c in cs[:2]] == ["th#0", "th#1"]
    assert any(a.end > b.start for a, b in zip(cs, cs[1:]))  # overlap happens


def test_never_splits_inside_a_word(th_lines, ja_lines):
    for lines, lang in ((th_lines, "th"), (ja_lines, "ja")):
        doc = "\n".join(lines[:30])
        bounds = {t.start for t in segment(doc, lang)} | {t.end for t in segment(doc, lang)}
        for c in chunk(doc, max_tokens=20, overlap=4, lang=lang):
            assert c.start in bounds and c.end in bounds


def test_prefers_sentence_boundaries(ja_lines):
    doc = "".join(ja_lines[:10])
    for c in chunk(doc, max_tokens=120, overlap=0, lang="ja")[:-1]:
        assert c.text.endswith(("。", "」", "）", "！", "？")), c.text[-5:]


def test_counter_chars_and_callable(en_lines):
    doc = " ".join(en_lines[:20])
    _check(doc, chunk(doc, max_tokens=200, overlap=20, tokenizer="chars"), 200)
    _check(doc, chunk(doc, max_tokens=50, overlap=0, tokenizer=lambda s: len(s.split())), 50)


def test_config_validation():
    with pytest.raises(ThaijaError):
        chunk("abc", max_tokens=0)
    with pytest.raises(ThaijaError):
        chunk("abc", max_tokens=10, overlap=10)
    assert chunk("   ", 10, 0) == []


def test_words_counting_zero_alone_do_not_make_one_chunk_per_word():
    """QA Q8: 2,000 '[' (each 0-1 model tokens alone, hundreds together) once gave one chunk per
    character and ran for hours; chunks now advance past half of the previous one."""
    from thaija.lang import chunk

    def count(t: str) -> int:  # BPE-like: a run of brackets costs one token per two, alone nothing
        return sum(len(w) // 2 for w in t.split()) + sum(1 for w in t.split() if w.isalpha())

    text = "x " + "[" * 2000 + " y"
    chunks = chunk(text, 256, 32, tokenizer=count)
    assert 4 <= len(chunks) <= 40  # the old overlap rule made ~1,000
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:]))
    assert all(count(c.text) <= 256 for c in chunks)


def test_byte_order_mark_and_zero_width_runs_are_no_chunk():
    """A BOM-only file chunked to one chunk holding U+FEFF (QA session 12); a BOM before text is
    left out of the first chunk, whose offsets still point into the original string."""
    assert chunk("\ufeff") == []
    assert chunk("\ufeff\n\n\u200b") == []
    text = "\ufeffสวัสดีครับ ยินดีต้อนรับ"
    got = chunk(text)
    assert len(got) == 1 and got[0].start == 1 and got[0].text == text[1:]
    assert text[got[0].start:got[0].end] == got[0].text
