"""Segmentation speed: tokens/s of each engine on the NTREX lines, nlpo3 / newmm in the same run,
the time of thaija.segment over the raw engine on the same lines (overhead), and the wall and
CPU time of `thaija --help` (lazy imports). Engines run in turn, 9 rounds (see bench_all).

Reads ../shared/data/ntrex when present (1,997 lines per language), else tests/data (150 lines).
Writes benchmarks/results/segment.json.
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "ntrex"


def lines(lang3: str) -> tuple[list[str], str]:
    p = SHARED / f"{lang3}.txt"
    if p.exists():
        return p.read_text(encoding="utf-8").rstrip("\n").split("\n"), str(p.relative_to(ROOT.parent))
    p = ROOT / "tests" / "data" / f"ntrex_{lang3}.txt"
    return p.read_text(encoding="utf-8").rstrip("\n").split("\n"), str(p.relative_to(ROOT))


def bench_all(cases: dict, repeat: int = 9) -> tuple[dict, dict]:
    """Best-of-``repeat`` wall time of each case, the cases taken in turn in every round, and each
    round's CPU seconds (process time: less sensitive than wall time to other processes on the
    machine); ratios are taken per round between neighbouring cases, so both sides of a ratio ran
    under the same load."""
    for fn, data in cases.values():
        fn(data[0])  # warm up (dictionary load)
    best = {name: float("inf") for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    ntok = {}
    for _ in range(repeat):
        for name, (fn, data) in cases.items():
            t, c = time.perf_counter(), time.process_time()
            ntok[name] = sum(len(fn(l)) for l in data)
            best[name] = min(best[name], time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    out = {}
    for name, (fn, data) in cases.items():
        chars = sum(map(len, data))
        out[name] = {"tokens": ntok[name], "seconds": round(best[name], 4),
                     "tokens_per_s": round(ntok[name] / best[name]), "chars_per_s": round(chars / best[name]),
                     "cpu_seconds_median": round(statistics.median(cpu[name]), 4)}
    return out, cpu


def round_ratio(cpu: dict, a: str, b: str) -> float:
    """Median over rounds of CPU(a) / CPU(b) measured in the same round."""
    return round(statistics.median(x / y for x, y in zip(cpu[a], cpu[b])), 2)


def main() -> None:
    from pythainlp.tokenize import word_tokenize

    from thaija.lang import segment
    from thaija.lang.segment import _tagger

    th, th_src = lines("tha")
    ja, ja_src = lines("jpn")
    en, en_src = lines("eng")
    tagger = _tagger()
    results: dict = {"data": {"th": th_src, "ja": ja_src, "en": en_src}, "engines": {}}
    cases = {
        "th/nlpo3 (pythainlp word_tokenize)": (lambda s: word_tokenize(s, engine="nlpo3"), th),
        "th/thaija.segment (nlpo3, offsets)": (lambda s: segment(s, "th"), th),
        "th/newmm (pythainlp word_tokenize)": (lambda s: word_tokenize(s, engine="newmm"), th),
        "th/newmm-safe": (lambda s: word_tokenize(s, engine="newmm-safe"), th),
        "ja/fugashi (raw)": (lambda s: [w.surface for w in tagger(s)], ja),
        "ja/thaija.segment (mecab, offsets)": (lambda s: segment(s, "ja"), ja),
        "en/thaija.segment (regex)": (lambda s: segment(s, "en"), en),
        "auto/thaija.segment (mixed th+ja lines)": (lambda s: segment(s), [a + " " + b for a, b in zip(th, ja)]),
    }
    results["engines"], cpu = bench_all(cases)
    e = results["engines"]
    for name, r in e.items():
        print(f"{name:42s} {r['tokens_per_s']:>10,} tokens/s  {r['chars_per_s']:>10,} chars/s  {r['seconds']:.4f} s")
    nlpo3, newmm = e["th/nlpo3 (pythainlp word_tokenize)"], e["th/newmm (pythainlp word_tokenize)"]
    seg_th, fug, seg_ja = (e["th/thaija.segment (nlpo3, offsets)"], e["ja/fugashi (raw)"],
                           e["ja/thaija.segment (mecab, offsets)"])
    results["ratio_nlpo3_over_newmm"] = round(nlpo3["tokens_per_s"] / newmm["tokens_per_s"], 2)
    # overhead = time of thaija.segment / time of the raw engine on the same lines (what a user waits):
    # the median over rounds of the per-round CPU-time ratio (both measured back to back); the
    # best-wall-time ratio is kept too. The tokens/s ratio also counts the whitespace tokens nlpo3
    # returns and thaija drops (57.9k vs 49.2k on NTREX).
    TH, NL, JA, FG, NM = ("th/thaija.segment (nlpo3, offsets)", "th/nlpo3 (pythainlp word_tokenize)",
                          "ja/thaija.segment (mecab, offsets)", "ja/fugashi (raw)", "th/newmm (pythainlp word_tokenize)")
    results["thaija_time_overhead_vs_raw_nlpo3"] = round_ratio(cpu, TH, NL)
    results["thaija_time_overhead_vs_raw_fugashi"] = round_ratio(cpu, JA, FG)
    results["thaija_speedup_vs_newmm_end_to_end"] = round_ratio(cpu, NM, TH)
    results["best_wall_time_ratios"] = {
        "thaija_vs_raw_nlpo3": round(seg_th["seconds"] / nlpo3["seconds"], 2),
        "thaija_vs_raw_fugashi": round(seg_ja["seconds"] / fug["seconds"], 2),
        "newmm_vs_thaija": round(newmm["seconds"] / seg_th["seconds"], 2)}
    results["thaija_overhead_vs_raw_nlpo3"] = round(nlpo3["tokens_per_s"] / seg_th["tokens_per_s"], 2)
    print(f"nlpo3 / newmm speed ratio (same run): {results['ratio_nlpo3_over_newmm']:.2f}x; thaija.segment "
          f"time vs raw nlpo3 {results['thaija_time_overhead_vs_raw_nlpo3']:.2f}x (tokens/s ratio "
          f"{results['thaija_overhead_vs_raw_nlpo3']:.2f}x), vs raw fugashi "
          f"{results['thaija_time_overhead_vs_raw_fugashi']:.2f}x; {results['thaija_speedup_vs_newmm_end_to_end']:.2f}x "
          "faster than newmm end to end")
    thaija = str(Path(sys.executable).parent / "thaija")
    walls, cpus = [], []
    for _ in range(7):
        r0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([thaija, "--help"], capture_output=True, check=True)
        walls.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    results["thaija_help_seconds_median"] = round(statistics.median(walls), 3)
    results["thaija_help_cpu_seconds_min"] = round(min(cpus), 3)  # less sensitive to other processes' load
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(f"`thaija --help` wall time (median of 7): {results['thaija_help_seconds_median']:.3f} s, CPU "
          f"{results['thaija_help_cpu_seconds_min']:.3f} s; load average {results['load_average_1min']}")
    out = ROOT / "benchmarks" / "results" / "segment.json"
    # the ratios move with the load of the shared machine: every run's summary is kept, oldest first
    keys = ("commit", "date", "load_average_1min", "thaija_time_overhead_vs_raw_nlpo3",
            "thaija_time_overhead_vs_raw_fugashi", "thaija_speedup_vs_newmm_end_to_end", "ratio_nlpo3_over_newmm")
    history = []
    if out.exists():
        old = json.loads(out.read_text(encoding="utf-8"))
        history = old.get("history") or [{k: old.get(k) for k in keys}]
    results = stamp(results)
    results["history"] = history + [{k: results.get(k) for k in keys}]
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
