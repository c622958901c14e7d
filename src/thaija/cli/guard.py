"""CLI for the guardrails: `thaija redact` (PII) and `thaija review ...` (human review queue).

Thin: parse, call thaija.guard.pii / thaija.guard.review, print.
"""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Optional

import typer

from thaija.cli._common import FORMATS, fail, iter_lines, option, print_json
from thaija.guard.config import RedactConfig  # light (no detector imported)
from thaija.guard.review import CAUSES  # light (sqlite, json)

if TYPE_CHECKING:
    from thaija.guard.review import ReviewItem, ReviewQueue

DB_HELP = "The index path (default: $THAIJA_DB, else the nearest thaija.db in this folder or above); the queue is the file beside it, DB + '.review.sqlite' (a *.review.sqlite path is used as is)."
DEFAULT_DB = None  # THAIJA_DB, else the nearest thaija.db (as every other command), else ./thaija.db


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------ redact

def redact_cmd(
    text: Optional[str] = typer.Argument(None, help="Text to redact."),
    file: Optional[str] = typer.Option(None, "--file", "-f",
                                       help="Read this UTF-8 file instead of TEXT, one result per line ('-' = standard input)."),
    format: str = typer.Option("text", "--format",
                               help="text: the redacted lines; jsonl: {\"text\", \"findings\": [{\"type\", \"start\", \"end\"}]} per input line."),
    types: Optional[str] = option(RedactConfig, "types", "--types"),
    placeholder: str = option(RedactConfig, "placeholder", "--placeholder"),
) -> None:
    """Find and redact PII in Thai, Japanese and English text.

    Detects Thai national IDs (13 digits, mod-11 check digit) and Japanese My Numbers (12 digits, check
    digit), payment cards (Luhn), Thai/Japanese phone numbers (landline, mobile, +66/+81, full-width
    digits) and e-mail addresses, and replaces each with a placeholder such as [PHONE]. Numbers that fail
    their checksum are not reported as IDs; dates, prices and years are left alone. Findings' start/end
    are Python string offsets into the input line.
    """
    from thaija.guard.pii import redact

    if format not in FORMATS:
        fail(f"unknown format {format!r}: use text or jsonl")
    if text is not None and file is not None:
        fail("give TEXT or --file, not both")
    cfg = RedactConfig(types=types, placeholder=placeholder)  # validated before reading input
    for line in iter_lines(text, file):
        redacted, findings = redact(line, cfg.types, placeholder=cfg.placeholder)
        if format == "jsonl":
            _emit({"text": redacted, "findings": [f.to_dict() for f in findings]})
        else:
            typer.echo(redacted)


# ------------------------------------------------------------------------------------ review

review_app = typer.Typer(
    help="Human review of refused, low-confidence and user-flagged answers; export approved pairs for tuning.",
    no_args_is_help=True,
)


def _queue(db: str | None, *, create: bool = False) -> "ReviewQueue":
    import os

    from thaija.guard.review import ReviewQueue, review_path
    from thaija.index.locate import find_db

    db = db or os.environ.get("THAIJA_DB") or find_db() or "./thaija.db"
    return ReviewQueue(review_path(db), create=create)


def _line(item: "ReviewItem", times: int = 1) -> str:
    question = " ".join(item.question.split())
    if len(question) > 60:
        question = question[:59] + "…"
    edited = " edited" if item.edited_answer is not None else ""
    edited += " flagged" if item.flagged else ""
    reason = item.reason
    if item.reason == "refused" and item.note in CAUSES:   # why: weak evidence, a missing fact ...
        reason += f" ({item.note})"
    if times > 1:
        question += f"  (asked {times}×)"
    return f"{item.id}\t{item.status}{edited}\t{reason}\t{item.lang}\t{item.created_at}\t{question}"


