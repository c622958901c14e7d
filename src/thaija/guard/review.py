"""Human review queue for answers: a small SQLite file beside the index.

For the index ``X`` (e.g. ``./thaija.db``) the queue lives in ``X.review.sqlite``; for a Milvus
server index in ``review.sqlite`` inside its state folder (:func:`review_path`). ``thaija ask``
adds refused and low-confidence answers together with the retrieved candidates the answer was
chosen from; users flag answers; a reviewer approves, rejects or edits them (``thaija review`` or the ``/review`` page of ``thaija serve``), and
:meth:`ReviewQueue.export` writes the approved pairs as tune-stage chat JSONL, closing the loop
from retrieval-augmented answers to fine-tuning.

Status rules: every item starts ``pending``; ``approve`` / ``reject`` set the status (a reviewer may
change their mind, any status can move to any other); ``edit`` stores the corrected answer in
``edited_answer`` (the original answer is kept) and APPROVES the item unless ``approve=False``;
``flag`` marks an item for a specialist and puts it back to ``pending`` (approve, edit or reject
clear the flag). Export rule: a *refused* item approved without an edit is never exported — its
answer is the refusal text, not a training target.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

from thaija.config import setting
from thaija.errors import ThaijaError

REASONS: tuple[str, ...] = ("refused", "low_confidence", "user_flagged")
STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")
#: Why ``thaija ask`` refused or flagged an answer (stored in the item's ``note``), for reviewers.
CAUSES: dict[str, str] = {
    "weak_evidence": "support below the language's refusal threshold",
    "fact_missing": "the asked quantity, model or brand is in no retrieved document that could answer",
    "below_min_support": "support below the asker's --min-support",
    "unsupported_answer": "the generated answer was not supported by the cited sentences",
    "instruction_echo": "the answer echoed an instruction from a document",
    "model_refused": "the model itself declined to answer",
    "low_confidence": "answered, but support is in the low-confidence band or a checked fact is absent",
}
SUFFIX = ".review.sqlite"
SCHEMA_VERSION = 2
CANDIDATE_CHARS = 1200  # retrieved text kept per candidate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT NOT NULL,                 -- ISO 8601, UTC
    updated_at    TEXT NOT NULL,
    question      TEXT NOT NULL,
    lang          TEXT NOT NULL,
    answer        TEXT NOT NULL,
    citations     TEXT NOT NULL DEFAULT '[]',    -- JSON list of citation objects
    reason        TEXT NOT NULL CHECK (reason IN ('refused', 'low_confidence', 'user_flagged')),
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    edited_answer TEXT,
    groups        TEXT NOT NULL DEFAULT '[]',    -- JSON list: the asker's access groups
    score         REAL,                          -- the pipeline's evidence score, if any
    note          TEXT,
    candidates    TEXT NOT NULL DEFAULT '[]',    -- JSON list: retrieved chunks the answer was chosen from
    flagged       INTEGER NOT NULL DEFAULT 0,    -- 1: a reviewer asked for a specialist's look
    reviewer_note TEXT
);
CREATE INDEX IF NOT EXISTS items_status ON items (status, id);
"""
_COLUMNS = ("id", "created_at", "updated_at", "question", "lang", "answer", "citations", "reason",
            "status", "edited_answer", "groups", "score", "note", "candidates", "flagged", "reviewer_note")
_V2_COLUMNS = {"candidates": "TEXT NOT NULL DEFAULT '[]'", "flagged": "INTEGER NOT NULL DEFAULT 0",
               "reviewer_note": "TEXT"}
_CITATION_MARK = re.compile(r"\s?\[\d+(?:\s*[,，、]\s*\d+)*\]")


class ReviewError(ThaijaError, ValueError):
    """Bad review request: unknown id, unknown status/reason, missing queue file."""


_SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")


def _server_state_dir(db: str) -> str:
    """The state folder of a Milvus server index, as ``thaija.index.store.state_dir_for`` gives it
    ($THAIJA_STATE, else ``${XDG_STATE_HOME:-~/.local/state}/thaija/<host_port>``). Written here
    because guard may not import index (index imports guard); tests/test_guard_review_path.py keeps
    the two equal."""
    env = os.environ.get("THAIJA_STATE")
    if env:
        return os.path.expanduser(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "thaija", re.sub(r"[^A-Za-z0-9_.-]+", "_", db.split("://", 1)[-1]).strip("_"))


