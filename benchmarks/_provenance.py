"""Provenance for results files: every JSON in benchmarks/results names the script and the
arguments that wrote it (checked by tests/test_results_provenance.py), plus when and on what.

    from _provenance import stamp
    out.write_text(json.dumps(stamp(result), ensure_ascii=False, indent=2) + "\\n")
"""
from __future__ import annotations

import datetime as _dt
import inspect
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stamp(result: dict, script: str | None = None) -> dict:
    """``result`` with ``script`` (path from the repo root), ``args`` (argv after the script),
    ``commit``, ``date`` and ``machine`` set — the first two keys of the file."""
    if script is None:
        caller = Path(inspect.stack()[1].filename).resolve()
        script = caller.relative_to(ROOT).as_posix() if caller.is_relative_to(ROOT) else caller.name
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except OSError:
        commit = None
    head = {"script": script, "args": sys.argv[1:], "commit": commit,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": result.get("machine") or {"cpus": os.cpu_count(), "platform": platform.platform()}}
    return {**head, **{k: v for k, v in result.items() if k not in head}}
