"""`thaija redact`: the JSONL contract, text output, input errors (exit 2, one line)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
THAIJA = ROOT / ".venv" / "bin" / "thaija"
CONTRACT = "โทร 081-234-5678 หรือ mail somchai@example.co.th\n電話は03-1234-5678です\n"
runner = CliRunner()


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_contract_jsonl(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text(CONTRACT, encoding="utf-8")
    r = runner.invoke(app, ["redact", "--file", str(p), "--format", "jsonl"])
    assert r.exit_code == 0, r.output
    recs = _records(r.stdout)
    assert [[f["type"] for f in rec["findings"]] for rec in recs] == [["phone", "email"], ["phone"]]
    assert recs[0] == {"text": "โทร [PHONE] หรือ mail [EMAIL]",
                       "findings": [{"type": "phone", "start": 4, "end": 16},
                                    {"type": "email", "start": 27, "end": 48}]}
    lines = CONTRACT.splitlines()
    for line, rec in zip(lines, recs):
        for f in rec["findings"]:
            assert set(f) == {"type", "start", "end"}
            assert "@" in line[f["start"]:f["end"]] or "-" in line[f["start"]:f["end"]]
    assert recs[1]["text"] == "電話は[PHONE]です"


@pytest.mark.skipif(not THAIJA.exists(), reason="console script not installed")
def test_contract_via_console_script(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text(CONTRACT, encoding="utf-8")
    r = subprocess.run([str(THAIJA), "redact", "--file", str(p), "--format", "jsonl"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    recs = _records(r.stdout)
    assert [[f["type"] for f in rec["findings"]] for rec in recs] == [["phone", "email"], ["phone"]]
    assert "081-234-5678" not in recs[0]["text"]


def test_text_argument_and_types():
    r = runner.invoke(app, ["redact", "บัตร 4111 1111 1111 1111 และโทร ０９０－１２３４－５６７８"])
    assert r.exit_code == 0
    assert r.stdout == "บัตร [PAYMENT_CARD] และโทร [PHONE]\n"
    r = runner.invoke(app, ["redact", "โทร 081-234-5678 mail a@example.jp", "--types", "email",
                            "--placeholder", "***"])
    assert r.stdout == "โทร 081-234-5678 mail ***\n"


def test_stdin(tmp_path):
    r = runner.invoke(app, ["redact", "--file", "-", "--format", "jsonl"],
                      input="メールはyamada@example.jpへ\nพ.ศ. 2555 ราคา ฿1,200\n")
    assert r.exit_code == 0, r.output
    recs = _records(r.stdout)
    assert recs == [{"text": "メールは[EMAIL]へ", "findings": [{"type": "email", "start": 4, "end": 21}]},
                    {"text": "พ.ศ. 2555 ราคา ฿1,200", "findings": []}]


@pytest.mark.parametrize("case", ["missing", "empty", "bad_utf8", "nothing", "both", "format", "types"])
def test_bad_input_exit_2(tmp_path, case):
    path = tmp_path / "in.txt"
    if case == "empty":
        path.write_bytes(b"")
    if case == "bad_utf8":
        path.write_bytes("โทร 081".encode() + b"\xff\xfe\n")
    args = {
        "missing": ["redact", "--file", str(tmp_path / "nope.txt")],
        "empty": ["redact", "--file", str(path)],
        "bad_utf8": ["redact", "--file", str(path)],
        "nothing": ["redact"],
        "both": ["redact", "x", "--file", str(path)],
        "format": ["redact", "x", "--format", "csv"],
        "types": ["redact", "x", "--types", "passport"],
    }[case]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    msg = r.stderr.strip()
    assert len(msg.splitlines()) == 1 and "Traceback" not in r.output
    if case in ("missing", "empty", "bad_utf8"):
        assert str(tmp_path) in msg
    if case == "bad_utf8":
        assert f"byte {len('โทร 081'.encode())}" in msg  # offset of the first bad byte
