"""The tune stage of `make demo`: plan a 9:1 ja:th mix and train the offline default model briefly.

``run_demo(corpora, output)`` builds English→Japanese / English→Thai translation records from the
shipped FLORES-200 slice (``corpora/parallel``), prints the planned mix for proportional,
temperature and unimax sampling, trains Gemma-3-270m for a few LoRA steps with temperature
sampling (≈ 30–60 s on 2 CPU cores, plus ≈ 55 s once to convert the GGUF) and prints the
per-language held-out loss before and after. Returns the run's report.json dict.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROMPT = {"ja": "Translate into Japanese:\n{src}\nJapanese: ", "th": "Translate into Thai:\n{src}\nThai: "}


def build_demo_data(corpora: str | Path, work: str | Path, n_ja: int = 90, n_th: int = 10,
                    n_eval: int = 6) -> tuple[Path, Path]:
    """Write train.jsonl (9:1 ja:th, disjoint lines) and eval.jsonl (n_eval per language)."""
    par = Path(corpora) / "parallel"
    read = lambda f: (par / f).read_text(encoding="utf-8").rstrip("\n").split("\n")  # noqa: E731
    eng, tgt = read("eng.txt"), {"ja": read("jpn.txt"), "th": read("tha.txt")}
    rows = [{"prompt": PROMPT["ja"].format(src=eng[i]), "completion": tgt["ja"][i], "lang": "ja"}
            for i in range(n_ja)]
    rows += [{"prompt": PROMPT["th"].format(src=eng[i]), "completion": tgt["th"][i], "lang": "th"}
             for i in range(n_ja, n_ja + n_th)]
    start = n_ja + n_th
    evals = [{"prompt": PROMPT[k].format(src=eng[i]), "completion": tgt[k][i], "lang": k}
             for k in ("ja", "th") for i in range(start, start + n_eval)]
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    out = (work / "train.jsonl", work / "eval.jsonl")
    for path, data in zip(out, (rows, evals)):
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in data) + "\n",
                        encoding="utf-8")
    return out


def run_demo(corpora: str | Path, output: str | Path, *, steps: int = 4,
             model: str | None = None, console: Any = None) -> dict[str, Any]:
    """Plan the mix, train ``steps`` LoRA steps, print tables; return the report dict."""
    from rich.console import Console
    from rich.table import Table

    from thaija.tune.config import TuneConfig
    from thaija.tune.data import count_languages, load_records
    from thaija.tune.sampling import plan_mix
    from thaija.tune.train import train

    console = console or Console()
    train_path, eval_path = build_demo_data(corpora, Path(output) / "data")
    counts = count_languages(load_records(train_path))
    t = Table(title="tune · language mix (" + ", ".join(f"{k} {n}" for k, n in counts.items())
              + " examples)")
    for col in ("strategy", "ja share", "th share", "th epochs"):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for name, kw in (("proportional", {}), ("temperature", {"alpha": 0.3}),
                     ("unimax", {"max_epochs": 4})):
        p = plan_mix(counts, name, **kw)
        t.add_row(name, f"{p.shares['ja']:.3f}", f"{p.shares['th']:.3f}", f"{p.epochs['th']:.2f}")
    console.print(t)
    res = train(TuneConfig(data=str(train_path), eval_data=str(eval_path), model=model,
                           output=str(Path(output) / "adapter"), strategy="temperature",
                           max_steps=steps, batch_size=2, learning_rate=5e-4, max_length=80,
                           eval_every=0, save_every=0, num_threads=1))
    rep = res.report
    t = Table(title=f"tune · {rep['steps']} LoRA steps, {res.seconds:.0f} s · held-out loss")
    for col in ("lang", "share", "before", "after"):
        t.add_column(col, justify="left" if col == "lang" else "right")
    for lang, v in rep["eval"].items():
        t.add_row(lang, f"{rep['shares'][lang]:.3f}", f"{rep['eval_before'][lang]['loss']:.3f}",
                  f"{v['loss']:.3f}")
    console.print(t)
    console.print(f"adapter, report.json and loss_by_language.png in {res.output}")
    return rep
