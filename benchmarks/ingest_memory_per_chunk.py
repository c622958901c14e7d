"""Peak-RSS growth of `thaija index add` per chunk of one single-line document, with and without
chunk rows in the Milvus Lite file (what `tests/test_ingest_memory.py` asserts, recorded).

Two sizes (--small-mb, --big-mb) of a single line of Thai and Japanese Wikipedia text are indexed
by the real CLI in fresh processes (hash vectors instead of encoding, as benchmarks/ingest_memory.py);
per_chunk_kb = (increase(big) - increase(small)) / (chunks(big) - chunks(small)). "rows" forces the
Lite file to hold every chunk row (the behaviour before thaija stopped writing rows into a Lite
file searched in-process); "no_rows" is the default now. Budget: 500 MB / 61,268 chunks (the 50 MB
line) = 8.2 KB per chunk.

    nice -n 10 .venv/bin/python benchmarks/ingest_memory_per_chunk.py
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small-mb", type=float, default=2.0)
    ap.add_argument("--big-mb", type=float, default=5.5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/ingest_memory_per_chunk.json"))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    import test_ingest_memory as T

    plain = T.CHILD
    rows = plain.replace("from thaija.cli.main import app", "from thaija.cli.main import app\n"
                         "import thaija.index.ingest as I\nI.Index._milvus_rows = lambda self: True")
    out = {"what": __doc__.split("\n")[0], "budget_kb_per_chunk": round(500 * 1024 / 61268, 2),
           "machine_load_start": os.getloadavg(), "modes": {}}
    for mode, child in (("no_rows", plain), ("rows", rows)):
        T.CHILD = child
        with tempfile.TemporaryDirectory(prefix="thaija-per-chunk-") as d:
            a, b = T._run(Path(d), args.small_mb), T._run(Path(d), args.big_mb)
        kb = (b["increase_mb"] - a["increase_mb"]) * 1024 / (b["chunks"] - a["chunks"])
        out["modes"][mode] = {"small": a, "big": b, "per_chunk_kb": round(kb, 2)}
        print(f"{mode:8}: {a['chunks']} chunks +{a['increase_mb']:.0f} MB, {b['chunks']} chunks "
              f"+{b['increase_mb']:.0f} MB -> {kb:.1f} KB per chunk", flush=True)
    out["machine_load"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(stamp(out), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
