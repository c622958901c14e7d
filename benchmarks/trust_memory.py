"""Peak memory of `thaija segment | normalize | chunk --file` on a big single-line file (issue 12,
finding 10: a 50 MB line took 3.9 GB to segment when it was read and processed whole).

For each command it measures, in the same run:
- streaming: the CLI (thaija.lang.stream, bounded pieces) on a generated single-line file of
  --mb megabytes, and on a tiny file (the fixed cost of imports and dictionaries);
- reference: the one-call library function (segment(text) / normalize(text) / chunk(text) on the
  whole text, which is what the CLI did before) on a --reference-mb file, and the streaming CLI on
  the same file, so the two paths are compared on equal input.
Peak RSS is ru_maxrss of a child process, read by a fresh parent per measurement.

The text is NTREX-128 (tests/data, CC BY-SA 4.0) Thai, Japanese and English sentences joined with
spaces into one line and repeated. Writes benchmarks/results/trust_memory.json.

    nice -n 10 .venv/bin/python benchmarks/trust_memory.py --mb 50 --reference-mb 3
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THAIJA = str(Path(sys.executable).parent / "thaija")
COMMANDS = ("segment", "normalize", "chunk")
_WRAP = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
         "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
         "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t); "
         "sys.stderr.write(r.stderr.decode()[-500:])")
_ONE_CALL = {  # what the CLI did before: the whole file read and processed in one call
    "segment": "from thaija.lang import segment as f",
    "normalize": "from thaija.lang import normalize as f",
    "chunk": "from thaija.lang import chunk as f",
}


def make_line_file(path: Path, megabytes: float) -> int:
    """One line of NTREX th/ja/en sentences, repeated up to ``megabytes`` MB; returns its size."""
    data = ROOT / "tests" / "data"
    parts = []
    for name in ("ntrex_tha.txt", "ntrex_jpn.txt", "ntrex_eng.txt"):
        parts += [x for x in (data / name).read_text(encoding="utf-8").split("\n") if x.strip()]
    unit = (" ".join(parts) + " ").encode("utf-8")
    target = int(megabytes * 1_000_000)
    with open(path, "wb") as fh:
        n = 0
        while n < target:
            piece = unit[: target - n] if target - n < len(unit) else unit
            piece = piece.decode("utf-8", "ignore").encode("utf-8")
            fh.write(piece)
            n += len(piece)
            if not piece:
                break
    return path.stat().st_size


def measure(argv: list[str]) -> dict:
    """Peak RSS (MB) and wall seconds of one child process."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *argv], capture_output=True, text=True)
    rc, kb, secs = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{' '.join(argv[:3])} failed ({rc}): {out.stderr}")
    return {"peak_rss_mb": round(int(kb) / 1024, 1), "seconds": round(float(secs), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=50.0, help="size of the big single-line file (MB)")
    ap.add_argument("--reference-mb", type=float, default=3.0,
                    help="size for the one-call reference (the old path needs ~80 MB of memory per MB)")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated subset of segment,normalize,chunk")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "trust_memory.json"))
    args = ap.parse_args()
    cmds = [c for c in args.commands.split(",") if c]
    res: dict = {"data": "tests/data/ntrex_{tha,jpn,eng}.txt joined into one line, repeated",
                 "limit_mb": 500, "commands": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tiny, ref, big = Path(tmp) / "tiny.txt", Path(tmp) / "ref.txt", Path(tmp) / "big.txt"
        res["bytes"] = {"tiny": make_line_file(tiny, 0.003), "reference": make_line_file(ref, args.reference_mb),
                        "big": make_line_file(big, args.mb)}
        for cmd in cmds:
            row: dict = {}
            row["streaming_tiny"] = measure([THAIJA, cmd, "--file", str(tiny)])
            row["streaming_reference"] = measure([THAIJA, cmd, "--file", str(ref)])
            code = (f"{_ONE_CALL[cmd]}; import sys; t = open(sys.argv[1], encoding='utf-8').read(); "
                    f"r = f(t); print(len(r) if isinstance(r, list) else len(r.text))")
            row["one_call_reference"] = measure([sys.executable, "-c", code, str(ref)])
            t = time.perf_counter()
            row["streaming_big"] = measure([THAIJA, cmd, "--file", str(big)])
            row["under_limit"] = row["streaming_big"]["peak_rss_mb"] < res["limit_mb"]
            row["one_call_mb_per_input_mb"] = round(
                (row["one_call_reference"]["peak_rss_mb"] - row["streaming_tiny"]["peak_rss_mb"])
                / (res["bytes"]["reference"] / 1e6), 1)
            res["commands"][cmd] = row
            print(f"{cmd}: {args.mb:g} MB line streamed in {row['streaming_big']['seconds']:.0f} s, peak "
                  f"{row['streaming_big']['peak_rss_mb']:.0f} MB (tiny file {row['streaming_tiny']['peak_rss_mb']:.0f} MB); "
                  f"{args.reference_mb:g} MB: streaming {row['streaming_reference']['peak_rss_mb']:.0f} MB, "
                  f"one call {row['one_call_reference']['peak_rss_mb']:.0f} MB "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
    out = Path(args.out)
    out.write_text(json.dumps(stamp(res), ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
