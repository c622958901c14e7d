"""Planner and estimate on fixed scenarios: where costs, query volume, update frequency and budget move
the verdict, and how premiums calibrated on a user's own documents differ from the FLORES sample.

Run:  nice -n 10 .venv/bin/python benchmarks/cost_plan.py [--data ../shared/data]
Writes benchmarks/results/cost_plan.json (docs/cost.md quotes it). Prices: the packaged table
(list prices as of its date, written offline: verify before budgeting).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import stamp  # noqa: E402

SCENARIOS = [  # the design brief's three cases, then the frictions of issue 14
    ("weekly-updated policies, 50 examples", dict(need="knowledge", labeled_examples=50, update_frequency="weekly")),
    ("fixed legal style, 5,000 examples", dict(need="style", labeled_examples=5000, update_frequency="never")),
    ("style + weekly updates, 2,000 examples", dict(need="both", labeled_examples=2000, update_frequency="weekly")),
    ("same, budget $100 (nothing fits)", dict(need="both", labeled_examples=2000, update_frequency="weekly",
                                              monthly_budget_usd=100)),
    ("same, budget $200 (rag fits)", dict(need="both", labeled_examples=2000, update_frequency="weekly",
                                          monthly_budget_usd=200)),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--models", default="gpt-4o-mini,gpt-4.1,claude-sonnet-4.5,gemini-2.5-flash,deepseek-chat")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cost_plan.json"))
    args = ap.parse_args()

    from thaija.cost.estimate import estimate
    from thaija.cost.plan import plan

    def brief(r: dict) -> dict:
        return {"recommendation": r["recommendation"],
                "totals": {o: v["total_usd_month"] for o, v in r["costs"].items()},
                "verdict": r["steps"][-1]["finding"]}

    scenarios = [{"name": n, "inputs": kw, **brief(plan(**kw))} for n, kw in SCENARIOS]
    sweep = []
    for freq in ("never", "quarterly", "monthly", "weekly"):
        for q in (10_000, 100_000, 1_000_000, 2_000_000):
            r = plan(need="knowledge", labeled_examples=3000, update_frequency=freq, queries_per_month=q)
            sweep.append({"update_frequency": freq, "queries_per_month": q, **brief(r)})

    ntrex = Path(args.data) / "ntrex"
    measured = None
    if ntrex.is_dir():
        with tempfile.TemporaryDirectory() as d:
            for lang, fn in (("th", "tha.txt"), ("ja", "jpn.txt")):
                lines = (ntrex / fn).read_text(encoding="utf-8").splitlines()[:500]
                Path(d, f"news_{lang}.txt").write_text("\n".join(lines), encoding="utf-8")
            models = [m for m in args.models.split(",") if m]
            flores = estimate(models=models, mix="th=0.5,ja=0.5")
            user = estimate(models=models, mix="th=0.5,ja=0.5", from_texts=d)
        f = {m["model"]: m for m in flores["models"]}
        measured = {
            "documents": "NTREX-128, first 500 lines each of tha.txt and jpn.txt as two user documents",
            "characters": user["measured"]["characters"],
            "models": {m["model"]: {"tokenizer": m["tokenizer"], "approximation": m["approximation"],
                                    "premium_flores": {l: f[m["model"]]["languages"][l]["premium"] for l in ("th", "ja")},
                                    "premium_your_texts": {l: m["languages"][l]["premium"] for l in ("th", "ja")},
                                    "monthly_usd_flores": f[m["model"]]["monthly_usd"],
                                    "monthly_usd_your_texts": m["monthly_usd"]}
                       for m in user["models"]},
        }
    result = {"benchmark": "cost_plan", "prices": "packaged prices.toml (list prices as of 2025-10-01, verify)",
              "scenarios": scenarios, "volume_frequency_sweep": sweep, "measured_estimate": measured}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamp(result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for s in scenarios:
        print(f"{s['name']:<42} -> {s['recommendation']:<9} {s['totals']}")
    for s in sweep:
        print(f"knowledge, 3000 ex, {s['update_frequency']:<9} {s['queries_per_month']:>9,} q/month -> "
              f"{s['recommendation']:<9} {s['totals']}")
    if measured:
        for name, m in measured["models"].items():
            print(f"{name:<20} th ×{m['premium_flores']['th']:.2f} (FLORES) ×{m['premium_your_texts']['th']:.2f} (NTREX)"
                  f"  ja ×{m['premium_flores']['ja']:.2f} ×{m['premium_your_texts']['ja']:.2f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
