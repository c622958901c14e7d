"""Every results file names the benchmark script and the arguments that wrote it, so every number in
README.md and docs/ can be reproduced by running that script with those arguments."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted((ROOT / "benchmarks" / "results").glob("*.json"))


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_results_file_names_its_script_and_arguments(path: Path):
    data = json.loads(path.read_text("utf-8"))
    assert isinstance(data, dict), f"{path.name}: a JSON object"
    script = data.get("script")
    assert isinstance(script, str) and script.startswith("benchmarks/"), f"{path.name}: no 'script' key"
    assert (ROOT / script).is_file(), f"{path.name}: its script {script} does not exist"
    assert isinstance(data.get("args"), (list, dict)), f"{path.name}: no arguments recorded (argv list or parsed dict)"


def test_there_are_results():
    assert RESULTS, "benchmarks/results holds no results file"
