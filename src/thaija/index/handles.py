"""Open index handles, one per store per process (open, cache, close).

Used by the CLI's ``index`` commands, retrieve and rag; lives here so nothing below retrieve
has to reach up into it.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from thaija.errors import ThaijaError

_OPEN: dict[str, Any] = {}
_OPEN_LOCK = threading.Lock()


def open_index(db: str) -> Any:
    """The Index at `db` (opened once per process); error if nothing was indexed there."""
    from thaija.index.ingest import Index, IndexConfig

    cfg = IndexConfig(db=db)
    key = str(Path(cfg.state_path).resolve())
    with _OPEN_LOCK:
        if key not in _OPEN:
            if not (cfg.state_path / "registry.sqlite").exists():
                from thaija.index.store import is_server_uri, probe_server

                if is_server_uri(db):  # a server that is down says so (QA Q11), not "no index"
                    probe_server(db)
                    raise ThaijaError(f"no index at {db}: no thaija state in {cfg.state_path} (a server index "
                                      f"keeps its registry and BM25 there: give the --state DIR / THAIJA_STATE "
                                      f"that `thaija index add` used, or add documents first)")
                raise ThaijaError(f"no index at {db}: add documents first with `thaija index add PATH --db {db}`")
            _OPEN[key] = Index(cfg)
        return _OPEN[key]


def close_index(db: str) -> None:
    """Close the cached handle on `db` (call before deleting a temporary index)."""
    from thaija.index.ingest import IndexConfig

    key = str(Path(IndexConfig(db=db).state_path).resolve())
    with _OPEN_LOCK:
        idx = _OPEN.pop(key, None)
    if idx is not None:
        idx.close()
