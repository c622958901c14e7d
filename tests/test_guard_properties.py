"""Invariants of find_pii / redact on random mixes of Thai, Japanese, digits and separators."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from thaija.guard.pii import PII_TYPES, find_pii, fold, redact

PIECES = st.sampled_from([
    "โทร ", "เลขบัตร ", "電話は", "です。", "マイナンバー", " ", "-", "－", "ー", "(", ")", "+", "+66 ", "+81 ",
    "0", "08", "03", "090", "1234", "5678", "๐๘๑", "０９０", "１２３４", "12万円", "฿1,200", "พ.ศ. 2555",
    "@", "somchai", ".co.th", "example", ".jp", "ｓｏｍ＠ｅｘ．ｊｐ", "\u3000", ".",
])
TEXTS = st.lists(PIECES, max_size=25).map("".join) | st.text(max_size=80)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(TEXTS)
def test_findings_are_sorted_disjoint_and_index_the_input(text):
    found = find_pii(text)
    assert all(0 <= f.start < f.end <= len(text) for f in found)
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))
    assert all(f.type in PII_TYPES and f.text == text[f.start:f.end] for f in found)
    assert len(fold(text)) == len(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(TEXTS)
def test_redact_replaces_exactly_the_findings(text):
    red, found = redact(text, placeholder="\x00")
    assert red.count("\x00") == len(found) + text.count("\x00")
    # putting the matched text back gives the input
    parts = red.split("\x00")
    if "\x00" not in text:
        rebuilt = parts[0] + "".join(f.text + p for f, p in zip(found, parts[1:]))
        assert rebuilt == text
    # the redacted text holds no PII any more
    assert find_pii(redact(text)[0]) == []
