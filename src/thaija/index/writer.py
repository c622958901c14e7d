"""The ingest pipeline: prepare (chunk + BM25 terms) ∥ embed ∥ write, committed batch by batch.

Three threads overlap the work: a preparing thread reads documents (lazily, one file at a time),
skips unchanged ones and chunks/segments the rest; the calling thread embeds (the embedding cache
is filled batch by batch); a writing thread stores each batch (Milvus, then one registry
transaction) while the next one is encoded. Every batch is committed on its own (about
``commit_chunks`` chunks or ``commit_seconds``), so an interrupted ingest keeps what it committed
and a re-run continues with the documents that are missing. The write order and the recovery
rules are in :mod:`thaija.index.state`.
"""
from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from thaija.errors import ThaijaError
from thaija.index.documents import Document
from thaija.index.sections import context, embed_text, heading_at, is_markdown, sections
from thaija.index.state import Intent, crash_point, query, set_bm25_version

LANGS = ("th", "ja", "en", "other")
_DONE = object()


def fingerprint(doc: Document, cfg) -> str:
    """Everything that decides a document's chunks, terms and vectors."""
    payload = json.dumps({"h": doc.content_hash, "t": doc.title, "g": doc.groups, "l": doc.lang,
                          "m": doc.metadata, "s": doc.source, "c": [cfg.chunk_tokens, cfg.overlap],
                          "e": cfg.embedder, **({"x": cfg.context} if cfg.context != "none" else {})},
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def chunk_terms(text: str, lang: str, ctx: str) -> list[str]:
    """BM25 terms of a chunk: its own text, then its context line (title field)."""
    from thaija.index.bm25 import segment_terms

    terms = segment_terms(text, lang if lang in LANGS[:3] else None)
    return terms + segment_terms(ctx) if ctx else terms


def chunk_context(mode: str, title: str, heading: str) -> str:
    if mode == "none":
        return ""
    return context(title, heading if mode == "title+heading" else "")


def _memo(count, size: int = 200_000):
    """`count` remembered for short texts (the chunker counts word by word)."""
    seen: dict[str, int] = {}

    def counted(text: str) -> int:
        if len(text) > 32:
            return count(text)
        n = seen.get(text)
        if n is None:
            if len(seen) >= size:
                seen.clear()
            n = seen[text] = count(text)
        return n

    return counted


@dataclass
class Prepared:
    """A changed document, chunked: chunks, BM25 terms and the texts to embed."""

    doc: Document
    fingerprint: str
    replaced: bool
    chunks: list = field(default_factory=list)
    terms: list = field(default_factory=list)
    texts: list = field(default_factory=list)


def prepare(doc: Document, cfg, counter, max_tok: int) -> tuple[list, list, list]:
    """Chunks (Markdown: one section at a time, headings left out), their terms and embed texts."""
    import dataclasses

    from thaija.lang import chunk

    if not doc.text.strip():
        return [], [], []
    md = is_markdown(doc.source, doc.metadata)
    parts = sections(doc.text) if md else [(0, len(doc.text), "")]
    chunks = []
    for s, e, heading in parts:
        for c in chunk(doc.text[s:e], max_tokens=max_tok, overlap=min(cfg.overlap, max_tok - 1),
                       tokenizer=counter, lang=doc.lang or "auto", doc_id=doc.id):
            chunks.append((dataclasses.replace(c, id=f"{doc.id}#{len(chunks)}", start=c.start + s, end=c.end + s),
                           heading))
    terms, texts = [], []
    for c, heading in chunks:
        ctx = chunk_context(cfg.context, doc.title, heading)
        terms.append(chunk_terms(c.text, c.lang, ctx))
        texts.append(embed_text(ctx, c.text))
    return [c for c, _ in chunks], terms, texts


def registry_terms(index, doc_ids: Sequence[str]) -> dict[str, list[tuple[int, str, list[str]]]]:
    """BM25 input of stored documents, re-derived from the registry (used to rebuild BM25)."""
    mode = index.context_mode
    marks = ",".join("?" * len(doc_ids))
    reg = index.registry
    docs = {r[0]: r[1:] for r in query(
        reg, f"SELECT doc_id, text, title, source, metadata FROM documents WHERE doc_id IN ({marks})", list(doc_ids))}
    out: dict[str, list] = {}
    for row, doc_id, lang, s, e in query(
            reg, f'SELECT row, doc_id, lang, start, "end" FROM chunks WHERE doc_id IN ({marks}) ORDER BY row',
            list(doc_ids)):
        text, title, source, meta = docs[doc_id]
        heading = heading_at(text, s) if is_markdown(source, json.loads(meta or "{}")) else ""
        out.setdefault(doc_id, []).append((int(row), lang, chunk_terms(text[s:e], lang,
                                                                         chunk_context(mode, title, heading))))
    return out


class Pipeline:
    """One ingest run over `index` (an :class:`thaija.index.ingest.Index`)."""

    def __init__(self, index, progress) -> None:
        self.index = index
        self.cfg = index.config
        self.bar = progress
        self.intent = Intent(index.state)
        self.summary: dict[str, Any] = {"documents": 0, "added": 0, "replaced": 0, "unchanged": 0,
                                        "chunks_added": 0, "chunks_removed": 0, "chunks_embedded": 0}
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.last_save = time.monotonic()
        self.dirty = False
        self.started = False

    # ---- the three stages ----------------------------------------------------------------
    def _prepare_loop(self, docs: Iterable[Document], out: "queue.Queue") -> None:
        emb = self.index.embedder
        max_tok = min(self.cfg.chunk_tokens, emb.max_tokens)
        counter = _memo(emb.count_tokens)   # words repeat: fewer calls into the (locked) encoder
        batch: list[Prepared] = []
        n_chunks, started, seen = 0, time.monotonic(), set()
        try:
            for d in docs:
                if self.stop.is_set():
                    return
                if d.id in seen:
                    raise ThaijaError(f"duplicate document id {d.id!r} in one ingest")
                seen.add(d.id)
                self.summary["documents"] += 1
                fp = fingerprint(d, self.cfg)
                with self.index._db_lock:
                    old = self.index.registry.fingerprints([d.id]).get(d.id)
                if old == fp:
                    self.summary["unchanged"] += 1
                    self.bar.done_doc(d, 0)
                    continue
                p = Prepared(d, fp, old is not None)
                p.chunks, p.terms, p.texts = prepare(d, self.cfg, counter, max_tok)
                batch.append(p)
                n_chunks += len(p.chunks)
                if n_chunks >= self.cfg.commit_chunks or time.monotonic() - started >= self.cfg.commit_seconds:
                    self._put(out, batch)
                    batch, n_chunks, started = [], 0, time.monotonic()
            if batch:
                self._put(out, batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            self.errors.append(exc)
        finally:
            self._put(out, _DONE)

    def _put(self, q: "queue.Queue", item: Any) -> None:
        while True:
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                if self.stop.is_set() and item is not _DONE:
                    return

    def _write_loop(self, q: "queue.Queue") -> None:
        try:
            while True:
                item = q.get()
                if item is _DONE:
                    return
                self.write_batch(*item)
        except BaseException as exc:  # noqa: BLE001
            self.errors.append(exc)
            self.stop.set()
            while q.get() is not _DONE:  # let the embedding thread finish
                pass

    def run(self, docs: Iterable[Document]) -> dict[str, Any]:
        from thaija.index.embed import EmbeddingCache, default_cache_dir, embed_passages

        cfg, emb = self.cfg, self.index.embedder
        cache_path = cfg.cache_path if cfg.cache_path is not None else str(default_cache_dir() / "embeddings.sqlite")
        cache = EmbeddingCache(cache_path or None)
        prepared: queue.Queue = queue.Queue(maxsize=2)
        written: queue.Queue = queue.Queue(maxsize=1)
        prep = threading.Thread(target=self._prepare_loop, args=(docs, prepared), daemon=True, name="thaija-prepare")
        writer = threading.Thread(target=self._write_loop, args=(written,), daemon=True, name="thaija-write")
        prep.start()
        writer.start()
        try:
            while True:
                batch = prepared.get()
                if batch is _DONE or self.stop.is_set():
                    break
                texts = [t for p in batch for t in p.texts]
                keys = [EmbeddingCache.key("passage", t) for t in texts]
                had = len(cache.get_many(emb.name, keys)) if cache_path else 0
                vecs = embed_passages(texts, emb, cache, cfg.batch_size, progress=self.bar.embedded)
                self.summary["chunks_embedded"] += (len(set(keys)) - had) if cache_path else len(texts)
                self._put(written, (batch, vecs))
        except BaseException:
            self.stop.set()
            raise
        finally:
            self.stop.set() if self.errors else None
            self._put(written, _DONE)
            writer.join()
            self.stop.set()
            while prep.is_alive():       # unblock a preparing thread waiting on a full queue
                try:
                    prepared.get(timeout=0.2)
                except queue.Empty:
                    pass
            prep.join()
            cache.close()
            if self.dirty:
                self.persist()
        if self.errors:
            raise self.errors[0]
        return self.summary

    # ---- writing -------------------------------------------------------------------------
    def write_batch(self, batch: list[Prepared], vecs) -> None:
        """Milvus, then one registry transaction (the commit point); BM25 in memory."""
        idx = self.index
        if not self.started:
            idx._start_write()
            self.started = True
        ids = [p.doc.id for p in batch]
        replaced = [p.doc.id for p in batch if p.replaced]
        with idx._db_lock:
            chunk_rows, doc_rows, mil_rows, by_lang = self._rows(batch, vecs)
        self.intent.record(ids)
        crash_point("before_milvus")
        def milvus_write() -> None:
            if replaced:
                idx.milvus.delete_docs(replaced)
            idx.milvus.upsert([dict(r) for r in mil_rows])

        idx.lite_guard(milvus_write)
        crash_point("after_milvus")
        with idx._db_lock:
            _, before = idx.registry.counts()
            reg = idx.registry
            if reg.get_meta("embedder") is None:
                reg.set_meta("embedder", self.cfg.embedder)
                reg.set_meta("dim", str(idx.embedder.dim))
                reg.set_meta("context", self.cfg.context)
            if idx.root is not None and reg.get_meta("root") is None:
                reg.set_meta("root", idx.root)
            top = max((c["row"] + 1 for c in chunk_rows), default=0)
            reg.set_meta("next_row", str(max(top, int(reg.get_meta("next_row") or 0))))
            reg.write(ids, doc_rows, chunk_rows)
            _, after = reg.counts()
        crash_point("after_registry")
        self.dirty = True
        idx.bm25.remove_docs(ids)
        for lang, (rows, dids, terms) in by_lang.items():
            idx.bm25.add(lang, rows, dids, terms)
        idx._bm25_version = idx.registry.version()
        s = self.summary
        s["added"] += len(ids) - len(replaced)
        s["replaced"] += len(replaced)
        s["chunks_added"] += len(chunk_rows)
        s["chunks_removed"] += before + len(chunk_rows) - after
        for p in batch:
            self.bar.done_doc(p.doc, len(p.chunks))
        if time.monotonic() - self.last_save >= self.cfg.save_seconds:
            self.persist()

    def persist(self) -> None:
        """Flush Milvus, save BM25 (tagged with the registry version), drop the intent record."""
        idx = self.index
        idx.lite_guard(lambda: idx.milvus.flush())
        crash_point("after_flush")
        crash_point("during_bm25_save")
        idx.bm25.save()
        set_bm25_version(idx.state, idx.registry.version())
        crash_point("after_bm25")
        self.intent.clear()
        self.last_save = time.monotonic()
        self.dirty = False

    def _rows(self, batch: list[Prepared], vecs) -> tuple[list, list, list, dict]:
        """Registry rows, Milvus rows and BM25 input of one batch (fresh global row ids)."""
        reg = self.index.registry
        now = int(time.time())
        next_row = max(reg.next_row(), int(reg.get_meta("next_row") or 0),
                       max((int(ix.rows.max()) + 1 for ix in self.index.bm25.indexes.values() if len(ix)), default=0))
        chunk_rows, doc_rows, mil_rows = [], [], []
        by_lang: dict[str, tuple[list, list, list]] = {}
        langs: dict[str, int] = {}
        i = 0
        for p in batch:
            d = p.doc
            acl = ",".join(d.groups)
            langs.clear()
            for c, terms in zip(p.chunks, p.terms):
                lang = c.lang if c.lang in LANGS else "other"
                langs[lang] = langs.get(lang, 0) + len(c.text)
                h = hashlib.sha256(c.text.encode("utf-8")).hexdigest()
                chunk_rows.append({"row": next_row, "chunk_id": c.id, "doc_id": d.id, "lang": lang, "start": c.start,
                                   "end": c.end, "tokens": c.tokens, "content_hash": h, "acl": acl, "vector": vecs[i]})
                mil_rows.append({"chunk_id": c.id, "doc_id": d.id, "lang": lang, "start": c.start, "end": c.end,
                                 "content_hash": h, "public": not d.groups, "groups": d.groups, "source": d.source,
                                 "title": d.title, "updated_at": now, "text": c.text, "vector": vecs[i].tolist()})
                rl = by_lang.setdefault(lang, ([], [], []))
                rl[0].append(next_row)
                rl[1].append(d.id)
                rl[2].append(terms)
                next_row += 1
                i += 1
            detected = max(langs, key=langs.get) if langs else None
            doc_rows.append({"doc_id": d.id, "fingerprint": p.fingerprint, "content_hash": d.content_hash,
                             "title": d.title, "source": d.source, "lang": d.lang or detected, "groups": d.groups,
                             "metadata": d.metadata, "text": d.text, "n_chunks": len(p.chunks)})
        return chunk_rows, doc_rows, mil_rows, by_lang


class Progress:
    """Progress on stderr: documents, chunks, embedded chunks and an ETA (silent when disabled)."""

    def __init__(self, enabled: bool, total: int | None = None) -> None:
        self.enabled = enabled
        self.total = total
        self._p = None
        self._task = 0
        self.docs = self.chunks = self.embedded_n = 0
        self._lock = threading.Lock()

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

            self._p = RichProgress(TextColumn("indexing"), BarColumn(),
                                   TextColumn("{task.fields[docs]} docs, {task.fields[chunks]} chunks "
                                              "({task.fields[emb]} embedded)"),
                                   TextColumn("ETA"), TimeRemainingColumn(),
                                   console=Console(stderr=True), transient=False)
            self._p.__enter__()
            self._task = self._p.add_task("indexing", total=self.total, docs=0, chunks=0, emb=0)
        return self

    def _update(self, advance: int = 0) -> None:
        if self._p:
            self._p.update(self._task, advance=advance, docs=self.docs, chunks=self.chunks, emb=self.embedded_n)

    def done_doc(self, doc: Document, n_chunks: int) -> None:
        with self._lock:
            self.docs += 1
            self.chunks += n_chunks
            self._update(len(doc.text.encode("utf-8")))

    def embedded(self, n: int) -> None:
        with self._lock:
            self.embedded_n += n
            self._update()

    def __exit__(self, *exc: Any) -> None:
        if self._p:
            if self.total and not any(exc):
                self._p.update(self._task, completed=self.total)
            self._p.__exit__(*exc)


class TaskProgress:
    """A rich progress bar with named tasks on stderr (silent when disabled); used by eval."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._p = None

    def __enter__(self) -> "TaskProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn
            from rich.progress import TimeRemainingColumn

            self._p = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
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
