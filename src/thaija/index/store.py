"""Milvus store of chunks (Milvus Lite file or a Milvus server / Zilliz URI) and the ACL rule.

The ACL rule lives here and nowhere else: a caller with groups G may see a chunk when the chunk
is public (no groups) or its groups intersect G. `acl_filter` expresses it for Milvus,
`allowed_mask` for the in-process numpy/BM25 paths. Group names are validated, so no
text a caller passes can change the filter expression.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from thaija.errors import ThaijaError, require
from thaija.index.documents import validate_groups

COLLECTION = "thaija_chunks"
_MAX_TEXT_BYTES = 65535


def is_server_uri(db: str) -> bool:
    return str(db).startswith(("http://", "https://", "tcp://", "unix:"))


def state_dir_for(db: str, state_dir: str | os.PathLike | None = None) -> Path:
    """Where the local state (registry, per-language BM25) of the store `db` lives.

    An explicit `state_dir` (``--state``) wins. A Milvus Lite file ``x.db`` keeps it beside itself
    in ``x.db.state``. A server URI uses ``$THAIJA_STATE`` when set (point every process and
    machine that shares the server at the same folder), else
    ``${XDG_STATE_HOME:-~/.local/state}/thaija/<host_port>`` -- addressed by the store, never by
    the current folder.
    """
    if state_dir:
        return Path(state_dir).expanduser()
    db = str(db)
    if not is_server_uri(db):
        return Path(db + ".state")
    env = os.environ.get("THAIJA_STATE")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "thaija" / re.sub(r"[^A-Za-z0-9_.-]+", "_", db.split("://", 1)[-1]).strip("_")


def _milvus_message(exc: BaseException) -> str:
    """One line from a pymilvus exception (no traceback, no repr noise)."""
    msg = str(getattr(exc, "message", "") or exc).strip()
    return msg.splitlines()[0] if msg else type(exc).__name__


def _token_from_env() -> str:
    return os.environ.get("THAIJA_MILVUS_TOKEN") or os.environ.get("MILVUS_TOKEN") or ""


#: Seconds a writer waits for another process that writes the same Milvus Lite file
#: (``thaija index add|remove --lock-timeout``; ``$THAIJA_LOCK_TIMEOUT``).
DEFAULT_LOCK_TIMEOUT = 60.0


def default_lock_timeout() -> float:
    """``$THAIJA_LOCK_TIMEOUT`` (seconds) or :data:`DEFAULT_LOCK_TIMEOUT`."""
    raw = os.environ.get("THAIJA_LOCK_TIMEOUT")
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ThaijaError(f"$THAIJA_LOCK_TIMEOUT must be a number of seconds, got {raw!r}") from None
    if not 0 <= value < float("inf"):
        raise ThaijaError(f"$THAIJA_LOCK_TIMEOUT must be >= 0 seconds, got {raw!r}")
    return value


def _json_env(name: str, default: dict) -> dict:
    raw = os.environ.get(name)
    if not raw:
        return dict(default)
    try:
        val = json.loads(raw)
    except ValueError:
        raise ThaijaError(f"${name} must be a JSON object, got {raw!r}") from None
    if not isinstance(val, dict):
        raise ThaijaError(f"${name} must be a JSON object, got {raw!r}")
    return val


@dataclass
class StoreConfig:
    """How thaija talks to Milvus (server mode) and which vector index it builds there."""

    index_type: str = field(default_factory=lambda: os.environ.get("THAIJA_MILVUS_INDEX", "HNSW"),
                            metadata={"help": "vector index type: HNSW, IVF_FLAT, FLAT, DISKANN, AUTOINDEX "
                                              "(Zilliz Cloud); default $THAIJA_MILVUS_INDEX or HNSW"})
    index_params: dict = field(default_factory=lambda: _json_env("THAIJA_MILVUS_INDEX_PARAMS",
                                                                 {"M": 16, "efConstruction": 200}),
                               metadata={"help": "build parameters (JSON in $THAIJA_MILVUS_INDEX_PARAMS)"})
    search_params: dict = field(default_factory=lambda: _json_env("THAIJA_MILVUS_SEARCH_PARAMS", {}),
                                metadata={"help": "search parameters ($THAIJA_MILVUS_SEARCH_PARAMS); default "
                                                  "ef=max(64, k) for HNSW, nprobe=16 for IVF"})
    token: str = field(default_factory=_token_from_env,
                       metadata={"help": "Milvus/Zilliz token ('user:password' or API key); default "
                                         "$THAIJA_MILVUS_TOKEN or $MILVUS_TOKEN"})
    timeout: float = field(default=30.0, metadata={"help": "seconds to wait for the server per call"})
    lock_timeout: float = field(default_factory=default_lock_timeout, metadata={
        "help": "seconds to wait while another process writes the same Milvus Lite file (default "
                "$THAIJA_LOCK_TIMEOUT or 60; 0 = fail at once)"})

    def __post_init__(self) -> None:
        self.index_type = str(self.index_type).upper()
        known = ("HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "FLAT", "DISKANN", "AUTOINDEX", "SCANN")
        if self.index_type not in known:
            raise ThaijaError(f"unknown vector index type {self.index_type!r}: use {', '.join(known)}")
        if not isinstance(self.index_params, dict) or not isinstance(self.search_params, dict):
            raise ThaijaError("index_params and search_params must be dicts")
        if self.index_type != "HNSW" and self.index_params == {"M": 16, "efConstruction": 200}:
            self.index_params = {"nlist": 1024} if self.index_type.startswith("IVF") else {}
        if self.timeout <= 0:
            raise ThaijaError("timeout must be > 0")
        if not 0 <= self.lock_timeout < float("inf"):
            raise ThaijaError(f"lock_timeout must be >= 0 seconds, got {self.lock_timeout}")

    def params_for(self, k: int) -> dict:
        if self.search_params:
            return dict(self.search_params)
        if self.index_type == "HNSW":
            return {"ef": max(64, k)}
        if self.index_type.startswith("IVF"):
            return {"nprobe": 16}
        return {}


# scalar indexes: try INVERTED; a server that wants another type says so ("expected=Trie").
_SCALAR_INDEXES = ("doc_id", "lang", "public", "updated_at")


def check_db_path(db: str) -> str:
    """Validate a store location: a `*.db` path (Milvus Lite) or a server URI."""
    db = str(db)
    if is_server_uri(db):
        return db
    if not db.endswith(".db"):
        raise ThaijaError(f"--db {db!r}: a Milvus Lite store path must end in .db (or give http://host:19530)")
    parent = Path(db).resolve().parent
    if not parent.is_dir():
        raise ThaijaError(f"--db {db!r}: folder {parent} does not exist")
    if Path(db).exists() and not Path(db).is_dir():
        raise ThaijaError(f"--db {db!r}: exists but is not a Milvus Lite store")
    return db


def allowed(chunk_groups: Iterable[str], caller_groups: Iterable[str] | None) -> bool:
    """The ACL rule for one chunk."""
    cg = set(chunk_groups)
    return not cg or bool(cg & set(caller_groups or ()))


def acl_filter(groups: Sequence[str] | None, lang: str | None = None) -> str:
    """Milvus boolean expression for the ACL rule (and an optional language)."""
    gs = validate_groups(list(groups or []))
    expr = "public == true"
    if gs:
        expr = f"(public == true or array_contains_any(groups, {json.dumps(gs)}))"
    if lang:
        if lang not in ("th", "ja", "en", "other"):
            raise ThaijaError(f"unknown language {lang!r} (use th, ja, en)")
        expr += f' and lang == "{lang}"'
    return expr


def allowed_mask(chunk_acl: np.ndarray, acl_keys: Sequence[str], groups: Sequence[str] | None) -> np.ndarray:
    """Boolean mask over chunks. `chunk_acl[i]` indexes `acl_keys`; a key is ','-joined groups."""
    gs = set(validate_groups(list(groups or [])))
    ok = np.array([allowed([g for g in k.split(",") if g], gs) for k in acl_keys] or [False], dtype=bool)
    return ok[chunk_acl] if chunk_acl.size else np.zeros(0, dtype=bool)


def _quiet_milvus_logs() -> None:
    """pymilvus logs every failed RPC with a traceback on stderr; thaija reports one line instead.
    Call after importing pymilvus (its import installs its own handlers)."""
    for name in ("milvus_lite", "pymilvus", "pymilvus.decorators", "pymilvus.milvus_client"):
        lg = logging.getLogger(name)
        if name != "milvus_lite":
            lg.setLevel(logging.CRITICAL)
        if not any(isinstance(h, logging.NullHandler) for h in lg.handlers):
            lg.addHandler(logging.NullHandler())
        lg.propagate = False


def probe_server(uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds, with one line, when nothing listens at a server URI (before any work)."""
    import socket
    from urllib.parse import urlparse

    if not is_server_uri(uri) or uri.startswith("unix:"):
        return
    u = urlparse(uri)
    host, port = u.hostname or "localhost", u.port or (443 if u.scheme == "https" else 19530)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError) or isinstance(exc, socket.timeout):
            reason = f"no answer in {timeout:g} s"
        raise ThaijaError(f"cannot connect to Milvus at {uri}: {reason} (is the server running? "
                          f"a token goes in $THAIJA_MILVUS_TOKEN)") from None


