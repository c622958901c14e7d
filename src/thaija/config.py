"""Shared paths and defaults. Each stage keeps its own small config dataclass; this module only
decides where thaija may write caches (never the user's home folder unless asked)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

DEFAULT_DB = "./thaija.db"


def cache_dir() -> Path:
    """thaija's cache folder: ``$THAIJA_CACHE``, else ``<repo>/.cache/thaija`` when running from a
    writable source checkout, else ``<tempdir>/thaija-cache``. Nothing goes to ``~`` unless
    ``THAIJA_CACHE`` points there."""
    env = os.environ.get("THAIJA_CACHE")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return repo / ".cache" / "thaija"
    return Path(tempfile.gettempdir()) / "thaija-cache"
