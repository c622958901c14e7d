"""CLI for the cost stage: `thaija cost tokenizers|count|compare|estimate` and `thaija plan`.

Thin: parse, call thaija.cost, print. Every command prints a one-line error and exits 2 on bad input.
"""
from __future__ import annotations

import functools
import json
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
        except ThaijaError:
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
    from thaija.cost.tokenizers import list_tokenizers, prefill_tiktoken_cache

    if tiktoken_cache:
        where = prefill_tiktoken_cache(tiktoken_cache)
        typer.echo(f"tiktoken cache written: export TIKTOKEN_CACHE_DIR={where}", err=True)
    recs = list_tokenizers()
    if load:
        from rich.progress import track

        from thaija.cost.tokenizers import get_tokenizer

        for r in track(recs, description="loading", console=_console_err(), transient=True):
            if r["available"]:
                try:
                    r["vocab_size"] = get_tokenizer(r["name"]).vocab_size
                except ThaijaError as exc:
                    r["available"], r["reason"] = False, str(exc)
    if json_out:
        _print_json(recs)
        return
    from rich.table import Table

    table = Table(title="thaija tokenizers (counts never include special tokens)")
    for col in ("name", "kind", "models", "package", "vocab", "available"):
        table.add_column(col, overflow="fold")
    for r in recs:
        table.add_row(r["name"], r["kind"], r["models"], r["source"].split(":")[0],
                      f"{r['vocab_size']:,}" if r["vocab_size"] else "-",
                      "yes" if r["available"] else f"no: {r['reason']}")
    _console().print(table)


# --------------------------------------------------------------------------- count


@cost_app.command("count")
@_guard
def count_cmd(
    text: Optional[str] = typer.Argument(None, help="Text to count (or use --file)."),
    tokenizer: str = typer.Option("cl100k_base", "--tokenizer", "-t",
                                  help="Registry name (see `thaija cost tokenizers`) or a tokenizer file/folder."),
    file: Optional[str] = typer.Option(None, "--file", "-f",
                                       help="UTF-8 file ('-' = stdin): each line is encoded alone and the counts are summed."),
    per_line: bool = typer.Option(False, "--per-line", help="Print one JSON record per line."),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON record."),
) -> None:
    """Count tokens of TEXT or of each line of --file (never special tokens).

    JSON: {"tokenizer", "tokens", "characters", "bytes", "lines"}; with a file, tokens is the sum of
    the per-line counts and characters/bytes exclude line breaks.
    """
    from thaija.cost.count import count_lines, count_per_line, count_text, read_lines
    from thaija.cost.tokenizers import get_tokenizer

    if file is not None and text is not None:
        raise ThaijaError("give TEXT or --file, not both")
    if file is None and not text:
        raise ThaijaError("give TEXT or --file PATH")
    tok = get_tokenizer(tokenizer)
    if file is not None:
        lines = read_lines(file)
    else:
        lines = text.split("\n")  # type: ignore[union-attr]
    if per_line:
        for rec in count_per_line(lines, tok):
            _print_json(rec)
        return
    rec = count_lines(lines, tok) if file is not None else count_text(text, tok)  # type: ignore[arg-type]
    if json_out:
        _print_json(rec)
    else:
        typer.echo(f"{rec['tokens']} tokens ({rec['tokenizer']}), {rec['characters']} characters, "
                   f"{rec['bytes']} bytes, {rec['lines']} line(s)")


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
    table = Table(title=f"Tokens and premium vs {ref} on {result['lines']} parallel lines "
                        f"(method: {result['method']})")
    table.add_column("tokenizer")
    for lang in langs:
        table.add_column(f"{lang} tokens", justify="right")
    for lang in langs:
        if lang != ref:
            table.add_column(f"{lang}/{ref}", justify="right")
    for name, v in result["tokenizers"].items():
        table.add_row(name, *[f"{v['tokens'][l]:,}" for l in langs],
                      *[f"{v['premium'][l]:.3f}" for l in langs if l != ref])
    c = _console()
    c.print(table)
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
    tokenizers: str = typer.Option("all", "--tokenizers", "-t", help="Comma-separated names/paths, or 'all' available."),
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
    from rich.progress import Progress

    from thaija.cost.compare import compare, load_parallel, plot_premiums, write_csv, default_parallel_paths
    from thaija.cost.compare import _resolve_names

    paths = _parse_text_opts(text) if text else default_parallel_paths()
    texts = load_parallel(paths)
    if reference not in texts:
        raise ThaijaError(f"--reference {reference!r} is not among the --text languages ({', '.join(texts)})")
    names, _ = _resolve_names(tokenizers)
    with Progress(transient=True, console=_console_err()) as progress:
        task = progress.add_task("counting", total=len(names))
        result = compare(texts, reference=reference, tokenizers=tokenizers, method=method,
                         on_progress=lambda n: progress.update(task, advance=1, description=n))
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


# --------------------------------------------------------------------------- estimate


