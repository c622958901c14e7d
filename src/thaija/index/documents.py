"""Document loaders: .txt .md .jsonl here, .html .pdf .docx .xlsx .pptx through
:mod:`thaija.index.loaders` -> Document records, and stable document ids.

Every loader returns complete documents or raises `ThaijaError` before anything is written:
`load_paths` reads every file first, so a malformed JSONL line anywhere means nothing is indexed.
`iter_documents` is the tolerant form used by ingest: one file at a time, a bad file is reported
and skipped, and in a JSONL file every bad line is reported and skipped while the good ones load.

A file's document id is its path relative to a root (posix): the declared `--root`, else the
index's root (set by its first `index add`), else the common folder of the inputs. It does not
depend on the working folder, so the same file gets the same id whichever folder a command runs
from, nor on the order of adds: `thaija index add` moves the index root up when a later add
reaches outside it (a parent or sibling folder) and re-keys the path ids under it
(:mod:`thaija.index.roots`), so ``add docs/hr; add docs`` and ``add docs; add docs/hr`` give the
same ids. With an explicit `--root`, files outside it get ``../`` ids.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from thaija.errors import ThaijaError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".jsonl", ".html", ".htm", ".xhtml", ".pdf", ".docx", ".xlsx",
                      ".xlsm", ".pptx")
_GROUP_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


@dataclass
class Document:
    """One document to index. `text` is the original text; chunk offsets index into it."""

    id: str
    text: str
    title: str = ""
    lang: str | None = None            # None/"auto": detected per chunk by thaija.lang
    groups: list[str] = field(default_factory=list)   # empty = public
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ThaijaError(f"document id must be a non-empty string, got {self.id!r}")
        if len(self.id) > 500:
            raise ThaijaError(f"document id longer than 500 characters: {self.id[:60]}...")
        if not isinstance(self.text, (str, FileText)):
            raise ThaijaError(f"document {self.id}: text must be a string")
        self.groups = validate_groups(self.groups)
        if self.lang in ("", "auto"):
            self.lang = None

    @property
    def content_hash(self) -> str:
        """sha256 of the text: the same text is never chunked or embedded twice."""
        if isinstance(self.text, FileText):
            return self.text.sha256
        h = hashlib.sha256()
        for i in range(0, len(self.text), 1 << 20):  # same digest, no whole-text UTF-8 copy
            h.update(self.text[i:i + (1 << 20)].encode("utf-8"))
        return h.hexdigest()


def validate_groups(groups: Iterable[str] | str | None) -> list[str]:
    """Return sorted unique access groups; names are restricted to [A-Za-z0-9_.:@-]."""
    if groups is None:
        return []
    if isinstance(groups, str):
        groups = [g for g in groups.split(",")]
    out = set()
    for g in groups:
        g = str(g).strip()
        if not g:
            continue
        if not _GROUP_RE.match(g):
            raise ThaijaError(f"invalid access group {g!r}: use letters, digits and _ . : @ - (max 128)")
        out.add(g)
    return sorted(out)


def iter_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and folders (recursively, supported suffixes only, sorted)."""
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise ThaijaError(f"{path}: {_unsupported(path)}")
            files.append(path)
        else:
            raise ThaijaError(f"{path}: no such file or folder")
    return files


def common_root(paths: Iterable[str | os.PathLike]) -> Path:
    """The common folder of the inputs (a folder counts as itself, a file as its parent)."""
    dirs = []
    for p in paths:
        path = Path(p).resolve()
        dirs.append(str(path if path.is_dir() else path.parent))
    if not dirs:
        return Path.cwd().resolve()
    try:
        return Path(os.path.commonpath(dirs))
    except ValueError:  # pragma: no cover - different drives on Windows
        return Path(dirs[0])


