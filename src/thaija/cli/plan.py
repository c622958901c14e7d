"""CLI for money: `thaija cost estimate` (monthly bill per model) and `thaija plan` (RAG vs LoRA vs both).

Thin: parse, call thaija.cost.estimate / thaija.cost.plan, print tables that fit 80 columns.
"""
from __future__ import annotations

from typing import Optional

import typer

from thaija.cli.cost import _console, _guard, _print_json

# --------------------------------------------------------------------------- estimate


@_guard
def estimate_cmd(
    queries_per_month: int = typer.Option(10000, "--queries-per-month", "-q", help="Questions per month."),
    mix: Optional[str] = typer.Option(None, "--mix", "--languages",
                                      help="Language shares, e.g. th=0.6,ja=0.3,en=0.1 (or th,ja for equal shares). "
                                      "Default: measured from --queries, else --from-texts/--db, else th/ja 50/50."),
    from_texts: Optional[str] = typer.Option(None, "--from-texts", metavar="DIR",
                                             help="Measure your own documents (any format `index add` reads): "
                                             "premiums calibrated on them, language mix, corpus tokens per model."),
    db: Optional[str] = typer.Option(None, "--db", metavar="DB", help="Measure the documents of this index instead."),
    queries: Optional[str] = typer.Option(None, "--queries", metavar="FILE",
                                          help="Your questions, one per line: their measured size and language mix."),
    system_tokens: int = typer.Option(200, "--system-tokens", help="System prompt size in model tokens (counted as is)."),
    query_tokens: int = typer.Option(30, "--query-tokens", help="Question size in English-equivalent tokens (without --queries)."),
    k: int = typer.Option(5, "--k", help="Retrieved chunks per question."),
    chunk_tokens: int = typer.Option(256, "--chunk-tokens", help="Chunk size in English-equivalent tokens."),
    answer_tokens: int = typer.Option(250, "--answer-tokens", help="Answer size in English-equivalent tokens."),
    models: str = typer.Option("all", "--models", "-m", "--model",
                               help="Comma-separated model names from the price table, or 'all'."),
    prices: Optional[str] = typer.Option(None, "--prices", metavar="FILE",
                                         help="TOML price table merged over the packaged one (same layout)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Monthly cost of a Thai/Japanese bot per model, from the package's dated price table.

    Question, context and answer sizes are English-equivalent tokens multiplied by each language's
    premium, measured with the model's own tokenizer on the shipped FLORES-200 sample, or calibrated
    on your own texts with --from-texts/--db (and --queries). Prices are list prices written offline on
    the date shown: verify them, or pass --prices FILE.
    """
    from thaija.cost.estimate import EstimateConfig, estimate

    cfg = EstimateConfig(queries_per_month=queries_per_month, mix=mix, system_tokens=system_tokens,
                         query_tokens_en=query_tokens, k=k, chunk_tokens=chunk_tokens,
                         answer_tokens_en=answer_tokens,
                         models=None if models.strip() == "all" else [m.strip() for m in models.split(",") if m.strip()],
                         prices=prices, from_texts=from_texts, db=db, queries=queries)
    if (from_texts or db) and not json_out:
        typer.echo(f"measuring {from_texts or db} …", err=True)
    result = estimate(cfg, progress=True)
    if json_out:
        _print_json(result, indent=2)
        return
    _print_estimate(result)


def _print_estimate(result: dict) -> None:
    """The estimate as a table that fits 80 columns, with its sources and approximations below."""
    from rich import box
    from rich.table import Table

    mix = result["inputs"]["mix"]
    langs = list(mix)
    table = Table(title=f"Monthly cost, {result['inputs']['queries_per_month']:,} questions "
                        f"({', '.join(f'{l} {s:.0%}' for l, s in mix.items())}, mix: {result['inputs']['mix_source']})",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model", no_wrap=True)
    table.add_column("$/M in/out", justify="right", no_wrap=True)
    for l in langs:
        table.add_column(f"{l} $ ×prem", justify="right", no_wrap=True)
    table.add_column("total $", justify="right", no_wrap=True)
    reasons: dict[str, list[str]] = {}
    for m in result["models"]:
        mark = "~" if m["approximation"] else ""
        if m["approximation"]:
            reasons.setdefault(f"({m['tokenizer']}) {m['approximation_reason']}", []).append(m["model"])
        table.add_row(f"{m['model']}{mark}", f"{m['input_usd_per_mtok']:g}/{m['output_usd_per_mtok']:g}",
                      *[f"{m['languages'][l]['monthly_usd']:,.2f} ×{m['languages'][l]['premium']:.2f}" for l in langs],
                      f"{m['monthly_usd']:,.2f}")
    c = _console()
    c.print(table)
    lines = [f"Prices: {result['price_note'] or 'as of ' + result['price_table_date']}; each row's source: --json.",
             f"Premium: {result['premium_method']}."]
    meas = result.get("measured")
    if meas:
        chars = ", ".join(f"{l} {n:,}" for l, n in sorted(meas["characters"].items()))
        if meas["source"]:
            lines.append(f"Measured: {meas['documents']} documents in {meas['source']} (characters: {chars})"
                         + (f"; {len(meas['skipped'])} file(s) skipped" if meas["skipped"] else ""))
        if meas["queries"]:
            lines.append("Queries measured: " + ", ".join(f"{l} {n}" for l, n in meas["queries"].items()))
    approx = [f"~ approximation, {', '.join(ms)}: {why}" for why, ms in reasons.items()]
    for line in lines + approx:
        c.print(line, markup=False, highlight=False)


# --------------------------------------------------------------------------- plan


@_guard
def plan_cmd(
    need: str = typer.Option(..., "--need", help="knowledge (facts the model must know), style (tone/format), or both."),
    labeled_examples: Optional[int] = typer.Option(None, "--labeled-examples",
                                                   help="Good labeled examples you have (for LoRA); default: "
                                                   "counted from --labeled-data, else 0."),
    update_frequency: str = typer.Option(..., "--update-frequency",
                                         help="How often the knowledge changes: daily|weekly|monthly|quarterly|yearly|never."),
    monthly_budget_usd: Optional[float] = typer.Option(None, "--monthly-budget-usd", "--budget",
                                                       help="Monthly budget in USD."),
    queries_per_month: Optional[int] = typer.Option(None, "--queries-per-month", help="Questions per month (default 10,000)."),
    languages: Optional[str] = typer.Option(None, "--languages",
                                            help="Languages served, equal shares (e.g. th,ja,en); default: the "
                                            "measured corpus' languages, else th,ja."),
    db: Optional[str] = typer.Option(None, "--db", metavar="DB",
                                     help="Measure the corpus of this index (documents, tokens per language)."),
    from_texts: Optional[str] = typer.Option(None, "--from-texts", metavar="DIR",
                                             help="Measure a folder of documents instead of an index."),
    labeled_data: Optional[str] = typer.Option(None, "--labeled-data", metavar="FILE.jsonl",
                                               help="Your labeled examples (tune JSONL): counted per language."),
    on_prem: bool = typer.Option(False, "--on-prem", help="Local model: GPU power + amortized hardware instead of API fees."),
    model: Optional[str] = typer.Option(None, "--model", help="API model from the price table (default gpt-4o-mini)."),
    prices: Optional[str] = typer.Option(None, "--prices", metavar="FILE", help="TOML table merged over the packaged prices/assumptions."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: recommendation, steps, costs, notes."),
) -> None:
    """Decide RAG vs LoRA fine-tuning vs both, with every cost computed from your inputs and the price table.

    Steps in order: budget, data volume and quality, update frequency, then multilingual considerations
    (tokenizer premium, language balance); each prints its reason and number. Costs can change the
    verdict (query volume, update frequency); with a budget the verdict fits it when any option does.
    Example: thaija plan --db thaija.db --need both --labeled-examples 2000 --update-frequency weekly
    """
    from thaija.cost.plan import PlanConfig, plan

    cfg = PlanConfig(need=need, labeled_examples=labeled_examples, update_frequency=update_frequency,
                     monthly_budget_usd=monthly_budget_usd, queries_per_month=queries_per_month,
                     languages=languages, on_prem=on_prem, model=model, prices=prices, db=db,
                     from_texts=from_texts, labeled_data=labeled_data)
    if (db or from_texts) and not json_out:
        typer.echo(f"measuring {db or from_texts} …", err=True)
    result = plan(cfg)
    if json_out:
        _print_json(result, indent=2)
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    c = _console()
    c.print(f"[bold]Recommendation: {result['recommendation']}[/bold]")
    for i, step in enumerate(result["steps"], 1):
        c.print(f"{i}. [cyan]{escape(step['name'])}[/cyan]: {escape(step['finding'])}")
    table = Table(title="Monthly cost (USD)", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("option", "training", "inference", "operations", "total", "one-off"):
        table.add_column(col, justify="right" if col != "option" else "left", no_wrap=True)
    for opt, v in result["costs"].items():
        mark = " *" if opt == result["recommendation"] else ""
        table.add_row(opt + mark, f"{v['training_usd_month']:,.2f}", f"{v['inference_usd_month']:,.2f}",
                      f"{v['operations_usd_month']:,.2f}", f"{v['total_usd_month']:,.2f}", f"{v['one_off_usd']:,.2f}")
    c.print(table)
    for note in result["notes"]:
        c.print(f"- {escape(note)}")
