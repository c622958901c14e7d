"""Where the index is when ``--db`` is not given: ``THAIJA_DB``, else the nearest existing
``thaija.db`` walking up from the working folder (like git finds its repository).

Commands that read an index fail when none is found instead of creating an empty one; only
``index add`` creates ``./thaija.db`` when there is none.
"""
from __future__ import annotations

import os
from pathlib import Path

from thaija.errors import ThaijaError

DEFAULT_NAME = "thaija.db"


def exists(db: str) -> bool:
    """True when `db` holds an index (its registry exists); server URIs are assumed to."""
    from thaija.index.ingest import IndexConfig
    from thaija.index.store import is_server_uri

    if is_server_uri(db):
        return True
    try:
        return (IndexConfig(db=db).state_path / "registry.sqlite").exists()
    except ThaijaError:
        return False


def find_db(start: str | os.PathLike | None = None) -> str | None:
    """The nearest ``thaija.db`` holding an index in `start` (default: the working folder) or above."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        cand = folder / DEFAULT_NAME
        if (folder / (DEFAULT_NAME + ".state") / "registry.sqlite").exists():
            return str(cand) if folder != Path.cwd().resolve() else f"./{DEFAULT_NAME}"
    return None


def resolve_db(db: str | None, *, create: bool = False) -> str:
    """The store location to use: `db`, else ``THAIJA_DB``, else the nearest ``thaija.db``.

    ``create=False`` (reading commands): an error when no index exists there.
    ``create=True`` (``index add``): ``./thaija.db`` when none is found."""
    chosen = db or os.environ.get("THAIJA_DB") or find_db()
    if chosen is None:
        if create:
            return f"./{DEFAULT_NAME}"
        raise ThaijaError(f"no index found: no {DEFAULT_NAME} here or in a parent folder and THAIJA_DB is not "
                          f"set; give --db PATH or create one with `thaija index add FILES`")
    if not create and not exists(chosen):
        raise ThaijaError(f"no index at {chosen}: add documents first with `thaija index add PATH --db {chosen}`")
    return chosen
