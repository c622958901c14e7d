"""Issue 12, finding 10: `segment`, `normalize` and `chunk` process big inputs in bounded pieces.

Library checks cut real NTREX/FLORES text (tests/data) into tiny pieces and compare with the
one-call functions; the CLI checks measure the peak memory of `thaija segment|normalize|chunk` on a
generated single-line file of 0.5 MB and 3 MB (the 50 MB measurement is benchmarks/trust_memory.py).
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from thaija.lang import chunk, normalize, segment
from thaija.lang.stream import (chunk_stream, iter_pieces, normalize_stream, read_blocks, segment_stream)

THAIJA = str(Path(sys.executable).parent / "thaija")
DATA = Path(__file__).parent / "data"


def _lines(name: str) -> list[str]:
    return [x for x in (DATA / name).read_text(encoding="utf-8").split("\n") if x.strip()]


@pytest.fixture(scope="module")
def long_line() -> str:
    """One line mixing Thai, Japanese and English sentences (about 6,000 characters)."""
    parts = []
    for th, ja, en in zip(_lines("ntrex_tha.txt")[:8], _lines("ntrex_jpn.txt")[:8], _lines("ntrex_eng.txt")[:8]):
        parts += [th, ja, en]
    return " ".join(parts)


def _blocks(text: str, size: int = 97):
    """Text given in awkward little blocks (a line end may fall anywhere)."""
    return (text[i:i + size] for i in range(0, len(text), size))


def test_pieces_are_lines_when_lines_are_short():
    text = "สวัสดีครับ\r\n\nこんにちは。\nhello world"
    got = list(iter_pieces(_blocks(text, 5), max_chars=64))
    assert [(p.line, p.offset, p.text, p.last) for p in got] == [
        (0, 0, "สวัสดีครับ", True), (1, 0, "", True), (2, 0, "こんにちは。", True), (3, 0, "hello world", True)]
    assert [p.text for p in iter_pieces(["a\nb\n"])] == ["a", "b"]  # no empty line after the last "\n"


def test_long_line_pieces_are_bounded_and_rejoin(long_line):
    text = "first line\n" + long_line + "\nlast"
    pieces = list(iter_pieces(_blocks(text, 1000), max_chars=200))
    mid = [p for p in pieces if p.line == 1]
    assert len(mid) > len(long_line) // 200 and all(len(p.text) <= 200 for p in mid)
    assert "".join(p.text for p in mid) == long_line
    assert all(long_line[p.offset:p.offset + len(p.text)] == p.text for p in mid)
    assert [p.last for p in mid] == [False] * (len(mid) - 1) + [True]
    # cuts fall after whitespace or a sentence end whenever the window has one
    assert all(p.text[-1].isspace() or p.text[-1] in "。.!?！？" for p in mid[:-1])


def test_hard_cut_never_splits_a_thai_cluster():
    th = "".join(_lines("ntrex_tha.txt")[:5]).replace(" ", "")  # Thai with no spaces at all
    pieces = list(iter_pieces([th], max_chars=50))
    assert "".join(p.text for p in pieces) == th
    marks = set("\u0e31\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e3a\u0e47\u0e48\u0e49\u0e4a\u0e4b\u0e4c\u0e4d\u0e4e")
    assert not any(p.text[0] in marks for p in pieces[1:])


@pytest.mark.parametrize("lang", ["en", "th", "auto"])
def test_segment_stream_offsets_index_the_whole_line(long_line, lang):
    toks = [t for _, ts in segment_stream(_blocks(long_line, 500), lang=lang, max_chars=300) for t in ts]
    assert toks and all(long_line[t["start"]:t["end"]] == t["text"] for t in toks)
    assert all(a["end"] <= b["start"] for a, b in zip(toks, toks[1:]))
    if lang == "en":  # a language-independent segmenter: cutting at whitespace changes nothing
        assert toks == [t.to_dict() for t in segment(long_line, lang="en")]


def test_normalize_stream_equals_one_call():
    line = " ".join(_lines("flores_jpn.txt")[:6]).translate(str.maketrans("0123456789ABC", "０１２３４５６７８９ＡＢＣ"))
    line += " ｶﾞｷﾞｸﾞ " + " ".join(_lines("flores_tha.txt")[:6]) + "\u200b end"
    got = "".join(t for _, t in normalize_stream(_blocks(line, 333), max_chars=120))
    assert got == normalize(line).text


def test_chunk_stream_equals_chunk_on_a_short_document(long_line):
    doc = long_line[:3000]
    assert list(chunk_stream([doc], max_tokens=64, overlap=8, doc_id="d")) == \
        chunk(doc, max_tokens=64, overlap=8, doc_id="d")


def test_chunk_stream_on_a_long_document(long_line):
    doc = (long_line + "\n\n") * 3
    out = list(chunk_stream(read_blocks(io.BytesIO(doc.encode("utf-8")), 4096), max_tokens=48, overlap=0,
                            doc_id="big", max_chars=2000))
    assert [c.id for c in out] == [f"big#{i}" for i in range(len(out))]
    assert all(doc[c.start:c.end] == c.text and 0 < c.tokens <= 48 for c in out)
    assert all(a.end <= b.start for a, b in zip(out, out[1:]))  # overlap=0: disjoint, in order
    covered = "".join(doc[c.start:c.end] for c in out)
    assert "".join(covered.split()) == "".join(doc.split())  # every character but whitespace is in a chunk


def test_read_blocks_reports_invalid_utf8_offset():
    from thaija.errors import ThaijaError

    with pytest.raises(ThaijaError, match="byte 7"):
        list(read_blocks(io.BytesIO("สวัสดี".encode("utf-8")[:7] + b"\xff rest"), 4))


def test_cli_file_output_equals_per_line_output(tmp_path):
    lines = [_lines("ntrex_tha.txt")[0], "", _lines("ntrex_jpn.txt")[0], _lines("ntrex_eng.txt")[0]]
    f = tmp_path / "in.txt"
    f.write_bytes("\r\n".join(lines).encode("utf-8") + b"\r\n")
    seg = subprocess.run([THAIJA, "segment", "--file", str(f), "--format", "jsonl"], capture_output=True,
                         text=True, timeout=300)
    assert seg.returncode == 0, seg.stderr
    assert [json.loads(x) for x in seg.stdout.splitlines()] == \
        [{"tokens": [t.to_dict() for t in segment(x)]} for x in lines]
    txt = subprocess.run([THAIJA, "segment", "--file", "-"], input="\n".join(lines), capture_output=True,
                         text=True, timeout=300)
    assert txt.stdout.splitlines() == [" ".join(t.text for t in segment(x)) for x in lines]
    norm = subprocess.run([THAIJA, "normalize", "--file", str(f)], capture_output=True, text=True, timeout=300)
    assert norm.stdout.splitlines() == [normalize(x).text for x in lines]
    for cmd in ("segment", "normalize", "chunk"):  # stdin is streamed too: NUL and bad UTF-8 still fail
        r = subprocess.run([THAIJA, cmd, "--file", "-"], input=b"ok\nde\x00f\n", capture_output=True, timeout=300)
        assert r.returncode == 2 and b"-:2: NUL" in r.stderr, (cmd, r.stderr)
        r = subprocess.run([THAIJA, cmd, "--file", "-"], input=b"ok\n\xff", capture_output=True, timeout=300)
        assert r.returncode == 2 and b"not valid UTF-8 at byte 3" in r.stderr, (cmd, r.stderr)
    empty = tmp_path / "blank.txt"
    empty.write_text("  \n\n", encoding="utf-8")
    r = subprocess.run([THAIJA, "chunk", "--file", str(empty)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "empty" in r.stderr and "Traceback" not in r.stderr


def _peak_rss_mb(args: list[str]) -> float:
    """Peak resident memory of one CLI run, measured by a fresh parent (ru_maxrss of its child)."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, THAIJA, *args], capture_output=True, text=True, timeout=900)
    rc, kb = out.stdout.split()
    assert rc == "0", out.stderr
    return int(kb) / 1024