def _show_text(item: "ReviewItem") -> None:
    typer.echo(f"id:        {item.id}")
    typer.echo(f"status:    {item.status}")
    typer.echo(f"reason:    {item.reason}")
    typer.echo(f"lang:      {item.lang}")
    typer.echo(f"created:   {item.created_at}   updated: {item.updated_at}")
    if item.groups:
        typer.echo(f"groups:    {', '.join(item.groups)}")
    if item.score is not None:
        typer.echo(f"score:     {item.score:.4f}")
    typer.echo(f"question:  {item.question}")
    typer.echo(f"answer:    {item.answer}")
    if item.edited_answer is not None:
        typer.echo(f"edited:    {item.edited_answer}")
    if item.note:
        why = f" ({CAUSES[item.note]})" if item.note in CAUSES else ""
        typer.echo(f"note:      {item.note}{why}")
    if item.flagged:
        typer.echo("flagged:   yes (waiting for a specialist)")
    if item.reviewer_note:
        typer.echo(f"reviewer:  {item.reviewer_note}")
    if item.status == "approved" and not item.exportable:
        typer.echo("export:    no (a refusal approved without an edit is not a training target)")
    for c in item.citations:
        where = f"{c.get('doc_id', '?')}[{c.get('start', '?')}:{c.get('end', '?')}]"
        typer.echo(f"  [{c.get('n', '?')}] {where} {c.get('quote', '')}")
    if item.candidates:
        typer.echo("retrieved:")
    for c in item.candidates:
        text = " ".join(str(c.get("text") or "").split())
        text = text[:99] + "…" if len(text) > 100 else text
        typer.echo(f"  #{c.get('rank', '?')} {c.get('doc_id', '?')}[{c.get('start', '?')}:{c.get('end', '?')}] {text}")


