"""Default engines equal PyThaiNLP nlpo3 / fugashi (unidic-lite) on every line of the test slices."""
import pytest
from pythainlp.tokenize import word_tokenize

from thaija.errors import ThaijaError
from thaija.lang import segment, tokenize
from thaija.lang.segment import _tagger


def test_thai_equals_pythainlp_nlpo3(th_lines):
    for line in th_lines:
        want = [w for w in word_tokenize(line, engine="nlpo3") if w.strip()]
        assert tokenize(line, "th") == want
        assert tokenize(line) == want  # auto mode gives the same on Thai lines


def test_thai_engines_newmm_equal_nlpo3(th_lines):
    for line in th_lines[:40]:
        assert tokenize(line, "th", "newmm") == tokenize(line, "th", "nlpo3")


def test_japanese_equals_fugashi(ja_lines):
    tagger = _tagger()
    for line in ja_lines:
        want = [w.surface for w in tagger(line) if w.surface.strip()]
        assert tokenize(line, "ja") == want
        assert tokenize(line) == want


def test_offsets_slice_back_and_no_whitespace(th_lines, ja_lines, en_lines):
    for line in th_lines[:50] + ja_lines[:50] + en_lines[:50]:
        for t in segment(line):
            assert line[t.start:t.end] == t.text and t.text.strip()
            assert t.lang in ("th", "ja", "en", "other")


def test_mixed_line_goes_to_each_segmenter():
    toks = segment("ราคา iPhone 15 は 12万円 ครับ")
    assert [(t.text, t.lang) for t in toks] == [
        ("ราคา", "th"), ("iPhone", "en"), ("15", "en"), ("は", "ja"), ("12", "ja"),
        ("万", "ja"), ("円", "ja"), ("ครับ", "th")]


def test_english_regex_and_unknown_engine():
    assert tokenize("Don't split state-of-the-art, please.", "en") == [
        "Don't", "split", "state-of-the-art", ",", "please", "."]
    with pytest.raises(ThaijaError, match="unknown engine"):
        segment("日本語", "ja", "nope")
    with pytest.raises(ThaijaError):
        segment("x", "fr")
