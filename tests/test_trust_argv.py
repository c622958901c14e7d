"""QA F18: bytes that are not UTF-8 in argv (a Latin-1 file name, a question) give a result or a
one-line error (exit 2), never a traceback; nothing is written on failure. A folder holding such a
file name is indexed without it (the file is reported as skipped)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

THAIJA = os.fsencode(Path(sys.executable).parent / "thaija")
BAD = b"caf\xe9"  # Latin-1 "café"


@pytest.mark.parametrize("args", [
    [b"segment", BAD + b" \xff"], [b"detect", BAD], [b"redact", b"tel 081-234-5678 " + BAD], [b"cost", b"count", BAD],
    [b"chunk", b"--file", BAD + b".txt"], [b"ask", BAD, b"--db", BAD + b".db"], [b"keygen", b"--groups", BAD],
    [b"review", b"list", b"--db", BAD + b".db"], [b"segment", b"--file", BAD + b".txt"],
    [b"index", b"add", b"docs", b"--db", b"l1.db"],
])
def test_invalid_utf8_arguments(tmp_path, args):
    docs = tmp_path / "docs"
    docs.mkdir()
    with open(os.path.join(os.fsencode(docs), BAD + b".txt"), "w", encoding="utf-8") as fh:
        fh.write("Annual leave is approved by the team lead.\n")
    (docs / "ok.txt").write_text("社員食堂は11時に開きます。\n", encoding="utf-8")
    with open(os.path.join(os.fsencode(tmp_path), BAD + b".txt"), "w", encoding="utf-8") as fh:
        fh.write("สวัสดีครับ\n")
    before = set(os.listdir(tmp_path))
    r = subprocess.run([THAIJA, *args], capture_output=True, cwd=tmp_path, timeout=600,
                       env={**os.environ, "THAIJA_CACHE": str(tmp_path / "cache")})
    err = r.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in r.stderr + r.stdout, err
    assert r.returncode in (0, 2), err
    if args[:2] == [b"index", b"add"]:  # the UTF-8 file is indexed, the other one skipped with a reason
        assert r.returncode == 0 and "valid UTF-8" in err, err
    if r.returncode == 2:
        lines = err.strip().splitlines()  # progress/notice lines may precede the one error line
        assert lines[-1].startswith("thaija: error: ") and sum("error" in line for line in lines) == 1, err
        assert "UnicodeEncodeError" not in err and "surrogates" not in err, err  # said in the user's terms
        assert set(os.listdir(tmp_path)) - before <= {"cache"}  # nothing written on failure
