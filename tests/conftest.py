"""Shared fixtures: real text slices from tests/data (NTREX-128 and FLORES-200 dev, CC BY-SA 4.0)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def read_lines(name: str) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").rstrip("\n").split("\n")


@pytest.fixture(scope="session")
def th_lines() -> list[str]:
    return read_lines("ntrex_tha.txt") + read_lines("flores_tha.txt")


@pytest.fixture(scope="session")
def ja_lines() -> list[str]:
    return read_lines("ntrex_jpn.txt") + read_lines("flores_jpn.txt")


@pytest.fixture(scope="session")
def en_lines() -> list[str]:
    return read_lines("ntrex_eng.txt") + read_lines("flores_eng.txt")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
