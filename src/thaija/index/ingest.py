"""`Index`: incremental ingest into Milvus + per-language BM25 + the local registry.

Layout for `--db thaija.db` (Milvus Lite):
    thaija.db/                    Milvus Lite data folder: the typed chunk collection, left without
                                  rows while dense search runs in-process (the default; see
                                  Index._milvus_rows), filled for IndexConfig(dense_backend="milvus")
    thaija.db.state/registry.sqlite   documents (original text), chunks (offsets, lang, ACL, vector)
    thaija.db.state/bm25/<lang>/  BM25 state per language (JSON + .npy); bm25.json: its registry version
    thaija.db.state/intent.json   write-ahead record of documents being written (absent when idle)
For a server URI (http://host:19530) the state folder is $THAIJA_STATE, else
~/.local/state/thaija/<host_port>/ (thaija.index.store.state_dir_for), unless IndexConfig.state_dir
(--state) says otherwise; with a server the registry keeps no vectors.

Ingest is incremental and resumable: a document whose fingerprint (text, title, groups, metadata,
chunking, embedder, context) is unchanged is skipped; a changed one is replaced; documents are
committed batch by batch (index/writer.py), so an interrupted run keeps what it committed and a
re-run continues. Any crash leaves the old or the new state searchable (index/state.py).
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from thaija.errors import ThaijaError
from thaija.index.bm25 import BM25Store
from thaija.index.config import CONTEXT_MODES, DEFAULT_EMBEDDER, IndexConfig  # noqa: F401 (re-exported)
from thaija.index.documents import (Document, FileText, common_root, doc_id_for, iter_documents,
                                    stream_bytes_limit, text_nbytes, validate_groups)
from thaija.index.registry import Registry, Snapshot
from thaija.index.state import (Intent, bm25_version, load_bm25, query, rebuild_lite, reconcile_bm25,
                                resync_milvus, set_bm25_version)
from thaija.index.store import MilvusStore, StoreConfig, is_server_uri
from thaija.index.writer import LANGS, Pipeline, Progress, TaskProgress, fingerprint, registry_terms

_fingerprint = fingerprint  # old names
_Progress = TaskProgress


def redact_documents(docs: Iterable[Document]) -> Iterable[Document]:
    """Documents with their personal data replaced by placeholders EVERYWHERE it could reach disk.

    Text, title (a Markdown ``# heading`` taken before redaction included), metadata keys and
    values (nested), source and the document id: an id or source that contains PII (a file named
    after a phone number, a JSONL id that is an e-mail) becomes its redacted form plus a short
    sha256 of the original (before the file extension), so it stays unique and stable across
    re-runs. Access groups are kept as they are (they decide who may read).
    ``metadata["pii_redacted"]`` counts the findings (so switching redaction on or off changes the
    fingerprint and re-indexes). A list gives a list; any other iterable is redacted lazily, one
    document at a time.
    """
    import dataclasses
    import hashlib

    from thaija.guard.pii import redact

    def clean(value: Any, found: list[int]) -> Any:
        if isinstance(value, str):
            out, f = redact(value)
            found[0] += len(f)
            return out
        if isinstance(value, dict):
            return {clean(str(k), found): clean(v, found) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, found) for v in value]
        if isinstance(value, int) and not isinstance(value, bool):
            out = clean(str(value), found)  # {"tel": 66812345678}
            return value if out == str(value) else out
        return value

    def clean_id(value: str, found: list[int]) -> str:
        out = clean(value, found)
        if out == value:
            return value
        # "<redacted>~<sha256[:12]><.ext><:line>": unique, stable, and the file type stays visible
        m = re.search(r"(\.[A-Za-z0-9]{1,8})?(:[0-9]+)?$", out)
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]
        return f"{out[:m.start()]}~{digest}{out[m.start():]}"

    def one(d: Document) -> Document:
        n = [0]
        text = d.text.read() if isinstance(d.text, FileText) else d.text
        text, title, meta = clean(text, n), clean(d.title, n), clean(d.metadata, n)
        doc_id, source = clean_id(d.id, n), clean_id(d.source, n)
        return dataclasses.replace(d, id=doc_id, text=text, title=title, source=source,
                                   metadata={**meta, "pii_redacted": n[0]})

    if isinstance(docs, (list, tuple)):
        return [one(d) for d in docs]
    return (one(d) for d in docs)


_LITE_LOCKS: dict[str, list] = {}     # Lite folder -> [its open LOCK file, handles holding it]
_LITE_GUARD = threading.Lock()


def _lock_lite(db: str, timeout: float | None = None) -> None:
    """Take Milvus Lite's writer lock (its exclusive ``flock`` on ``<db>/LOCK``, waiting up to
    ``timeout`` s: :func:`thaija.index.store.lock_lite_file`) without starting Milvus Lite: an index
    whose Lite file holds no rows writes nothing into it, so ingest neither imports pymilvus (+85 MB
    with pandas) nor runs Milvus Lite, yet excludes every other writer and every Milvus Lite opener
    as before. One lock per process and folder (flock is per open file), shared by its handles; a
    folder this process already runs Milvus Lite on is held. ImportError without ``fcntl``."""
    import sys

    from thaija.index.store import lock_lite_file

    key = os.path.abspath(db)
    with _LITE_GUARD:
        held = _LITE_LOCKS.get(key)
        if held is not None:
            held[1] += 1
            return
        mgr = sys.modules.get("milvus_lite.server_manager")
        if mgr is not None and key in getattr(mgr.server_manager_instance, "_servers", {}):
            _LITE_LOCKS[key] = [None, 1]     # Milvus Lite runs here: it holds the lock
            return
        _LITE_LOCKS[key] = [lock_lite_file(db, timeout), 1]


def _unlock_lite(db: str) -> None:
    import fcntl

    key = os.path.abspath(db)
    with _LITE_GUARD:
        held = _LITE_LOCKS.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _LITE_LOCKS[key]
            if held[0] is not None:
                fcntl.flock(held[0].fileno(), fcntl.LOCK_UN)
                held[0].close()


def _bytes_under(paths: Sequence[str]) -> int:
    """Total size of the files under `paths` (the progress bar's scale)."""
    total = 0
    for p in map(Path, paths):
        files = [p] if p.is_file() else p.rglob("*") if p.is_dir() else []
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total


class Index:
    """A hybrid index on disk. `Index(db).add_paths([...])` returns a summary dict.

    >>> idx = Index("./thaija.db")                         # doctest: +SKIP
    >>> idx.add_paths(["corpora/news"], groups=["staff"])  # doctest: +SKIP
    {'documents': 18, 'added': 18, 'replaced': 0, 'unchanged': 0, 'chunks_added': ..., ...}
    """

    def __init__(self, db: str | IndexConfig = "./thaija.db", **kw: Any) -> None:
        self.config = db if isinstance(db, IndexConfig) else IndexConfig(db=str(db), **kw)
        self.state = self.config.state_path
        self._fresh = not (self.state / "registry.sqlite").exists()
        self._fresh_milvus = not is_server_uri(self.config.db) and not Path(self.config.db).exists()
        # server mode: vectors only in Milvus (the registry and the search snapshot keep none)
        self.registry = Registry(self.state / "registry.sqlite", keep_vectors=not self.config.use_milvus_search)
        stored = self.registry.get_meta("embedder")
        if self.config.embedder is None:
            self.config.embedder = stored or DEFAULT_EMBEDDER  # an index keeps the embedder it was built with
        elif stored and stored != self.config.embedder:
            raise ThaijaError(f"{self.config.db} was built with embedder {stored!r}, not {self.config.embedder!r}: "
                              f"open it without --embedder, or build a new index")
        ctx = self.registry.get_meta("context") or ("none" if stored else None)  # built before contexts: none
        if self.config.context is None:
            self.config.context = ctx or "title+heading"
        elif ctx and ctx != self.config.context:
            raise ThaijaError(f"{self.config.db} was built with context {ctx!r}, not {self.config.context!r}")
        self.root: str | None = self.registry.get_meta("root")
        self._ids_root: str | None = None  # set by add_paths while its path ids are relative to self.root
        self._db_lock = threading.RLock()
        self._milvus: MilvusStore | None = None
        self._lite_lock = False        # this handle holds Milvus Lite's writer lock itself (_lock_lite)
        self._embedder = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._bm25_damaged: bool | None = None
        self.bm25, self._bm25_version = self._load_bm25()
        self.milvus_rows = self._milvus_rows()

    def _milvus_rows(self) -> bool:
        """Whether Milvus holds the chunk rows: always with a server or ``dense_backend="milvus"``;
        a Lite file searched in-process (the default: the registry keeps the vectors) gets none,
        since Milvus Lite 3.x keeps every row of a collection in the process' memory (+550 MB for
        61k chunks). The choice is recorded in the registry (``milvus_rows``); an index built
        before (no record, chunks present) keeps its Lite rows in step."""
        if is_server_uri(self.config.db) or self.config.use_milvus_search:
            return True
        rec = self.registry.get_meta("milvus_rows")
        if rec is not None:
            return rec == "1"
        return bool(query(self.registry, "SELECT 1 FROM chunks LIMIT 1"))

    def note_milvus_rows(self) -> None:
        """Record :meth:`_milvus_rows`'s choice (the first write of an index; inside its transaction)."""
        if self.registry.get_meta("milvus_rows") is None:
            self.registry.set_meta("milvus_rows", "1" if self.milvus_rows else "0")

    @property
    def context_mode(self) -> str:
        return self.config.context or "title+heading"

    # ---- parts ---------------------------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from thaija.index.embed import get_embedder

            self._embedder = get_embedder(self.config.embedder)
        return self._embedder

    @property
    def dim(self) -> int:
        d = self.registry.get_meta("dim")
        return int(d) if d else self.embedder.dim

    @property
    def milvus(self) -> MilvusStore:
        if self._milvus is None:
            timeout = getattr(self.config, "lock_timeout", None)
            self._milvus = MilvusStore(self.config.db, self.dim, rows=self.milvus_rows,
                                       config=None if timeout is None else StoreConfig(lock_timeout=timeout))
            if self.milvus_rows and self.registry.get_meta("milvus_rows") == "0":
                self._fill_lite()
        return self._milvus

    def _fill_lite(self) -> None:
        """A Lite index built for in-process search, opened with ``dense_backend="milvus"``: copy
        its chunks (vectors from the registry) into the Lite file once, then keep it in step."""
        from thaija.index.state import resync_milvus

        ids = sorted(d for (d,) in query(self.registry, "SELECT doc_id FROM documents"))
        for i in range(0, len(ids), 200):
            resync_milvus(self, ids[i:i + 200])
        self.milvus.flush()
        with self.registry.db:
            self.registry.set_meta("milvus_rows", "1")

    def _release_lite(self) -> None:
        """Close a Milvus Lite file after writing: searches run in-process, so other processes
        (a search, the RAG server) may open the index between ingests."""
        if self._milvus is not None and not is_server_uri(self.config.db):
            self._milvus.close()
            self._milvus = None
        if self._lite_lock:
            _unlock_lite(self.config.db)
            self._lite_lock = False

    def _load_bm25(self) -> tuple[BM25Store, int]:
        """BM25 from disk, brought up to the registry when it is behind, ahead or damaged."""
        folder = self.state / "bm25"
        bm25, ok = load_bm25(folder, self.config.bm25)
        self._bm25_damaged = not ok
        v = self.registry.version()
        if not ok or bm25_version(self.state) != v or (v and not (folder / "langs.json").exists()):
            with self._db_lock:
                reconcile_bm25(self.registry, bm25, lambda ids: registry_terms(self, ids))
        return bm25, v

    def _start_write(self) -> None:
        """Take the writer's place (Milvus Lite: the file lock) and repair what a crash left."""
        if not self.milvus_rows and not self._lite_lock:   # a Lite file without rows: its lock only
            try:
                _lock_lite(self.config.db, getattr(self.config, "lock_timeout", None))
                self._lite_lock = True
            except ImportError:        # no fcntl (Windows): Milvus Lite takes it
                pass
        if not self._lite_lock:
            self.lite_guard(lambda: self.milvus.count())   # Milvus Lite: takes the lock, one writer at a time
        stored = self.registry.get_meta("root")
        if self._ids_root is not None and stored is not None and stored != self._ids_root:
            raise ThaijaError(f"another `thaija index add` moved the index root to {stored} while this one ran "
                              f"(its ids are relative to {self._ids_root}): nothing was written; re-run the same "
                              f"command (embeddings are cached)")
        v = self.registry.version()
        if self._bm25_version != v:    # another process wrote since this handle loaded BM25
            self.bm25, self._bm25_version = self._load_bm25()
        if self._disk_stale():
            self.bm25.save()           # the disk copy was behind, missing or damaged: BM25 in
            set_bm25_version(self.state, v)  # memory is reconciled with the registry, save it
            self._bm25_damaged = False
        with self._db_lock:            # a big document swapped in just before a crash: its staged copy
            reg = self.registry          # is no longer needed (its Milvus rows are the live ones)
            done = [d for d in reg.staged_ids() if (reg.staged(d) or {}).get("fingerprint")
                    == reg.fingerprints([d]).get(d)]
            if done:
                reg.drop_staged(done)
        intent = Intent(self.state)
        pending = intent.pending()
        if pending:                    # a crash between the intent record and a flush
            self.lite_guard(lambda: (resync_milvus(self, pending), self.milvus.flush()))
            intent.clear()

    def lite_guard(self, write: Callable[[], Any]) -> Any:
        """Run a Milvus write; when a Milvus Lite file turns out damaged (a process killed while
        Milvus Lite wrote a segment, WAL or index file), rebuild it from the registry and retry."""
        try:
            return write()
        except Exception as exc:       # noqa: BLE001 - any damage of a Lite file
            if is_server_uri(self.config.db) or "in use by another process" in str(exc):
                raise
            rebuild_lite(self, exc)
            return write()

    def _disk_stale(self) -> bool:
        """True when the BM25 files on disk are behind the registry, missing or damaged."""
        v = self.registry.version()
        if not v:
            return False
        folder = self.state / "bm25"
        if bm25_version(self.state) != v or not (folder / "langs.json").exists():
            return True
        return not load_bm25(folder, self.config.bm25)[1] if self._bm25_damaged is None else self._bm25_damaged

    def snapshot(self) -> Snapshot:
        """In-memory columns of the live chunks (reloaded when another writer committed)."""
        with self._lock:
            v = self.registry.version()
            if self._snapshot is None or self._snapshot.version != v:
                self._snapshot = self.registry.snapshot(self.dim)
            if self._bm25_version != v:  # another process wrote: take its BM25 state, then catch up
                if bm25_version(self.state) == v:
                    self.bm25, self._bm25_version = self._load_bm25()
                else:
                    with self._db_lock:
                        reconcile_bm25(self.registry, self.bm25, lambda ids: registry_terms(self, ids))
                    self._bm25_version = v
            return self._snapshot

    # ---- ingest --------------------------------------------------------------------------
    def _busy_at_once(self) -> None:
        """``lock_timeout=0`` means fail at once: say so before loading and embedding anything when
        another process writes this Milvus Lite file right now (QA session 5, Q11)."""
        from thaija.index.store import default_lock_timeout, lite_lock_busy, lock_in_use_error

        timeout = getattr(self.config, "lock_timeout", None)
        if is_server_uri(self.config.db) or (default_lock_timeout() if timeout is None else timeout) > 0:
            return
        try:
            busy = not self._lite_lock and lite_lock_busy(self.config.db)
        except ImportError:  # pragma: no cover - no fcntl
            return
        if busy:
            raise lock_in_use_error(self.config.db, 0)

    def resolve_root(self, paths: Sequence[str], root: str | None = None) -> str:
        """The folder document ids are relative to: `root`, else the index's own root (set by its
        first add; when inputs lie outside it, :meth:`add_paths` first moves it up to cover them and
        re-keys the stored ids: :mod:`thaija.index.roots`), else the common folder of the inputs."""
        if root is not None:
            if not Path(root).is_dir():
                raise ThaijaError(f"--root {root}: no such folder")
            return str(Path(root).resolve())
        if self.root:
            return self.root
        return str(common_root(paths))

    def _keep_groups(self, docs: Iterable[Document], warn: Callable[[str], None]) -> Iterator[Document]:
        """``docs`` where a document loaded without groups that the index already holds with groups
        keeps them (fail closed: a routine re-ingest never publishes a restricted document)."""
        import dataclasses

        for doc in docs:
            if not doc.groups:
                kept = self.registry.groups_of(doc.id)
                if kept:
                    warn(f"{doc.id}: kept its access groups {','.join(kept)} "
                         f"(pass --groups to change them; --groups '' makes it public)")
                    doc = dataclasses.replace(doc, groups=list(kept))
            yield doc

    def add_paths(self, paths: Iterable[str], *, groups: Sequence[str] | str | None = None,
                  lang: str | None = None, progress: bool | None = None, redact: bool = False,
                  root: str | None = None, strict: bool = False,
                  on_skip: Callable[[str, str], None] | None = None,
                  on_warn: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Load files/folders (.txt .md .jsonl .html .pdf .docx .xlsx .pptx) and ingest them.

        Ids are file paths relative to `root` (see :meth:`resolve_root`). A file that cannot be
        loaded is skipped and reported (``summary["skipped"]``, and ``on_skip(path, message)`` at
        once) unless ``strict``; in a JSONL file each bad line is (``path:line``) and the good
        lines are indexed. A file loaded in a degraded way (an HTML page nested too deeply, read
        as plain text) is reported in ``summary["warnings"]`` and through ``on_warn(message)``.
        Nothing indexable at all raises. ``groups=None`` (not given): a document the index already
        holds with access groups keeps them (with a warning); ``groups=[]`` or ``""`` makes the
        documents public. ``redact=True`` replaces personal
        data (:func:`thaija.guard.pii.redact`) in the text BEFORE chunking.
        """
        if lang not in (None, "auto") and lang not in LANGS[:3]:
            raise ThaijaError(f"unknown language {lang!r}: use auto, th, ja or en")
        paths = [str(p) for p in paths]
        if not paths:
            raise ThaijaError("give at least one file or folder")
        self._busy_at_once()
        from thaija.index.roots import widen_root

        widen_root(self, paths, root, on_warn=on_warn)   # inputs outside the stored root: it moves up (QA Q10)
        stored = self.root
        self.root = self.resolve_root(paths, root)
        if root is not None and stored and self.root != stored and on_warn:   # QA session 5 Q17
            on_warn(f"--root {self.root} is not the index root {stored}: ids are relative to --root for this add, "
                    f"so a file here can take the id of another file already indexed (and replace it); "
                    f"leave out --root to keep one root")
        # the root these ids are relative to: the first write checks that no other add moved (or, on a new
        # index, set) the index root meanwhile (QA session 5, Q9)
        self._ids_root = self.root if root is None else None
        skipped: list[dict[str, str]] = []

        def skip(path: str, message: str) -> None:
            if redact:  # file names are personal data too: the report carries the redacted form
                from thaija.guard.pii import redact as scrub

                path, message = scrub(path)[0], scrub(message)[0]
            skipped.append({"path": path, "reason": message})
            if on_skip:
                on_skip(path, message)

        warnings: list[str] = []

        def warn(message: str) -> None:
            if redact:
                from thaija.guard.pii import redact as scrub

                message = scrub(message)[0]
            warnings.append(message)
            if on_warn:
                on_warn(message)

        docs: Iterable[Document] = iter_documents(paths, groups=validate_groups(groups), lang=lang, root=self.root,
                                                  on_skip=None if strict else skip, on_warn=warn,
                                                  # a big .txt file is read from disk as it is chunked and
                                                  # stored (redaction needs the whole text: read at once)
                                                  stream_bytes=None if redact else stream_bytes_limit())
        if redact:
            docs = redact_documents(docs)
        if groups is None:  # no groups given: a document already indexed keeps its access groups
            docs = self._keep_groups(docs, warn)
        try:
            summary = self.add_documents(docs, progress=progress, total_bytes=_bytes_under(paths))
        except ThaijaError as exc:
            if not redact:
                raise
            from thaija.guard.pii import redact as scrub  # an error naming a file or id: no raw PII

            raise ThaijaError(scrub(str(exc))[0]) from None
        finally:
            self._ids_root = None
        summary["skipped"] = skipped
        summary["warnings"] = warnings
        summary["root"] = self.root
        if redact:
            from thaija.guard.pii import redact as scrub

            summary["root"] = scrub(self.root)[0]
        if not summary["documents"]:
            first = f": {skipped[0]['reason']}" if skipped else ""
            raise ThaijaError(f"nothing indexed ({len(skipped)} file{'s' if len(skipped) != 1 else ''} skipped)"
                              f"{first}" if skipped else f"no documents found in {' '.join(paths)}")
        return summary

    def add_documents(self, docs: Iterable[Document], *, progress: bool | None = False,
                      total_bytes: int | None = None) -> dict[str, Any]:
        """Add/replace documents by id; unchanged ones are skipped. Returns a summary dict."""
        import sys
        import time

        t0 = time.perf_counter()
        if isinstance(docs, (list, tuple)):
            ids = [d.id for d in docs]
            if len(set(ids)) != len(ids):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise ThaijaError(f"duplicate document id {dup!r} in one ingest")
            total_bytes = total_bytes or sum(text_nbytes(d.text) for d in docs)
        show = sys.stderr.isatty() if progress is None else bool(progress)
        if is_server_uri(self.config.db):      # connect first: an unreachable server fails in seconds,
            from thaija.index.store import probe_server   # not after everything was embedded

            probe_server(self.config.db)
            self.milvus.client
        try:
            with Progress(show, total_bytes) as bar:   # the first batch calls _start_write
                pipe = Pipeline(self, bar)
                summary = pipe.run(docs)
            if not pipe.started and (self._disk_stale() or Intent(self.state).pending()):
                self._start_write()                   # nothing new, but repair what a crash left
        finally:
            self._release_lite()
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        return summary

    def resolve_targets(self, targets: Sequence[str]) -> list[str]:
        """Document ids named by ids, id prefixes (``hr/`` or ``hr``: everything under it) or paths."""
        known = sorted(self.registry.doc_ids())
        out: list[str] = []
        missing = []
        for t in targets:
            cands = [t]
            if os.path.exists(t):
                cands.insert(0, doc_id_for(t, self.root or Path(t).resolve().parent))
            hit: list[str] = []
            for c in cands:
                c = c.rstrip("*")
                if c in known:
                    hit = [c]
                    break
                pre = c.rstrip("/")
                hit = [k for k in known if k.startswith(pre + "/") or k.startswith(pre + ":")
                       or (c.endswith(("/", "*")) and k.startswith(c.rstrip("*")) and c.rstrip("*"))]
                if hit:
                    break
            if hit:
                out.extend(hit)
            else:
                missing.append(t)
        if missing:
            raise ThaijaError(f"unknown document id{'s' if len(missing) > 1 else ''}: {', '.join(missing[:5])}"
                              f" (see `thaija index list`)")
        return list(dict.fromkeys(out))

    def remove(self, doc_ids: Sequence[str]) -> dict[str, Any]:
        """Delete documents (ids, id prefixes or paths; all their chunks, everywhere). Unknown ones raise."""
        targets = list(dict.fromkeys(doc_ids))
        if not targets:
            raise ThaijaError("give at least one document id")
        ids = self.resolve_targets(targets)
        try:
            self._start_write()
            intent = Intent(self.state)
            intent.record(ids)
            _, before = self.registry.counts()
            self.milvus.delete_docs(ids)
            self.milvus.flush()
            self.registry.remove(ids)
            self.bm25.remove_docs(ids)
            self._bm25_version = v = self.registry.version()
            self.bm25.save()
            set_bm25_version(self.state, v)
            intent.clear()
            _, after = self.registry.counts()
        finally:
            self._release_lite()
        return {"removed": len(ids), "chunks_removed": before - after, "doc_ids": ids}

    # ---- reads ---------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        """One dict per document: doc_id, title, source, lang (declared, else the language most of
        its text was detected as), groups, chunks, characters, updated_at."""
        docs = self.registry.documents()
        if any(d["lang"] is None for d in docs):
            main: dict[str, tuple[str, int]] = {}
            for did, lang, n in query(
                    self.registry, 'SELECT doc_id, lang, SUM("end" - start) FROM chunks GROUP BY doc_id, lang'):
                if n > main.get(did, ("", -1))[1]:
                    main[did] = (lang, n)
            for d in docs:
                if d["lang"] is None and d["doc_id"] in main:
                    d["lang"] = main[d["doc_id"]][0]
        return docs

    def stats(self) -> dict[str, Any]:
        """Counts per language, BM25 vocabulary sizes, embedder, paths and sizes on disk."""
        ndocs, nchunks = self.registry.counts()
        bm = {lang: {"chunks": len(ix), "vocabulary": len(ix.vocab)} for lang, ix in sorted(self.bm25.indexes.items())
              if len(ix)}

        def du(p: Path) -> int:
            if not p.exists():
                return 0
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size

        out = {"db": self.config.db, "state_dir": str(self.state), "documents": ndocs, "chunks": nchunks,
               "chunks_by_lang": self.registry.chunk_langs(), "bm25": bm,
               "embedder": self.registry.get_meta("embedder") or self.config.embedder,
               "dim": int(self.registry.get_meta("dim") or 0) or None,
               "dense_backend": "milvus" if self.config.use_milvus_search else "numpy",
               "milvus_rows": self.milvus_rows,
               "context": self.context_mode, "root": self.root,
               "bytes": {"state": du(self.state)}}
        if not is_server_uri(self.config.db):
            out["bytes"]["milvus"] = du(Path(self.config.db))
        return out

    def document_text(self, doc_id: str) -> str:
        """Original text of a stored document (citations slice it with Hit.start/end)."""
        return self.document(doc_id)["text"]

    def document(self, doc_id: str) -> dict[str, Any]:
        d = self.registry.document(doc_id)
        if d is None:
            raise ThaijaError(f"unknown document id: {doc_id}")
        return d

    def close(self) -> None:
        """Close the handle; an index this handle created and never committed to is removed."""
        if self._milvus is not None:
            self._milvus.close()
            self._milvus = None
        if self._lite_lock:
            _unlock_lite(self.config.db)
            self._lite_lock = False
        empty = self._fresh and self.registry.version() == 0 and self.registry.counts()[0] == 0
        self.registry.close()
        if empty:
            shutil.rmtree(self.state, ignore_errors=True)
            if self._fresh_milvus:
                shutil.rmtree(self.config.db, ignore_errors=True)
            self._fresh = False

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
