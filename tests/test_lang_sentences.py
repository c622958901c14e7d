from thaija.lang import sentences


def test_japanese_terminators_and_closing_brackets():
    text = "今日は晴れ。「本当？」と彼は言った。明日は雨！（たぶん）"
    assert [s.text for s in sentences(text)] == ["今日は晴れ。", "「本当？」と彼は言った。", "明日は雨！", "（たぶん）"]


def test_english_abbreviations_and_numbers():
    text = "Dr. Smith went to the U.S. on Jan. 5. He paid 3.50 dollars. Then he slept."
    assert [s.text for s in sentences(text)] == [
        "Dr. Smith went to the U.S. on Jan. 5.", "He paid 3.50 dollars.", "Then he slept."]


def test_thai_spaces_between_thai_words():
    text = "วันนี้อากาศดี พรุ่งนี้ฝนตก ราคา 12 บาท"
    got = sentences(text)
    assert [s.text for s in got] == ["วันนี้อากาศดี", "พรุ่งนี้ฝนตก", "ราคา 12 บาท"]
    assert all(s.lang == "th" for s in got)


def test_offsets_and_coverage(th_lines, ja_lines, en_lines):
    doc = "\n".join(th_lines[:20] + ja_lines[:20] + en_lines[:20])
    got = sentences(doc)
    covered = set()
    for s in got:
        assert doc[s.start:s.end] == s.text
        covered.update(range(s.start, s.end))
    assert all(i in covered for i, c in enumerate(doc) if not c.isspace())
