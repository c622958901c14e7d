"""CLI for the index/retrieve stages: `thaija index add|remove|list|stats`, `thaija search`, `thaija eval`.

Thin: parse options, call thaija.index / thaija.retrieve, print. Heavy imports happen inside commands.
"""
from __future__ import annotations

import json
from typing import List, Optional

import typer

from thaija.cli._common import option
from thaija.config import help_of
from thaija.index.config import IndexConfig  # light: no numpy, no Milvus
from thaija.lang.config import LANGS
from thaija.retrieve.config import EvalConfig, SearchConfig  # light: no numpy, no index

DB_DEFAULT = "Default: $THAIJA_DB, else the nearest thaija.db in this folder or a parent."
DB_HELP = f"{help_of(IndexConfig, 'db')} {DB_DEFAULT}"
GROUPS_HELP = "Comma-separated access groups. Documents without groups are public."

index_app = typer.Typer(
    name="index",
    help="Build and maintain the hybrid index (Milvus + per-language BM25): add, remove, list, stats.",
    no_args_is_help=True,
)


def _groups(groups: Optional[str]) -> list[str]:
    from thaija.index.documents import validate_groups

    return validate_groups(groups or "")


def _db(db: Optional[str], create: bool = False) -> str:
    from thaija.index.locate import resolve_db

    return resolve_db(db, create=create)


def _cells(text: str) -> int:
    """Terminal columns of `text` (wide CJK = 2, combining marks = 0)."""
    import unicodedata

    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


