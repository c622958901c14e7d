"""What a user of a bilingual HR / product bot reads: the project's own knowledge base, asked as a user would.

The 15 documents written for the project (``tests/data/policy/docs.jsonl``: HR policies in Thai and
Japanese; ``tests/data/products/docs.jsonl``: two product manuals) and ``tests/data/policy/kb_questions.jsonl``
(questions written by a QA pass over those documents, gold strings copied from them): Thai and Japanese
questions about documents in their own language, questions across the two languages, English questions,
paraphrases (other words than the document's) and unanswerable questions on the same topics.

Default offline answerer (extractive; ``ask`` with its shipped support model and thresholds), one
outcome per question: ``answer``, ``low_confidence`` (answered, flagged, queued) or ``refuse``.
Per kind and overall:

- ``right``: answered (either outcome) with a gold string in the answer text;
- ``confident_wrong``: outcome ``answer`` without any gold string (answerable) or any outcome
  ``answer`` to an unanswerable question — the failure a user cannot see;
- ``flagged_wrong``: ``low_confidence`` and wrong; ``refused`` (answerable: a false refusal;
  unanswerable: right); ``flagged_right``: right but ``low_confidence``.

Run from the repo root:
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/kb_check.py
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rows(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text("utf-8").splitlines() if x.strip()]


def verdict(q: dict, outcome: str, answer: str) -> str:
    """right / flagged_right / confident_wrong / flagged_wrong / refused (see the module doc)."""
    if outcome == "refuse":
        return "refused"
    if not q["answerable"]:
        return "confident_wrong" if outcome == "answer" else "flagged_wrong"
    hit = any(g in answer for g in q["answers"])
    if outcome == "answer":
        return "right" if hit else "confident_wrong"
    return "flagged_right" if hit else "flagged_wrong"


def summary(recs: list[dict]) -> dict:
    ans = [r for r in recs if r["answerable"]]
    una = [r for r in recs if not r["answerable"]]
    c = Counter(r["verdict"] for r in ans)
    u = Counter(r["verdict"] for r in una)
    n = max(1, len(ans))
    return {"answerable": len(ans), "unanswerable": len(una),
            "right": round((c["right"] + c["flagged_right"]) / n, 4),
            "right_not_flagged": round(c["right"] / n, 4),
            "confident_wrong": round(c["confident_wrong"] / n, 4),
            "flagged_wrong": round(c["flagged_wrong"] / n, 4),
            "false_refusal": round(c["refused"] / n, 4),
            "unanswerable_refused": round(u["refused"] / max(1, len(una)), 4),
            "unanswerable_answered_confidently": round(u["confident_wrong"] / max(1, len(una)), 4),
            "mean_answer_chars": round(sum(len(r["answer"]) for r in recs if r["outcome"] != "refuse")
                                       / max(1, sum(1 for r in recs if r["outcome"] != "refuse")), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", default=str(ROOT / "tests" / "data" / "policy" / "kb_questions.jsonl"))
    ap.add_argument("--docs", nargs="+", default=[str(ROOT / "tests" / "data" / "policy" / "docs.jsonl"),
                                                  str(ROOT / "tests" / "data" / "products" / "docs.jsonl")])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kb_check.json"))
    args = ap.parse_args()
    from thaija.index import Index
    from thaija.rag import AskConfig, answer
    from thaija.retrieve import close_index

    qs = rows(Path(args.questions))
    t0 = time.perf_counter()
    recs = []
    with tempfile.TemporaryDirectory(prefix="thaija-kb-") as tmp:
        db = str(Path(tmp) / "kb.db")
        ix = Index(db)
        ix.add_paths(args.docs, progress=False)
        ix.close()
        cfg = AskConfig(review=False)
        for q in qs:
            a = answer(q["question"], db=db, config=cfg).to_dict()
            out = "refuse" if a["refused"] else ("low_confidence" if a.get("reason") == "low_confidence" else "answer")
            rec = {"id": q["id"], "kind": q["kind"], "question": q["question"], "answerable": q["answerable"],
                   "golds": q["answers"], "outcome": out, "support": a["support"], "answer": a["answer"],
                   "cited": [c["doc_id"] for c in a["citations"]]}
            rec["verdict"] = verdict(q, out, a["answer"])
            recs.append(rec)
            print(f"{rec['id']} {rec['verdict']:16} {out:14} {a['support']!s:6} {q['question'][:40]}", file=sys.stderr, flush=True)
        close_index(db)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        by_kind[r["kind"]].append(r)
    res = {"script": "benchmarks/kb_check.py", "args": vars(args),
           "generator": "extractive (no LLM: the sentences themselves), shipped support.json",
           "data": "tests/data/policy + tests/data/products (written for the project); questions "
                   "tests/data/policy/kb_questions.jsonl",
           "overall": summary(recs), "by_kind": {k: summary(v) for k, v in sorted(by_kind.items())},
           "seconds": round(time.perf_counter() - t0, 1), "records": recs}
    Path(args.out).write_text(json.dumps(stamp(res), ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps({k: v for k, v in res.items() if k != "records"}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
