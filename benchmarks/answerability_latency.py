"""Latency of the answerability cross-encoder per question: re-scoring the best 12 sentences (what
``thaija ask`` adds to each question), against embedding the same 12 sentences with the bi-encoder
(e5-torch, what the dense evidence signal already costs), same process, same threads.

Questions and sentences: held-out articles of iapp valid (th) and JSQuAD valid (ja).

Run from the repo root (quiet machine):  .venv/bin/python benchmarks/answerability_latency.py --threads 1
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402
import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=30, help="questions per language")
    ap.add_argument("--units", type=int, default=12, help="sentences scored per question")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from train_answerability import qa_examples

    from thaija.models.answerability import CrossEncoder
    from thaija.models.e5 import E5Torch, E5TorchConfig

    ce = CrossEncoder(threads=args.threads)
    bi = E5Torch(E5TorchConfig(threads=args.threads))
    rng = random.Random(args.seed)
    out = {"machine": f"{os.cpu_count()} CPU cores", "threads": args.threads, "units": args.units,
           "load_avg_before": os.getloadavg(), "langs": {}}
    for lang in ("th", "ja"):
        ex = [e for e in qa_examples(lang, "eval", rng, args.questions * 2, 4) if len(e["ans"]) >= 4][:args.questions]
        ce.score(ex[0]["q"], ex[0]["ans"][:args.units])  # warm-up
        bi.passage(ex[0]["ans"][:args.units])
        t_ce, t_bi = [], []
        for e in ex:
            sents = (e["ans"] * 3)[:args.units]
            t = time.perf_counter()
            ce.score(e["q"], sents)
            t_ce.append(time.perf_counter() - t)
            t = time.perf_counter()
            bi.passage(sents)
            t_bi.append(time.perf_counter() - t)
        out["langs"][lang] = {"questions": len(ex), "cross_encoder_p50_s": round(statistics.median(t_ce), 4),
                              "bi_encoder_p50_s": round(statistics.median(t_bi), 4),
                              "ratio_p50": round(statistics.median(t_ce) / statistics.median(t_bi), 2)}
        print(lang, out["langs"][lang], file=sys.stderr, flush=True)
    out["load_avg_after"] = os.getloadavg()
    res = ROOT / "benchmarks" / "results" / "answerability_latency.json"
    res.write_text(json.dumps(stamp(out), ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
