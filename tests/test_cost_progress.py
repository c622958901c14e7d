"""QA F17: long work shows progress also when stderr is not a terminal (a log file, a pipe):
plain lines, at most one per $THAIJA_PROGRESS_EVERY seconds plus the first and the last."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

THAIJA = str(Path(sys.executable).parent / "thaija")


def _compare(every: str) -> list[str]:
    r = subprocess.run([THAIJA, "cost", "compare", "--tokenizers", "o200k_base,cl100k_base,chars"],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "THAIJA_PROGRESS_EVERY": every})
    assert r.returncode == 0, r.stderr
    assert "o200k_base" in r.stdout
    return [line for line in r.stderr.splitlines() if line.startswith("thaija: counting:")]


def test_redirected_stderr_gets_plain_progress_lines():
    lines = _compare("0")  # a line per step
    assert lines[0].startswith("thaija: counting: 0/3") and lines[-1].startswith("thaija: counting: 3/3 (done)")
    assert any("(cl100k_base)" in line for line in lines)
    assert not any("\x1b" in line for line in lines)  # no terminal escapes in a log
    quiet = _compare("3600")  # throttled: the first and the last line only
    assert len(quiet) == 2 and quiet[-1].startswith("thaija: counting: 3/3 (done)")