@pytest.mark.slow
@pytest.mark.parametrize("cmd", ["segment", "normalize", "chunk", "sentences"])
def test_memory_does_not_grow_with_a_single_line(tmp_path, long_line, cmd):
    unit = (long_line + " ").encode("utf-8")
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_bytes(unit * (500_000 // len(unit) + 1))    # ~0.5 MB, one line
    big.write_bytes(unit * (3_000_000 // len(unit) + 1))    # ~3 MB, one line
    a, b = _peak_rss_mb([cmd, "--file", str(small)]), _peak_rss_mb([cmd, "--file", str(big)])
    # reading the line whole cost ~80 MB per MB of input (3.9 GB for 50 MB): here 6x the input
    # adds no more than a few MB of allocator noise
    assert b - a < 60, (a, b)
    assert b < 500, b


def test_sentences_stream_equals_one_call_when_cuts_fall_at_line_ends():
    from thaija.lang import sentences
    from thaija.lang.stream import sentences_stream

    doc = "\n".join(_lines("ntrex_tha.txt")[:20] + _lines("ntrex_jpn.txt")[:20] + _lines("ntrex_eng.txt")[:20])
    got = list(sentences_stream(_blocks(doc, 700), max_chars=1500))
    assert got == sentences(doc)
    one_line = doc.replace("\n", " ")  # no line ends: cuts at sentence ends or spaces
    got = list(sentences_stream([one_line], max_chars=800))
    assert all(one_line[s.start:s.end] == s.text for s in got)
    assert "".join(one_line[s.start:s.end] for s in got).replace(" ", "") == one_line.replace(" ", "")


def test_cli_sentences_streams_a_file(tmp_path):
    from thaija.lang import sentences

    doc = "\n".join(_lines("ntrex_jpn.txt")[:5] + [""] + _lines("ntrex_tha.txt")[:5])
    f = tmp_path / "d.txt"
    f.write_text(doc, encoding="utf-8")
    r = subprocess.run([THAIJA, "sentences", "--file", str(f), "--format", "jsonl"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert [json.loads(x) for x in r.stdout.splitlines()] == [s.to_dict() for s in sentences(doc)]
