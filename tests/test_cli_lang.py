"""CLI contracts of the language layer, called as users and evaluations call them."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THAIJA = str(Path(sys.executable).parent / "thaija")


def run(*args, input=None):
    return subprocess.run([THAIJA, *args], capture_output=True, text=True, input=input, timeout=300)


def jl(s):
    return [json.loads(l) for l in s.splitlines() if l.strip()]


def test_segment_file_jsonl(tmp_path, th_lines, ja_lines):
    for lang, lines in (("th", th_lines[:30]), ("ja", ja_lines[:30]), ("auto", th_lines[:5] + ja_lines[:5])):
        p = tmp_path / f"{lang}.txt"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        r = run("segment", "--file", str(p), "--lang", lang, "--format", "jsonl")
        assert r.returncode == 0, r.stderr
        recs = jl(r.stdout)
        assert len(recs) == len(lines)
        for line, rec in zip(lines, recs):
            assert rec["tokens"], line
            for t in rec["tokens"]:
                assert line[t["start"]:t["end"]] == t["text"] and t["text"].strip() and t["lang"]


def test_detect_file_and_stdin(th_lines):
    r = run("detect", "--file", "-", "--format", "jsonl", input="\n".join(th_lines[:10]) + "\n")
    recs = jl(r.stdout)
    assert len(recs) == 10 and all(x["lang"] == "th" for x in recs)
    assert set(recs[0]["spans"][0]) == {"start", "end", "lang"}


def test_chunk_contract(tmp_path, th_lines):
    doc = "\n".join(th_lines[:50])
    p = tmp_path / "doc.txt"
    p.write_text(doc, encoding="utf-8")
    r = run("chunk", "--file", str(p), "--lang", "auto", "--max-tokens", "48", "--overlap", "8", "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    for c in jl(r.stdout):
        assert set(c) == {"id", "start", "end", "text", "tokens"}
        assert doc[c["start"]:c["end"]] == c["text"] and c["tokens"] <= 48


@pytest.mark.parametrize("content,needle", [
    (b"caf\xe9\n", "byte 3"), (b"", "empty"), (None, "no such file")])
def test_bad_input_is_one_line_exit_2(tmp_path, content, needle):
    p = tmp_path / "bad.txt"
    if content is not None:
        p.write_bytes(content)
    for cmd in (["segment", "--file", str(p)], ["detect", "--file", str(p)], ["chunk", "--file", str(p)]):
        r = run(*cmd)
        assert r.returncode == 2
        assert "Traceback" not in r.stderr and "bad.txt" in r.stderr and needle in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_help_is_fast_and_lazy():
    code = ("import sys, thaija.cli.main as m; "
            "heavy = [x for x in ('torch','transformers','pymilvus','fugashi','pythainlp','tiktoken') if x in sys.modules]; "
            "print(','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "", f"heavy modules imported at CLI import: {r.stdout}"
    assert run("--help").returncode == 0  # wall time is measured in benchmarks/segment.py


def test_doctor_json():
    r = run("doctor", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    names = {c["name"]: c for c in out["checks"]}
    assert names["Thai segmenter (pythainlp + nlpo3)"]["ok"]
    assert names["Japanese segmenter (fugashi)"]["ok"]
