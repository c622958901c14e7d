"""Local registry of documents and chunks (SQLite in the store's state folder).

It holds the original document text (citations slice it), chunk offsets/languages/access key
and the fingerprints that make ingest incremental. Every ingest batch commits in one transaction.

A document too big for one batch is *staged*: its chunks are committed part by part into
``staged_chunks`` (with their vectors, BM25 terms and text, so a crash loses at most one part and
Milvus can be re-synced), which search never reads; :meth:`Registry.finalize` then swaps the old
version for the new one in ONE transaction. Search sees the whole old or the whole new document.

Vectors: with a Milvus Lite file the registry also keeps each chunk's vector (a float32 blob) so
search runs in-process (faster than Milvus Lite's own search). With a Milvus server
(``keep_vectors=False``) vectors live only in Milvus and the search snapshot holds just compact
numpy columns; chunk and document ids are read from SQLite for the hits only, so a search
process' memory does not grow with the number of vectors.
"""
from __future__ import annotations

import bisect
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from thaija.errors import ThaijaError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS documents (
  doc_id TEXT PRIMARY KEY, fingerprint TEXT, content_hash TEXT, title TEXT, source TEXT, lang TEXT,
  groups TEXT, metadata TEXT, text TEXT, n_chunks INTEGER, updated_at INTEGER);
CREATE TABLE IF NOT EXISTS chunks (
  row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, lang TEXT, start INTEGER, "end" INTEGER,
  tokens INTEGER, content_hash TEXT, acl TEXT, vec BLOB);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS doc_sums (doc_id TEXT, lang TEXT, acl TEXT, n INTEGER, sum BLOB);
CREATE INDEX IF NOT EXISTS doc_sums_doc ON doc_sums(doc_id);
CREATE TABLE IF NOT EXISTS group_sums (lang TEXT, acl TEXT, n INTEGER, sum BLOB, PRIMARY KEY (lang, acl));
CREATE TABLE IF NOT EXISTS staged_docs (
  doc_id TEXT PRIMARY KEY, fingerprint TEXT, next_chunk INTEGER, pieces TEXT, info TEXT);
CREATE TABLE IF NOT EXISTS staged_chunks (
  row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, lang TEXT, start INTEGER, "end" INTEGER,
  tokens INTEGER, content_hash TEXT, acl TEXT, vec BLOB, terms TEXT, text TEXT);
CREATE INDEX IF NOT EXISTS staged_chunks_doc ON staged_chunks(doc_id);
CREATE TABLE IF NOT EXISTS doc_text (doc_id TEXT, part INTEGER, text TEXT, PRIMARY KEY (doc_id, part));
"""
#: a document text longer than this (characters) is stored in ``doc_text`` parts of this size (its
#: ``documents.text`` is NULL): SQLite builds a whole record in memory, so one 50 MB value cost
#: ~150 MB at once (the UTF-8 copy Python caches on the str, SQLite's copy, the record)
TEXT_PART = 1 << 20
_CHUNK_COLS = 'row, chunk_id, doc_id, lang, start, "end", tokens, content_hash, acl'


class Positions:
    """global row id -> position in a snapshot (rows are sorted; no per-row dict)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows

    def get(self, row: int, default: int | None = None) -> int | None:
        i = int(np.searchsorted(self.rows, row))
        return i if i < len(self.rows) and int(self.rows[i]) == int(row) else default

    def __getitem__(self, row: int) -> int:
        i = self.get(row)
        if i is None:
            raise KeyError(row)
        return i

    def __contains__(self, row: int) -> bool:
        return self.get(row) is not None

    def __len__(self) -> int:
        return len(self.rows)


class RowColumn:
    """A text column of the chunks table read from SQLite on demand (server mode snapshots):
    ``col[i]`` is the value at snapshot position i; iterating reads the whole column once."""

    def __init__(self, registry: "Registry", column: str, rows: np.ndarray) -> None:
        self._reg, self._col, self._rows = registry, column, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> str:
        r = self._reg._read(f"SELECT {self._col} FROM chunks WHERE row=?", (int(self._rows[i]),))
        if not r:
            raise IndexError(i)
        return r[0][0]

    def __iter__(self):
        vals = dict(self._reg._read(f"SELECT row, {self._col} FROM chunks"))
        return iter([vals[int(r)] for r in self._rows.tolist()])


