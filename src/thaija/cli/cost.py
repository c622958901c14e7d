"""CLI for the cost stage: `thaija cost tokenizers|count|compare` (estimate and plan: cli/plan.py).

Thin: parse, call thaija.cost, print. Every command prints a one-line error and exits 2 on bad input.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from typing import Callable, List, Optional

import typer

from thaija.errors import ThaijaError

cost_app = typer.Typer(
    name="cost",
    help="Token cost per language and model: tokenizer registry, counts, premiums, monthly estimates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _guard(fn: Callable) -> Callable:
    """Turn stray OSError/ValueError into ThaijaError (printed as one line, exit code 2)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ThaijaError, UnicodeError):  # UnicodeError: the CLI's own one-line message (cli/main.py)
            raise
        except (OSError, ValueError) as exc:
            raise ThaijaError(f"{type(exc).__name__}: {exc}") from None

    return wrapper


def _print_json(obj, indent: int | None = None) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def _console():
    from rich.console import Console

    return Console()


# --------------------------------------------------------------------------- tokenizers


@cost_app.command("tokenizers")
@_guard
def tokenizers_cmd(
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list of records instead of a table."),
    load: bool = typer.Option(False, "--load", help="Load each tokenizer to report its real vocabulary size (slower)."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the registry as the README's Markdown table."),
    tiktoken_cache: Optional[str] = typer.Option(
        None, "--tiktoken-cache", metavar="DIR",
        help="Also write cl100k_base/o200k_base into DIR so plain tiktoken works offline "
        "with TIKTOKEN_CACHE_DIR=DIR.",
    ),
) -> None:
    """List the offline tokenizers: models using each, source package, vocabulary size, availability.

    Any NAME below can be passed to --tokenizer; so can a path to a tokenizer.json, a sentencepiece
    *.model, a Mistral tekken*.json, a *.gguf file or a folder holding one.
    """
    from thaija.tokenizers import list_tokenizers, prefill_tiktoken_cache

    if tiktoken_cache:
        where = prefill_tiktoken_cache(tiktoken_cache)
        typer.echo(f"tiktoken cache written: export TIKTOKEN_CACHE_DIR={where}", err=True)
    if markdown:
        from thaija.tokenizers.registry import markdown_table

        typer.echo(markdown_table())
        return
    recs = list_tokenizers()
    if load:
        from thaija.cli._common import Progress
        from thaija.tokenizers import get_tokenizer

        with Progress("loading tokenizers", len(recs)) as bar:
            for r in recs:
                if r["available"]:
                    try:
                        r["vocab_size"] = get_tokenizer(r["name"]).vocab_size
                    except ThaijaError as exc:
                        r["available"], r["reason"] = False, str(exc)
                bar.advance(1, r["name"])
    if json_out:
        _print_json(recs)
        return
    from rich import box
    from rich.table import Table

    table = Table(title="thaija tokenizers (counts never include special tokens)", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("vocab", justify="right", no_wrap=True)
    table.add_column("ok", no_wrap=True)
    table.add_column("models", overflow="fold", ratio=1)
    for r in recs:
        table.add_row(r["name"], r["kind"], f"{r['vocab_size']:,}" if r["vocab_size"] else "-",
                      "yes" if r["available"] else "no", r["models"] if r["available"] else f"{r['models']} "
                      f"(unavailable: {r['reason']})")
    c = _console()
    c.print(table)
    c.print("Model names work too: --model gpt-4o, claude-…, gemini-…, qwen3-…, llama-3.1-… "
            "(vendor tokenizers that are not public are counted with the closest public one, labelled).",
            markup=False, highlight=False)


# --------------------------------------------------------------------------- count


def _targets(tokenizer: str, tokenizers: Optional[str], model: Optional[str]) -> list[tuple]:
    """``[(Tokenizer, ModelMatch | None)]`` for --model / --tokenizers / --tokenizer (that order)."""
    from thaija.tokenizers import REGISTRY, get_tokenizer, lookup_model

    def one(name: str, as_model: bool):
        name = name.strip()
        if not as_model and (name in REGISTRY or os.path.exists(os.path.expanduser(name))):
            return get_tokenizer(name), None
        if as_model or "/" not in name:
            try:
                match = lookup_model(name)
            except ThaijaError:
                if as_model:
                    raise
                return get_tokenizer(name), None  # the registry's error lists the names
            return get_tokenizer(match.tokenizer), match
        return get_tokenizer(name), None  # a hub id (online only)

    def loading(fn):
        def wrapped(name: str, as_model: bool):
            if not sys.stderr.isatty():
                return fn(name, as_model)
            with _console_err().status(f"loading the tokenizer for {name.strip()}…"):
                return fn(name, as_model)  # first loads take 1-15 s (gemma3 converts its GGUF vocabulary)
        return wrapped

    one = loading(one)
    if model is not None:
        names = [m for m in model.split(",") if m.strip()]
        if not names:
            raise ThaijaError("--model needs a name, e.g. gpt-4o or claude-sonnet-4.5")
        return [one(m, True) for m in names]
    if tokenizers is not None:
        names = [t for t in tokenizers.split(",") if t.strip()]
        if not names:
            raise ThaijaError("--tokenizers needs names, e.g. cl100k_base,o200k_base,gpt-4o")
        return [one(t, False) for t in dict.fromkeys(names)]
    return [one(tokenizer, False)]


def _with_model(rec: dict, match) -> dict:
    if match is not None:
        rec.update({"model": match.model, "approximation": match.approximation,
                    "approximation_reason": match.reason})
    return rec


@cost_app.command("count")
@_guard
def count_cmd(
    text: Optional[str] = typer.Argument(None, help="Text to count (or use --file)."),
    tokenizer: str = typer.Option("cl100k_base", "--tokenizer", "-t",
                                  help="Registry name (see `thaija cost tokenizers`), a model name, or a tokenizer file/folder."),
    tokenizers: Optional[str] = typer.Option(None, "--tokenizers", "-T", metavar="A,B,C",
                                             help="Count with several tokenizers or model names at once."),
    model: Optional[str] = typer.Option(None, "--model", "-m", metavar="NAME[,NAME]",
                                        help="Model name(s): gpt-4o, gpt-4.1, o3, claude-…, gemini-…, qwen3-…, "
                                        "llama-3.1-…, gemma-3-…, deepseek-…, mistral-…; mapped to their tokenizer."),
    file: Optional[str] = typer.Option(None, "--file", "-f",
                                       help="UTF-8 file ('-' = stdin): each line is encoded alone and the counts are summed."),
    per_line: bool = typer.Option(False, "--per-line", help="Print one JSON record per line (and per tokenizer)."),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON record (a list when several tokenizers)."),
) -> None:
    """Count tokens of TEXT or of each line of --file (never special tokens).

    JSON: {"tokenizer", "tokens", "characters", "bytes", "lines"}, plus {"model", "approximation",
    "approximation_reason"} for a model name; with a file, tokens is the sum of the per-line counts and
    characters/bytes exclude line breaks. A model whose vendor tokenizer is not public (Claude, Gemini)
    is counted with the closest public one and labelled an approximation.
    """
    from thaija.cost.count import count_lines, count_per_line, count_text, read_lines

    if file is not None and text is not None:
        raise ThaijaError("give TEXT or --file, not both")
    if file is None and not text:
        raise ThaijaError("give TEXT or --file PATH")
    targets = _targets(tokenizer, tokenizers, model)
    lines = read_lines(file) if file is not None else text.split("\n")  # type: ignore[union-attr]
    if per_line:
        for tok, match in targets:
            for rec in count_per_line(lines, tok):
                _print_json(_with_model(rec, match))
        return
    recs = [_with_model(count_lines(lines, tok) if file is not None else count_text(text, tok), match)  # type: ignore[arg-type]
            for tok, match in targets]
    if json_out:
        _print_json(recs[0] if len(recs) == 1 else recs)
        return
    for rec in recs:
        who = f"{rec['model']} → {rec['tokenizer']}" if "model" in rec else rec["tokenizer"]
        typer.echo(f"{rec['tokens']} tokens ({who}), {rec['characters']} characters, "
                   f"{rec['bytes']} bytes, {rec['lines']} line(s)")
        if rec.get("approximation"):
            typer.echo(f"  approximation: {rec['approximation_reason']}")


# --------------------------------------------------------------------------- compare


def _parse_text_opts(items: List[str]) -> dict:
    paths: dict = {}
    for item in items:
        lang, sep, path = item.partition("=")
        if not sep or not lang.strip() or not path.strip():
            raise ThaijaError(f"--text wants LANG=PATH (e.g. th=tha.txt), got {item!r}")
        if lang.strip() in paths:
            raise ThaijaError(f"--text given twice for language {lang.strip()!r}")
        paths[lang.strip()] = path.strip()
    return paths


def _print_premium_table(result: dict) -> None:
    from rich.table import Table

    langs = list(next(iter(result["tokenizers"].values()))["tokens"]) if result["tokenizers"] else []
    ref = result["reference"]
    from rich import box

    table = Table(title=f"Tokens and premium vs {ref} on {result['lines']} parallel lines "
                        f"(method: {result['method']})", box=box.SIMPLE_HEAD)
    table.add_column("tokenizer")
    for lang in langs:
        table.add_column(f"{lang} tokens", justify="right")
    for lang in langs:
        if lang != ref:
            table.add_column(f"{lang}/{ref}", justify="right")
    approx = []
    for name, v in result["tokenizers"].items():
        label = name if "tokenizer" not in v else f"{name}{'~' if v['approximation'] else ''} ({v['tokenizer']})"
        if v.get("approximation"):
            approx.append(f"~ {name}: approximation: {v['approximation_reason']}")
        table.add_row(label, *[f"{v['tokens'][l]:,}" for l in langs],
                      *[f"{v['premium'][l]:.3f}" for l in langs if l != ref])
    c = _console()
    c.print(table)
    for line in approx:
        c.print(line, markup=False, highlight=False)
    for name, why in result.get("skipped", {}).items():
        c.print(f"[yellow]skipped {name}: {why}[/yellow]", markup=True, highlight=False) if "[" not in why \
            else c.print(f"skipped {name}: {why}", markup=False)


@cost_app.command("compare")
@_guard
def compare_cmd(
    text: List[str] = typer.Option([], "--text", metavar="LANG=PATH",
                                   help="Line-aligned parallel file for a language (repeat). "
                                   "Default: the shipped th/ja/en FLORES-200 sample in corpora/parallel."),
    reference: str = typer.Option("en", "--reference", "-r", help="Language whose token count is the premium's denominator."),
    tokenizers: str = typer.Option("all", "--tokenizers", "-t",
                                   help="Comma-separated tokenizer names, model names (gpt-4o, claude-…) or paths, or 'all' available."),
    method: str = typer.Option("lines", "--method",
                               help="lines: each line encoded alone, summed (default); joined: lines joined with a "
                               "space and encoded once (the published-premium method)."),
    json_path: Optional[str] = typer.Option(None, "--json", metavar="OUT", help="Write the JSON result to OUT (- = standard output, without the table)."),
    csv_path: Optional[str] = typer.Option(None, "--csv", metavar="OUT", help="Write tokenizer,lang,tokens,premium rows."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="OUT.png", help="Write a bar chart of the premiums."),
) -> None:
    """Premium per tokenizer: tokens(LANG) / tokens(reference) on line-aligned parallel text.

    Lines are translations of each other, so the premium is the extra cost of the same meaning.
    Example: thaija cost compare --text th=tha.txt --text ja=jpn.txt --text en=eng.txt --plot p.png
    """
    from thaija.cli._common import Progress
    from thaija.cost.compare import compare, load_parallel, plot_premiums, write_csv, default_parallel_paths
    from thaija.cost.compare import _resolve_names

    paths = _parse_text_opts(text) if text else default_parallel_paths()
    texts = load_parallel(paths)
    if reference not in texts:
        raise ThaijaError(f"--reference {reference!r} is not among the --text languages ({', '.join(texts)})")
    names, _ = _resolve_names(tokenizers)
    with Progress("counting", len(names)) as progress:
        result = compare(texts, reference=reference, tokenizers=tokenizers, method=method,
                         on_progress=lambda n: progress.advance(1, n))
    result["files"] = {lang: str(p) for lang, p in paths.items()}
    if json_path:
        _write_json(json_path, result)
    if csv_path:
        write_csv(result, csv_path)
    if plot:
        plot_premiums(result, plot)
    if json_path != "-":  # with --json - standard output carries the JSON only
        _print_premium_table(result)


def _console_err():
    from rich.console import Console

    return Console(stderr=True)


def _write_json(path: str, obj) -> None:
    """Write ``obj`` as JSON to ``path`` (``-`` = standard output)."""
    from pathlib import Path

    if path == "-":
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- register


def register(app: typer.Typer) -> None:
    """Attach `cost` (sub-app, with `cost estimate` from cli/plan.py) and `plan` to the top-level app."""
    from thaija.cli import plan as _plan

    cost_app.command("estimate")(_plan.estimate_cmd)
    app.add_typer(cost_app, name="cost")
    app.command("plan")(_plan.plan_cmd)
