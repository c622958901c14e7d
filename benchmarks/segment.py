"""Segmentation speed: tokens/s of each engine on the NTREX lines, nlpo3 / newmm in the same run,
and the wall time of `thaija --help` (lazy imports).

Reads ../shared/data/ntrex when present (1,997 lines per language), else tests/data (150 lines).
Writes benchmarks/results/segment.json.
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import json
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


def bench(fn, data: list[str], repeat: int = 3) -> dict:
    fn(data[0])  # warm up (dictionary load)
    times, ntok = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        ntok = sum(len(fn(l)) for l in data)
        times.append(time.perf_counter() - t)
    best = min(times)
    chars = sum(map(len, data))
    return {"tokens": ntok, "seconds": round(best, 4), "tokens_per_s": round(ntok / best),
            "chars_per_s": round(chars / best)}


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
        "th/newmm (pythainlp word_tokenize)": (lambda s: word_tokenize(s, engine="newmm"), th),
        "th/newmm-safe": (lambda s: word_tokenize(s, engine="newmm-safe"), th),
        "th/thaija.segment (nlpo3, offsets)": (lambda s: segment(s, "th"), th),
        "ja/fugashi (raw)": (lambda s: [w.surface for w in tagger(s)], ja),
        "ja/thaija.segment (mecab, offsets)": (lambda s: segment(s, "ja"), ja),
        "en/thaija.segment (regex)": (lambda s: segment(s, "en"), en),
        "auto/thaija.segment (mixed th+ja lines)": (lambda s: segment(s), [a + " " + b for a, b in zip(th, ja)]),
    }
    for name, (fn, data) in cases.items():
        results["engines"][name] = r = bench(fn, data)
        print(f"{name:42s} {r['tokens_per_s']:>10,} tokens/s  {r['chars_per_s']:>10,} chars/s")
    e = results["engines"]
    ratio = e["th/nlpo3 (pythainlp word_tokenize)"]["tokens_per_s"] / e["th/newmm (pythainlp word_tokenize)"]["tokens_per_s"]
    overhead = e["th/nlpo3 (pythainlp word_tokenize)"]["tokens_per_s"] / e["th/thaija.segment (nlpo3, offsets)"]["tokens_per_s"]
    results["ratio_nlpo3_over_newmm"] = round(ratio, 2)
    results["thaija_overhead_vs_raw_nlpo3"] = round(overhead, 2)
    print(f"nlpo3 / newmm speed ratio (same run): {ratio:.2f}x; thaija.segment overhead vs raw nlpo3: {overhead:.2f}x")
    thaija = str(Path(sys.executable).parent / "thaija")
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([thaija, "--help"], capture_output=True, check=True)
        walls.append(time.perf_counter() - t)
    results["thaija_help_seconds_median"] = round(statistics.median(walls), 3)
    print(f"`thaija --help` wall time (median of 5): {results['thaija_help_seconds_median']:.3f} s")
    out = ROOT / "benchmarks" / "results" / "segment.json"
    out.write_text(json.dumps(stamp(results), ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
