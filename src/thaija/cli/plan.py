"""CLI for money: `thaija cost estimate` (monthly bill per model) and `thaija plan` (RAG vs LoRA vs both).

Thin: parse, call thaija.cost.estimate / thaija.cost.plan, print tables that fit 80 columns.
"""
from __future__ import annotations

from typing import Optional

import typer

from thaija.cli._common import option
from thaija.cli.cost import _console, _guard, _print_json
from thaija.cost.estimate import EstimateConfig  # light: the configs import no tokenizer or model
from thaija.cost.plan import PlanConfig

# --------------------------------------------------------------------------- estimate


@_guard
def estimate_cmd(
    queries_per_month: int = option(EstimateConfig, "queries_per_month", "--queries-per-month", "-q"),
    mix: Optional[str] = option(EstimateConfig, "mix", "--mix", "--languages"),
    from_texts: Optional[str] = option(EstimateConfig, "from_texts", "--from-texts", metavar="DIR"),
    db: Optional[str] = option(EstimateConfig, "db", "--db", metavar="DB"),
    queries: Optional[str] = option(EstimateConfig, "queries", "--queries", metavar="FILE"),
    system_tokens: int = option(EstimateConfig, "system_tokens", "--system-tokens"),
    query_tokens: int = option(EstimateConfig, "query_tokens_en", "--query-tokens"),
    k: int = option(EstimateConfig, "k", "--k"),
    chunk_tokens: int = option(EstimateConfig, "chunk_tokens", "--chunk-tokens"),
    answer_tokens: int = option(EstimateConfig, "answer_tokens_en", "--answer-tokens"),
    models: Optional[str] = option(EstimateConfig, "models", "--models", "-m", "--model"),
    prices: Optional[str] = option(EstimateConfig, "prices", "--prices", metavar="FILE"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Monthly cost of a Thai/Japanese bot per model, from the package's dated price table.

    Question, context and answer sizes are English-equivalent tokens multiplied by each language's
    premium, measured with the model's own tokenizer on the shipped FLORES-200 sample, or calibrated
    on your own texts with --from-texts/--db (and --queries). Prices are list prices written offline on
    the date shown: verify them, or pass --prices FILE.
    """
    from thaija.cost.estimate import estimate

    cfg = EstimateConfig(queries_per_month=queries_per_month, mix=mix, system_tokens=system_tokens,
                         query_tokens_en=query_tokens, k=k, chunk_tokens=chunk_tokens,
                         answer_tokens_en=answer_tokens, models=models, prices=prices,
                         from_texts=from_texts, db=db, queries=queries)
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
    need: str = option(PlanConfig, "need", "--need"),
    labeled_examples: Optional[int] = option(PlanConfig, "labeled_examples", "--labeled-examples"),
    update_frequency: str = option(PlanConfig, "update_frequency", "--update-frequency", default=...),  # required
    monthly_budget_usd: Optional[float] = option(PlanConfig, "monthly_budget_usd", "--monthly-budget-usd", "--budget"),
    queries_per_month: Optional[int] = option(PlanConfig, "queries_per_month", "--queries-per-month"),
    languages: Optional[str] = option(PlanConfig, "languages", "--languages"),
    db: Optional[str] = option(PlanConfig, "db", "--db", metavar="DB"),
    from_texts: Optional[str] = option(PlanConfig, "from_texts", "--from-texts", metavar="DIR"),
    labeled_data: Optional[str] = option(PlanConfig, "labeled_data", "--labeled-data", metavar="FILE.jsonl"),
    on_prem: bool = option(PlanConfig, "on_prem", "--on-prem"),
    model: Optional[str] = option(PlanConfig, "model", "--model"),
    prices: Optional[str] = option(PlanConfig, "prices", "--prices", metavar="FILE"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: recommendation, steps, costs, notes."),
) -> None:
    """Decide RAG vs LoRA fine-tuning vs both, with every cost computed from your inputs and the price table.

    Steps in order: budget, data volume and quality, update frequency, then multilingual considerations
    (tokenizer premium, language balance); each prints its reason and number. Costs can change the
    verdict (query volume, update frequency); with a budget the verdict fits it when any option does.
    Example: thaija plan --db thaija.db --need both --labeled-examples 2000 --update-frequency weekly
    """
    from thaija.cost.plan import plan

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
