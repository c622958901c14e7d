"""The training loop: balanced sampling -> PEFT LoRA (QLoRA on CUDA) -> adapter + report.

Runs unchanged on one CPU, one GPU or under ``accelerate launch`` (data parallel): every process
draws the same seeded global order and takes its own slice of each step's examples; only the main
process evaluates, saves checkpoints and writes outputs.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thaija.errors import ThaijaError
from thaija.tune.config import TuneConfig

# run settings that must match to resume from a checkpoint
_SIGNATURE = ("model", "strategy", "alpha", "max_epochs", "weights", "r", "lora_alpha",
              "lora_dropout", "target_modules", "batch_size", "gradient_accumulation_steps",
              "max_steps", "learning_rate", "weight_decay", "warmup_steps", "max_length", "seed")


@dataclass
class TrainResult:
    """What a run produced: the report dict and where things were written."""

    report: dict[str, Any]
    output: Path
    realized_shares: dict[str, float]
    seconds: float
    resumed_from: int = 0


def _log(msg: str, enabled: bool) -> None:
    if enabled:
        from rich.console import Console

        Console(stderr=True).print(msg, highlight=False)


def train(config: TuneConfig, *, stop_after: int | None = None) -> TrainResult:
    """Fine-tune a LoRA adapter as ``config`` says and write it with report.json + plot.

    ``stop_after`` ends the run early after that many optimizer steps (saving a checkpoint), as
    an interruption would; a later run with ``resume=True`` continues it.
    """
    import torch

    threads = torch.get_num_threads()
    try:
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        return _train(config, stop_after)
    finally:
        torch.set_num_threads(threads)


def _train(config: TuneConfig, stop_after: int | None) -> TrainResult:
    import torch
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from thaija.tune.checkpoint import (checkpoint_dirs, load_checkpoint, read_state,
                                        save_checkpoint)
    from thaija.tune.data import (count_languages, encode, limit_per_lang, load_records,
                                  remove_overlap, split_eval)
    from thaija.tune.evaluate import collate, evaluate_encoded, example_nll
    from thaija.models.causal_lm import DEFAULT_MODEL, is_default_model, load_causal_lm, target_modules
    from thaija.tune.report import build_report, plot_losses, write_model_card, write_report
    from thaija.tune.sampling import BalancedSampler, plan_mix

    t0 = time.time()
    cfg = config
    if not cfg.data:
        raise ThaijaError("no training data: give --data DATA.jsonl")
    out = Path(cfg.output)
    use_cuda = torch.cuda.is_available()
    mp = "bf16" if use_cuda and torch.cuda.is_bf16_supported() else "no"
    acc = Accelerator(mixed_precision=mp, cpu=not use_cuda)
    main = acc.is_main_process
    show = cfg.progress and main
    if not show:  # -q: no transformers/hub bars either (GGUF conversion, weight loading, shards)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

    # ---- data -------------------------------------------------------------------------------
    records = load_records(cfg.data, languages=cfg.languages)
    if cfg.eval_data:
        evals = load_records(cfg.eval_data, languages=cfg.languages)
        train_recs, dropped = remove_overlap(records, evals)
        if dropped:
            _log(f"[yellow]dropped {dropped} training examples that also occur in "
                 f"{cfg.eval_data}[/yellow]", show)
    else:
        train_recs, evals = split_eval(records, cfg.eval_split, seed=cfg.seed)
    evals = limit_per_lang(evals, cfg.max_eval_per_lang, cfg.seed)
    if not train_recs:
        raise ThaijaError("no training examples left after the evaluation split")
    counts = count_languages(train_recs)
    no_eval = sorted(set(counts) - {r.lang for r in evals})
    if no_eval:
        _log(f"[yellow]no evaluation examples for {', '.join(no_eval)}[/yellow]", show)

    world = acc.num_processes
    per_step = cfg.batch_size * cfg.gradient_accumulation_steps * world
    total = cfg.max_steps * per_step
    plan = plan_mix(counts, cfg.strategy, alpha=cfg.alpha, max_epochs=cfg.max_epochs,
                    budget=total, weights=cfg.weights)
    sampler = BalancedSampler([r.lang for r in train_recs], plan.shares, total, seed=cfg.seed)

    # ---- model ------------------------------------------------------------------------------
    qlora = cfg.qlora
    if qlora:
        check_qlora(use_cuda)
    base, tok = load_causal_lm(cfg.model, device=str(acc.device), load_in_4bit=qlora)
    precision = describe_precision(base, cfg.model)
    if qlora:
        if precision["quantization"] != "bitsandbytes-nf4":
            raise ThaijaError(f"--qlora: the base model did not load in 4 bits "
                              f"({precision['quantization']}); nothing was trained")
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=True)
    precision["device"] = str(acc.device)
    precision["mixed_precision"] = mp
    targets = cfg.target_modules or target_modules(base)
    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    torch.manual_seed(cfg.seed)
    with warnings.catch_warnings():  # transformers' deprecation notice inside PEFT
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(base, lora)
    model.peft_config["default"].base_model_name_or_path = cfg.model or DEFAULT_MODEL
    pad_id = tok.pad_token_id

    enc_train = [encode(r, tok, cfg.max_length) for r in train_recs]
    truncated = sum(len(ids) >= cfg.max_length for ids, _ in enc_train)
    if truncated:
        _log(f"[yellow]{truncated} of {len(enc_train)} training examples reach max_length="
             f"{cfg.max_length} tokens and are cut there (raise --max-length or split long "
             "texts)[/yellow]", show)
    enc_eval = [(r.lang, encode(r, tok, cfg.max_length)) for r in evals]
    bad = [r.line for r, (_, y) in zip(train_recs, enc_train) if sum(t != -100 for t in y[1:]) == 0]
    if bad:
        raise ThaijaError(f"{len(bad)} examples have no target tokens within max_length="
                          f"{cfg.max_length} (lines {', '.join(map(str, bad[:20]))}); "
                          "raise --max-length or shorten the prompts")

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)

    def lr_lambda(step: int) -> float:  # linear warmup, then linear decay to 10 %
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        span = max(1, cfg.max_steps - cfg.warmup_steps)
        return max(0.1, 1.0 - 0.9 * (step - cfg.warmup_steps) / span)

    model, optimizer = acc.prepare(model, optimizer)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    unwrapped = acc.unwrap_model(model)

    signature = {k: getattr(cfg, k) for k in _SIGNATURE}
    signature["target_modules"] = list(targets) if not isinstance(targets, str) else targets
    signature["data"] = hashlib.sha1(
        "\n".join(r.key + r.lang for r in train_recs).encode()).hexdigest()
    signature["world"] = world

    def run_eval() -> dict[str, dict[str, float]]:
        return evaluate_encoded(unwrapped, enc_eval, pad_id=pad_id,
                                batch_size=max(cfg.batch_size, 8), device=acc.device)

    # ---- resume -----------------------------------------------------------------------------
    start, history, eval_before = 0, [], None
    win_loss: list[float] = []                 # train losses since the last history entry
    win_lang: dict[str, list[float]] = {}      # per-language [nll sum, tokens] since then
    if cfg.resume:
        ckpts = checkpoint_dirs(out)
        if ckpts:
            saved = read_state(ckpts[-1])["signature"]
            diff = sorted(k for k in signature if saved.get(k) != signature[k])
            if diff:
                raise ThaijaError(f"cannot resume from {ckpts[-1]}: settings differ "
                                  f"({', '.join(diff)}); use another --output or the same settings")
            state = load_checkpoint(ckpts[-1], unwrapped, optimizer)
            start, history, eval_before = state["step"], state["history"], state["eval_before"]
            win_loss, win_lang = state["window"]["loss"], state["window"]["by_lang"]
            with warnings.catch_warnings():  # replaying the schedule before any optimizer.step
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(start):
                    scheduler.step()
            _log(f"resuming from {ckpts[-1]} (step {start}/{cfg.max_steps})", show)
        else:
            _log(f"[yellow]no checkpoint in {out}/checkpoints: starting from step 0[/yellow]", show)
    if eval_before is None:
        eval_before = run_eval() if main else {}

    # ---- loop -------------------------------------------------------------------------------
    order = sampler.order
    langs = [r.lang for r in train_recs]
    rank = acc.process_index
    model.train()
    progress = None
    if show:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        progress = Progress(TextColumn("[bold]tune"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(),
                            TextColumn("{task.description}"), console=Console(stderr=True))
        progress.start()
        task = progress.add_task("", total=cfg.max_steps, completed=start)

    def save(step: int) -> None:
        if main:
            save_checkpoint(out, step, unwrapped, optimizer,
                            {"signature": signature, "history": history,
                             "eval_before": eval_before, "plan": plan.to_json(),
                             "window": {"loss": win_loss, "by_lang": win_lang}},
                            keep=cfg.keep_checkpoints)
        acc.wait_for_everyone()

    step = start
    try:
        for step in range(start + 1, cfg.max_steps + 1):
            base_pos = (step - 1) * per_step
            step_sum, step_tok = 0.0, 0
            for micro in range(cfg.gradient_accumulation_steps):
                lo = base_pos + (micro * world + rank) * cfg.batch_size
                idx = order[lo: lo + cfg.batch_size]
                ids, mask, labels = collate([enc_train[i] for i in idx], pad_id, acc.device)
                ctx = (acc.no_sync(model) if micro < cfg.gradient_accumulation_steps - 1
                       else _null())
                with ctx, acc.autocast():
                    s, t = example_nll(model, ids, mask, labels)
                    loss = s.sum() / t.sum().clamp(min=1) / cfg.gradient_accumulation_steps
                    acc.backward(loss)
                s = s.detach()
                step_sum += float(s.sum())
                step_tok += int(t.sum())
                for i, si, ti in zip(idx, s.tolist(), t.tolist()):
                    w = win_lang.setdefault(langs[i], [0.0, 0])
                    w[0] += si
                    w[1] += ti
            acc.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step_loss = step_sum / max(step_tok, 1)
            if not math.isfinite(step_loss):
                raise ThaijaError(f"training diverged at step {step} (loss {step_loss}); "
                                  "lower --learning-rate")
            win_loss.append(step_loss)
            if progress is not None:
                per = " ".join(f"{k} {v[0] / max(v[1], 1):.3f}" for k, v in sorted(win_lang.items()))
                progress.update(task, completed=step, description=f"loss {step_loss:.3f} · {per}")
            last = step == cfg.max_steps
            if last or (cfg.eval_every and step % cfg.eval_every == 0):
                ev = run_eval() if main else {}
                history.append({"step": step, "train_loss": sum(win_loss) / len(win_loss),
                                "eval": {k: {"loss": v["loss"]} for k, v in ev.items()},
                                "train_by_lang": {k: v[0] / max(v[1], 1) for k, v in win_lang.items()}})
                win_loss, win_lang = [], {}
                if progress is not None:
                    progress.console.print(
                        f"step {step}: eval " + " ".join(f"{k} {v['loss']:.3f}" for k, v in ev.items()),
                        highlight=False)
            if stop_after is not None and step - start >= stop_after and not last:
                save(step)
                break
            if cfg.save_every and step % cfg.save_every == 0 and not last:
                save(step)
    except KeyboardInterrupt:
        if step > start:
            save(step)
            _log(f"[yellow]interrupted: checkpoint saved at step {step}; run again with --resume"
                 "[/yellow]", main)
        raise
    finally:
        if progress is not None:
            progress.stop()

    done = step >= cfg.max_steps
    report = build_report(model=cfg.model or DEFAULT_MODEL, strategy=cfg.strategy,
                          shares=plan.shares, steps=step,
                          eval_after=(eval_from(history) if history else eval_before),
                          eval_before=eval_before, history=history)
    report["training"] = {"qlora": qlora, **precision, "processes": world}
    if done and main:
        out.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # PEFT cannot find a hub config for the default's alias
            warnings.simplefilter("ignore", UserWarning)
            unwrapped.save_pretrained(out)
        write_report(out, report)
        write_model_card(out, report, license_note=(
            "The base model is Gemma-3-270m: use is subject to the Gemma Terms of Use "
            "(https://ai.google.dev/gemma/terms)." if cfg.model is None or is_default_model(cfg.model)
            else ""))
        plot_losses(report, out / "loss_by_language.png")
        run = {"config": cfg.to_dict(), "plan": plan.to_json(), "budget_examples": total,
               "realized_shares": sampler.realized_shares(), "train_counts": counts,
               "eval_counts": count_languages(evals), "target_modules": signature["target_modules"],
               "qlora": qlora, **precision, "processes": world,
               "seconds": round(time.time() - t0, 2), "resumed_from": start,
               "history_train_by_language": [{"step": h["step"], **h["train_by_lang"]}
                                             for h in history]}
        (out / "run.json").write_text(json.dumps(run, ensure_ascii=False, indent=2, default=str),
                                      encoding="utf-8")
    acc.wait_for_everyone()
    return TrainResult(report, out, sampler.realized_shares(), time.time() - t0, start)


def eval_from(history: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Final eval of a history (loss + perplexity)."""
    return {k: {"loss": v["loss"], "perplexity": math.exp(min(v["loss"], 700.0))}
            for k, v in history[-1]["eval"].items()}


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def train_main(argv: list[str] | None = None) -> None:
    """Entry point for ``accelerate launch -m thaija.tune.train --config tune.toml [k=v ...]``."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if "--config" not in args:
        raise SystemExit("usage: python -m thaija.tune.train --config tune.toml [key=value ...]")
    i = args.index("--config")
    path = args[i + 1]
    overrides: dict[str, Any] = {}
    for a in args[:i] + args[i + 2:]:
        k, _, v = a.partition("=")
        try:
            overrides[k] = json.loads(v)
        except json.JSONDecodeError:
            overrides[k] = v
    warnings.filterwarnings("ignore", category=UserWarning)
    try:
        train(TuneConfig.from_toml(path, **overrides))
    except ThaijaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def check_qlora(use_cuda: bool | None = None) -> None:
    """Raise a one-line :class:`ThaijaError` unless 4-bit QLoRA training can run here."""
    if use_cuda is None:
        import torch

        use_cuda = torch.cuda.is_available()
    if not use_cuda:
        raise ThaijaError("--qlora trains on a 4-bit base model (bitsandbytes), which needs a CUDA "
                          "GPU; this machine has none: drop --qlora to train plain LoRA (float32)")
    from thaija.errors import require

    require("bitsandbytes", "bitsandbytes", "--qlora (4-bit base model)")


def describe_precision(model: Any, name: str | None) -> dict[str, Any]:
    """What the base model really is in memory: weight dtype, quantization, GGUF origin."""
    from thaija.models.causal_lm import is_default_model

    n4 = sum(type(m).__name__ == "Linear4bit" for m in model.modules())
    dtypes: dict[str, int] = {}
    for p in model.parameters():
        dtypes[str(p.dtype).replace("torch.", "")] = dtypes.get(str(p.dtype).replace("torch.", ""), 0) + p.numel()
    gguf = is_default_model(name) or str(name or "").endswith(".gguf")
    out: dict[str, Any] = {
        "quantization": "bitsandbytes-nf4" if n4 else "none",
        "quantized_linear_layers": n4,
        "dtype": max(dtypes, key=dtypes.get) if dtypes else "unknown",
        "parameter_dtypes": dtypes,
        "source_format": "gguf" if gguf else "transformers",
    }
    if gguf:
        out["note"] = ("the GGUF (Q4_K_M) checkpoint was dequantised to float32 safetensors first"
                       + ("; then quantised to 4-bit NF4 by bitsandbytes" if n4 else
                          "; training used the dequantised float32 weights"))
    compute = getattr(getattr(model, "config", None), "quantization_config", None)
    if n4 and compute is not None:
        out["compute_dtype"] = str(getattr(compute, "bnb_4bit_compute_dtype", "")).replace("torch.", "")
    return out


if __name__ == "__main__":  # pragma: no cover
    train_main()
