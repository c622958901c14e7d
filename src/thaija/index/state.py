"""Crash safety of an index's local state: write-ahead intent, BM25 reconciliation, fail points.

The registry (SQLite) is the source of truth; search is driven by it (rows it does not know are
never returned). One ingest batch writes in this order (index/writer.py):

  1. ``intent.json``: the document ids about to change (write-ahead record, fsynced)
  2. Milvus: delete + upsert of those documents
  3. registry commit: one SQLite transaction, version + 1           <- the commit point
     (a document too big for one batch: each part is staged in its own transaction, invisible to
     search, and one final transaction swaps the whole old version for the whole new one)
  4. now and then: Milvus flush, BM25 saved (atomic folder swap), ``bm25.json`` = registry version,
     ``intent.json`` removed

A crash before 3 leaves the old registry, so the old state stays searchable; the next writer
re-syncs Milvus for the intent's documents from the registry. A crash after 3 leaves BM25 behind
the registry: whoever opens the index next (reader or writer) brings BM25 up to the registry by
dropping rows the registry does not know and segmenting the rows BM25 lacks. Missing or damaged
BM25 files are the same case (every row is lacking).

``THAIJA_CRASH_AT=<point>[:<n>]`` makes the process exit abruptly (``os._exit(137)``, like
``kill -9``) the n-th time it reaches a write point: used by the recovery tests.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

CRASH_POINTS = ("before_milvus", "after_milvus", "after_registry", "during_bm25_save", "after_bm25",
                "after_flush")
#: write points of a big document committed in parts (tests/test_ingest_stream.py)
STREAM_CRASH_POINTS = ("after_stage", "after_finalize")
_REACHED: Counter = Counter()


def crash_point(name: str) -> None:
    """Exit at once (no cleanup, like kill -9) when ``THAIJA_CRASH_AT`` names this point."""
    spec = os.environ.get("THAIJA_CRASH_AT")
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _REACHED[name] += 1
    if _REACHED[name] >= int(nth or 1):
        sys.stderr.flush()
        os._exit(137)


# ---- small JSON files, written atomically ------------------------------------------------
def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class Intent:
    """``intent.json`` in the state folder: documents whose Milvus rows may disagree with the registry."""

    def __init__(self, state: Path) -> None:
        self.path = state / "intent.json"

    def pending(self) -> list[str]:
        rec = read_json(self.path)
        return [str(d) for d in rec.get("docs", [])] if isinstance(rec, dict) else []

    def record(self, doc_ids: Iterable[str]) -> None:
        docs = list(dict.fromkeys([*self.pending(), *doc_ids]))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, {"docs": docs})

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def bm25_version(state: Path) -> int | None:
    """The registry version the saved BM25 state belongs to (None: unknown)."""
    rec = read_json(state / "bm25.json")
    return int(rec["version"]) if isinstance(rec, dict) and isinstance(rec.get("version"), int) else None


def set_bm25_version(state: Path, version: int) -> None:
    write_json(state / "bm25.json", {"version": int(version)})


def load_bm25(folder: Path, config) -> tuple[Any, bool]:
    """(BM25Store, ok). Damaged files give an empty store and ok=False (reconcile rebuilds it)."""
    from thaija.index.bm25 import BM25Store, recover_folder

    recover_folder(folder)
    try:
        store = BM25Store(folder, config)
        for lang, ix in store.indexes.items():  # a cut file loads but disagrees in length
            if not (len(ix.doc_ids) == len(ix.rows) == len(ix.lengths) == len(ix._indptr) - 1):
                raise ValueError("inconsistent BM25 arrays")
            for name in ("vocab.json", "doc_ids.json"):  # read lazily later: check their shape now
                lazy = folder / lang / name
                if lazy.exists():
                    with open(lazy, "rb") as f:
                        head = f.read(1)
                        f.seek(max(0, lazy.stat().st_size - 2))
                        if head != b"[" or not f.read().rstrip().endswith(b"]"):
                            raise ValueError(f"damaged BM25 {name}")
        return store, True
    except Exception:  # any damage: JSON, .npy, missing language folder
        store = BM25Store(None, config)
        store.folder = folder
        return store, False


def remove_damaged(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def query(registry, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
    """All rows of a registry query (under the registry's read lock when it has one: server threads)."""
    read = getattr(registry, "_read", None)
    return read(sql, args) if read else registry.db.execute(sql, args).fetchall()


def reconcile_bm25(registry, bm25, terms_for) -> int:
    """Make `bm25` hold exactly the registry's chunk rows; returns the number of documents fixed.

    ``terms_for(doc_ids) -> {doc_id: [(row, lang, terms), ...]}`` gives the BM25 input of
    registry documents (re-segmented from the stored text)."""
    want: dict[str, set[int]] = {}
    for row, doc_id in query(registry, "SELECT row, doc_id FROM chunks"):
        want.setdefault(doc_id, set()).add(int(row))
    have: dict[str, set[int]] = {}
    for ix in bm25.indexes.values():
        for row, doc_id in zip(ix.rows.tolist(), ix.doc_ids):
            have.setdefault(doc_id, set()).add(int(row))
    bad = {d for d in set(want) | set(have) if want.get(d) != have.get(d)}
    if not bad:
        return 0
    bm25.remove_docs(bad)
    fix = sorted(d for d in bad if d in want)
    for i in range(0, len(fix), 200):
        for doc_id, rows in terms_for(fix[i:i + 200]).items():
            by_lang: dict[str, tuple[list, list, list]] = {}
            for row, lang, terms in rows:
                rl = by_lang.setdefault(lang, ([], [], []))
                rl[0].append(row)
                rl[1].append(doc_id)
                rl[2].append(terms)
            for lang, (rs, ds, ts) in by_lang.items():
                bm25.add(lang, rs, ds, ts)
    return len(bad)


def resync_milvus(index, doc_ids: Sequence[str]) -> None:
    """Make Milvus hold exactly the registry's chunks of these documents (after a crash between
    the intent record and a flush). Vectors come from the registry, else the embedding cache."""
    import numpy as np

    if not index.milvus_rows:   # a Lite file searched in-process: Milvus holds no chunk rows
        return
    index.milvus.delete_docs(doc_ids)
    marks = ",".join("?" * len(doc_ids))
    docs = {r[0]: (index.registry.text_of(r[0], r[1]), *r[2:]) for r in query(
        index.registry, f"SELECT doc_id, text, title, source, groups, updated_at FROM documents "
                        f"WHERE doc_id IN ({marks})", list(doc_ids))}
    rows = []
    for cid, did, lang, s, e, h, vec in query(
            index.registry, f'SELECT chunk_id, doc_id, lang, start, "end", content_hash, vec FROM chunks '
                            f'WHERE doc_id IN ({marks})', list(doc_ids)):
        text, title, source, groups, ts = docs[did]
        gs = json.loads(groups)
        v = np.frombuffer(vec, dtype=np.float32) if vec else _vector(index, text, title, source, s, e)
        rows.append({"chunk_id": cid, "doc_id": did, "lang": lang, "start": s, "end": e, "content_hash": h,
                     "public": not gs, "groups": gs, "source": source, "title": title, "updated_at": int(ts or 0),
                     "text": text[s:e], "vector": v.tolist()})
    if rows:
        index.milvus.upsert(rows)
    for did in index.registry.staged_ids(doc_ids):   # parts of a big document not finalized yet
        rec = index.registry.db.execute("SELECT info FROM staged_docs WHERE doc_id=?", (did,)).fetchone()
        info = json.loads(rec[0]) if rec else {"title": "", "source": "", "groups": [], "updated_at": 0}
        gs = info["groups"]
        for part in index.registry.staged_rows(did, 'chunk_id, lang, start, "end", content_hash, vec, text'):
            index.milvus.upsert([
                {"chunk_id": cid, "doc_id": did, "lang": lang, "start": s, "end": e, "content_hash": h,
                 "public": not gs, "groups": gs, "source": info["source"], "title": info["title"],
                 "updated_at": int(info["updated_at"]), "text": text,
                 "vector": np.frombuffer(vec, dtype=np.float32).tolist()}
                for _, cid, lang, s, e, h, vec, text in part])


def _vector(index, text: str, title: str, source: str, start: int, end: int):
    """A chunk's vector as ingest made it (context line + text), through the embedding cache."""
    from thaija.index.embed import EmbeddingCache, default_cache_dir, embed_passages
    from thaija.index.sections import embed_text, heading_at, is_markdown
    from thaija.index.writer import chunk_context

    heading = heading_at(text, start) if is_markdown(source) else ""
    t = embed_text(chunk_context(index.context_mode, title, heading), text[start:end])
    cfg = index.config
    cache = EmbeddingCache(cfg.cache_path if cfg.cache_path is not None
                           else str(default_cache_dir() / "embeddings.sqlite"))
    try:
        return embed_passages([t], index.embedder, cache)[0]
    finally:
        cache.close()


def rebuild_lite(index, exc: BaseException) -> None:
    """A Milvus Lite file that no longer opens (e.g. killed while it built an index after a flush):
    move it aside to ``<db>.damaged`` and rebuild it from the registry, which keeps every vector."""
    import logging

    db = Path(index.config.db)
    if index._milvus is not None:
        try:
            index._milvus.close()
        except Exception:  # noqa: BLE001
            pass
        index._milvus = None
    aside = db.with_name(db.name + ".damaged")
    shutil.rmtree(aside, ignore_errors=True)
    if db.exists():
        os.replace(db, aside)
    logging.getLogger("thaija").warning("%s could not be opened (%s): rebuilt from the registry, the old "
                                        "folder is %s", db, str(exc)[:200], aside)
    ids = sorted(d for (d,) in query(index.registry, "SELECT doc_id FROM documents"))
    index.milvus.client
    for i in range(0, len(ids), 200):
        resync_milvus(index, ids[i:i + 200])
    index.milvus.flush()
