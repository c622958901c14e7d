"""CLI for the tune stage: `thaija tune mix|train|merge|eval|qa-data` (thin: parse, call the library, print)."""
from __future__ import annotations

from typing import Optional

import typer

from thaija.cli._common import fail, option, print_json
from thaija.rag.qa_data import QADataConfig  # light: stdlib only at import
from thaija.tune.config import TuneConfig  # light: no torch, no model


def _parse_weights(text: Optional[str]) -> Optional[dict[str, float]]:
    if text is None:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        lang, sep, w = part.partition("=")
        try:
            if not sep or not lang.strip():
                raise ValueError
            out[lang.strip().lower()] = float(w)
        except ValueError:
            fail(f"--weights: expected LANG=NUMBER[,LANG=NUMBER...], got {part!r}")
    return out


def mix_cmd(
    data: str = typer.Argument(..., help="Training JSONL ({'text'} / {'prompt','completion'} / "
                               "{'messages'} records, optional 'lang')."),
    strategy: str = option(TuneConfig, "strategy", "--strategy", "-s"),
    alpha: float = option(TuneConfig, "alpha", "--alpha"),
    max_epochs: float = option(TuneConfig, "max_epochs", "--max-epochs"),
    budget: Optional[int] = typer.Option(None, "--budget", min=1,
                                         help="Examples drawn in total (default: one pass = "
                                         "number of records)."),
    weights: Optional[str] = option(TuneConfig, "weights", "--weights"),
    as_json: bool = typer.Option(False, "--json", help="Print {strategy, counts, shares, epochs} "
                                 "as JSON."),
) -> None:
    """Plan the language mix of a data set: examples per language, sampling shares and epochs.

    'epochs' is how many times each language's data is seen for the budget. Records without a
    'lang' field are labelled with thaija's language detector.
    """
    from thaija.tune.data import count_languages, load_records
    from thaija.tune.sampling import plan_mix

    counts = count_languages(load_records(data))
    plan = plan_mix(counts, strategy, alpha=alpha, max_epochs=max_epochs, budget=budget,
                    weights=_parse_weights(weights))
    if as_json:
        print_json(plan.to_json())
        return
    from rich.console import Console
    from rich.table import Table

    extra = {"temperature": f" (alpha {alpha})", "unimax": f" (max epochs {max_epochs})"}
    t = Table(title=f"{strategy}{extra.get(strategy, '')} · budget {plan.budget} examples")
    for col in ("lang", "examples", "data share", "sampling share", "epochs"):
        t.add_column(col, justify="right" if col != "lang" else "left")
    total = sum(counts.values())
    for lang, n in counts.items():
        t.add_row(lang, str(n), f"{n / total:.3f}", f"{plan.shares[lang]:.3f}",
                  f"{plan.epochs[lang]:.2f}")
    Console().print(t)