def under_root(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """True when `path` lies inside folder `root` (or is it)."""
    rel = os.path.relpath(Path(path).resolve(), Path(root).resolve())
    return rel == "." or not (rel == ".." or rel.startswith(".." + os.sep))


def doc_id_for(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """Stable id for a file: its path relative to `root` (posix; default its own folder). A file
    outside `root` gets a relative path with ``..`` (``../shared/x.txt``): unique, and the same on
    every machine with the same layout; the absolute path only when no relative path exists
    (another drive)."""
    path = Path(path).resolve()
    base = Path(root).resolve() if root is not None else path.parent
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # pragma: no cover - different drives on Windows
        return path.as_posix()


_doc_id_for = doc_id_for  # old name


def _read_text(path: Path) -> str:
    """The file's text exactly as stored (CRLF kept, so offsets index the original file); a UTF-8
    byte-order mark is dropped."""
    import codecs

    # decoded in 1 MB blocks: the whole file's bytes and its str are never held at once (a 50 MB
    # file cost bytes + str + CPython's widening copy at the start of an ingest)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    parts: list[str] = []
    n = 0
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(1 << 20)
                part = decoder.decode(block, final=not block)
                _no_nul(path, part, n)
                parts.append(part)
                n += len(part)
                if not block:
                    break
    except UnicodeDecodeError:
        try:  # the exact byte offset, from one decode of the whole file (error path only)
            path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ThaijaError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
        raise ThaijaError(f"{path}: not valid UTF-8") from None  # pragma: no cover
    except OSError as exc:
        raise ThaijaError(f"{path}: cannot read ({exc.strerror})") from None
    return "".join(parts)


def _no_nul(path: Path, text: str, offset: int) -> None:
    """A NUL character is binary data, not text (the JSONL reader and the text commands refuse it too)."""
    if "\x00" in text:
        raise ThaijaError(f"{path}: NUL character at position {offset + text.index(chr(0))} "
                          f"(binary data is not text)")


#: ``load_path(..., stream_bytes=N)``: a .txt/.md file bigger than N bytes is loaded as a :class:`FileText`
STREAM_BYTES = 1 << 22
#: bytes a FileText reads and decodes at a time
FILE_BLOCK_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


class FileText:
    """The text of a big UTF-8 file, read from the file when needed instead of held as a ``str``
    (a 50 MB single line is a 36-76 MB str for the whole of an ingest; what ``index add`` chunks
    piece by piece and stores part by part it can read piece by piece too).

    Loading reads the file once, block by block: it must be UTF-8 (the error of ``_read_text``),
    and the character count, the sha256 of the text's UTF-8 (= the file after a byte-order mark,
    so :attr:`sha256` equals ``Document.content_hash`` of the same text as a str), whether it is
    blank and the (character, byte) offset of every block are kept. Then :meth:`blocks`, slices
    (``text[a:b]``) and :meth:`read` decode it again from those offsets: the same characters as
    ``_read_text`` gives (a byte-order mark dropped, CRLF kept). The file must stay as it was: a
    changed size or modification time raises :class:`ThaijaError`."""

    def __init__(self, path: Path, block_bytes: int | None = None) -> None:
        import codecs

        self.path = Path(path)
        self.block_bytes = block_bytes = block_bytes or FILE_BLOCK_BYTES
        h = hashlib.sha256()
        marks: list[tuple[int, int]] = []
        n, blank = 0, True
        dec = codecs.getincrementaldecoder("utf-8")()
        try:
            st = self.path.stat()
            with open(self.path, "rb") as f:
                head = f.read(len(_BOM))
                self._start = len(_BOM) if head == _BOM else 0
                f.seek(self._start)
                pos = self._start
                while True:
                    marks.append((n, pos - len(dec.getstate()[0])))
                    block = f.read(block_bytes)
                    text = dec.decode(block, final=not block)
                    _no_nul(self.path, text, n)
                    h.update(block)
                    pos += len(block)
                    n += len(text)
                    if blank and text.strip():
                        blank = False
                    if not block:
                        break
        except UnicodeDecodeError:
            _read_text(self.path)               # raises the error (with its byte offset)
            raise ThaijaError(f"{path}: not valid UTF-8") from None   # pragma: no cover
        except OSError as exc:
            raise ThaijaError(f"{path}: cannot read ({exc.strerror})") from None
        self._stamp = (st.st_size, st.st_mtime_ns)
        self._marks = marks
        self._n = n
        self.nbytes = st.st_size - self._start
        self.sha256 = h.hexdigest()
        self.blank = blank

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"FileText({str(self.path)!r}, {self._n} characters)"

    def _open(self):
        try:
            f = open(self.path, "rb")
            st = os.fstat(f.fileno())
        except OSError as exc:
            raise ThaijaError(f"{self.path}: cannot read ({exc.strerror})") from None
        if (st.st_size, st.st_mtime_ns) != self._stamp:
            f.close()
            raise ThaijaError(f"{self.path}: the file changed while it was being indexed; run the command again")
        return f

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[str]:
        """The text from character ``start`` to ``stop`` (default: the end), block by block."""
        import bisect
        import codecs

        stop = self._n if stop is None else min(stop, self._n)
        if start >= stop:
            return
        k = bisect.bisect_right(self._marks, (start, float("inf"))) - 1
        at, byte = self._marks[k]
        dec = codecs.getincrementaldecoder("utf-8")()
        with self._open() as f:
            f.seek(byte)
            while at < stop:
                block = f.read(self.block_bytes)
                text = dec.decode(block, final=not block)
                if not block and not text:
                    raise ThaijaError(f"{self.path}: the file changed while it was being indexed; "
                                      f"run the command again")
                lo, hi = max(start - at, 0), min(stop - at, len(text))
                if hi > lo:
                    yield text[lo:hi]
                at += len(text)

    def __getitem__(self, key: slice) -> str:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("FileText supports slices text[a:b] only")
        start, stop, _ = key.indices(self._n)
        return "".join(self.blocks(start, stop))

    def read(self) -> str:
        """The whole text as a str."""
        return "".join(self.blocks())


_MD_TITLE = re.compile(r"#\s+(.+)$", flags=re.M)


def markdown_title(text: "str | FileText") -> str:
    """The title :func:`load_path` takes from a Markdown text: the first ``# heading``
    (``re.search(r"^#\\s+(.+)$", text, re.M)``, stripped; "" without one). A :class:`FileText` is
    searched block by block (only around candidate lines is more read)."""
    if isinstance(text, str):
        m = re.search(r"^#\s+(.+)$", text, flags=re.M)
        return m.group(1).strip() if m else ""
    prev, at = "\n", 0
    for blk in text.blocks():
        cands = [0] if prev == "\n" and blk.startswith("#") else []
        k = blk.find("\n#")
        while k != -1:
            cands.append(k + 1)
            k = blk.find("\n#", k + 1)
        for c in cands:
            if c + 1 < len(blk) and not blk[c + 1].isspace():
                continue                          # "#word": \s+ cannot match here
            pos, w = at + c, 1 << 12
            while True:
                window = text[pos:pos + w]
                m = _MD_TITLE.match(window)
                if (m is None or m.end() == len(window)) and pos + len(window) < len(text):
                    w *= 4                        # the line (or the blank run after "#") goes on
                    continue
                break
            if m is not None:
                return m.group(1).strip()
        prev, at = blk[-1], at + len(blk)
    return ""


def stream_bytes_limit() -> int:
    """:data:`STREAM_BYTES`, or ``$THAIJA_STREAM_BYTES`` when it is set to a number (tests lower it)."""
    try:
        return int(os.environ.get("THAIJA_STREAM_BYTES") or STREAM_BYTES)
    except ValueError:
        return STREAM_BYTES


def text_nbytes(text: "str | FileText") -> int:
    """UTF-8 bytes of a document's text (a :class:`FileText` knows them without reading)."""
    if isinstance(text, FileText):
        return text.nbytes
    return sum(len(text[i:i + (1 << 20)].encode("utf-8")) for i in range(0, len(text), 1 << 20))


def _unsupported(path: Path) -> str:
    from thaija.index.loaders import unsupported_reason

    return unsupported_reason(path.suffix, SUPPORTED_SUFFIXES)


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


_SPILL = re.compile(r"thaija-text-(\d+)-[^/]*\.txt")


def sweep_spills(folder: str) -> int:
    """Remove the temporary copies (:func:`spill_text`) left in ``folder`` by processes that no
    longer run (a kill -9 skips the clean-up); returns how many were removed. POSIX only (the
    liveness check is signal 0, which on Windows would end the process)."""
    removed = 0
    if os.name != "posix":
        return 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        m = _SPILL.fullmatch(name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue                      # its process still runs (or another one has its pid)
        except ProcessLookupError:
            pass
        except (OSError, OverflowError, ValueError):
            continue                      # not ours to signal: alive
        try:
            os.unlink(os.path.join(folder, name))
            removed += 1
        except OSError:
            pass
    return removed


def spill_text(text: str) -> "FileText | str":
    """A :class:`FileText` over a temporary UTF-8 copy of ``text`` (removed when the FileText is
    garbage-collected, or at exit), so a big JSONL record's text is not held while it is chunked;
    ``text`` itself when it cannot be (it starts with U+FEFF, which FileText would read as a
    byte-order mark, or the temporary file cannot be written)."""
    import tempfile
    import weakref

    if text.startswith("\ufeff"):
        return text
    sweep_spills(tempfile.gettempdir())
    try:
        fd, name = tempfile.mkstemp(prefix=f"thaija-text-{os.getpid()}-", suffix=".txt")
    except OSError:
        return text
    try:
        with os.fdopen(fd, "wb") as f:
            for i in range(0, len(text), 1 << 20):
                f.write(text[i:i + (1 << 20)].encode("utf-8"))
        ft = FileText(Path(name))
    except (OSError, ThaijaError):
        _unlink(name)
        return text
    weakref.finalize(ft, _unlink, name)
    return ft


def load_jsonl(path: Path, *, groups: list[str] | None = None, lang: str | None = None,
               root: str | os.PathLike | None = None,
               on_bad: Callable[[int, str], None] | None = None,
               stream_bytes: int | None = None) -> list[Document]:
    """One document per line: {"id", "text", optional "title", "lang", "metadata", "groups"}.

    A record without an id gets ``<file id>:<line>`` (the file id relative to `root`). A bad line
    (invalid JSON, wrong field types, no text, a repeated id) raises ``file:line: reason``, or,
    with ``on_bad(line, message)``, is reported there and skipped while the good lines load.
    ``stream_bytes``: a record whose text has more UTF-8 bytes than this gets a :class:`FileText`
    over a temporary copy (:func:`spill_text`)."""
    from thaija.validate import ValidationError, parse_json

    file_id = doc_id_for(path, root)
    docs: list[Document] = []
    seen: set[str] = set()
    records = 0
    for n, line in enumerate(_read_text(path).split("\n"), start=1):  # not splitlines(): U+2028 is valid JSON
        if not line.strip():
            continue
        records += 1
        try:
            rec = parse_json(line, where=f"{path}:{n}")
            if not isinstance(rec, dict):
                raise ThaijaError(f"{path}:{n}: each line must be a JSON object, got {type(rec).__name__}")
            doc = _record(rec, path, n, file_id, seen, groups, lang)
            rec = None
            if stream_bytes is not None and len(doc.text) * 4 > stream_bytes and text_nbytes(doc.text) > stream_bytes:
                doc.text = spill_text(doc.text)
            docs.append(doc)
        except ThaijaError as exc:
            if on_bad is None:
                raise
            on_bad(n, str(exc))
    if not records:
        raise ValidationError(f"{path}: no records (the file holds only blank lines)")
    return docs


def _record(rec: dict, path: Path, n: int, file_id: str, seen: set[str], groups: list[str] | None,
            lang: str | None) -> Document:
    """The Document of one JSONL record (line `n`), or ThaijaError ``file:line: reason``."""
    from thaija.validate import check_fields

    check_fields(rec, {"id": "id", "_id": "id", "title": "str", "lang": "str", "groups": "groups",
                       "metadata": "object", "text": "str"}, f"{path}:{n}")
    text = rec.get("text")
    if not isinstance(text, str):
        raise ThaijaError(f"{path}:{n}: missing string field 'text'")
    if not text.strip():
        raise ThaijaError(f"{path}:{n}: empty 'text' (no text to index)")
    doc_id = rec.get("id", rec.get("_id"))
    doc_id = str(doc_id) if doc_id is not None else f"{file_id}:{n}"
    if doc_id in seen:
        raise ThaijaError(f"{path}:{n}: duplicate id {doc_id!r}")
    meta = rec.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ThaijaError(f"{path}:{n}: 'metadata' must be an object")
    if rec.get("lang") not in (None, "auto", "th", "ja", "en"):
        raise ThaijaError(f"{path}:{n}: field 'lang' must be one of auto, th, ja, en, got {rec.get('lang')!r}")
    try:
        doc = Document(id=doc_id, text=text, title=str(rec.get("title") or ""), lang=lang or rec.get("lang"),
                       groups=validate_groups(list(groups or []) + list(validate_groups(rec.get("groups")))),
                       metadata=meta, source=f"{file_id}:{n}")
    except ThaijaError as exc:
        raise ThaijaError(f"{path}:{n}: {exc}") from None
    seen.add(doc_id)
    return doc


def load_path(path: str | os.PathLike, *, groups: list[str] | None = None,
              lang: str | None = None, root: str | os.PathLike | None = None,
              on_bad: Callable[[int, str], None] | None = None,
              on_warn: Callable[[str], None] | None = None, stream_bytes: int | None = None) -> list[Document]:
    """Load one file into documents (a JSONL file gives one per line); ids relative to `root`
    (default: the file's own folder). ``on_bad``: see :func:`load_jsonl`; ``on_warn(message)``
    hears about a file loaded in a degraded way (an HTML page too deeply nested, read as text).
    ``stream_bytes``: a .txt or .md file bigger than this is loaded as a :class:`FileText` (its text
    is read from the file when needed; for consumers that handle it, such as ``index add``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ThaijaError(f"{path}: is a folder, not a file")
    if suffix == ".jsonl":
        return load_jsonl(path, groups=groups, lang=lang, root=root, on_bad=on_bad, stream_bytes=stream_bytes)
    title = ""
    metadata: dict[str, Any] = {}
    if suffix in (".txt", ".md", ".markdown") and stream_bytes is not None and _size(path) > stream_bytes:
        big = FileText(path)
        if big.blank:
            raise ThaijaError(f"{path}: empty document (no text to index)")
        doc_id = doc_id_for(path, root)
        title = markdown_title(big) if suffix != ".txt" else ""
        return [Document(id=doc_id, text=big, title=title or path.stem, lang=lang, groups=list(groups or []),
                         metadata=metadata, source=doc_id)]
    if suffix in (".txt", ".md", ".markdown"):
        text = _read_text(path)
    elif suffix in SUPPORTED_SUFFIXES:
        from thaija.index.loaders import load_file

        text, title = load_file(path, _read_text, on_warn=on_warn)
        if suffix != ".pdf":  # structured text with `#` headings: section-aware chunking
            metadata["format"] = "markdown"
    else:
        raise ThaijaError(f"{path}: {_unsupported(path)}")
    if suffix in (".md", ".markdown"):
        title = markdown_title(text)
    doc_id = doc_id_for(path, root)
    if not text.strip():
        raise ThaijaError(f"{path}: empty document (no text to index)")
    return [Document(id=doc_id, text=text, title=title or path.stem, lang=lang,
                     groups=list(groups or []), metadata=metadata, source=doc_id)]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise ThaijaError(f"{path}: cannot read ({exc.strerror})") from None


def load_paths(paths: Iterable[str | os.PathLike], *, groups: list[str] | None = None,
               lang: str | None = None, root: str | os.PathLike | None = None) -> list[Document]:
    """Load files and folders; raises on the first bad file, before anything is indexed.
    Ids are relative to `root` (default: the common folder of `paths`)."""
    paths = list(paths)
    root = common_root(paths) if root is None else root
    docs: list[Document] = []
    seen: dict[str, str] = {}
    for f in iter_files(paths):
        for d in load_path(f, groups=groups, lang=lang, root=root):
            if d.id in seen:
                raise ThaijaError(f"{d.source}: duplicate document id {d.id!r} (also in {seen[d.id]})")
            seen[d.id] = d.source
            docs.append(d)
    return docs


def walk_files(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, str | None]]:
    """(file, None) for every loadable file under `paths`, (path, reason) for what is skipped.

    Hidden files and folders (names starting with ".") are passed over silently."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path).parts
                if any(part.startswith(".") for part in rel) or not f.is_file():
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield f, None
                else:
                    yield f, _unsupported(f)
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path, None
            else:
                yield path, _unsupported(path)
        else:
            yield path, "no such file or folder"


MAX_BAD_LINES_SHOWN = 20


def iter_documents(paths: Iterable[str | os.PathLike], *, groups: list[str] | None = None,
                   lang: str | None = None, root: str | os.PathLike | None = None,
                   on_skip: Callable[[str, str], None] | None = None,
                   on_warn: Callable[[str], None] | None = None,
                   stream_bytes: int | None = None) -> Iterator[Document]:
    """Documents of every file under `paths`, one file at a time; a file that cannot be loaded
    (or repeats an id already seen) is skipped whole and reported through ``on_skip(path, message)``
    (message: ``"<path>: <reason>"``). In a JSONL file only the bad lines are skipped: each of the
    first 20 is reported as ``on_skip("<path>:<line>", "<path>:<line>: <reason>")``, then one
    report counts the rest. With ``on_skip=None`` the first bad file or line raises instead (strict).
    ``stream_bytes``: see :func:`load_path`."""
    paths = list(paths)
    root = common_root(paths) if root is None else root
    seen: dict[str, str] = {}

    def skip(path: Path, reason: str) -> None:
        message = reason if reason.startswith(str(path)) else f"{path}: {reason}"
        if on_skip is None:
            raise ThaijaError(message)
        on_skip(str(path), message)

    for f, reason in walk_files(paths):
        try:
            str(f).encode("utf-8")
        except UnicodeEncodeError:  # a file name in another encoding (Latin-1 "caf\xe9.txt"): no id for it
            f = Path(os.fsencode(f).decode("utf-8", "backslashreplace"))
            reason = "file name is not valid UTF-8 (rename it to index it)"
        if reason is not None:
            skip(f, reason)
            continue
        bad: list[tuple[int, str]] = []
        try:
            docs = load_path(f, groups=groups, lang=lang, root=root, on_warn=on_warn, stream_bytes=stream_bytes,
                             on_bad=None if on_skip is None else (lambda n, m: bad.append((n, m))))
        except ThaijaError as exc:
            skip(f, str(exc))
            continue
        for n, message in bad[:MAX_BAD_LINES_SHOWN]:
            on_skip(f"{f}:{n}", message)  # type: ignore[misc]
        if len(bad) > MAX_BAD_LINES_SHOWN:
            more = len(bad) - MAX_BAD_LINES_SHOWN
            on_skip(str(f), f"{f}: {more} more bad line{'s' if more > 1 else ''} "  # type: ignore[misc]
                            f"(lines {bad[MAX_BAD_LINES_SHOWN][0]}..{bad[-1][0]}); {len(bad)} in all")
        dup = next((d for d in docs if d.id in seen), None)
        if dup is not None:
            skip(f, f"duplicate document id {dup.id!r} (also in {seen[dup.id]})")
            continue
        for d in docs:
            seen[d.id] = d.source
        yield from docs


def iter_beir_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a JSONL file with file:line errors (used by eval): strict JSON
    through :func:`thaija.validate.iter_jsonl` (depth, huge ints, NaN, surrogates, NUL; a file
    without records is an error)."""
    from thaija.validate import iter_jsonl

    yield from iter_jsonl(path, text=_read_text(path))