def lock_in_use_error(db: str, waited: float) -> ThaijaError:
    """The one-line error when another process still writes ``db`` after ``waited`` seconds."""
    after = f"still locked after waiting {waited:g} s" if waited > 0 else "not waiting (--lock-timeout 0)"
    return ThaijaError(f"{db}: index in use by another process (another `thaija index add/remove` is writing it; "
                       f"{after}): let it finish and re-run, or raise --lock-timeout (Milvus Lite allows "
                       f"one writer per file; a Milvus server allows many)")


def _say_waiting(db: str, waited: float, timeout: float) -> None:
    import sys

    if waited == 0:
        print(f"thaija: {db}: waiting for another writer to finish (up to {timeout:g} s; --lock-timeout)…",
              file=sys.stderr, flush=True)
    else:
        print(f"thaija: {db}: still waiting for another writer ({waited:.0f} of {timeout:g} s)…",
              file=sys.stderr, flush=True)


def lock_lite_file(db: str, timeout: float | None = None, on_wait: Any = _say_waiting, poll: float = 0.2) -> Any:
    """Take Milvus Lite's writer lock on ``db`` (an exclusive ``flock`` on ``<db>/LOCK``, the lock
    Milvus Lite itself takes), waiting up to ``timeout`` seconds (default
    :func:`default_lock_timeout`) while another process holds it: ``on_wait(db, waited, timeout)``
    is called when the wait starts and every 15 s (a line on stderr by default). Returns the open
    LOCK file: the lock is held until it is closed (or ``fcntl.flock(f, LOCK_UN)``). After the
    timeout: :func:`lock_in_use_error`, never "damaged" while a live process holds the lock.
    ImportError where there is no ``fcntl`` (Windows: Milvus Lite locks by itself)."""
    import fcntl
    import time

    timeout = default_lock_timeout() if timeout is None else float(timeout)
    key = os.path.abspath(db)
    try:
        os.makedirs(key, exist_ok=True)
        f = open(os.path.join(key, "LOCK"), "a+")
    except OSError as exc:
        raise ThaijaError(f"cannot open {db}: {exc.strerror or exc}") from None
    t0, said = time.monotonic(), -1.0
    try:
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return f
            except OSError:
                waited = time.monotonic() - t0
                if waited >= timeout:
                    raise lock_in_use_error(db, timeout) from None
                if on_wait is not None and (said < 0 or waited - said >= 15):
                    on_wait(db, 0.0 if said < 0 else waited, timeout)
                    said = waited
                time.sleep(min(poll, max(0.01, timeout - waited)))
    except BaseException:
        f.close()
        raise