_BIDI = {c: f"<U+{c:04X}>" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def _fit(text: str, width: int) -> str:
    """`text` cut (with …) and padded to exactly `width` columns; bidirectional controls shown as
    `<U+202E>` (a file name holding one would display reversed)."""
    text = " ".join(str(text).translate(_BIDI).split())
    if _cells(text) > width:
        out = ""
        for c in text:
            if _cells(out + c) > width - 1:
                break
            out += c
        text = out + "…"
    return text + " " * (width - _cells(text))


def _width() -> int:
    import shutil

    return max(60, min(shutil.get_terminal_size((80, 24)).columns, 120))


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@index_app.command("add")
def add_cmd(
    paths: List[str] = typer.Argument(..., help="Files or folders: .txt .md .jsonl (id,title,text,lang,metadata) .html .pdf .docx .xlsx .pptx"),
    db: Optional[str] = option(IndexConfig, "db", "--db", default=None,
                               note=DB_DEFAULT + " Created (./thaija.db) when none exists."),
    groups: Optional[str] = typer.Option(None, "--groups", help=GROUPS_HELP + " Applied to every added document; without --groups a document already indexed keeps its groups (--groups '' makes it public)."),
    lang: str = typer.Option("auto", "--lang", help="auto (detect per chunk), th, ja or en."),
    root: Optional[str] = typer.Option(None, "--root", help="Folder document ids are relative to (default: the index's "
                                       "root, which moves up to cover inputs in a parent or sibling folder and "
                                       "re-keys path ids; a new index: the common folder of the inputs)."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first file (or JSONL line) that cannot be "
                                "loaded (default: skip it, say why on stderr with file:line, go on)."),
    chunk_tokens: int = option(IndexConfig, "chunk_tokens", "--chunk-tokens"),
    embedder: Optional[str] = option(IndexConfig, "embedder", "--embedder"),
    redact: bool = typer.Option(False, "--redact", help="Replace personal data (Thai ID, My Number, phones, e-mail, cards) before indexing."),
    commit_every: int = option(IndexConfig, "commit_chunks", "--commit-every"),
    lock_timeout: Optional[float] = option(IndexConfig, "lock_timeout", "--lock-timeout", unset=True),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress on stderr: documents, "
                                            "chunks, ETA (default: only on a terminal)."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Add or update documents. Unchanged documents are skipped; changed ones replace their old chunks.

    A file's id is its path relative to the root (see --root), the same from any working folder
    and whatever the order of adds; a .jsonl record's id is its "id" field. While another process
    writes the same index, the add waits for it (see --lock-timeout). Work is committed in batches: an interrupted add keeps
    what it committed, and running the same command again continues where it stopped.
    Exit status 2 only when nothing could be indexed.
    """
    from thaija.errors import ThaijaError
    from thaija.index import Index

    if lang not in LANGS:
        raise ThaijaError(f"unknown language {lang!r}: use auto, th, ja or en")
    db = _db(db, create=True)

    def skipped(path: str, message: str) -> None:
        typer.echo(f"thaija: skipped {message}", err=True)

    def warned(message: str) -> None:
        typer.echo(f"thaija: warning: {message}", err=True)

    # without --embedder an existing index keeps the embedder it was built with
    idx = Index(IndexConfig(db=db, chunk_tokens=chunk_tokens, embedder=embedder, commit_chunks=commit_every,
                            lock_timeout=lock_timeout))
    try:  # inputs beside/above the index root: it moves up, path ids re-keyed (thaija.index.roots)
        s = idx.add_paths(paths, groups=None if groups is None else _groups(groups), lang=None if lang == "auto" else lang, progress=progress,
                          redact=redact, root=root, strict=strict, on_skip=skipped, on_warn=warned)
    except KeyboardInterrupt:
        raise ThaijaError("interrupted: re-run the same command to continue (committed documents are kept "
                          "and skipped, embeddings done so far are cached)") from None
    finally:
        idx.close()
    if json_out:
        typer.echo(json.dumps(s, ensure_ascii=False))
    else:
        skip = f", {len(s['skipped'])} files skipped" if s["skipped"] else ""
        typer.echo(f"{s['documents']} documents: {s['added']} added, {s['replaced']} replaced, "
                   f"{s['unchanged']} unchanged{skip}; chunks: {s['chunks_added']} added, {s['chunks_removed']} "
                   f"removed, {s['chunks_embedded']} newly embedded ({s['seconds']:.1f} s)")


@index_app.command("remove")
def remove_cmd(
    targets: List[str] = typer.Argument(..., help="Document ids, id prefixes (hr/ removes everything under hr) or "
                                        "paths of files/folders that were added."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    lock_timeout: Optional[float] = typer.Option(None, "--lock-timeout", help=help_of(IndexConfig, "lock_timeout")),
    json_out: bool = typer.Option(False, "--json", help="Print {removed, chunks_removed, doc_ids} as JSON."),
) -> None:
    """Remove documents and all their chunks (Milvus, BM25 and registry)."""
    from thaija.index import Index

    idx = Index(IndexConfig(db=_db(db), lock_timeout=lock_timeout))
    try:
        s = idx.remove(targets)
    finally:
        idx.close()
    if json_out:
        typer.echo(json.dumps(s, ensure_ascii=False))
    else:
        typer.echo(f"removed {s['removed']} documents ({s['chunks_removed']} chunks)")


@index_app.command("list")
def list_cmd(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per document (JSON Lines)."),
) -> None:
    """List indexed documents: id, language (detected), chunks, characters, access groups."""
    from thaija.index.handles import open_index

    docs = open_index(_db(db)).list()
    if json_out:
        for d in docs:
            typer.echo(json.dumps(d, ensure_ascii=False))
        return
    if not docs:
        typer.echo("no documents")
        return
    w = _width()
    gw = min(16, max(6, max(_cells(",".join(d["groups"]) or "public") for d in docs)))
    iw = w - (5 + 7 + 9 + gw + 4)
    typer.echo(f"{_fit('ID', iw)} {_fit('LANG', 5)}{'CHUNKS':>7}{'CHARS':>9}  {_fit('GROUPS', gw)}".rstrip())
    for d in docs:
        typer.echo(f"{_fit(d['doc_id'], iw)} {_fit(d['lang'] or '?', 5)}{d['chunks']:>7}{d['characters']:>9}  "
                   f"{_fit(','.join(d['groups']) or 'public', gw)}".rstrip())
    typer.echo(f"{len(docs)} documents")


@index_app.command("stats")
def stats_cmd(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Show counts per language, BM25 vocabulary sizes, embedder, search path and disk usage."""
    from thaija.index.handles import open_index

    st = open_index(_db(db)).stats()
    if json_out:
        typer.echo(json.dumps(st, ensure_ascii=False, indent=2))
        return
    w = _width()
    by_lang = ", ".join(f"{k} {v}" for k, v in sorted(st["chunks_by_lang"].items()))
    bm_rows = [f"{k}: {v['chunks']} chunks, {v['vocabulary']} terms" for k, v in st["bm25"].items()]
    bm = bm_rows[0] if bm_rows else ""
    dense = ("in Milvus (server)" if st["dense_backend"] == "milvus" else "in-process numpy (Milvus Lite file)")
    disk = ", ".join(f"{k} {_size(v)}" for k, v in st["bytes"].items()
                     if not (k == "milvus" and not st.get("milvus_rows")))   # vectors live in the state
    rows = [("index", st["db"]), ("state", st["state_dir"]), ("documents", str(st["documents"])),
            ("chunks", f"{st['chunks']}" + (f" ({by_lang})" if by_lang else "")), ("bm25", bm or "empty"),
            *(("", more) for more in bm_rows[1:]),   # one language per line: never cut at the terminal edge
            ("embedder", f"{st['embedder']}" + (f" ({st['dim']}-d)" if st.get("dim") else "")),
            ("dense search", dense), ("context", str(st.get("context"))), ("root", str(st.get("root") or "-")),
            ("disk", disk)]
    for k, v in rows:
        typer.echo(f"{_fit(k, 13)}{_fit(v, w - 13)}".rstrip())


def search_cmd(
    query: str = typer.Argument(..., help="The question or keywords (any of th / ja / en)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    k: int = option(SearchConfig, "k", "--k"),
    mode: str = option(SearchConfig, "mode", "--mode"),
    groups: Optional[str] = typer.Option(None, "--groups", help="Your access groups; you see public documents plus these groups'."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only return chunks in this language (th, ja, en)."),
    fusion: str = option(SearchConfig, "fusion", "--fusion"),
    min_score: float = option(SearchConfig, "min_score", "--min-score"),
    json_out: bool = typer.Option(False, "--json", help=(
        "Print {query, mode, min_score, results: [...]} as JSON; each result has score (ranking, scaled per "
        "query) and relevance (calibrated in [0, 1], comparable across queries).")),
) -> None:
    """Search the index. Access control applies in every mode; offsets point into the original document.

    Each result shows its relevance (calibrated in [0, 1], the same meaning for every query: an
    unrelated query's results stay under about 0.2) and its ranking score; --min-score drops results
    whose relevance is lower ("no results" when nothing is related)."""
    from thaija.retrieve import search

    hits = search(query, db=_db(db), k=k, mode=mode, groups=_groups(groups), lang=lang, fusion=fusion,
                  min_score=min_score)
    if json_out:
        typer.echo(json.dumps({"query": query, "mode": mode, "min_score": min_score,
                               "results": [h.to_dict() for h in hits]}, ensure_ascii=False))
        return
    if not hits:
        typer.echo("no results" + (f" with relevance >= {min_score}" if min_score else ""))
    for h in hits:
        snippet = " ".join(h.text.split())
        snippet = snippet[:150] + ("…" if len(snippet) > 150 else "")
        weak = "  (weak)" if (h.relevance or 0.0) < 0.2 else ""
        typer.echo(f"{h.rank:>2}. relevance {h.relevance:.2f}  score {h.score:.4f}  {h.doc_id} "
                   f"[{h.lang} {h.start}:{h.end}]{weak}  {snippet}")


def eval_cmd(
    folder: str = typer.Argument(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels.tsv."),
    mode: str = option(EvalConfig, "mode", "--mode"),
    fusion: str = option(EvalConfig, "fusion", "--fusion"),
    k: int = option(EvalConfig, "k", "--k"),
    db: Optional[str] = option(EvalConfig, "db", "--db"),
    embedder: str = option(EvalConfig, "embedder", "--embedder"),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the metrics JSON to this file."),
) -> None:
    """Measure retrieval quality (nDCG@10, recall@10/100, MRR@10 via ranx); chunk hits count per document (max)."""
    from thaija.retrieve.evaluate import evaluate

    r = evaluate(folder, EvalConfig(mode=mode, fusion=fusion, k=k, db=db, embedder=embedder))
    text = json.dumps(r, ensure_ascii=False)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    typer.echo(text)


def register(app: typer.Typer) -> None:
    """Attach `index` (sub-app), `search` and `eval` to the top-level app."""
    app.add_typer(index_app, name="index")
    app.command("search")(search_cmd)
    app.command("eval")(eval_cmd)
