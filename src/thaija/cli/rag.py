"""CLI for the rag stage: ask, eval-qa, serve (thin: parse, call the library, print)."""
from __future__ import annotations

import json
import os
from typing import Optional

import typer

from thaija.cli._common import fail, option, parse_groups, print_json
from thaija.rag.config import AskConfig, QAEvalConfig, ServeConfig  # light: no generator, no index

DB_HELP = ("Index path (Milvus Lite file) built with `thaija index add`. Default: $THAIJA_DB, else the nearest "
           "thaija.db in this folder or a parent.")


def _check_db(db: Optional[str]) -> str:
    """The index to use (see thaija.index.locate); a one-line error when there is none."""
    from thaija.index.locate import resolve_db

    return resolve_db(db)


def ask_cmd(
    question: str = typer.Argument(..., help="The question (Thai, Japanese or English); the answer comes in its language."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    generator: str = option(AskConfig, "generator", "--generator", "-g"),
    model: Optional[str] = option(AskConfig, "model", "--model", "-m"),
    adapter: Optional[str] = option(AskConfig, "adapter", "--adapter"),
    base_url: Optional[str] = option(AskConfig, "base_url", "--base-url"),
    k: int = option(AskConfig, "k", "--k", "-k"),
    mode: str = option(AskConfig, "mode", "--mode"),
    agentic: bool = option(AskConfig, "agentic", "--agentic"),
    max_rounds: int = option(AskConfig, "max_rounds", "--max-rounds"),
    split: bool = option(AskConfig, "split", "--split/--no-split"),
    groups: Optional[str] = option(AskConfig, "groups", "--groups"),
    review: bool = option(AskConfig, "review", "--review/--no-review"),
    redact: bool = option(AskConfig, "redact", "--redact"),
    min_support: Optional[float] = option(AskConfig, "min_support", "--min-support"),
    as_json: bool = typer.Option(False, "--json", help="Print the full JSON result (answer, answer_lang, support, citations with spans and lang, trace, review_id)."),
) -> None:
    """Answer a question from the index with citations [n] to exact document spans.

    Retrieved documents take priority over the model's prior knowledge and are treated as data,
    never as instructions. When the evidence is weak the answer says so in the question's language
    (no citation is invented) and the case goes to the review queue (`thaija review list`).
    """
    from thaija.rag.pipeline import answer

    db = _check_db(db)
    cfg = AskConfig(generator=generator, k=k, mode=mode, agentic=agentic, max_rounds=max_rounds, split=split,
                    groups=parse_groups(groups), model=model, adapter=adapter,
                    base_url=base_url, review=review, redact=redact, min_support=min_support)
    res = answer(question, db=db, config=cfg).to_dict()
    if as_json:
        print_json(res)
        return
    from thaija.rag.pipeline import render

    typer.echo(render(res))


def eval_qa_cmd(
    folder: str = typer.Argument(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels.tsv and answers.jsonl ({\"query-id\", \"answers\": [...]})."),
    generator: str = option(AskConfig, "generator", "--generator", "-g"),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the metrics JSON to this file."),
    db: Optional[str] = typer.Option(None, "--db", help="An index that already holds the corpus (default: build a temporary one)."),
    k: int = option(AskConfig, "k", "--k", "-k"),
    mode: str = option(AskConfig, "mode", "--mode"),
    limit: Optional[int] = option(QAEvalConfig, "limit", "--limit"),
    model: Optional[str] = option(AskConfig, "model", "--model", "-m"),
    adapter: Optional[str] = option(AskConfig, "adapter", "--adapter"),
    base_url: Optional[str] = option(AskConfig, "base_url", "--base-url"),
    unanswerable: Optional[str] = option(QAEvalConfig, "unanswerable", "--unanswerable"),
    min_support: Optional[float] = option(AskConfig, "min_support", "--min-support"),
) -> None:
    """Score `ask` on a QA set: answer_recall (gold answer in the answer or its cited quotes),
    answer_only_recall (in the answer text itself), mean_answer_chars, citation_support (a cited
    quote holds the gold answer), refusal_rate, unanswerable_refusal_rate, latency; generated_by
    says what produced the answers."""
    from thaija.rag.evaluate import evaluate_qa

    ask = AskConfig(generator=generator, k=k, mode=mode, model=model, adapter=adapter, base_url=base_url,
                    min_support=min_support, review=False)
    cfg = QAEvalConfig(ask=ask, limit=limit, unanswerable=unanswerable)
    if json_out and os.path.isdir(json_out):
        fail(f"--json {json_out}: is a directory")
    res = evaluate_qa(folder, db=db, config=cfg, progress=True)
    if json_out:
        os.makedirs(os.path.dirname(os.path.abspath(json_out)), exist_ok=True)
        with open(json_out, "w", encoding="utf-8") as fh:
            json.dump(res, fh, ensure_ascii=False, indent=2)
    print_json(res)


def serve_cmd(
    db: Optional[str] = option(ServeConfig, "db", "--db", default=None,
                               note="Default: $THAIJA_DB, else the nearest thaija.db in this folder or a parent."),
    host: str = option(ServeConfig, "host", "--host"),
    port: int = option(ServeConfig, "port", "--port"),
    generator: str = option(AskConfig, "generator", "--generator", "-g"),
    model: Optional[str] = option(AskConfig, "model", "--model", "-m"),
    adapter: Optional[str] = option(AskConfig, "adapter", "--adapter"),
    base_url: Optional[str] = option(AskConfig, "base_url", "--base-url"),
    k: int = option(AskConfig, "k", "--k", "-k"),
    groups: Optional[str] = option(AskConfig, "groups", "--groups",
                                   note="Here: the groups of requests without keys; with --keys, the most any key may see (a cap)."),
    agentic: bool = option(AskConfig, "agentic", "--agentic"),
    min_support: Optional[float] = option(AskConfig, "min_support", "--min-support",
                                          note="Here: for every thaija-rag request (a server setting, not a request field)."),
    keys: Optional[str] = option(ServeConfig, "keys", "--keys", envvar="THAIJA_KEYS"),
    insecure: bool = option(ServeConfig, "insecure", "--insecure"),
    max_body: int = option(ServeConfig, "max_body_bytes", "--max-body"),
    allowed_hosts: Optional[str] = option(ServeConfig, "allowed_hosts", "--allowed-hosts"),
    redact: bool = option(AskConfig, "redact", "--redact",
                          note="Here: for every request, also replies quoting documents indexed without --redact, "
                               "flags, edits and the source view of the browser pages."),
) -> None:
    """Serve an OpenAI-compatible API: POST /v1/chat/completions, GET /v1/models.

    Model thaija-rag answers the last user message from the index and returns `citations`
    alongside the message; model thaija-extractive reads the documents inside a grounded prompt
    (no retrieval). Example: curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type:
    application/json' -H 'Authorization: Bearer KEY' -d '{"model":"thaija-rag","messages":[{"role":"user","content":"..."}]}'

    In a browser: the chat page at / (citations open the highlighted source) and the review queue
    at /review (approve, edit, reject, flag, export JSONL), behind the same keys (docs/workbench.md).
    """
    from thaija.guard.keys import KeyRing
    from thaija.rag.serve import serve

    if keys:  # a bad key file is the first thing to say: it decides who may see what
        KeyRing.load(keys)
    db = _check_db(db)
    ask = AskConfig(generator=generator, k=k, groups=parse_groups(groups), agentic=agentic,
                    model=model, adapter=adapter, base_url=base_url, redact=redact, min_support=min_support)
    cfg = ServeConfig(db=db, host=host, port=port, ask=ask, keys=keys or None, insecure=insecure,
                      max_body_bytes=max_body, allowed_hosts=tuple(parse_groups(allowed_hosts) or ()) or None)
    ring = KeyRing.load(cfg.keys) if cfg.keys else None  # validate before binding the port
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    if ring is not None and ring.plaintext:
        typer.echo(f"thaija serve: warning: {cfg.keys} stores {ring.plaintext} key(s) in clear text; "
                   "store their sha256: form instead (`thaija keygen` prints it)", err=True)
    if ring is None and cfg.insecure:
        typer.echo(f"thaija serve: warning: serving {host} without API keys (--insecure)", err=True)
    auth = f"{len(ring.keys)} API key(s)" if ring else "no API keys"
    if cfg.redact:
        auth += "; PII redacted in replies, review queue and pages"
    typer.echo(f"thaija serve: http://{host}:{port}/v1 (models thaija-rag, thaija-extractive; index {db}; {auth})", err=True)
    typer.echo(f"thaija serve: in a browser: chat http://{host}:{port}/  review http://{host}:{port}/review", err=True)
    serve(cfg)


def keygen_cmd(
    groups: str = typer.Option("", "--groups", help="Access groups of the new key, comma-separated (empty = public documents only)."),
    rate: Optional[int] = typer.Option(None, "--rate", help="Optional limit: requests per minute for this key."),
    keys: Optional[str] = typer.Option(None, "--append", help="Also append the hashed line to this key file (created if missing)."),
    as_json: bool = typer.Option(False, "--json", help="Print {key, line, groups, review} as JSON."),
    review: bool = typer.Option(False, "--review", help=(
        "Give the key the review role: it may list, approve, edit, reject and export the review queue "
        "in the browser workbench (/review). Keys without it may only flag answers.")),
) -> None:
    """Make a new API key for `thaija serve --keys FILE`.

    Prints the key (give it to the client; it is shown only once) and the line for the key file,
    which stores only the key's SHA-256 hash: `sha256:HEX<TAB>groups[<TAB>rate[<TAB>review]]`.
    """
    from thaija.guard.keys import new_key, parse_groups as key_groups

    key, line = new_key(groups, rate, review=review)
    if keys:
        if os.path.isdir(keys):
            fail(f"--append {keys}: is a directory")
        with open(keys, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    if as_json:
        print_json({"key": key, "line": line, "groups": list(key_groups(groups)), "review": review})
        return
    typer.echo(f"key:  {key}")
    typer.echo(f"line: {line}")
    if keys:
        typer.echo(f"(appended to {keys})", err=True)


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the top-level app."""
    app.command("ask")(ask_cmd)
    app.command("eval-qa")(eval_qa_cmd)
    app.command("serve")(serve_cmd)
    app.command("keygen")(keygen_cmd)
