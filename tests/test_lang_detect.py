from thaija.lang import detect


def test_mixed_line_spans_cover_text_and_languages():
    text = "ราคา iPhone 15 は 12万円 ครับ"
    d = detect(text)
    assert d.lang == "th"
    assert [(text[s.start:s.end], s.lang) for s in d.spans] == [
        ("ราคา ", "th"), ("iPhone 15 ", "en"), ("は 12万円 ", "ja"), ("ครับ", "th")]
    assert d.spans[0].start == 0 and d.spans[-1].end == len(text)
    assert all(a.end == b.start for a, b in zip(d.spans, d.spans[1:]))


def test_kanji_and_katakana_only_is_japanese():
    assert detect("東京タワー").lang == "ja"
    assert detect("日本国憲法第九条").lang == "ja"
    # without the Japanese profile, Han-only text is not claimed as Japanese
    assert detect("日本国憲法", langs=("th", "en")).lang == "other"


def test_other_scripts_and_neutral_only():
    assert detect("Привет мир").lang == "other"
    assert detect("12,345 !!").lang == "other"
    assert detect("").spans == []


def test_line_accuracy_on_real_parallel_text(th_lines, ja_lines, en_lines):
    for lines, lang in ((th_lines, "th"), (ja_lines, "ja"), (en_lines, "en")):
        acc = sum(detect(l).lang == lang for l in lines) / len(lines)
        assert acc >= 0.99, (lang, acc)
