"""The index root moves up to cover every folder added, so document ids do not depend on the order
of `index add` calls (QA Q10).

A file's id is its path relative to the index root (:mod:`thaija.index.documents`). The root is
fixed by the first add; before this module, adding a parent (or sibling) folder later gave the new
files ``../`` ids while the first files kept ids relative to the old root, so ``add docs/hr; add
docs`` and ``add docs; add docs/hr`` built different ids for the same files. Now, when an add's
inputs reach outside the root, the root becomes the common folder of the old root and the inputs,
and the documents whose ids are file paths (``source == doc_id``: files, and JSONL lines without an
``id``) are re-keyed under it (re-added under the new id from their stored text, groups, title and
metadata: nothing is re-embedded, the embedding cache holds their chunks; then the old ids are
removed). Record ids from JSONL (``"id": "faq-1"``) never change. An explicit ``--root`` is left
alone (its ``../`` ids are the user's choice), and so is a root whose only common folder with the
inputs is the file system's root (unrelated trees keep ``../`` ids instead of re-keying everything). The move is recorded in the registry
(``root_move``) before it starts, so an interrupted move is finished by the next add.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from thaija.errors import ThaijaError
from thaija.index.documents import Document, common_root, doc_id_for

_MOVE = "root_move"


def _declared_lang(index: Any, old_id: str, doc: Document, detected: str | None) -> str | None:
    """The language the document was added with (None: detected per chunk): the one whose
    fingerprint matches the stored one, so the next add finds the re-keyed document unchanged."""
    from thaija.index.writer import fingerprint

    stored = index.registry.fingerprints([old_id]).get(old_id)
    for lang in (None, detected):
        try:
            if fingerprint(Document(old_id, doc.text, title=doc.title, lang=lang, groups=doc.groups,
                                    metadata=doc.metadata, source=doc.source), index.config) == stored:
                return lang
        except Exception:  # noqa: BLE001 - an unusual stored record: detect per chunk
            break
    return None


def _finish(index: Any, move: dict[str, Any], on_warn: Callable[[str], None] | None) -> list[tuple[str, str]]:
    reg = index.registry
    known = set(reg.doc_ids())
    moves = [m for m in move["moves"] if m[0] in known]
    detected = {d["doc_id"]: d["lang"] for d in reg.documents()}
    docs = []
    for old_id, new_id, new_source in moves:
        d = reg.document(old_id) or {}
        old = Document(old_id, d.get("text") or "", title=d.get("title") or "", groups=list(d.get("groups") or []),
                       metadata=dict(d.get("metadata") or {}), source=d.get("source") or "")
        lang = _declared_lang(index, old_id, old, detected.get(old_id))
        docs.append(Document(new_id, old.text, title=old.title, lang=lang, groups=old.groups,
                             metadata=old.metadata, source=new_source))
    if docs:
        index.add_documents(docs, progress=False)
    old_ids = [a for a, b, _ in moves if a != b]
    if old_ids:
        exact = [a for a in old_ids if index.resolve_targets([a]) == [a]]
        if len(exact) < len(old_ids) and on_warn:
            on_warn(f"{len(old_ids) - len(exact)} old ids kept (a file of that name in the working folder)")
        if exact:
            index.remove(exact)
    with reg.db:
        reg.set_meta("root", move["to"])
        reg.db.execute("DELETE FROM meta WHERE key=?", (_MOVE,))
    index.root = move["to"]
    renamed = [(a, b) for a, b, _ in moves if a != b]
    if on_warn:
        eg = (f": {len(renamed)} document id{'s' if len(renamed) != 1 else ''} re-keyed, e.g. "
              f"{renamed[0][0]} -> {renamed[0][1]}") if renamed else ""
        on_warn(f"index root moved up to {move['to']} (it covers every folder added){eg}")
    return renamed


@contextmanager
def _move_lock(index: Any) -> Iterator[None]:
    """One root move at a time: an exclusive ``flock`` on ``<state>/root-move/LOCK``, waited for up
    to the index's lock timeout (a line on stderr while waiting). Without ``fcntl``: no lock."""
    from thaija.index.store import lock_lite_file

    def waiting(_: str, waited: float, timeout: float) -> None:
        import sys

        print(f"thaija: {index.config.db}: another `index add` is moving the index root; waiting "
              f"({waited:.0f} of {timeout:g} s; --lock-timeout)…", file=sys.stderr, flush=True)

    try:
        f = lock_lite_file(str(index.state / "root-move"), getattr(index.config, "lock_timeout", None),
                           on_wait=waiting)
    except ImportError:  # pragma: no cover - Windows
        f = None
    except ThaijaError:
        raise ThaijaError(f"{index.config.db}: another `thaija index add` is still moving the index root: let it "
                          f"finish and re-run the same command, or raise --lock-timeout") from None
    try:
        yield
    finally:
        if f is not None:
            f.close()       # closing the file releases its flock


