"""CLI for the rag stage: ask, eval-qa, serve (thin: parse, call the library, print)."""
from __future__ import annotations

import json
import os
from typing import Optional

import typer

from thaija.cli._common import fail, parse_groups, print_json

GEN_HELP = "extractive (no LLM: best-supported retrieved sentences), local (transformers causal LM, default offline Gemma-3-270m) or openai (any OpenAI-compatible endpoint; key from OPENAI_API_KEY)."
DB_HELP = ("Index path (Milvus Lite file) built with `thaija index add`. Default: $THAIJA_DB, else the nearest "
           "thaija.db in this folder or a parent.")


def _check_db(db: Optional[str]) -> str:
    """The index to use (see thaija.index.locate); a one-line error when there is none."""
    from thaija.index.locate import resolve_db

    return resolve_db(db)


def ask_cmd(
    question: str = typer.Argument(..., help="The question (Thai, Japanese or English); the answer comes in its language."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    generator: str = typer.Option("extractive", "--generator", "-g", help=GEN_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="local: model folder/.gguf (default offline Gemma-3-270m); openai: model name (default $OPENAI_MODEL or gpt-4o-mini)."),
    adapter: Optional[str] = typer.Option(None, "--adapter", help="local: a PEFT adapter folder from `thaija tune train`."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="openai: endpoint base URL ending in /v1 (default $OPENAI_BASE_URL or https://api.openai.com/v1)."),
    k: int = typer.Option(5, "--k", "-k", help="Chunks retrieved per query."),
    mode: str = typer.Option("hybrid", "--mode", help="Retrieval: hybrid (default), bm25 or dense."),
    agentic: bool = typer.Option(False, "--agentic", help="Split a complex question into sub-questions and retrieve in bounded rounds, re-querying gaps."),
    max_rounds: int = typer.Option(3, "--max-rounds", help="Agentic mode: at most this many retrieval rounds."),
    groups: Optional[str] = typer.Option(None, "--groups", help="Your access groups, comma-separated (a,b): documents of other groups are never used."),
    review: bool = typer.Option(True, "--review/--no-review", help="Queue refused and low-confidence answers for human review (beside the index)."),
    redact: bool = typer.Option(False, "--redact", help="Replace PII (Thai ID, My Number, phones, e-mail, cards) with [TYPE] in the answer, the quotes, the echoed question and trace, and what is queued for review."),
    min_support: Optional[float] = typer.Option(None, "--min-support", help="Refuse below this calibrated support in [0, 1] (default: the per-language thresholds fitted on the dev sets, see docs/rag.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full JSON result (answer, answer_lang, support, citations with spans and lang, trace, review_id)."),
) -> None:
    """Answer a question from the index with citations [n] to exact document spans.

    Retrieved documents take priority over the model's prior knowledge and are treated as data,
    never as instructions. When the evidence is weak the answer says so in the question's language
    (no citation is invented) and the case goes to the review queue (`thaija review list`).
    """
    from thaija.rag.pipeline import AskConfig, answer

    db = _check_db(db)
    cfg = AskConfig(generator=generator, k=k, mode=mode, agentic=agentic, max_rounds=max_rounds,
                    groups=tuple(parse_groups(groups) or ()) or None, model=model, adapter=adapter,
                    base_url=base_url, review=review, redact=redact, min_support=min_support)
    res = answer(question, db=db, config=cfg).to_dict()
    if as_json:
        print_json(res)
        return
    from thaija.rag.pipeline import render

    typer.echo(render(res))


def eval_qa_cmd(
    folder: str = typer.Argument(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels.tsv and answers.jsonl ({\"query-id\", \"answers\": [...]})."),
    generator: str = typer.Option("extractive", "--generator", "-g", help=GEN_HELP),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the metrics JSON to this file."),
    db: Optional[str] = typer.Option(None, "--db", help="An index that already holds the corpus (default: build a temporary one)."),
    k: int = typer.Option(5, "--k", "-k", help="Chunks retrieved per question."),
    mode: str = typer.Option("hybrid", "--mode", help="Retrieval: hybrid (default), bm25 or dense."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Evaluate only the first N questions."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="local/openai model (see `thaija ask --help`)."),
    adapter: Optional[str] = typer.Option(None, "--adapter", help="local: PEFT adapter folder."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="openai: endpoint base URL."),
    unanswerable: Optional[str] = typer.Option(None, "--unanswerable", help="A folder whose queries.jsonl questions have no answer in the corpus: reports unanswerable_refusal_rate."),
    min_support: Optional[float] = typer.Option(None, "--min-support", help="Refusal threshold (default: fitted per language)."),
) -> None:
    """Score `ask` on a QA set: answer_recall (gold answer in the answer or its cited quotes),
    answer_only_recall (in the answer text itself), mean_answer_chars, citation_support (a cited
    quote holds the gold answer), refusal_rate, unanswerable_refusal_rate, latency; generated_by
    says what produced the answers."""
    from thaija.rag.evaluate import QAEvalConfig, evaluate_qa

    cfg = QAEvalConfig(generator=generator, k=k, mode=mode, limit=limit, model=model, adapter=adapter, base_url=base_url,
                       unanswerable=unanswerable, min_support=min_support)
    if json_out and os.path.isdir(json_out):
        fail(f"--json {json_out}: is a directory")
    res = evaluate_qa(folder, db=db, config=cfg, progress=True)
    if json_out:
        os.makedirs(os.path.dirname(os.path.abspath(json_out)), exist_ok=True)
        with open(json_out, "w", encoding="utf-8") as fh:
            json.dump(res, fh, ensure_ascii=False, indent=2)
    print_json(res)


def serve_cmd(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on. A non-loopback address needs --keys (or --insecure)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    generator: str = typer.Option("extractive", "--generator", "-g", help=GEN_HELP),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="local/openai model for the thaija-rag model."),
    adapter: Optional[str] = typer.Option(None, "--adapter", help="local: PEFT adapter folder."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="openai: upstream endpoint base URL."),
    k: int = typer.Option(5, "--k", "-k", help="Chunks retrieved per question."),
    groups: Optional[str] = typer.Option(None, "--groups", help="Access groups of requests without keys; with --keys, the most any key may see (a cap)."),
    agentic: bool = typer.Option(False, "--agentic", help="Answer with agentic multi-round retrieval."),
    keys: Optional[str] = typer.Option(None, "--keys", envvar="THAIJA_KEYS", help="API key file: one `<key or sha256:HEX><TAB><groups>[<TAB><requests/minute>]` per line (empty groups = public documents only). Every request then needs `Authorization: Bearer <key>` and sees only its key's groups. Default $THAIJA_KEYS. Make keys with `thaija keygen`."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow listening on a non-loopback address without --keys (anyone who can reach it gets the --groups documents)."),
    max_body: int = typer.Option(1_000_000, "--max-body", help="Largest request body in bytes (larger ones get HTTP 413)."),
    allowed_hosts: Optional[str] = typer.Option(None, "--allowed-hosts", help="Comma-separated Host header names accepted (default: localhost names on a loopback bind, any name otherwise)."),
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
    from thaija.rag.pipeline import AskConfig
    from thaija.rag.serve import ServeConfig, serve

    if keys:  # a bad key file is the first thing to say: it decides who may see what
        KeyRing.load(keys)
    db = _check_db(db)
    ask = AskConfig(generator=generator, k=k, groups=tuple(parse_groups(groups) or ()) or None, agentic=agentic,
                    model=model, adapter=adapter, base_url=base_url)
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
    typer.echo(f"thaija serve: http://{host}:{port}/v1 (models thaija-rag, thaija-extractive; index {db}; {auth})", err=True)
    typer.echo(f"thaija serve: in a browser: chat http://{host}:{port}/  review http://{host}:{port}/review", err=True)
    serve(cfg)


def keygen_cmd(
    groups: str = typer.Option("", "--groups", help="Access groups of the new key, comma-separated (empty = public documents only)."),
    rate: Optional[int] = typer.Option(None, "--rate", help="Optional limit: requests per minute for this key."),
    keys: Optional[str] = typer.Option(None, "--append", help="Also append the hashed line to this key file (created if missing)."),
    as_json: bool = typer.Option(False, "--json", help="Print {key, line, groups} as JSON."),
) -> None:
    """Make a new API key for `thaija serve --keys FILE`.

    Prints the key (give it to the client; it is shown only once) and the line for the key file,
    which stores only the key's SHA-256 hash: `sha256:HEX<TAB>groups[<TAB>rate]`.
    """
    from thaija.guard.keys import new_key, parse_groups as key_groups

    key, line = new_key(groups, rate)
    if keys:
        if os.path.isdir(keys):
            fail(f"--append {keys}: is a directory")
        with open(keys, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    if as_json:
        print_json({"key": key, "line": line, "groups": list(key_groups(groups))})
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
