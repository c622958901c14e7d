"""Local registry of documents and chunks (SQLite beside the store).

It holds the original document text (citations slice it), chunk offsets/languages/access key,
each chunk's vector (a float32 blob, so search can run in-process without re-reading Milvus)
and the fingerprints that make ingest incremental. Every ingest commits in one transaction.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS documents (
  doc_id TEXT PRIMARY KEY, fingerprint TEXT, content_hash TEXT, title TEXT, source TEXT, lang TEXT,
  groups TEXT, metadata TEXT, text TEXT, n_chunks INTEGER, updated_at INTEGER);
CREATE TABLE IF NOT EXISTS chunks (
  row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, lang TEXT, start INTEGER, "end" INTEGER,
  tokens INTEGER, content_hash TEXT, acl TEXT, vec BLOB);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
"""


@dataclass
class Snapshot:
    """In-memory columns of every live chunk (for search)."""

    rows: np.ndarray          # int64 global row ids
    chunk_ids: list[str]
    doc_ids: list[str]
    langs: np.ndarray         # int index into lang_names
    lang_names: list[str]
    acl: np.ndarray           # int index into acl_keys
    acl_keys: list[str]
    starts: np.ndarray
    ends: np.ndarray
    vectors: np.ndarray       # (n, dim) float32, L2-normalised
    version: int

    def position(self) -> dict[int, int]:
        if not hasattr(self, "_pos"):
            self._pos = {int(r): i for i, r in enumerate(self.rows.tolist())}
        return self._pos


class Registry:
    """SQLite file `registry.sqlite` in the state folder."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.db.commit()

    # ---- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        r = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return r[0] if r else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def version(self) -> int:
        return int(self.get_meta("version", "0") or 0)

    # ---- documents -----------------------------------------------------------------------
    def fingerprints(self, doc_ids: Iterable[str]) -> dict[str, str]:
        ids = list(doc_ids)
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            q = f"SELECT doc_id, fingerprint FROM documents WHERE doc_id IN ({','.join('?' * len(part))})"
            out.update(dict(self.db.execute(q, part).fetchall()))
        return out

    def doc_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT doc_id FROM documents")}

    def next_row(self) -> int:
        r = self.db.execute("SELECT MAX(row) FROM chunks").fetchone()[0]
        return 0 if r is None else int(r) + 1

    def write(self, remove: Sequence[str], docs: Sequence[dict[str, Any]], chunks: Sequence[dict[str, Any]]) -> None:
        """One transaction: drop `remove` documents' rows, then insert docs and chunks."""
        now = int(time.time())
        with self.db:
            for i in range(0, len(remove), 500):
                part = list(remove[i:i + 500])
                marks = ",".join("?" * len(part))
                self.db.execute(f"DELETE FROM chunks WHERE doc_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM documents WHERE doc_id IN ({marks})", part)
            self.db.executemany(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(d["doc_id"], d["fingerprint"], d["content_hash"], d["title"], d["source"], d["lang"] or "",
                  json.dumps(d["groups"]), json.dumps(d["metadata"], ensure_ascii=False), d["text"],
                  d["n_chunks"], now) for d in docs])
            self.db.executemany(
                'INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)',
                [(c["row"], c["chunk_id"], c["doc_id"], c["lang"], c["start"], c["end"], c["tokens"],
                  c["content_hash"], c["acl"], np.asarray(c["vector"], np.float32).tobytes()) for c in chunks])
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(self.version() + 1),))

    def remove(self, doc_ids: Sequence[str]) -> None:
        self.write(doc_ids, [], [])

    # ---- reads ---------------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT doc_id, title, source, lang, groups, n_chunks, length(text), updated_at "
                              "FROM documents ORDER BY doc_id")
        return [{"doc_id": r[0], "title": r[1], "source": r[2], "lang": r[3] or None, "groups": json.loads(r[4]),
                 "chunks": r[5], "characters": r[6], "updated_at": r[7]} for r in cur]

    def document(self, doc_id: str) -> dict[str, Any] | None:
        r = self.db.execute("SELECT doc_id, text, title, source, groups, metadata FROM documents WHERE doc_id=?",
                            (doc_id,)).fetchone()
        if r is None:
            return None
        return {"doc_id": r[0], "text": r[1], "title": r[2], "source": r[3], "groups": json.loads(r[4]),
                "metadata": json.loads(r[5])}

    def chunk_langs(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT lang, COUNT(*) FROM chunks GROUP BY lang").fetchall())

    def counts(self) -> tuple[int, int]:
        d = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        c = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(d), int(c)

    def snapshot(self, dim: int) -> Snapshot:
        cur = self.db.execute('SELECT row, chunk_id, doc_id, lang, start, "end", acl, vec FROM chunks ORDER BY row')
        rows, cids, dids, langs, starts, ends, acls, vecs = [], [], [], [], [], [], [], []
        for r in cur:
            rows.append(r[0]); cids.append(r[1]); dids.append(r[2]); langs.append(r[3])
            starts.append(r[4]); ends.append(r[5]); acls.append(r[6]); vecs.append(r[7])
        lang_names = sorted(set(langs))
        acl_keys = sorted(set(acls))
        li = {l: i for i, l in enumerate(lang_names)}
        ai = {a: i for i, a in enumerate(acl_keys)}
        vectors = (np.frombuffer(b"".join(vecs), dtype=np.float32).reshape(len(vecs), dim)
                   if vecs else np.zeros((0, dim), np.float32))
        return Snapshot(rows=np.asarray(rows, np.int64), chunk_ids=cids, doc_ids=dids,
                        langs=np.asarray([li[l] for l in langs], np.int32), lang_names=lang_names,
                        acl=np.asarray([ai[a] for a in acls], np.int32), acl_keys=acl_keys,
                        starts=np.asarray(starts, np.int64), ends=np.asarray(ends, np.int64),
                        vectors=vectors, version=self.version())

    def close(self) -> None:
        self.db.close()