@review_app.command("list")
def review_list(
    db: Optional[str] = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
    status: Optional[str] = typer.Option(None, "--status", help="Only items with this status: pending, approved or rejected (default: all)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Only items queued for this reason: refused, low_confidence or user_flagged."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only items in this language (th, ja, en)."),
    flagged: bool = typer.Option(False, "--flagged", help="Only items flagged for a specialist."),
    unique: bool = typer.Option(False, "--unique", help="One line per question (case, width and spacing aside): "
                                "the newest item, with how many times it was asked; --json adds `repeats`, the ids of all of them."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of full items instead of one line per item."),
) -> None:
    """List queued answers: id, status, reason (a refusal's cause in brackets), language, time and question."""
    from thaija.guard.review import ReviewQueue

    _check_lang(lang)
    items = _queue(db).list(status, reason=reason, lang=lang, flagged=True if flagged else None)
    same = ReviewQueue.repeats(items) if unique else {}
    if unique:
        items = [i for i in items if same[i.id][-1] == i.id]
    if as_json:
        print_json([{**i.to_dict(), **({"repeats": same[i.id]} if unique else {})} for i in items])
        return
    for item in items:
        typer.echo(_line(item, len(same[item.id]) if unique else 1))
    if not items:
        typer.echo("no items", err=True)


@review_app.command("show")
def review_show(
    item_id: int = typer.Argument(..., metavar="ID", help="Item id (see `thaija review list`)."),
    db: Optional[str] = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the item as JSON."),
) -> None:
    """Show one item: question, answer, edit, citations and the retrieved candidates."""
    item = _queue(db).get(item_id)
    if as_json:
        print_json(item.to_dict())
    else:
        _show_text(item)


@review_app.command("approve")
def review_approve(
    item_id: int = typer.Argument(..., metavar="ID", help="Item id."),
    note: Optional[str] = typer.Option(None, "--note", help="A reviewer's note kept with the item."),
    db: Optional[str] = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Approve an answer as it is (approved items are exported for tuning, except a refusal without an edit)."""
    item = _queue(db).approve(item_id, note=note)
    typer.echo(f"{item.id}\t{item.status}")
    if not item.exportable:
        typer.echo("note: a refusal approved without an edit is not exported; use `review edit` to give the right answer",
                   err=True)


@review_app.command("reject")
def review_reject(
    item_id: int = typer.Argument(..., metavar="ID", help="Item id."),
    note: Optional[str] = typer.Option(None, "--note", help="A reviewer's note kept with the item."),
    db: Optional[str] = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Reject an answer (never exported)."""
    item = _queue(db).reject(item_id, note=note)
    typer.echo(f"{item.id}\t{item.status}")


@review_app.command("edit")
def review_edit(
    item_id: int = typer.Argument(..., metavar="ID", help="Item id."),
    answer: str = typer.Option(..., "--answer", help="The corrected answer."),
    keep_pending: bool = typer.Option(False, "--keep-pending", help="Store the edit but do not approve the item."),
    db: Optional[str] = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Replace the answer with a reviewer's correction; this also approves the item unless --keep-pending."""
    item = _queue(db).edit(item_id, answer, approve=not keep_pending)
    typer.echo(f"{item.id}\t{item.status} edited")


def _check_lang(lang: Optional[str]) -> None:
    """--lang th|ja|en: another value would select nothing, silently."""
    if lang is not None and lang not in ("th", "ja", "en"):
        from thaija.errors import ThaijaError

        raise ThaijaError(f"--lang must be th, ja or en, got {lang!r}")


@review_app.command("export")
def review_export(
    out: str = typer.Argument(..., metavar="OUT.jsonl", help="Output file (overwritten); - writes to standard output."),
    db: Optional[str] = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only items in this language (th, ja, en)."),
    keep_citations: bool = typer.Option(False, "--keep-citations", help="Keep [n] citation markers in answers."),
    no_redact: bool = typer.Option(False, "--no-redact", help="Do not replace PII with [TYPE] placeholders."),
) -> None:
    """Write approved question/answer pairs as tune-stage JSONL.

    One record per approved item: {"messages": [{"role": "user", ...}, {"role": "assistant", ...}],
    "lang": ..., "source": "review", "groups": [...] (only for answers from restricted documents)}; the
    answer is the reviewer's edit when there is one. Feed the file
    to `thaija tune`.
    """
    _check_lang(lang)
    queue = _queue(db)
    if out == "-":
        import json
        import sys

        n = 0
        for rec in queue.training_records(keep_citations=keep_citations, redact_pii=not no_redact, lang=lang):
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
        sys.stdout.flush()
    else:
        n = queue.export(out, keep_citations=keep_citations, redact_pii=not no_redact, lang=lang)
    typer.echo(f"exported {n} approved item(s) to {'standard output' if out == '-' else out}", err=True)
    skipped = queue.unexported_refusals(lang=lang)
    if skipped:
        typer.echo(f"not exported: {skipped} refusal(s) approved without an edit (no answer to learn)", err=True)


@review_app.command("flag")
def review_flag(
    question: Optional[str] = typer.Argument(None, help="The question that was asked (not with --id)."),
    answer: Optional[str] = typer.Option(None, "--answer", help="The answer the user flags as wrong or unhelpful."),
    lang: str = typer.Option("auto", "--lang", help="Language of the question: auto (detect), th, ja or en."),
    note: Optional[str] = typer.Option(None, "--note", help="Why it was flagged (free text)."),
    item_id: Optional[int] = typer.Option(None, "--id", help="Flag an existing item for a specialist instead (it goes back to pending)."),
    db: Optional[str] = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
) -> None:
    """Queue an answer a user flagged (reason user_flagged) and print its id; or, with --id, flag an
    existing item for a specialist's look."""
    if item_id is not None:
        if question is not None or answer is not None:
            fail("--id flags an existing item: give no QUESTION or --answer with it")
        item = _queue(db).flag(item_id, note=note)
        typer.echo(f"{item.id}\t{item.status} flagged")
        return
    if question is None or answer is None:
        fail("give QUESTION and --answer (or --id ID to flag an existing item)")
    if not answer.strip():
        fail("--answer is empty")
    if lang == "auto":
        from thaija.lang import detect

        lang = detect(question).lang
    elif lang not in ("th", "ja", "en"):
        fail(f"unknown language {lang!r}: use auto, th, ja or en")
    typer.echo(str(_queue(db, create=True).add(question, answer, lang, [], "user_flagged", note=note)))


def register(app: typer.Typer) -> None:
    """Attach `redact` and the `review` sub-commands to the top-level app."""
    app.command("redact")(redact_cmd)
    app.add_typer(review_app, name="review")
