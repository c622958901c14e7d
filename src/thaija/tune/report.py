"""report.json (the run's contract file) and loss_by_language.png (per-language eval curves)."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _loss_ppl(ev: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {lang: {"loss": float(v["loss"]), "perplexity": float(v["perplexity"])}
            for lang, v in ev.items()}


def build_report(*, model: str, strategy: str, shares: Mapping[str, float], steps: int,
                 eval_after: Mapping[str, Mapping[str, float]],
                 eval_before: Mapping[str, Mapping[str, float]],
                 history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The exact report.json shape of `thaija tune train`."""
    return {
        "model": model,
        "strategy": strategy,
        "shares": {k: float(v) for k, v in shares.items()},
        "steps": int(steps),
        "eval": _loss_ppl(eval_after),
        "eval_before": _loss_ppl(eval_before),
        "history": [{"step": int(h["step"]), "train_loss": float(h["train_loss"]),
                     "eval": {lang: {"loss": float(v["loss"])} for lang, v in h["eval"].items()}}
                    for h in history],
    }


def write_report(output: str | Path, report: Mapping[str, Any]) -> Path:
    """Write ``report.json`` into ``output``."""
    p = Path(output) / "report.json"
    p.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return p


def plot_losses(report: Mapping[str, Any], path: str | Path, title: str | None = None) -> Path:
    """Per-language eval loss over steps (step 0 = before training) as a PNG (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = sorted(set(report["eval_before"]) | {k for h in report["history"] for k in h["eval"]})
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for lang in langs:
        xs, ys = [], []
        if lang in report["eval_before"]:
            xs.append(0)
            ys.append(report["eval_before"][lang]["loss"])
        for h in report["history"]:
            if lang in h["eval"]:
                xs.append(h["step"])
                ys.append(h["eval"][lang]["loss"])
        share = report.get("shares", {}).get(lang)
        label = f"{lang} (share {share:.2f})" if share is not None else lang
        ax.plot(xs, ys, marker="o", label=label)
    if report["history"]:
        ax.plot([h["step"] for h in report["history"]], [h["train_loss"] for h in report["history"]],
                color="grey", linestyle="--", label="train (mixed)")
    ax.set_xlabel("step")
    ax.set_ylabel("eval loss (nats / token)")
    ax.set_title(title or f"{report.get('model', '')} · {report.get('strategy', '')}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def write_model_card(output: str | Path, report: Mapping[str, Any], *, license_note: str = "") -> Path:
    """Replace PEFT's template README.md with a short card: base model, mix, per-language eval."""
    lines = [f"# LoRA adapter for {report['model']}", "",
             "Trained with `thaija tune train` (language-balanced sampling).", "",
             f"- strategy: `{report['strategy']}`, steps: {report['steps']}",
             "- sampling shares: " + ", ".join(f"{k} {v:.3f}" for k, v in report["shares"].items()),
             "", "| language | eval loss before | after | perplexity after |", "|---|---|---|---|"]
    for lang, v in report["eval"].items():
        before = report["eval_before"].get(lang, {}).get("loss", float("nan"))
        lines.append(f"| {lang} | {before:.4f} | {v['loss']:.4f} | {v['perplexity']:.2f} |")
    lines += ["", "Load it with `thaija.models.causal_lm.load_causal_lm(adapter=<this folder>)`, evaluate "
              "with `thaija tune eval DATA --adapter <this folder>`, merge with `thaija tune merge`."]
    if license_note:
        lines += ["", license_note]
    p = Path(output) / "README.md"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