def lite_lock_busy(db: str) -> bool:
    """True when another open file (another process) holds ``<db>/LOCK`` right now."""
    import fcntl

    path = os.path.join(os.path.abspath(db), "LOCK")
    if not os.path.exists(path):
        return False
    with open(path, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


class MilvusStore:
    """Typed chunk collection in Milvus; opened lazily (Lite allows one process per file)."""

    def __init__(self, db: str, dim: int, config: StoreConfig | None = None, rows: bool = True) -> None:
        self.db = check_db_path(db)
        self.dim = dim
        self.config = config or StoreConfig()
        # rows=False: a Milvus Lite file whose dense search runs on the registry's vectors (the
        # default): chunk rows are not mirrored into it (Milvus Lite 3.x holds every row of a
        # collection in the process' memory); the file is still opened, for the writer's lock
        self.rows = rows
        self._client = None
        self.scalar_indexes: dict[str, str] = {}   # field -> index type the server accepted

    @property
    def client(self):
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self):
        import time

        pymilvus = require("pymilvus", "pymilvus", "the vector store")
        _quiet_milvus_logs()
        lite = not is_server_uri(self.db)
        if lite:
            require("milvus_lite", "milvus-lite", "local .db stores")
        t0 = time.monotonic()
        while True:
            if lite:
                self._check_lock(max(0.0, self.config.lock_timeout - (time.monotonic() - t0)))
            try:
                if lite:
                    client = pymilvus.MilvusClient(self.db)
                else:
                    client = pymilvus.MilvusClient(self.db, token=self.config.token, timeout=self.config.timeout)
                break
            except Exception as exc:
                msg = _milvus_message(exc)
                if not lite:
                    raise ThaijaError(f"cannot connect to Milvus at {self.db}: {msg} (is the server running? "
                                      f"a token goes in $THAIJA_MILVUS_TOKEN)") from None
                if not self._busy():   # nobody holds the lock: the file itself is the problem
                    raise ThaijaError(f"cannot open {self.db}: {msg} (the Milvus Lite file may be damaged)") from None
                if time.monotonic() - t0 >= self.config.lock_timeout:  # another writer took it meanwhile
                    raise lock_in_use_error(self.db, self.config.lock_timeout) from None
        try:
            self._ensure_collection(client, pymilvus.DataType)
        except ThaijaError:
            raise
        except Exception as exc:
            raise ThaijaError(f"Milvus at {self.db}: cannot prepare collection {COLLECTION}: "
                              f"{_milvus_message(exc)}") from None
        return client

    def _call(self, what: str, fn, *args, **kw):
        """Run a pymilvus call; its failure becomes a one-line ThaijaError."""
        try:
            return fn(*args, **kw)
        except ThaijaError:
            raise
        except Exception as exc:
            raise ThaijaError(f"Milvus at {self.db}: {what} failed: {_milvus_message(exc)}") from None

    def _here(self) -> bool:
        """True when Milvus Lite already runs on this file in this process (it holds the lock)."""
        from milvus_lite.server_manager import server_manager_instance

        return os.path.abspath(self.db) in getattr(server_manager_instance, "_servers", {})

    def _busy(self) -> bool:
        try:
            return not self._here() and lite_lock_busy(self.db)
        except ImportError:  # no fcntl
            return False

    def _check_lock(self, timeout: float) -> None:
        """Milvus Lite locks the data folder per process: wait up to ``timeout`` seconds for
        another writer (a line on stderr), then a clear error instead of a generic failure."""
        if not (Path(self.db) / "LOCK").exists() or self._here():
            return
        try:
            f = lock_lite_file(self.db, timeout)
        except ImportError:  # no fcntl (Windows): Milvus Lite reports it itself
            return
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_UN)  # free again: Milvus Lite takes it right away
        f.close()

    def _ensure_collection(self, client, DataType) -> None:
        if client.has_collection(COLLECTION):
            desc = client.describe_collection(COLLECTION)
            for f in desc.get("fields", []):
                if f.get("name") == "vector":
                    dim = int((f.get("params") or {}).get("dim", self.dim))
                    if dim != self.dim:
                        raise ThaijaError(f"{self.db} holds {dim}-d vectors but the embedder gives {self.dim}-d: "
                                          f"use the embedder the index was built with")
            if "vector" not in (client.list_indexes(COLLECTION) or []):   # an earlier create stopped halfway
                self._vector_index(client)
            client.load_collection(COLLECTION)  # a reopened Lite file starts released
            return
        s = client.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=600)
        s.add_field("doc_id", DataType.VARCHAR, max_length=512)
        s.add_field("lang", DataType.VARCHAR, max_length=8)
        s.add_field("start", DataType.INT64)
        s.add_field("end", DataType.INT64)
        s.add_field("content_hash", DataType.VARCHAR, max_length=64)
        s.add_field("public", DataType.BOOL)
        s.add_field("groups", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=128)
        s.add_field("source", DataType.VARCHAR, max_length=1024)
        s.add_field("title", DataType.VARCHAR, max_length=1024)
        s.add_field("updated_at", DataType.INT64)
        s.add_field("text", DataType.VARCHAR, max_length=_MAX_TEXT_BYTES)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        client.create_collection(COLLECTION, schema=s)
        self._vector_index(client)
        for name in _SCALAR_INDEXES:
            self._scalar_index(client, name)
        client.load_collection(COLLECTION)

    def _vector_index(self, client) -> None:
        cfg = self.config if is_server_uri(self.db) else StoreConfig()   # Lite: default HNSW
        ip = client.prepare_index_params()
        ip.add_index("vector", index_type=cfg.index_type, metric_type="COSINE", params=cfg.index_params)
        try:
            # sync=False: Milvus Lite builds indexes inline and lacks AllocTimestamp, which waiting needs
            client.create_index(COLLECTION, ip, sync=False)
        except Exception as exc:
            client.drop_collection(COLLECTION)   # nothing half-made stays behind
            raise ThaijaError(f"Milvus at {self.db}: cannot build a {cfg.index_type} index "
                              f"{cfg.index_params}: {_milvus_message(exc)}") from None

    def _scalar_index(self, client, name: str) -> None:
        """Index a scalar field with a type this server accepts (servers differ: 2.3 wants Trie for
        VARCHAR and STL_SORT for numbers and indexes no BOOL; 2.4+ and Lite take INVERTED). Filters
        work without it, so a field the server cannot index is left unindexed."""
        tried: list[str] = []
        kind = "INVERTED"
        while kind and kind not in tried:
            tried.append(kind)
            ip = client.prepare_index_params()
            ip.add_index(name, index_type=kind)
            try:
                client.create_index(COLLECTION, ip, sync=False)
                self.scalar_indexes[name] = kind
                return
            except Exception as exc:
                m = re.search(r"expected=([A-Za-z_]+)\]", _milvus_message(exc))
                kind = m.group(1) if m and m.group(1) not in ("supported",) else ""

    # ---- writes --------------------------------------------------------------------------
    def upsert(self, rows: list[dict[str, Any]], batch: int = 1000) -> None:
        if not self.rows:
            return
        for r in rows:
            b = r["text"].encode("utf-8")
            if len(b) > _MAX_TEXT_BYTES:  # the full text stays in the registry; Milvus keeps a prefix
                r["text"] = b[:_MAX_TEXT_BYTES].decode("utf-8", errors="ignore")
            r["source"] = r["source"][:1000]
            r["title"] = r["title"][:1000]
        for i in range(0, len(rows), batch):
            self._call("upsert", self.client.upsert, COLLECTION, rows[i:i + batch])

    def delete_docs(self, doc_ids: Sequence[str]) -> None:
        if not self.rows:
            return
        ids = list(doc_ids)
        for i in range(0, len(ids), 200):
            self._call("delete", self.client.delete, COLLECTION,
                       filter=f"doc_id in {json.dumps(ids[i:i + 200], ensure_ascii=False)}")

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        if not self.rows:
            return
        ids = list(chunk_ids)
        for i in range(0, len(ids), 500):
            self._call("delete", self.client.delete, COLLECTION,
                       filter=f"chunk_id in {json.dumps(ids[i:i + 500], ensure_ascii=False)}")

    def flush(self) -> None:
        if self._client is not None and self.rows:
            self._call("flush", self.client.flush, COLLECTION)

    def count(self) -> int:
        """Live rows (a query, so deletes are counted; collection stats lag behind on servers)."""
        res = self._call("count", self.client.query, COLLECTION, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"]) if res else 0

    # ---- reads (server path) -------------------------------------------------------------
    def search(self, vector: np.ndarray, k: int, groups: Sequence[str] | None,
               lang: str | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the k nearest allowed chunks."""
        res = self._call("search", self.client.search, COLLECTION, data=[np.asarray(vector, np.float32).tolist()],
                         anns_field="vector", filter=acl_filter(groups, lang), limit=k, output_fields=["chunk_id"],
                         search_params={"metric_type": "COSINE", "params": self.config.params_for(k)})
        return [(h["id"] if "id" in h else h["chunk_id"], float(h["distance"])) for h in res[0]]

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # pragma: no cover
                pass
            self._client = None
            if not is_server_uri(self.db):
                try:
                    from milvus_lite.server_manager import server_manager_instance

                    server_manager_instance.release_server(self.db)
                except Exception:  # pragma: no cover
                    pass