@cost_app.command("estimate")
@_guard
def estimate_cmd(
    queries_per_month: int = typer.Option(10000, "--queries-per-month", "-q", help="Questions per month."),
    mix: str = typer.Option("th=0.5,ja=0.5", "--mix", "--languages",
                            help="Language shares, e.g. th=0.6,ja=0.3,en=0.1 (or th,ja for equal shares)."),
    system_tokens: int = typer.Option(200, "--system-tokens", help="System prompt size in model tokens (counted as is)."),
    query_tokens: int = typer.Option(30, "--query-tokens", help="Question size in English-equivalent tokens."),
    k: int = typer.Option(5, "--k", help="Retrieved chunks per question."),
    chunk_tokens: int = typer.Option(256, "--chunk-tokens", help="Chunk size in English-equivalent tokens."),
    answer_tokens: int = typer.Option(250, "--answer-tokens", help="Answer size in English-equivalent tokens."),
    models: str = typer.Option("all", "--models", "-m", help="Comma-separated model names from the price table, or 'all'."),
    prices: Optional[str] = typer.Option(None, "--prices", metavar="FILE",
                                         help="TOML price table merged over the packaged one (same layout)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Monthly cost of a Thai/Japanese bot per model, from the package's dated price table.

    Question, context and answer sizes are English-equivalent tokens multiplied by each language's
    premium, measured with the model's own tokenizer on the shipped FLORES-200 sample.
    """
    from thaija.cost.estimate import EstimateConfig, estimate

    cfg = EstimateConfig(queries_per_month=queries_per_month, mix=mix, system_tokens=system_tokens,
                         query_tokens_en=query_tokens, k=k, chunk_tokens=chunk_tokens,
                         answer_tokens_en=answer_tokens,
                         models=None if models.strip() == "all" else [m.strip() for m in models.split(",") if m.strip()],
                         prices=prices)
    result = estimate(cfg)
    if json_out:
        _print_json(result, indent=2)
        return
    from rich.table import Table

    langs = list(cfg.mix)
    table = Table(title=f"Monthly cost, {cfg.queries_per_month:,} questions "
                        f"({', '.join(f'{l} {s:.0%}' for l, s in cfg.mix.items())}); prices as of "
                        f"{result['price_table_date']}")
    table.add_column("model (tokenizer)")
    table.add_column("$/M in/out", justify="right")
    for l in langs:
        table.add_column(f"{l} USD (premium)", justify="right")
    table.add_column("total USD", justify="right")
    for m in result["models"]:
        table.add_row(f"{m['model']} ({m['tokenizer']})", f"{m['input_usd_per_mtok']:g}/{m['output_usd_per_mtok']:g}",
                      *[f"{m['languages'][l]['monthly_usd']:,.2f} (×{m['languages'][l]['premium']:.2f})" for l in langs],
                      f"{m['monthly_usd']:,.2f}")
    _console().print(table)


# --------------------------------------------------------------------------- plan


@_guard
def plan_cmd(
    need: str = typer.Option(..., "--need", help="knowledge (facts the model must know), style (tone/format), or both."),
    labeled_examples: int = typer.Option(..., "--labeled-examples", help="Good labeled examples you have (for LoRA)."),
    update_frequency: str = typer.Option(..., "--update-frequency",
                                         help="How often the knowledge changes: daily|weekly|monthly|quarterly|yearly|never."),
    monthly_budget_usd: Optional[float] = typer.Option(None, "--monthly-budget-usd", help="Monthly budget in USD."),
    queries_per_month: Optional[int] = typer.Option(None, "--queries-per-month", help="Questions per month (default 10,000)."),
    languages: str = typer.Option("th,ja", "--languages", help="Languages served, equal shares (e.g. th,ja,en)."),
    on_prem: bool = typer.Option(False, "--on-prem", help="Local model: GPU power + amortized hardware instead of API fees."),
    model: Optional[str] = typer.Option(None, "--model", help="API model from the price table (default gpt-4o-mini)."),
    prices: Optional[str] = typer.Option(None, "--prices", metavar="FILE", help="TOML table merged over the packaged prices/assumptions."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: recommendation, steps, costs, notes."),
) -> None:
    """Decide RAG vs LoRA fine-tuning vs both, with every cost computed from your inputs and the price table.

    Steps: budget, data volume, update frequency, need, language premiums.
    Example: thaija plan --need both --labeled-examples 2000 --update-frequency weekly --json
    """
    from thaija.cost.plan import PlanConfig, plan

    cfg = PlanConfig(need=need, labeled_examples=labeled_examples, update_frequency=update_frequency,
                     monthly_budget_usd=monthly_budget_usd, queries_per_month=queries_per_month,
                     languages=languages, on_prem=on_prem, model=model, prices=prices)
    result = plan(cfg)
    if json_out:
        _print_json(result, indent=2)
        return
    from rich.table import Table

    from rich.markup import escape

    c = _console()
    c.print(f"[bold]Recommendation: {result['recommendation']}[/bold]")
    for i, step in enumerate(result["steps"], 1):
        c.print(f"{i}. [cyan]{escape(step['name'])}[/cyan]: {escape(step['finding'])}")
    table = Table(title="Monthly cost (USD)")
    for col in ("option", "training", "inference", "operations", "total", "one-off"):
        table.add_column(col, justify="right" if col != "option" else "left")
    for opt, v in result["costs"].items():
        mark = " *" if opt == result["recommendation"] else ""
        table.add_row(opt + mark, f"{v['training_usd_month']:,.2f}", f"{v['inference_usd_month']:,.2f}",
                      f"{v['operations_usd_month']:,.2f}", f"{v['total_usd_month']:,.2f}", f"{v['one_off_usd']:,.2f}")
    c.print(table)
    for note in result["notes"]:
        c.print(f"- {escape(note)}")


# --------------------------------------------------------------------------- register


def register(app: typer.Typer) -> None:
    """Attach `cost` (sub-app) and `plan` to the top-level app."""
    app.add_typer(cost_app, name="cost")
    app.command("plan")(plan_cmd)
