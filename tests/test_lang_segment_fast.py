"""The bulk segmentation path gives exactly what the straightforward one gives.

``reference`` below is the plain per-token algorithm (the detector's spans, one run per language,
the segmenter's words located one by one in the text, each token's language looked up by
position); ``segment`` builds the same tokens in bulk with fast paths for one-language text.
Compared on the NTREX and FLORES lines, on mixed th+ja lines and on random mixed strings.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thaija.lang import detect, segment

seg = importlib.import_module("thaija.lang.segment")
DATA = Path(__file__).parent / "data"


def reference(text: str, lang: str = "auto", langs=("th", "ja", "en")) -> list[tuple]:
    if not text:
        return []
    spans = detect(text, langs).spans
    starts = [sp.start for sp in spans]
    runs = seg._runs(spans) if lang == "auto" else [(0, len(text), lang)]
    out = []
    for start, end, run_lang in runs:
        piece = text[start:end]
        if not piece.strip():
            continue
        for a, b in seg._locate(piece, seg.get_engine(run_lang)(piece)):
            w = piece[a:b]
            out.append((w, start + a, start + b, seg._lang_at(spans, starts, start + a, run_lang), w.lower()))
    return out


def lines(name: str) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").rstrip("\n").split("\n")


def test_same_tokens_on_ntrex_and_flores():
    th = lines("ntrex_tha.txt") + lines("flores_tha.txt")
    ja = lines("ntrex_jpn.txt") + lines("flores_jpn.txt")
    en = lines("ntrex_eng.txt") + lines("flores_eng.txt")
    mixed = [a + " " + b for a, b in zip(th, ja)] + [b + "（" + a + "）" for a, b in zip(th, en)]
    n = 0
    for text in th + ja + en + mixed:
        for lang in ("auto", "th", "ja", "en"):
            got = segment(text, lang)
            assert [tuple(t) for t in got] == reference(text, lang), (text, lang)
            n += len(got)
    assert n > 50_000


def test_token_is_a_named_record():
    t = segment("ราคา iPhone 15", "th")[1]
    assert (t.text, t.start, t.end, t.lang, t.norm) == ("iPhone", 5, 11, "en", "iphone")
    assert t.to_dict() == {"text": "iPhone", "start": 5, "end": 11, "lang": "en"}
    assert t == seg.Token(text="iPhone", start=5, end=11, lang="en", norm="iphone")


PIECES = ["ภาษาไทย", "ราคา", "น้ำ", "日本語", "東京タワー", "です。", "ｶﾞｷﾞ", "ＡＢＣ", "iPhone", "ΣΟΦΙΑ", "İ",
          "15", "12万円", "1,000.50", "hello", " ", "\t", "\u3000", "\n", "\x00", "、", "・", "?", "\u200b",
          "²", "½", "한국", "абв", "\U00020001", "゛", "_", "'", "😀", "é"]
text_st = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=30).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_st, st.sampled_from(["auto", "th", "ja", "en"]),
       st.sampled_from([("th", "ja", "en"), ("th", "en"), ("ja", "en"), ("en",)]))
def test_same_tokens_on_random_mixed_text(text, lang, langs):
    assert [tuple(t) for t in segment(text, lang, langs=langs)] == reference(text, lang, langs)
    if text:
        spans = detect(text, langs).spans
        assert seg._spans(text, langs) == spans
        one = seg._one_script(text, langs)
        assert one is None or spans == [seg.Span(0, len(text), one)]
