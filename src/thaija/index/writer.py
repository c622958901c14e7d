"""The ingest pipeline: prepare (chunk + BM25 terms) ∥ embed ∥ write, committed batch by batch.

Three threads overlap the work: a preparing thread reads documents (lazily, one file at a time),
skips unchanged ones and chunks/segments the rest; the calling thread embeds (the embedding cache
is filled batch by batch); a writing thread stores each batch (Milvus, then one registry
transaction) while the next one is encoded. Every batch is committed on its own (about
``commit_chunks`` chunks or ``commit_seconds``), so an interrupted ingest keeps what it committed
and a re-run continues with the documents that are missing. The write order and the recovery
rules are in :mod:`thaija.index.state`.

A document longer than ``STREAM_CHARS`` characters (a 20 MB log, a 50 MB single line) is never
chunked or held as a whole: it is cut into pieces (:func:`thaija.lang.stream.iter_pieces`, as
:func:`thaija.lang.stream.chunk_stream` does), chunked piece by piece and sent down the pipeline in
parts of ``commit_chunks`` chunks. Each part is *staged* in the registry in its own transaction
(invisible to search), so progress moves and a killed run resumes after the last staged part (the
pieces already chunked are skipped, nothing is embedded twice). When the last part is in, one
transaction swaps the whole old version for the whole new one (:meth:`Registry.finalize`): search
shows the old document or the new one, never a mix. Chunk ids of such a document carry a short
version tag (``doc#12~3fa9c2d1``) so the new version's Milvus rows never overwrite the old one's.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from thaija.errors import ThaijaError
from thaija.index.documents import Document, FileText, text_nbytes
from thaija.index.sections import context, embed_text, heading_at, is_markdown, sections
from thaija.index.state import Intent, crash_point, query, set_bm25_version
from thaija.models.e5 import malloc_trim, malloc_tune

LANGS = ("th", "ja", "en", "other")
_DONE = object()
#: documents longer than this (characters) are chunked as a stream and committed in parts
STREAM_CHARS = 1 << 18
_BLOCK_CHARS = 1 << 20


def content_hash(doc: Document) -> str:
    """``doc.content_hash`` without a whole UTF-8 copy of a big text (sha256 fed 1M-character
    slices: the same digest; a 50 MB document no longer allocates 50 MB of bytes per call)."""
    text = doc.text
    if isinstance(text, FileText) or len(text) <= _BLOCK_CHARS:
        return doc.content_hash
    h = hashlib.sha256()
    for i in range(0, len(text), _BLOCK_CHARS):
        h.update(text[i:i + _BLOCK_CHARS].encode("utf-8"))
    return h.hexdigest()


def fingerprint(doc: Document, cfg) -> str:
    """Everything that decides a document's chunks, terms and vectors."""
    payload = json.dumps({"h": content_hash(doc), "t": doc.title, "g": doc.groups, "l": doc.lang,
                          "m": doc.metadata, "s": doc.source, "c": [cfg.chunk_tokens, cfg.overlap],
                          "e": cfg.embedder, **({"x": cfg.context} if cfg.context != "none" else {})},
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _stored_text(text: "str | FileText") -> "str | FileText":
    """What :meth:`Registry.finalize` stores: a :class:`FileText` longer than ``TEXT_PART``
    characters as it is (the registry slices it part by part, each read from the file), else a str."""
    from thaija.index.registry import TEXT_PART

    return text.read() if isinstance(text, FileText) and len(text) <= TEXT_PART else text


def chunk_terms(text: str, lang: str, ctx: str) -> list[str]:
    """BM25 terms of a chunk: its own text, then its context line (title field)."""
    from thaija.index.bm25 import segment_terms

    terms = segment_terms(text, lang if lang in LANGS[:3] else None)
    return terms + segment_terms(ctx) if ctx else terms


def chunk_context(mode: str, title: str, heading: str) -> str:
    if mode == "none":
        return ""
    return context(title, heading if mode == "title+heading" else "")


#: files of a MeCab dictionary (memory-mapped read-only by MeCab)
_DICT_FILES = ("sys.dic", "matrix.bin", "unk.dic", "char.bin")


def release_dictionary_pages() -> int:
    """Hand back the resident pages of MeCab's memory-mapped dictionary files (``madvise(
    MADV_DONTNEED)`` on its read-only mappings; Linux only, else 0). Exact: the pages are read
    again from the file (the page cache) when segmentation next needs them. Segmenting a long
    Japanese text touches ~50 MB of them, which would otherwise stay in the process until it
    ends; ingest calls this when it has chunked a big document (before its BM25 terms are
    filled). Returns the bytes released; ``THAIJA_RELEASE_DICT_PAGES=0`` turns it off."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("THAIJA_RELEASE_DICT_PAGES") == "0":
        return 0
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        with open("/proc/self/smaps", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    released = 0
    span = None
    for line in lines:
        head = line.split(None, 5)
        if len(head) >= 5 and "-" in head[0] and ":" in head[3]:      # a mapping's first line
            name = head[5] if len(head) > 5 else ""
            ok = os.path.basename(name) in _DICT_FILES and "w" not in head[1]   # never a written page
            span = tuple(int(x, 16) for x in head[0].split("-")) if ok else None
        elif span is not None and line.startswith("Rss:"):
            rss = int(line.split()[1]) * 1024
            if rss and libc.madvise(ctypes.c_void_p(span[0]), ctypes.c_size_t(span[1] - span[0]), 4) == 0:
                released += rss
            span = None
    return released


def _memo(count, size: int = 200_000):
    """`count` remembered for short texts (the chunker counts word by word). A non-empty text
    counts at least 1: an embedder counts a lone ``[`` or ``-`` as 0 tokens, and words of 0 tokens
    let the chunker's window swallow a whole run of them and then advance one word per chunk
    (QA Q8: 5,000 ``[`` took hours and made thousands of near-identical chunks)."""
    seen: dict[str, int] = {}

    def counted(text: str) -> int:
        if len(text) > 32:
            return max(count(text), 1)
        n = seen.get(text)
        if n is None:
            if len(seen) >= size:
                seen.clear()
            n = seen[text] = max(count(text), 1) if text.strip() else count(text)
        return n

    return counted


@dataclass
class Prepared:
    """A changed document, chunked: chunks, BM25 terms and the texts to embed."""

    doc: Document
    fingerprint: str
    replaced: bool
    chunks: list = field(default_factory=list)
    terms: list = field(default_factory=list)   # a part of a streamed document: JSON text each
    texts: list = field(default_factory=list)
    part: "Part | None" = None          # set for the parts of a streamed (big) document


@dataclass
class Part:
    """Where a part of a streamed document stands: chunks ``first .. first+len-1``; ``pieces``:
    chunks made after each finished piece (resume skips those pieces); ``fresh``: drop any older
    staging of the document first; ``final``: the last part (then the document is swapped in)."""

    first: int
    pieces: list
    fresh: bool
    final: bool = False
    nbytes: int = 0                     # UTF-8 bytes of the text this part covers (progress)
    shown: int = 0                      # of which the progress bar counted while the part was embedded


def file_sections(text: FileText) -> list[tuple[int, int, str]]:
    """:func:`thaija.index.sections.sections` of a :class:`FileText` (the same list), from two passes
    over its blocks: the headings (a line is kept whole only when it can be a heading), then the
    whitespace trimmed at each section's ends. Memory: the sections and a block at a time."""
    import re

    from thaija.index.sections import _HEADING

    fence = re.compile(r"[ ]{0,3}(```|~~~)")
    maybe = re.compile(r"[ ]{0,3}#{1,6}[ \t]")
    heads: list[tuple[int, int, str]] = []
    in_fence = False
    start, buf, n, decided, cand = 0, [], 0, False, False    # the current line

    def line_done() -> None:
        nonlocal in_fence
        line = "".join(buf)
        if fence.match(line):
            in_fence = not in_fence
        elif (cand if decided else maybe.match(line)) and not in_fence:
            m = _HEADING.match(line)
            if m and m.group(2).strip():
                heads.append((start + m.start(), start + m.end(), m.group(2).strip()))

    at = 0
    for blk in text.blocks():
        pos = 0
        while pos <= len(blk):
            nl = blk.find("\n", pos)
            end = len(blk) if nl == -1 else nl
            if end > pos and (cand or not decided):
                buf.append(blk[pos:end])
                n += end - pos
                if not decided and n >= 16:
                    head = "".join(buf)[:16]
                    decided, cand = True, bool(maybe.match(head))
                    if not cand:
                        buf = [head]             # enough for the fence test; the rest is not kept
            if nl == -1:
                break
            line_done()
            start, buf, n, decided, cand = at + nl + 1, [], 0, False, False
            pos = nl + 1
        at += len(blk)
    line_done()
    bounds = [(0, heads[0][0] if heads else len(text), "")]
    for i, (_, e, title) in enumerate(heads):
        bounds.append((e, heads[i + 1][0] if i + 1 < len(heads) else len(text), title))
    # first and last non-space character of each [s, e) (bounds are ordered and do not overlap)
    first: list[int | None] = [None] * len(bounds)
    last: list[int | None] = [None] * len(bounds)
    k, at = 0, 0
    for blk in text.blocks():
        stop = at + len(blk)
        while k < len(bounds):
            s, e, _ = bounds[k]
            lo, hi = max(s, at), min(e, stop)
            if hi > lo:
                seg = blk[lo - at:hi - at]
                kept = seg.strip()
                if kept:
                    if first[k] is None:
                        first[k] = lo + len(seg) - len(seg.lstrip())
                    last[k] = lo + len(seg.rstrip())
            if e > stop:
                break
            k += 1
        at = stop
    return [(first[i], last[i], title) for i, (_, _, title) in enumerate(bounds)
            if first[i] is not None and last[i] > first[i]]


def _doc_pieces(doc: Document) -> Iterable[tuple[int, str, str]]:
    """(offset, text, heading) pieces of a document (Markdown: section by section), each at most
    :data:`thaija.lang.stream.DEFAULT_PIECE_CHARS` long, without copying the whole text (a
    :class:`FileText` is read from its file block by block: the same pieces)."""
    from thaija.lang.stream import DEFAULT_PIECE_CHARS, iter_pieces

    text = doc.text
    md = is_markdown(doc.source, doc.metadata)
    parts = (file_sections(text) if isinstance(text, FileText) else sections(text)) if md else [(0, len(text), "")]
    for s, e, heading in parts:
        blocks = text.blocks(s, e) if isinstance(text, FileText) else \
            (text[i:min(i + _BLOCK_CHARS, e)] for i in range(s, e, _BLOCK_CHARS))
        for p in iter_pieces(blocks, DEFAULT_PIECE_CHARS, lines=False):
            yield s + p.offset, p.text, heading


def stream_chunks(doc: Document, cfg, counter, max_tok: int, skip_pieces: int = 0):
    """Events of a document chunked piece by piece: ``("chunk", Chunk, heading)`` (ids and offsets
    over the whole document) and ``("piece", index)`` after each piece; the first `skip_pieces`
    pieces are passed over without chunking."""
    import dataclasses

    from thaija.lang import chunk

    for i, (off, text, heading) in enumerate(_doc_pieces(doc)):
        if i < skip_pieces:
            continue
        if text.strip():
            for c in chunk(text, max_tokens=max_tok, overlap=min(cfg.overlap, max_tok - 1), tokenizer=counter,
                           lang=doc.lang or "auto", doc_id=doc.id):
                yield "chunk", dataclasses.replace(c, start=c.start + off, end=c.end + off), heading
        yield "piece", i, None


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
    docs = {r[0]: (reg.text_of(r[0], r[1]), *r[2:]) for r in query(
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
        self.stream_chars = int(os.environ.get("THAIJA_STREAM_CHARS") or STREAM_CHARS)
        malloc_tune()      # before the pipeline's threads start: they share 2 arenas, big buffers are unmapped

    # ---- the three stages ----------------------------------------------------------------
    def _prepare_loop(self, docs: Iterable[Document], out: "queue.Queue") -> None:
        emb = self.index.embedder
        max_tok = min(self.cfg.chunk_tokens, emb.max_tokens)
        counter = _memo(emb.count_tokens)   # words repeat: fewer calls into the (locked) encoder
        batch: list[Prepared] = []
        n_chunks, started, seen = 0, time.monotonic(), set()
        # the first batches are small so encoding starts at once; they grow to commit_chunks
        limit = min(self.cfg.commit_chunks, max(self.cfg.batch_size, 1))
        try:
            for d in docs:
                if self.stop.is_set():
                    return
                if d.id in seen:
                    raise ThaijaError(f"duplicate document id {d.id!r} in one ingest")
                seen.add(d.id)
                self.summary["documents"] += 1
                if isinstance(d.text, FileText) and len(d.text) <= self.stream_chars:
                    d = dataclasses.replace(d, text=d.text.read())   # not streamed: a str like any other
                fp = fingerprint(d, self.cfg)
                with self.index._db_lock:
                    old = self.index.registry.fingerprints([d.id]).get(d.id)
                if old == fp:
                    self.summary["unchanged"] += 1
                    self.bar.done_doc(d, 0)
                    continue
                if len(d.text) > self.stream_chars:   # a big document: streamed, committed in parts
                    if batch:
                        self._put(out, batch)
                        batch, n_chunks, started = [], 0, time.monotonic()
                    self._stream_doc(d, fp, old is not None, counter, max_tok, out)
                    continue
                p = Prepared(d, fp, old is not None)
                p.chunks, p.terms, p.texts = prepare(d, self.cfg, counter, max_tok)
                batch.append(p)
                n_chunks += len(p.chunks)
                if n_chunks >= limit or time.monotonic() - started >= self.cfg.commit_seconds:
                    self._put(out, batch)
                    batch, n_chunks, started = [], 0, time.monotonic()
                    limit = min(self.cfg.commit_chunks, limit * 4)
            if batch:
                self._put(out, batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            self.errors.append(exc)
        finally:
            self._put(out, _DONE)

    def _stream_doc(self, d: Document, fp: str, replaced: bool, counter, max_tok: int, out: "queue.Queue") -> None:
        """Chunk a big document piece by piece and queue it in parts of ``commit_chunks`` chunks,
        continuing after the parts an interrupted run staged (same fingerprint)."""
        import dataclasses

        with self.index._db_lock:
            rec = self.index.registry.staged(d.id)
        tag = fp[:8]
        n, skip, pieces, fresh = 0, 0, [], True
        if rec is not None and rec["fingerprint"] == fp:      # resume: skip the staged pieces
            fresh = False
            done = [k for k in rec["pieces"] if k <= rec["next_chunk"]]
            skip, pieces = len(done), list(done)
            n = done[-1] if done else 0
            resume_at = rec["next_chunk"]
        else:
            resume_at = 0
        part = Prepared(d, fp, replaced, part=Part(first=resume_at, pieces=list(pieces), fresh=fresh))
        covered = 0            # characters of the document the queued parts cover
        for kind, c, heading in stream_chunks(d, self.cfg, counter, max_tok, skip):
            if self.stop.is_set():
                return
            if kind == "piece":
                pieces.append(n)
                continue
            if n < resume_at:                                 # staged before the interruption
                n += 1
                continue
            c = dataclasses.replace(c, id=f"{d.id}#{n}~{tag}")
            n += 1
            ctx = chunk_context(self.cfg.context, d.title, heading)
            part.chunks.append(c)
            # JSON text, as staging stores it: a part in flight holds ~1 object per chunk, not ~300
            part.terms.append(json.dumps(chunk_terms(c.text, c.lang, ctx), ensure_ascii=False))
            part.texts.append(embed_text(ctx, c.text))
            if len(part.chunks) >= self.cfg.commit_chunks:
                part.part.pieces = list(pieces)
                part.part.nbytes = len(d.text[covered:c.end].encode("utf-8"))
                covered = c.end
                self._put(out, [part])
                part = Prepared(d, fp, replaced, part=Part(first=n, pieces=[], fresh=False))
        part.part.pieces = list(pieces)
        part.part.final = True
        release_dictionary_pages()   # chunked: MeCab's dictionary pages are not needed until the next text
        part.part.nbytes = len(d.text[covered:].encode("utf-8"))
        self._put(out, [part])

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
                vecs = embed_passages(texts, emb, cache, cfg.batch_size, progress=self._embed_progress(batch, texts))
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

    def _embed_progress(self, batch: list[Prepared], texts: list[str]):
        """The embedding progress callback of a batch. A part of a big document moves the percentage
        while it is embedded (its bytes spread over its chunks; the rest when it is committed), so one
        big document does not sit at 0 % until its first part is in (QA Q23)."""
        part = batch[0].part if len(batch) == 1 and batch[0].part is not None else None
        if part is None or not texts:
            return self.bar.embedded
        per = part.nbytes / len(texts)

        def progress(n: int) -> None:
            step = min(int(n * per), part.nbytes - part.shown)
            part.shown += step
            self.bar.embedded(n, step)

        return progress

    # ---- writing -------------------------------------------------------------------------
    def write_batch(self, batch: list[Prepared], vecs) -> None:
        """Milvus, then one registry transaction (the commit point); BM25 in memory."""
        idx = self.index
        if not self.started:
            idx._start_write()
            self.started = True
        if batch and batch[0].part is not None:
            return self.write_part(batch[0], vecs)
        ids = [p.doc.id for p in batch]
        with idx._db_lock:
            stale = idx.registry.staged_ids(ids)   # parts of an older run of a now-small document
        replaced = [p.doc.id for p in batch if p.replaced]
        gone = [i for i in ids if i in set(replaced) | set(stale)]   # Milvus rows to delete first
        with idx._db_lock:
            chunk_rows, doc_rows, mil_rows, by_lang = self._rows(batch, vecs)
        self.intent.record(ids)
        crash_point("before_milvus")
        def milvus_write() -> None:
            if gone:
                idx.milvus.delete_docs(gone)
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
            idx.note_milvus_rows()
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

    def write_part(self, p: Prepared, vecs) -> None:
        """Stage one part of a big document (Milvus, then one registry transaction); after the
        final part swap the document in (one transaction) and update BM25 from the staged terms."""
        idx, d, info = self.index, p.doc, p.part
        reg = idx.registry
        self.intent.record([d.id])
        if info.fresh:                                   # an older, different staging of this document
            with idx._db_lock:
                old = reg.drop_staged([d.id])
            if old:
                idx.lite_guard(lambda: idx.milvus.delete_chunks(old))
        with idx._db_lock:
            chunk_rows, _, mil_rows, by_lang = self._rows([p], vecs)
        for r, c, terms in zip(chunk_rows, p.chunks, p.terms):
            r["text"], r["terms"] = c.text, terms
        crash_point("before_milvus")
        if mil_rows:
            idx.lite_guard(lambda: idx.milvus.upsert([dict(r) for r in mil_rows]))
        with idx._db_lock:
            self._set_meta_once()
            reg.stage(d.id, p.fingerprint, {"title": d.title, "source": d.source, "groups": d.groups,
                                            "updated_at": int(time.time())},
                      chunk_rows, info.first + len(p.chunks), info.pieces)
        crash_point("after_stage")
        self.summary["chunks_added"] += len(chunk_rows)
        self.bar.done_part(info.nbytes - info.shown, len(p.chunks))
        self.dirty = True
        if not info.final:
            if time.monotonic() - self.last_save >= self.cfg.save_seconds:
                self.persist()
            else:
                malloc_trim()           # the part's rows, terms and vectors go back to the system
            return
        # the last part: the whole new version replaces the whole old one in one transaction
        with idx._db_lock:
            old_ids = reg.chunk_ids_of([d.id]) if p.replaced and idx.milvus_rows else []
            langs: dict[str, int] = {}
            n_chunks = 0
            for part in reg.staged_rows(d.id, 'lang, start, "end"'):
                for _, lang, s, e in part:
                    langs[lang] = langs.get(lang, 0) + e - s
                    n_chunks += 1
            detected = max(langs, key=langs.get) if langs else None
            removed, added = reg.finalize({"doc_id": d.id, "fingerprint": p.fingerprint,
                                           "content_hash": content_hash(d), "title": d.title, "source": d.source,
                                           "lang": d.lang or detected, "groups": d.groups, "metadata": d.metadata,
                                           "text": _stored_text(d.text), "n_chunks": n_chunks})
        crash_point("after_finalize")
        if old_ids:
            idx.lite_guard(lambda: idx.milvus.delete_chunks([c for c in old_ids if "~" + p.fingerprint[:8]
                                                             not in c]))
        idx.bm25.remove_docs([d.id])
        for part in reg.staged_rows(d.id, "lang, terms", batch=500):   # terms as lists: ~25 KB a chunk
            by: dict[str, tuple[list, list, list]] = {}
            for row, lang, terms in part:
                rl = by.setdefault(lang, ([], [], []))
                rl[0].append(int(row))
                rl[1].append(d.id)
                rl[2].append(json.loads(terms))
            for lang, (rows, dids, terms) in by.items():
                idx.bm25.add(lang, rows, dids, terms)
            by = rows = dids = terms = None
            malloc_trim()               # each batch's parsed terms go back before the next is read
        idx._bm25_version = reg.version()
        with idx._db_lock:
            reg.drop_staged([d.id], collect=False)   # its chunks are live now
        malloc_trim()                   # the parts' buffers and terms go back to the system
        s = self.summary
        s["added" if not p.replaced else "replaced"] += 1
        s["chunks_removed"] += removed
        self.bar.done_doc(d, 0, nbytes=0)
        if time.monotonic() - self.last_save >= self.cfg.save_seconds:
            self.persist()

    def _set_meta_once(self) -> None:
        idx, reg = self.index, self.index.registry
        if reg.get_meta("embedder") is None:
            with reg.db:
                reg.set_meta("embedder", self.cfg.embedder)
                reg.set_meta("dim", str(idx.embedder.dim))
                reg.set_meta("context", self.cfg.context)
                idx.note_milvus_rows()
        if idx.root is not None and reg.get_meta("root") is None:
            with reg.db:
                reg.set_meta("root", idx.root)

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
        malloc_trim()                   # the save's temporaries (postings, JSON) go back to the system
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
                if self.index.milvus_rows:   # a Lite file searched in-process holds no rows
                    mil_rows.append({"chunk_id": c.id, "doc_id": d.id, "lang": lang, "start": c.start, "end": c.end,
                                     "content_hash": h, "public": not d.groups, "groups": d.groups,
                                     "source": d.source, "title": d.title, "updated_at": now, "text": c.text,
                                     "vector": vecs[i].tolist()})
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
    """Progress on stderr: documents, chunks, embedded chunks and an ETA (silent when disabled).
    A rich bar on a terminal; when stderr is redirected (a log, a pipe) plain lines
    ``thaija: indexing: D docs, C chunks (E embedded), P%, ETA S s, T s`` at most one per
    ``$THAIJA_PROGRESS_EVERY`` seconds (default 10) and a last one."""

    def __init__(self, enabled: bool, total: int | None = None) -> None:
        self.enabled = enabled
        self.total = total
        self._p = None
        self._task = 0
        self.docs = self.chunks = self.embedded_n = 0
        self._lock = threading.Lock()
        self._plain = False
        self._done_bytes = 0
        self._first: tuple[float, float] | None = None

    def _line(self, final: bool = False) -> None:
        import sys

        now = time.monotonic()
        el = now - self._t0
        pct = eta = ""
        if self.total:
            frac = min(self._done_bytes / self.total, 1.0)
            pct = f", {100 * frac:.0f}%"
            if self._first is None and frac > 0:
                self._first = (now, frac)  # the rate is measured from here: start-up time is not work
            if 0 < frac < 1 and not final:
                t1, f1 = self._first or (now, frac)
                # no ETA from one document (start-up and first batches mislead): ≥ 2 % more work first
                eta = f", ETA {(now - t1) * (1 - frac) / (frac - f1):.0f} s" if frac - f1 >= 0.02 and now > t1 \
                    else ", ETA estimating"
        word = "indexed" if final else "indexing"
        print(f"thaija: {word}: {self.docs} docs, {self.chunks} chunks ({self.embedded_n} embedded){pct}{eta}, "
              f"{el:.0f} s", file=sys.stderr, flush=True)
        self._last = now

    def __enter__(self) -> "Progress":
        import sys

        self._t0 = self._last = time.monotonic()
        if self.enabled and not sys.stderr.isatty():
            try:
                self._every = max(0.0, float(os.environ.get("THAIJA_PROGRESS_EVERY", "10")))
            except ValueError:
                self._every = 10.0
            self._plain = True
            return self
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
        self._done_bytes += advance
        if self._plain and time.monotonic() - self._last >= self._every:
            self._line()
        if self._p:
            self._p.update(self._task, advance=advance, docs=self.docs, chunks=self.chunks, emb=self.embedded_n)

    def done_doc(self, doc: Document, n_chunks: int, nbytes: int | None = None) -> None:
        with self._lock:
            self.docs += 1
            self.chunks += n_chunks
            self._update(text_nbytes(doc.text) if nbytes is None else nbytes)

    def done_part(self, nbytes: int, n_chunks: int) -> None:
        """A part of a big document was committed (staged)."""
        with self._lock:
            self.chunks += n_chunks
            self._update(nbytes)

    def embedded(self, n: int, nbytes: int = 0) -> None:
        """``n`` chunks embedded; ``nbytes``: the bytes of a big document's part they stand for."""
        with self._lock:
            self.embedded_n += n
            self._update(nbytes)

    def __exit__(self, *exc: Any) -> None:
        if self._plain and not any(exc):
            self._done_bytes = self.total or self._done_bytes
            self._line(final=True)
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