def _target(index: Any, paths: Sequence[str]) -> Path | None:
    """The folder the root must move up to for ``paths``, or None when it stays."""
    if not index.root:
        return None
    old = Path(index.root)
    try:
        new = Path(os.path.commonpath([str(old), str(common_root(paths))]))
    except ValueError:  # pragma: no cover - different drives on Windows
        return None
    if new == old or new == Path(new.anchor):  # unrelated trees (only "/" in common): ../ ids, nothing moves
        return None
    return new


def widen_root(index: Any, paths: Sequence[str], root: str | None = None,
               on_warn: Callable[[str], None] | None = None) -> list[tuple[str, str]]:
    """Before adding ``paths`` to ``index`` (an :class:`thaija.index.Index`): move its root up to
    the common folder of the root and the inputs when they reach outside it, re-keying path ids
    (see the module doc). Returns the re-keyed ``(old id, new id)`` pairs; nothing to do without a stored
    root, with an explicit ``root``, or when the inputs lie under the root. A move runs under its own
    lock, and what to do is decided again once the lock is held: a second process never finishes a
    move the first one is still making (QA session 5, Q9)."""
    reg = index.registry
    index.root = reg.get_meta("root") or index.root         # a handle kept open: another add may have moved it
    if not reg.get_meta(_MOVE) and (root is not None or _target(index, paths) is None):
        return []
    with _move_lock(index):
        index.root = reg.get_meta("root") or index.root     # another process may have moved it meanwhile
        pending = reg.get_meta(_MOVE)
        if pending:  # a move that was interrupted: finish it first
            return _finish(index, json.loads(pending), on_warn)
        new = None if root is not None else _target(index, paths)
        if new is None:
            return []
        return _start(index, Path(index.root), new, on_warn)


def _start(index: Any, old: Path, new: Path, on_warn: Callable[[str], None] | None) -> list[tuple[str, str]]:
    """Record the move of the root from ``old`` to ``new`` and make it."""
    reg = index.registry

    def rekey(path_id: str) -> str:
        """A path id (``x/y.md`` or a JSONL line's ``x/f.jsonl:3``) relative to the new root."""
        file_part, line = path_id, ""
        head, sep, tail = path_id.rpartition(":")
        if sep and tail.isdigit():
            file_part, line = head, ":" + tail
        return doc_id_for(os.path.normpath(old / file_part), new) + line

    moves = []
    for d in reg.documents():
        did, source = d["doc_id"], d.get("source") or ""
        if not source:
            continue
        new_source = rekey(source)
        # a file's id is its path (source == id) and moves; a JSONL record's own id stays, its source moves
        new_id = new_source if source == did else did
        if (new_id, new_source) != (did, source):
            moves.append([did, new_id, new_source])
    move = {"from": str(old), "to": str(new), "moves": moves}
    with reg.db:
        reg.set_meta(_MOVE, json.dumps(move, ensure_ascii=False))
    return _finish(index, move, on_warn)
