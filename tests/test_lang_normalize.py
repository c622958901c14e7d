from pythainlp.util import normalize as pythainlp_normalize

from thaija.lang import normalize, segment

THAI_CASES = ["เเปลก", "นานาาา", "ก\u200bข", "ค\u0e48\u0e34น", "กี่\u0e48", "น\u0e4d\u0e32"]


def test_thai_rules_match_pythainlp():
    for s in THAI_CASES:
        assert normalize(s, "th").text == pythainlp_normalize(s), s


def test_offsets_map_back_to_original():
    text = "ＡＢＣ１２３のｶﾞｷﾞと\u200bเเปลก"
    n = normalize(text)
    assert n.text == "ABC123のガギとแปลก"
    i = n.text.index("ガ")
    assert n.span(i, i + 2) == (text.index("ｶ"), text.index("ｷ") + 2)
    j = n.text.index("แ")
    assert text[slice(*n.span(j, j + 1))] == "เเ"


def test_thai_sara_am_is_not_decomposed_by_nfkc():
    assert normalize("ทำงาน", "ja").text == "ทำงาน"


def test_segment_normalized_reports_original_offsets():
    text = "ＡＢＣ１２３のｶﾞｷﾞです"
    toks = segment(text, normalize=True)
    assert all(text[t.start:t.end] == t.text for t in toks)
    assert [t.norm for t in toks][:2] == ["abc", "123"]
