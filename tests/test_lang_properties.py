"""Property tests over random mixed th/ja/en strings."""
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thaija.lang import chunk, detect, normalize, segment, sentences

PIECES = ["ภาษาไทย", "ครับ", "ราคา", "กี่บาท", "น้ำ", "ทำงาน", "日本語", "東京タワー", "です。", "カタカナ",
          "ｶﾞｷﾞ", "ＡＢＣ", "iPhone", "15", "12万円", "hello", "world.", " ", "  ", "\n", "、", "！", "?",
          "\u200b", "เเ", "(", ")", "「", "」", "😀", "é"]
text_st = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=40).map("".join)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(text_st)
def test_detect_spans_cover(text):
    d = detect(text)
    if text:
        assert d.spans[0].start == 0 and d.spans[-1].end == len(text)
        assert all(a.end == b.start for a, b in zip(d.spans, d.spans[1:]))


@SETTINGS
@given(text_st)
def test_tokens_slice_back(text):
    for norm in (False, True):
        for t in segment(text, normalize=norm):
            assert text[t.start:t.end] == t.text and t.text.strip()


@SETTINGS
@given(text_st)
def test_sentences_slice_back(text):
    for s in sentences(text):
        assert text[s.start:s.end] == s.text


@SETTINGS
@given(text_st)
def test_normalize_map_is_monotone(text):
    n = normalize(text)
    assert len(n.starts) == len(n.text) == len(n.ends)
    assert all(a <= b for a, b in zip(n.starts, n.starts[1:]))


@SETTINGS
@given(text_st, st.integers(1, 30), st.integers(0, 29))
def test_chunks_cover_and_respect_limit(text, max_tokens, overlap):
    overlap = min(overlap, max_tokens - 1)
    covered = set()
    for c in chunk(text, max_tokens=max_tokens, overlap=overlap):
        assert text[c.start:c.end] == c.text
        assert c.tokens <= max_tokens
        covered.update(range(c.start, c.end))
    # every visible character is in a chunk (spaces and format/control characters alone need not be:
    # a byte-order mark or zero-width run is no word)
    assert all(i in covered for i, ch in enumerate(text)
               if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp"))