def train_cmd(
    data: Optional[str] = option(TuneConfig, "data", "--data", "-d", unset=True),
    eval_data: Optional[str] = option(TuneConfig, "eval_data", "--eval-data", unset=True),
    eval_split: Optional[float] = option(TuneConfig, "eval_split", "--eval-split", unset=True),
    model: Optional[str] = option(TuneConfig, "model", "--model", "-m", unset=True),
    strategy: Optional[str] = option(TuneConfig, "strategy", "--strategy", "-s", unset=True),
    alpha: Optional[float] = option(TuneConfig, "alpha", "--alpha", unset=True),
    max_epochs: Optional[float] = option(TuneConfig, "max_epochs", "--max-epochs", unset=True),
    weights: Optional[str] = option(TuneConfig, "weights", "--weights", unset=True),
    lora_r: Optional[int] = option(TuneConfig, "r", "--lora-r", unset=True),
    lora_alpha: Optional[int] = option(TuneConfig, "lora_alpha", "--lora-alpha", unset=True),
    qlora: Optional[bool] = option(TuneConfig, "qlora", "--qlora/--no-qlora", unset=True),
    max_steps: Optional[int] = option(TuneConfig, "max_steps", "--max-steps", unset=True),
    batch_size: Optional[int] = option(TuneConfig, "batch_size", "--batch-size", unset=True),
    grad_accum: Optional[int] = option(TuneConfig, "gradient_accumulation_steps", "--grad-accum", unset=True),
    learning_rate: Optional[float] = option(TuneConfig, "learning_rate", "--learning-rate", "--lr", unset=True),
    max_length: Optional[int] = option(TuneConfig, "max_length", "--max-length", unset=True),
    eval_every: Optional[int] = option(TuneConfig, "eval_every", "--eval-every", unset=True),
    save_every: Optional[int] = option(TuneConfig, "save_every", "--save-every", unset=True),
    seed: Optional[int] = option(TuneConfig, "seed", "--seed", unset=True),
    threads: Optional[int] = option(TuneConfig, "num_threads", "--threads", unset=True),
    output: Optional[str] = option(TuneConfig, "output", "--output", "-o", unset=True),
    config: Optional[str] = typer.Option(None, "--config", "-c",
                                         help="TOML file with TuneConfig fields (flags override)."),
    resume: Optional[bool] = option(TuneConfig, "resume", "--resume/--no-resume", unset=True),
    as_json: bool = typer.Option(False, "--json", help="Print report.json to standard output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fine-tune a LoRA adapter with language-balanced sampling and per-language evaluation.

    Writes to --output: adapter_config.json + adapter_model.safetensors (PEFT), report.json
    (shares, per-language eval loss/perplexity before and after, history), loss_by_language.png,
    run.json (settings, realized shares, timing) and checkpoints/ for --resume.
    Multi-GPU: accelerate launch -m thaija.tune.train --config tune.toml (see docs/tune.md).
    """
    from thaija.tune.train import train

    flags = {"data": data, "eval_data": eval_data, "eval_split": eval_split, "model": model,
             "strategy": strategy, "alpha": alpha, "max_epochs": max_epochs,
             "weights": _parse_weights(weights), "r": lora_r, "lora_alpha": lora_alpha,
             "qlora": qlora, "max_steps": max_steps, "batch_size": batch_size,
             "gradient_accumulation_steps": grad_accum, "learning_rate": learning_rate,
             "max_length": max_length, "eval_every": eval_every, "save_every": save_every,
             "seed": seed, "output": output, "resume": resume, "num_threads": threads}
    if quiet:
        flags["progress"] = False
    if weights is not None and strategy is None:
        flags["strategy"] = "weights"
    if config:
        cfg = TuneConfig.from_toml(config, **flags)
    else:
        cfg = TuneConfig.from_dict({k: v for k, v in flags.items() if v is not None})
    if not cfg.data:
        fail("no training data: give --data DATA.jsonl (or 'data' in --config)")
    result = train(cfg)
    if as_json:
        print_json(result.report)
    else:
        r = result.report
        typer.echo(f"adapter written to {result.output} ({r['steps']} steps, "
                   f"{result.seconds:.0f} s)")
        for lang in sorted(r["eval"]):
            before = r["eval_before"].get(lang, {}).get("loss", float("nan"))
            typer.echo(f"  {lang}: eval loss {before:.3f} -> {r['eval'][lang]['loss']:.3f} "
                       f"(perplexity {r['eval'][lang]['perplexity']:.1f}, share "
                       f"{r['shares'].get(lang, 0):.2f})")


def merge_cmd(
    adapter: str = typer.Argument(..., help="Adapter folder written by `thaija tune train`."),
    output: str = typer.Option(..., "--output", "-o", help="Folder for the merged model."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Base model (default: the one the adapter records)."),
) -> None:
    """Merge a LoRA adapter into its base model: a plain transformers folder for serving."""
    from thaija.models.causal_lm import merge_adapter

    out = merge_adapter(adapter, output, model)
    typer.echo(f"merged model written to {out}")


def eval_cmd(
    data: str = typer.Argument(..., help="Evaluation JSONL (records with or without 'lang')."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Base model (default: the adapter's base, else "
                                        "offline Gemma-3-270m)."),
    adapter: Optional[str] = typer.Option(None, "--adapter", "-a",
                                          help="PEFT adapter folder to apply."),
    max_length: int = typer.Option(256, "--max-length", min=8, help="Tokens per example."),
    max_per_lang: Optional[int] = typer.Option(None, "--max-per-lang", min=1,
                                               help="Evaluate at most N examples per language."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    threads: Optional[int] = typer.Option(None, "--threads", min=1,
                                          help="CPU threads for torch [default: torch's]."),
    as_json: bool = typer.Option(False, "--json", help="Print {model, adapter, data, eval} as JSON."),
) -> None:
    """Per-language loss and perplexity of a base model, with or without an adapter."""
    from thaija.tune.evaluate import evaluate_model

    r = evaluate_model(data, model=model, adapter=adapter, max_length=max_length,
                       batch_size=batch_size, max_per_lang=max_per_lang, num_threads=threads)
    if as_json:
        print_json(r)
        return
    typer.echo(f"{r['model']}" + (f" + {adapter}" if adapter else ""))
    for lang, v in r["eval"].items():
        typer.echo(f"  {lang}: loss {v['loss']:.4f}  perplexity {v['perplexity']:.2f}  "
                   f"({v['examples']} examples, {v['tokens']} tokens)")


def qa_data_cmd(
    folder: Optional[str] = typer.Argument(None, help="BEIR folder: corpus.jsonl, queries.jsonl, "
                                           "answers.jsonl (+ qrels.tsv: gold paragraphs)."),
    review_export: Optional[str] = typer.Option(None, "--review-export",
                                                help="Approved answers from `thaija review export` "
                                                "(instead of FOLDER)."),
    db: str = typer.Option(..., "--db", help="Index to retrieve from (built from FOLDER's corpus "
                           "when it does not exist yet)."),
    output: str = typer.Option(..., "--output", "-o", help="Training JSONL to write."),
    k: int = option(QADataConfig, "k", "--k", "-k"),
    mode: str = option(QADataConfig, "mode", "--mode"),
    context_tokens: Optional[int] = option(QADataConfig, "context_tokens", "--context-tokens"),
    model: Optional[str] = option(QADataConfig, "model", "--model", "-m"),
    refusals: bool = option(QADataConfig, "refusals", "--refusals/--no-refusals"),
    limit: Optional[int] = option(QADataConfig, "limit", "--limit"),
    as_json: bool = typer.Option(False, "--json", help="Print {output, examples, by_lang, "
                                 "by_source, questions} as JSON."),
) -> None:
    """Turn QA pairs into grounded-answer chat examples for `tune train`.

    Each example is exactly the prompt `thaija ask --generator local` sends (rules in the
    question's language, the retrieved documents, the question) with the answer the answer stage
    writes: the gold sentence quoted from a retrieved document with its [n] marker, or the
    language's refusal sentence when the gold evidence is not retrieved. Tagged with 'lang'.
    """
    from thaija.rag.qa_data import qa_data

    if (folder is None) == (review_export is None):
        fail("give a BEIR FOLDER or --review-export FILE (exactly one)")
    cfg = QADataConfig(k=k, mode=mode, context_tokens=context_tokens, model=model,
                       refusals=refusals, limit=limit)
    stats = qa_data(output, db=db, folder=folder, review_export=review_export, config=cfg,
                    progress=not as_json)
    if as_json:
        print_json(stats)
        return
    langs = ", ".join(f"{k} {v}" for k, v in sorted(stats["by_lang"].items()))
    srcs = ", ".join(f"{k} {v}" for k, v in sorted(stats["by_source"].items()))
    typer.echo(f"{stats['examples']} examples from {stats['questions']} questions written to "
               f"{output} ({langs}; {srcs})")


def register(app: typer.Typer) -> None:
    """Attach `thaija tune` (mix, train, merge, eval, qa-data) to the top-level app."""
    tune = typer.Typer(help="Language-balanced LoRA / QLoRA fine-tuning with per-language "
                       "evaluation.", no_args_is_help=True)
    tune.command("mix")(mix_cmd)
    tune.command("train")(train_cmd)
    tune.command("merge")(merge_cmd)
    tune.command("eval")(eval_cmd)
    tune.command("qa-data")(qa_data_cmd)
    app.add_typer(tune, name="tune")