def review_path(db: str | os.PathLike[str]) -> str:
    """The queue file for an index: ``X`` -> ``X.review.sqlite`` beside a Milvus Lite file; for a
    server URI ``review.sqlite`` in the index's state folder (the same for every process and
    machine sharing the server), unless a queue from an earlier version exists at
    ``<URI>.review.sqlite`` under the working folder (kept in use). A queue path is kept as is."""
    db = os.fspath(db)
    if db.endswith(SUFFIX):
        return db
    if db.startswith(_SERVER_SCHEMES):
        old = db + SUFFIX
        return old if os.path.isfile(old) else os.path.join(_server_state_dir(db), "review.sqlite")
    return db + SUFFIX


@dataclass(frozen=True)
class ReviewItem:
    """One queued answer."""

    id: int
    created_at: str
    updated_at: str
    question: str
    lang: str
    answer: str
    citations: list[dict[str, Any]]
    reason: str
    status: str
    edited_answer: str | None = None
    groups: list[str] = field(default_factory=list)
    score: float | None = None
    note: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    flagged: bool = False
    reviewer_note: str | None = None

    @property
    def final_answer(self) -> str:
        """The reviewer's edit if there is one, else the original answer."""
        return self.edited_answer if self.edited_answer is not None else self.answer

    @property
    def exportable(self) -> bool:
        """Approved, and not a refusal approved without an edit (the refusal text is no target)."""
        return self.status == "approved" and not (self.reason == "refused" and self.edited_answer is None)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``thaija review show --json``)."""
        return {c: getattr(self, c) for c in _COLUMNS}


@dataclass(frozen=True)
class ReviewConfig:
    """Where the queue lives; ``create=False`` makes a missing file an error instead."""

    path: str = setting(help="The review queue file (SQLite), e.g. DB + '.review.sqlite'.")
    create: bool = setting(True, "Create the queue file when it does not exist (else a missing file is an error).")

    def __post_init__(self) -> None:
        if not str(self.path):
            raise ReviewError("review queue path is empty")
        if os.path.isdir(self.path):
            raise ReviewError(f"{self.path}: is a directory, not a review queue file")
        if not self.create and not os.path.exists(self.path):
            raise ReviewError(f"{self.path}: no review queue here yet (it is created when the first "
                              "answer is queued; pass the index with --db)")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ReviewError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return value


def _plain(citations: Sequence[Any]) -> list[dict[str, Any]]:
    """Citations as JSON-ready dicts (accepts dicts, objects with ``to_dict()`` and dataclasses)."""
    out = []
    for c in citations:
        if isinstance(c, dict):
            out.append(dict(c))
        elif hasattr(c, "to_dict"):
            out.append(c.to_dict())
        elif dataclasses.is_dataclass(c) and not isinstance(c, type):
            out.append(dataclasses.asdict(c))
        else:
            raise ReviewError(f"a citation must be a dict, not {type(c).__name__}")
    return out


def plain_candidates(hits: Sequence[Any]) -> list[dict[str, Any]]:
    """Retrieved hits (``retrieve.Hit`` or dicts) as the JSON stored with an item; text is capped."""
    out = []
    for h in hits:
        d = dict(h) if isinstance(h, dict) else (h.to_dict() if hasattr(h, "to_dict") else dataclasses.asdict(h))
        rec = {k: d.get(k) for k in ("rank", "score", "chunk_id", "doc_id", "lang", "start", "end", "source")}
        text = str(d.get("text") or "")
        rec["text"] = text[:CANDIDATE_CHARS]
        rec["truncated"] = len(text) > CANDIDATE_CHARS
        if rec["score"] is not None:
            rec["score"] = round(float(rec["score"]), 6)
        out.append(rec)
    return out


def strip_citation_marks(text: str) -> str:
    """Remove ``[1]`` / ``[1, 2]`` markers (they point at retrieved text the tuned model won't see)."""
    return _CITATION_MARK.sub("", text).strip()


class ReviewQueue:
    """SQLite-backed review queue. Each call opens its own connection, so one queue object may be
    shared by threads (the server) and several processes may use the same file."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.config = ReviewConfig(os.fspath(path), create=create)
        self.path = self.config.path
        parent = os.path.dirname(os.path.abspath(self.path))
        if create:
            os.makedirs(parent, exist_ok=True)
        con = self._connect()
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ReviewError(f"{self.path}: written by a newer thaija (schema {version})")
            con.executescript(_SCHEMA)
            have = {r[1] for r in con.execute("PRAGMA table_info(items)")}
            for col, decl in _V2_COLUMNS.items():  # a version-1 queue gains the new columns
                if col not in have:
                    con.execute(f"ALTER TABLE items ADD COLUMN {col} {decl}")
            if version < SCHEMA_VERSION:
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.commit()
        except sqlite3.DatabaseError as exc:
            raise ReviewError(f"{self.path}: not a review queue ({exc})") from exc
        finally:
            con.close()

    @classmethod
    def for_index(cls, db: str | os.PathLike[str], *, create: bool = True) -> "ReviewQueue":
        """The queue of the index ``db`` (:func:`review_path`)."""
        return cls(review_path(db), create=create)

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path, timeout=10.0)
        except sqlite3.Error as exc:
            raise ReviewError(f"{self.path}: cannot open the review queue ({exc})") from exc

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        con = self._connect()
        try:
            with con:
                return con.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ReviewError(f"{self.path}: {exc}") from exc
        finally:
            con.close()

    # ------------------------------------------------------------------ writing
    def add(self, question: str, answer: str, lang: str, citations: Sequence[dict[str, Any]] = (),
            reason: str = "refused", *, groups: Sequence[str] | None = None,
            score: float | None = None, note: str | None = None, candidates: Sequence[Any] = ()) -> int:
        """Queue an answer for review; returns its id. ``reason``: refused | low_confidence | user_flagged.

        ``candidates``: the retrieved hits the answer was chosen from (kept so a reviewer of a refusal
        sees what the index offered)."""
        _check(reason, REASONS, "reason")
        if not question.strip():
            raise ReviewError("question is empty")
        now = _now()
        con = self._connect()
        try:
            with con:
                cur = con.execute(
                    "INSERT INTO items (created_at, updated_at, question, lang, answer, citations, reason,"
                    " status, groups, score, note, candidates) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                    (now, now, question, lang, answer, json.dumps(_plain(citations), ensure_ascii=False),
                     reason, json.dumps(list(groups or []), ensure_ascii=False),
                     None if score is None else float(score), note,
                     json.dumps(plain_candidates(candidates), ensure_ascii=False)))
                return int(cur.lastrowid)
        finally:
            con.close()

    def _set(self, item_id: int, **values: Any) -> ReviewItem:
        self.get(item_id)  # unknown id -> ReviewError
        values["updated_at"] = _now()
        cols = ", ".join(f"{k} = ?" for k in values)
        self._run(f"UPDATE items SET {cols} WHERE id = ?", (*values.values(), int(item_id)))
        return self.get(item_id)

    @staticmethod
    def _note(note: str | None) -> dict[str, Any]:
        return {} if note is None else {"reviewer_note": note.strip() or None}

    def approve(self, item_id: int, *, note: str | None = None) -> ReviewItem:
        """Mark as approved (exported by :meth:`export`, except a refusal without an edit)."""
        return self._set(item_id, status="approved", flagged=0, **self._note(note))

    def reject(self, item_id: int, *, note: str | None = None) -> ReviewItem:
        """Mark as rejected (never exported)."""
        return self._set(item_id, status="rejected", flagged=0, **self._note(note))

    def edit(self, item_id: int, new_answer: str, *, approve: bool = True, note: str | None = None) -> ReviewItem:
        """Store a corrected answer; approves the item unless ``approve=False`` (then it stays as it was)."""
        if not new_answer.strip():
            raise ReviewError("the edited answer is empty")
        if approve:
            return self._set(item_id, edited_answer=new_answer, status="approved", flagged=0, **self._note(note))
        return self._set(item_id, edited_answer=new_answer, **self._note(note))

    def flag(self, item_id: int, *, note: str | None = None) -> ReviewItem:
        """Ask for a specialist's look: flagged, back to ``pending`` (so not exported) until decided."""
        return self._set(item_id, status="pending", flagged=1, **self._note(note))

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _item(row: tuple) -> ReviewItem:
        d = dict(zip(_COLUMNS, row))
        d["citations"] = json.loads(d["citations"] or "[]")
        d["groups"] = json.loads(d["groups"] or "[]")
        d["candidates"] = json.loads(d["candidates"] or "[]")
        d["flagged"] = bool(d["flagged"])
        return ReviewItem(**d)

    def get(self, item_id: int) -> ReviewItem:
        """One item; unknown id raises :class:`ReviewError`."""
        if not 0 < int(item_id) < 2**63:  # beyond SQLite's INTEGER: no such item (not an OverflowError)
            raise ReviewError(f"no review item with id {item_id} in {self.path}")
        rows = self._run(f"SELECT {', '.join(_COLUMNS)} FROM items WHERE id = ?", (int(item_id),))
        if not rows:
            raise ReviewError(f"no review item with id {item_id} in {self.path}")
        return self._item(rows[0])

    def list(self, status: str | None = None, *, reason: str | None = None, lang: str | None = None,
             flagged: bool | None = None, limit: int | None = None) -> list[ReviewItem]:
        """Items in id order, optionally filtered by status / reason / lang / flag."""
        where, args = [], []
        if flagged is not None:
            where.append("flagged = ?")
            args.append(1 if flagged else 0)
        if status is not None:
            where.append("status = ?")
            args.append(_check(status, STATUSES, "status"))
        if reason is not None:
            where.append("reason = ?")
            args.append(_check(reason, REASONS, "reason"))
        if lang is not None:
            where.append("lang = ?")
            args.append(lang)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._item(r) for r in self._run(sql, args)]

    @staticmethod
    def repeats(items: Sequence[ReviewItem]) -> dict[int, list[int]]:
        """Items asking the same question (NFKC, case and white space aside): for each item id, the ids of
        all items with its question, oldest first (``review list --unique`` shows the newest once)."""
        import unicodedata

        groups: dict[str, list[int]] = {}
        for it in items:
            key = "".join(unicodedata.normalize("NFKC", it.question).casefold().split())
            groups.setdefault(key, []).append(it.id)
        return {i: ids for ids in groups.values() for i in ids}

    def counts(self) -> dict[str, int]:
        """Number of items per status (every status present, 0 when none)."""
        out = {s: 0 for s in STATUSES}
        out.update({s: n for s, n in self._run("SELECT status, COUNT(*) FROM items GROUP BY status")})
        return out

    def unexported_refusals(self, *, lang: str | None = None) -> int:
        """Approved refusals without an edit: kept out of :meth:`export` (say so to the reviewer)."""
        return sum(1 for i in self.list("approved", reason="refused", lang=lang) if i.edited_answer is None)

    # ------------------------------------------------------------------ export
    def training_records(self, *, keep_citations: bool = False, redact_pii: bool = True,
                         lang: str | None = None,
                         visible: Callable[[ReviewItem], bool] | None = None) -> Iterator[dict[str, Any]]:
        """Approved items as tune-stage records ``{"messages": [...], "lang": ..., "source": "review"}``,
        plus ``"groups": [...]`` when the answer came from documents restricted to access groups.

        The final answer is the reviewer's edit if any; a refused item approved without an edit is
        skipped (see :attr:`ReviewItem.exportable`). Citation markers are stripped (the tuned model
        sees no retrieved passages) unless ``keep_citations``; PII is replaced by ``[TYPE]``
        placeholders in question and answer unless ``redact_pii=False``. ``visible``: only items it
        accepts (the server passes the caller's access check).
        """
        redact = None
        if redact_pii:
            from thaija.guard.pii import redact
        for item in self.list("approved", lang=lang):
            if not item.exportable or (visible is not None and not visible(item)):
                continue
            q, a = item.question, item.final_answer
            if not keep_citations:
                a = strip_citation_marks(a)
            if redact is not None:
                q, a = redact(q)[0], redact(a)[0]
            if not q.strip() or not a.strip():
                continue
            rec: dict[str, Any] = {"messages": [{"role": "user", "content": q},
                                                {"role": "assistant", "content": a}]}
            if item.lang.strip():  # the tune stage detects the language when "lang" is absent
                rec["lang"] = item.lang
            rec["source"] = "review"
            if item.groups:  # restricted answers keep their access label into the training data
                rec["groups"] = list(item.groups)
            yield rec

    def export(self, path: str | os.PathLike[str], *, keep_citations: bool = False,
               redact_pii: bool = True, lang: str | None = None) -> int:
        """Write the approved pairs as JSONL (see :meth:`training_records`); returns the record count.

        The file is written to a temporary name and renamed, so a failed export leaves no half file.
        """
        path = os.fspath(path)
        if os.path.isdir(path):
            raise ReviewError(f"{path}: is a directory; give a .jsonl file name")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise ReviewError(f"{path}: folder {parent} does not exist")
        tmp = f"{path}.tmp{os.getpid()}"
        n = 0
        try:
            try:
                fh = open(tmp, "w", encoding="utf-8", newline="\n")
            except OSError as exc:
                raise ReviewError(f"{path}: cannot write ({exc.strerror})") from None
            with fh:
                for rec in self.training_records(keep_citations=keep_citations, redact_pii=redact_pii,
                                                 lang=lang):
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return n