@dataclass
class Snapshot:
    """Columns of every live chunk (for search). `chunk_ids`/`doc_ids` are lists (Lite) or
    :class:`RowColumn` (server mode); `vectors` is (n, dim) or (0, dim) when Milvus holds them."""

    rows: np.ndarray          # int64 global row ids, ascending
    chunk_ids: Sequence[str]
    doc_ids: Sequence[str]
    langs: np.ndarray         # int index into lang_names
    lang_names: list[str]
    acl: np.ndarray           # int index into acl_keys
    acl_keys: list[str]
    starts: np.ndarray
    ends: np.ndarray
    vectors: np.ndarray       # (n, dim) float32, L2-normalised; (0, dim) in server mode
    version: int
    group_sums: dict | None = None   # server mode: (lang, acl key) -> (n, vector sum)

    def position(self) -> Positions:
        if not hasattr(self, "_pos"):
            self._pos = Positions(self.rows)
        return self._pos


_CONTINUATION = bytes(range(0x80, 0xC0))


def _nchars(text: Any) -> int | None:
    """Characters of a stored text, NULs included (UTF-8 bytes that are not continuation bytes)."""
    if text is None:
        return None
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    return len(raw.translate(None, _CONTINUATION))


class Registry:
    """SQLite file `registry.sqlite` in the state folder. `keep_vectors=False` (server mode):
    chunk vectors are not stored here and snapshots load none."""

    def __init__(self, path: Path, keep_vectors: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.keep_vectors = keep_vectors
        self.db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        # characters of a stored text: SQLite's length() stops at the first NUL (QA session 7: a text
        # with NULs listed 68 of its 30,709 characters); this counts the UTF-8 lead bytes of the blob
        self.db.create_function("nchars", 1, _nchars, deterministic=True)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            self.db.commit()
        except sqlite3.DatabaseError as exc:  # a damaged or foreign file: one line, no traceback
            self.db.close()
            raise ThaijaError(f"{path}: damaged index registry ({exc}); move the index and its "
                              f"{path.parent.name} folder away and run `thaija index add` again") from None
        self._rlock = threading.Lock()   # one connection shared by server threads

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._rlock:
            return self.db.execute(sql, args).fetchall()

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
        r = self.db.execute("SELECT MAX(m) FROM (SELECT MAX(row) AS m FROM chunks "
                            "UNION ALL SELECT MAX(row) FROM staged_chunks)").fetchone()[0]
        return 0 if r is None else int(r) + 1

    # ---- staged (big) documents ------------------------------------------------------------
    def staged(self, doc_id: str) -> dict[str, Any] | None:
        """The staging record of a document being written part by part (None: none)."""
        r = self.db.execute("SELECT fingerprint, next_chunk, pieces FROM staged_docs WHERE doc_id=?",
                            (doc_id,)).fetchone()
        return None if r is None else {"fingerprint": r[0], "next_chunk": int(r[1]), "pieces": json.loads(r[2])}

    def staged_ids(self, doc_ids: Iterable[str] | None = None) -> list[str]:
        """Documents (among `doc_ids`, default all) that have staged parts."""
        have = [r[0] for r in self.db.execute("SELECT DISTINCT doc_id FROM staged_docs UNION "
                                              "SELECT DISTINCT doc_id FROM staged_chunks")]
        return have if doc_ids is None else sorted(set(have) & set(doc_ids))

    def stage(self, doc_id: str, fingerprint: str, info: dict[str, Any], chunks: Sequence[dict[str, Any]],
              next_chunk: int, pieces: Sequence[int]) -> None:
        """One transaction: add one part of a big document (invisible to search until finalize)."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO staged_docs VALUES (?,?,?,?,?)",
                            (doc_id, fingerprint, int(next_chunk), json.dumps(list(pieces)),
                             json.dumps(info, ensure_ascii=False)))
            self.db.executemany(
                "INSERT OR REPLACE INTO staged_chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(c["row"], c["chunk_id"], c["doc_id"], c["lang"], c["start"], c["end"], c["tokens"],
                  c["content_hash"], c["acl"], np.asarray(c["vector"], np.float32).tobytes(),
                  c["terms"] if isinstance(c["terms"], str) else json.dumps(c["terms"], ensure_ascii=False),
                  c["text"]) for c in chunks])
            top = max((c["row"] + 1 for c in chunks), default=0)
            if top > int(self.get_meta("next_row") or 0):
                self.set_meta("next_row", str(top))

    def drop_staged(self, doc_ids: Sequence[str], *, collect: bool = True) -> list[str]:
        """Forget the staged parts of these documents; returns their chunk ids (to delete in Milvus).
        ``collect=False``: nothing collected (staged chunks that went live: a 50 MB document has 61k)."""
        ids = list(doc_ids)
        out: list[str] = []
        with self.db:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                marks = ",".join("?" * len(part))
                if collect:
                    out += [r[0] for r in self.db.execute(
                        f"SELECT chunk_id FROM staged_chunks WHERE doc_id IN ({marks})", part)]
                self.db.execute(f"DELETE FROM staged_chunks WHERE doc_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM staged_docs WHERE doc_id IN ({marks})", part)
        return out

    def staged_rows(self, doc_id: str, columns: str, batch: int = 2000) -> Iterable[list[tuple]]:
        """Staged chunks of a document, `batch` rows at a time, in row order."""
        last = -1
        while True:
            part = self._read(f"SELECT row, {columns} FROM staged_chunks WHERE doc_id=? AND row > ? "
                              f"ORDER BY row LIMIT ?", (doc_id, last, batch))
            if not part:
                return
            yield part
            last = part[-1][0]

    def chunk_ids_of(self, doc_ids: Sequence[str]) -> list[str]:
        ids = list(doc_ids)
        out: list[str] = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out += [r[0] for r in self._read(
                f"SELECT chunk_id FROM chunks WHERE doc_id IN ({','.join('?' * len(part))})", part)]
        return out

    def finalize(self, doc: dict[str, Any]) -> tuple[int, int]:
        """ONE transaction: the staged chunks of ``doc["doc_id"]`` replace its old version (chunks
        and document row). Returns (chunks removed, chunks added). The staged rows stay until
        :meth:`drop_staged` (BM25 reads their terms after the commit)."""
        did = doc["doc_id"]
        with self.db:
            removed = self.db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id=?", (did,)).fetchone()[0]
            if not self.keep_vectors:
                first = True
                for part in self.staged_rows(did, "lang, acl, vec, doc_id"):
                    self._update_sums([did] if first else [], [
                        {"lang": r[1], "acl": r[2], "vector": np.frombuffer(r[3], np.float32), "doc_id": r[4]}
                        for r in part])
                    first = False
                if first:
                    self._update_sums([did], [])
            self.db.execute("DELETE FROM chunks WHERE doc_id=?", (did,))
            self.db.execute("DELETE FROM documents WHERE doc_id=?", (did,))
            self.db.execute("DELETE FROM doc_text WHERE doc_id=?", (did,))
            text = doc["text"]
            parted = len(text) > TEXT_PART
            self.db.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (did, doc["fingerprint"], doc["content_hash"], doc["title"], doc["source"], doc["lang"] or "",
                 json.dumps(doc["groups"]), json.dumps(doc["metadata"], ensure_ascii=False),
                 None if parted else text, doc["n_chunks"], int(time.time())))
            if parted:
                self.db.executemany("INSERT INTO doc_text VALUES (?,?,?)",
                                    ((did, k, text[i:i + TEXT_PART]) for k, i in enumerate(range(0, len(text), TEXT_PART))))
            vec = "vec" if self.keep_vectors else "NULL"
            added = self.db.execute(f"INSERT INTO chunks SELECT {_CHUNK_COLS}, {vec} FROM staged_chunks "
                                    f"WHERE doc_id=? ORDER BY row", (did,)).rowcount
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(self.version() + 1),))
        return int(removed), int(added)

    def write(self, remove: Sequence[str], docs: Sequence[dict[str, Any]], chunks: Sequence[dict[str, Any]]) -> None:
        """One transaction: drop `remove` documents' rows, then insert docs and chunks."""
        now = int(time.time())
        with self.db:
            for i in range(0, len(remove), 500):
                part = list(remove[i:i + 500])
                marks = ",".join("?" * len(part))
                self.db.execute(f"DELETE FROM chunks WHERE doc_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM documents WHERE doc_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM doc_text WHERE doc_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM staged_chunks WHERE doc_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM staged_docs WHERE doc_id IN ({marks})", part)
            self.db.executemany(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(d["doc_id"], d["fingerprint"], d["content_hash"], d["title"], d["source"], d["lang"] or "",
                  json.dumps(d["groups"]), json.dumps(d["metadata"], ensure_ascii=False), d["text"],
                  d["n_chunks"], now) for d in docs])
            self.db.executemany(
                'INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)',
                [(c["row"], c["chunk_id"], c["doc_id"], c["lang"], c["start"], c["end"], c["tokens"],
                  c["content_hash"], c["acl"],
                  np.asarray(c["vector"], np.float32).tobytes() if self.keep_vectors else None) for c in chunks])
            if not self.keep_vectors:
                self._update_sums(remove, chunks)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(self.version() + 1),))

    def _update_sums(self, remove: Sequence[str], chunks: Sequence[dict[str, Any]]) -> None:
        """Server mode keeps no vectors, but search centres dense scores per language (it needs the
        mean vector of the chunks a caller may see in each language). So the registry keeps the sum
        of the vectors per (language, access key) -- and per document, to subtract on removal."""
        if self.get_meta("group_sums") is None:
            if self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] > len(chunks):
                return   # an index from before sums were kept: search then skips the centring
            self.set_meta("group_sums", "1")
        delta: dict[tuple[str, str], list] = {}
        for i in range(0, len(remove), 500):
            part = list(remove[i:i + 500])
            q = f"SELECT lang, acl, n, sum FROM doc_sums WHERE doc_id IN ({','.join('?' * len(part))})"
            for lang, acl, n, blob in self.db.execute(q, part).fetchall():
                d = delta.setdefault((lang, acl), [0, 0.0])
                d[0] -= n
                d[1] = d[1] - np.frombuffer(blob, np.float64)
            self.db.execute(f"DELETE FROM doc_sums WHERE doc_id IN ({','.join('?' * len(part))})", part)
        per_doc: dict[tuple[str, str, str], list] = {}
        for c in chunks:
            v = np.asarray(c["vector"], np.float64)
            for key, table in (((c["lang"], c["acl"]), delta), ((c["doc_id"], c["lang"], c["acl"]), per_doc)):
                d = table.setdefault(key, [0, 0.0])
                d[0] += 1
                d[1] = d[1] + v
        self.db.executemany("INSERT INTO doc_sums VALUES (?,?,?,?,?)",
                            [(k[0], k[1], k[2], n, np.asarray(v, np.float64).tobytes()) for k, (n, v) in per_doc.items()])
        for (lang, acl), (n, v) in delta.items():
            r = self.db.execute("SELECT n, sum FROM group_sums WHERE lang=? AND acl=?", (lang, acl)).fetchone()
            n0, v0 = (r[0], np.frombuffer(r[1], np.float64)) if r else (0, 0.0)
            n1, v1 = n0 + n, v0 + v
            if n1 <= 0:
                self.db.execute("DELETE FROM group_sums WHERE lang=? AND acl=?", (lang, acl))
            else:
                self.db.execute("INSERT OR REPLACE INTO group_sums VALUES (?,?,?,?)",
                                (lang, acl, n1, np.asarray(v1, np.float64).tobytes()))

    def group_sums(self) -> dict[tuple[str, str], tuple[int, np.ndarray]] | None:
        """(lang, access key) -> (chunks, sum of their vectors); None when not kept (Lite mode or an
        index from before)."""
        if self.keep_vectors or self.get_meta("group_sums") is None:
            return None
        return {(lang, acl): (int(n), np.frombuffer(b, np.float64))
                for lang, acl, n, b in self._read("SELECT lang, acl, n, sum FROM group_sums")}

    def remove(self, doc_ids: Sequence[str]) -> None:
        self.write(doc_ids, [], [])

    # ---- reads ---------------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT doc_id, title, source, lang, groups, n_chunks, COALESCE(nchars(text), "
                              "(SELECT SUM(nchars(p.text)) FROM doc_text p WHERE p.doc_id = documents.doc_id)), "
                              "updated_at FROM documents ORDER BY doc_id")
        return [{"doc_id": r[0], "title": r[1], "source": r[2], "lang": r[3] or None, "groups": json.loads(r[4]),
                 "chunks": r[5], "characters": r[6], "updated_at": r[7]} for r in cur]

    def groups_of(self, doc_id: str) -> list[str]:
        """The access groups `doc_id` is stored with ([] when public or not indexed)."""
        row = self._read("SELECT groups FROM documents WHERE doc_id=?", (doc_id,))
        return json.loads(row[0][0]) if row else []

    def document(self, doc_id: str) -> dict[str, Any] | None:
        r = self.db.execute("SELECT doc_id, text, title, source, groups, metadata FROM documents WHERE doc_id=?",
                            (doc_id,)).fetchone()
        if r is None:
            return None
        return {"doc_id": r[0], "text": self.text_of(r[0]) if r[1] is None else r[1], "title": r[2], "source": r[3], "groups": json.loads(r[4]),
                "metadata": json.loads(r[5])}

    def headings_of(self, doc_id: str, positions: Sequence[int]) -> tuple[str, list[str]] | None:
        """(title, the heading each offset of ``positions`` sits under) of a stored document: the
        heading of its Markdown section ("" for other formats), the context its chunks were indexed
        with; the text is read once, only for a Markdown document."""
        from thaija.index.sections import headings, is_markdown

        r = self.db.execute("SELECT title, source, metadata FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        if r is None:
            return None
        if not is_markdown(r[1] or "", json.loads(r[2] or "{}")):
            return r[0] or "", ["" for _ in positions]
        hs = headings((self.document(doc_id) or {}).get("text") or "")
        ends = [h[1] for h in hs]
        out = []
        for pos in positions:
            i = bisect.bisect_right(ends, pos) - 1
            out.append(hs[i][2] if i >= 0 else "")
        return r[0] or "", out

    def text_of(self, doc_id: str, text: str | None = None) -> str:
        """A document's text: ``text`` when given (its ``documents.text``), else its ``doc_text`` parts."""
        if text is not None:
            return text
        return "".join(r[0] for r in self._read("SELECT text FROM doc_text WHERE doc_id=? ORDER BY part", (doc_id,)))

    def text_slice(self, doc_id: str, start: int, end: int, cache: dict | None = None) -> str | None:
        """``document[start:end]`` of a stored document (None when unknown), reading only the ``doc_text``
        parts it spans (a long document is never read whole). ``cache``: a dict the caller keeps for a
        few calls (one answer): a short document is then read once, and what is known of a long one
        (that it is stored in parts) is not asked again."""
        start, end = max(0, int(start)), max(0, int(end))
        if cache is not None and doc_id in cache:
            got = cache[doc_id]
            if got is None or isinstance(got, str):   # unknown / a short document's whole text
                return None if got is None else got[start:end]
        else:
            r = self._read("SELECT text IS NULL FROM documents WHERE doc_id=?", (doc_id,))
            if not r or not r[0][0]:   # unknown, or under TEXT_PART characters: one value
                text = self._read("SELECT text FROM documents WHERE doc_id=?", (doc_id,))[0][0] if r else None
                if cache is not None:
                    cache[doc_id] = text
                return None if text is None else text[start:end]
            if cache is not None:
                cache[doc_id] = False   # stored in parts
        if end <= start:
            return ""
        k0, k1 = start // TEXT_PART, (end - 1) // TEXT_PART
        parts = self._read("SELECT text FROM doc_text WHERE doc_id=? AND part BETWEEN ? AND ? ORDER BY part",
                           (doc_id, k0, k1))
        return "".join(p[0] for p in parts)[start - k0 * TEXT_PART:end - k0 * TEXT_PART]

    def chunk_langs(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT lang, COUNT(*) FROM chunks GROUP BY lang").fetchall())

    def counts(self) -> tuple[int, int]:
        d = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        c = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(d), int(c)

    def rows_of(self, chunk_ids: Sequence[str]) -> dict[str, int]:
        """chunk_id -> global row for the given chunks (unknown ids are left out)."""
        ids = list(chunk_ids)
        out: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out.update(self._read(f"SELECT chunk_id, row FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})",
                                  part))
        return out

    def snapshot(self, dim: int) -> Snapshot:
        if not self.keep_vectors:
            return self._compact_snapshot(dim)
        cur = self.db.execute('SELECT row, chunk_id, doc_id, lang, start, "end", acl, vec FROM chunks ORDER BY row')
        rows, cids, dids, langs, starts, ends, acls, vecs = [], [], [], [], [], [], [], []
        for r in cur:
            rows.append(r[0]); cids.append(r[1]); dids.append(r[2]); langs.append(r[3])
            starts.append(r[4]); ends.append(r[5]); acls.append(r[6]); vecs.append(r[7])
        if any(v is None for v in vecs):
            raise ThaijaError(f"{self.path}: this index keeps its vectors in a Milvus server; "
                              f"search it through the server URI")
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

    def _compact_snapshot(self, dim: int, batch: int = 50_000) -> Snapshot:
        """Numpy columns only (about 29 bytes per chunk), read in batches; no vectors, no id strings."""
        lang_names = [r[0] for r in self._read("SELECT DISTINCT lang FROM chunks ORDER BY lang")]
        acl_keys = [r[0] for r in self._read("SELECT DISTINCT acl FROM chunks ORDER BY acl")]
        li = {l: i for i, l in enumerate(lang_names)}
        ai = {a: i for i, a in enumerate(acl_keys)}
        n = self._read("SELECT COUNT(*) FROM chunks")[0][0]
        rows = np.zeros(n, np.int64)
        langs = np.zeros(n, np.int8)
        acl = np.zeros(n, np.int32)
        starts = np.zeros(n, np.int64)
        ends = np.zeros(n, np.int64)
        i, last = 0, -1
        while i < n:
            part = self._read('SELECT row, lang, acl, start, "end" FROM chunks WHERE row > ? ORDER BY row LIMIT ?',
                              (last, batch))
            if not part:
                break
            m = len(part)
            rows[i:i + m] = [r[0] for r in part]
            langs[i:i + m] = [li[r[1]] for r in part]
            acl[i:i + m] = [ai[r[2]] for r in part]
            starts[i:i + m] = [r[3] for r in part]
            ends[i:i + m] = [r[4] for r in part]
            i += m
            last = part[-1][0]
        rows, langs, acl, starts, ends = rows[:i], langs[:i], acl[:i], starts[:i], ends[:i]
        return Snapshot(rows=rows, chunk_ids=RowColumn(self, "chunk_id", rows), doc_ids=RowColumn(self, "doc_id", rows),
                        langs=langs, lang_names=lang_names, acl=acl, acl_keys=acl_keys, starts=starts, ends=ends,
                        vectors=np.zeros((0, dim), np.float32), version=self.version(),
                        group_sums=self.group_sums())

    def close(self) -> None:
        self.db.close()
