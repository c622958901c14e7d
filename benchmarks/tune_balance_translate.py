"""Does temperature sampling narrow the gap between languages when the data is imbalanced?
(The first, translation-task version of the balance benchmark; the grounded-answer experiment of
the combined architecture is benchmarks/tune_balance.py.)

Task: English -> X translation (prompt/completion; loss on the translation only), built from the
shared parallel data: 9:1 Japanese:Thai training examples from NTREX-128 (disjoint lines per
language), held-out evaluation on FLORES-200 dev (the same English sources for both languages).
Both runs train the offline default model (Gemma-3-270m, dequantised from Q4_K_M) with the same
step budget, LoRA settings and seed; only the sampling strategy differs. The reference is
``proportional`` (what plain concatenation + shuffling gives), measured in the same run.

    nice -n 10 .venv/bin/python benchmarks/tune_balance_translate.py [--steps 30] [--model PATH]

Writes benchmarks/results/tune_balance_translate.json (+ .png).
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
PROMPT = {"ja": "Translate into Japanese:\n{src}\nJapanese: ",
          "th": "Translate into Thai:\n{src}\nThai: "}
FILES = {"ja": "jpn.txt", "th": "tha.txt"}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


def _record(task: str, lang: str, src: str, tgt: str) -> dict:
    if task == "text":
        return {"text": tgt, "lang": lang}
    return {"prompt": PROMPT[lang].format(src=src), "completion": tgt, "lang": lang}


def build_data(work: Path, n_ja: int, n_th: int, n_eval: int,
               task: str = "translate") -> tuple[Path, Path]:
    """Write train.jsonl (n_ja + n_th, disjoint NTREX lines) and eval.jsonl (FLORES dev).

    task "translate": English -> X prompt/completion; "text": the X sentences alone (plain
    language modelling of news text, no shared task format to learn).
    """
    eng = lines(SHARED / "ntrex" / "eng.txt")
    tgt = {k: lines(SHARED / "ntrex" / f) for k, f in FILES.items()}
    rows = [_record(task, "ja", eng[i], tgt["ja"][i]) for i in range(n_ja)]
    rows += [_record(task, "th", eng[i], tgt["th"][i]) for i in range(n_ja, n_ja + n_th)]
    f_eng = lines(SHARED / "flores" / "dev" / "eng.txt")
    f_tgt = {k: lines(SHARED / "flores" / "dev" / f) for k, f in FILES.items()}
    evals = [_record(task, k, f_eng[i], f_tgt[k][i]) for k in ("ja", "th") for i in range(n_eval)]
    tr, ev = work / "train.jsonl", work / "eval.jsonl"
    for path, data in ((tr, rows), (ev, evals)):
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in data) + "\n",
                        encoding="utf-8")
    return tr, ev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--task", choices=("translate", "text"), default="translate")
    ap.add_argument("--seed", type=int, default=0, help="sampling / LoRA init seed")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--alpha", type=float, default=0.3)
    ap.add_argument("--n-ja", type=int, default=360)
    ap.add_argument("--n-th", type=int, default=40)
    ap.add_argument("--n-eval", type=int, default=24, help="FLORES dev sentences per language")
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--model", default=None, help="default: offline Gemma-3-270m")
    ap.add_argument("--qlora", action="store_true")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (1 avoids OpenMP stalls on a shared CPU)")
    ap.add_argument("--out", default=str(RESULTS / "tune_balance_translate.json"))
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"shared data not found at {SHARED}")

    import torch

    from thaija.tune.config import TuneConfig
    from thaija.models.causal_lm import DEFAULT_MODEL, default_model_dir, is_default_model
    from thaija.tune.report import plot_losses
    from thaija.tune.train import train

    if is_default_model(args.model):
        default_model_dir()  # one-time conversion outside the timed runs
    work = Path(tempfile.mkdtemp(prefix="tune_balance-"))
    tr, ev = build_data(work, args.n_ja, args.n_th, args.n_eval, args.task)
    runs = {}
    for strategy in ("proportional", "temperature"):
        t0 = time.time()
        res = train(TuneConfig(
            data=str(tr), eval_data=str(ev), model=args.model, output=str(work / strategy),
            strategy=strategy, alpha=args.alpha, max_steps=args.steps, batch_size=args.batch_size,
            learning_rate=args.lr, max_length=args.max_length, eval_every=max(1, args.steps // 2),
            save_every=0, seed=args.seed, qlora=args.qlora, max_eval_per_lang=None,
            num_threads=None if torch.cuda.is_available() else args.threads))
        rep = res.report
        run = json.loads((res.output / "run.json").read_text("utf-8"))
        runs[strategy] = {
            "shares": rep["shares"], "realized_shares": run["realized_shares"],
            "epochs_seen": {k: run["realized_shares"][k] * run["budget_examples"] / n
                            for k, n in run["train_counts"].items()},
            "eval_before": {k: v["loss"] for k, v in rep["eval_before"].items()},
            "eval_after": {k: v["loss"] for k, v in rep["eval"].items()},
            "improvement": {k: rep["eval_before"][k]["loss"] - rep["eval"][k]["loss"]
                            for k in rep["eval"]},
            "history": rep["history"], "seconds": round(time.time() - t0, 1),
            "sec_per_step": round(run["seconds"] / args.steps, 2),
        }
        runs[strategy]["gap"] = runs[strategy]["improvement"]["ja"] - runs[strategy]["improvement"]["th"]
        plot_losses(rep, work / f"{strategy}.png")

    ref, tem = runs["proportional"], runs["temperature"]
    ratios = {
        "th_improvement_temperature_vs_proportional":
            tem["improvement"]["th"] / ref["improvement"]["th"] if ref["improvement"]["th"] else None,
        "ja_improvement_temperature_vs_proportional":
            tem["improvement"]["ja"] / ref["improvement"]["ja"] if ref["improvement"]["ja"] else None,
        "abs_gap_temperature_vs_proportional":
            abs(tem["gap"]) / abs(ref["gap"]) if ref["gap"] else None,
    }
    result = {
        "benchmark": "tune_balance",
        "model": args.model or DEFAULT_MODEL, "qlora": args.qlora and torch.cuda.is_available(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "machine": f"{platform.machine()} · {os.cpu_count()} cpus · torch {torch.__version__}",
        "task": ("English->X translation, loss on the translation only" if args.task == "translate"
                 else "language modelling of the X sentences (loss on every token)"),
        "train": {"ja": args.n_ja, "th": args.n_th, "source": "NTREX-128 (disjoint lines)"},
        "eval": {"per_lang": args.n_eval, "source": "FLORES-200 dev (same English sources)"},
        "steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.lr,
        "alpha": args.alpha, "max_length": args.max_length, "lora_r": 16, "threads": args.threads,
        "seed": args.seed,
        "reference": "proportional", "runs": runs, "ratios": ratios,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamp(result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _plot(runs, out.with_suffix(".png"), f"{args.n_ja}:{args.n_th} ja:th · {args.task} · proportional vs temperature")

    print(f"\ntune_balance · {result['model']} · {result['device']} · {args.steps} steps × "
          f"{args.batch_size} · 9:1 ja:th ({args.n_ja}/{args.n_th}) · eval {args.n_eval}/lang")
    print(f"{'strategy':<13}{'th share':>9}{'ja before':>10}{'ja after':>9}{'Δja':>7}"
          f"{'th before':>10}{'th after':>9}{'Δth':>7}{'gap Δja-Δth':>12}{'s/step':>8}")
    for name, r in runs.items():
        print(f"{name:<13}{r['shares']['th']:>9.3f}{r['eval_before']['ja']:>10.3f}"
              f"{r['eval_after']['ja']:>9.3f}{r['improvement']['ja']:>7.3f}"
              f"{r['eval_before']['th']:>10.3f}{r['eval_after']['th']:>9.3f}"
              f"{r['improvement']['th']:>7.3f}{r['gap']:>12.3f}{r['sec_per_step']:>8.2f}")
    for k, v in ratios.items():
        print(f"  {k}: {v:.2f}" if v is not None else f"  {k}: n/a")
    print(f"wrote {out}")


def _plot(runs: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    styles = {"proportional": "--", "temperature": "-"}
    for name, r in runs.items():
        for lang, color in (("ja", "tab:red"), ("th", "tab:blue")):
            xs = [0] + [h["step"] for h in r["history"]]
            ys = [r["eval_before"][lang]] + [h["eval"][lang]["loss"] for h in r["history"]]
            ax.plot(xs, ys, styles[name], color=color, marker="o",
                    label=f"{lang} · {name} (share {r['shares'][lang]:.2f})")
    ax.set_xlabel("step")
    ax.set_ylabel("held-out loss (nats / token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
