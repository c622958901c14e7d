"""Write the policy corpus as a BEIR folder (``beir/``: corpus.jsonl, queries.jsonl, answers.jsonl,
qrels.tsv) so `thaija eval-qa` and `thaija tune qa-data` read it like the dev sets:

    python tests/data/policy/make_beir.py      # re-run after editing docs.jsonl / questions.jsonl

Unanswerable questions (``doc`` null) have no answers and are left out, as BEIR QA folders do.
``tests/test_policy_beir.py`` checks that ``beir/`` matches the source files.
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def beir_files() -> dict[str, str]:
    """File name → content of the BEIR folder, built from docs.jsonl and questions.jsonl."""
    rows = lambda p: [json.loads(x) for x in (HERE / p).read_text("utf-8").splitlines() if x.strip()]  # noqa: E731
    docs, qs = rows("docs.jsonl"), [q for q in rows("questions.jsonl") if q.get("doc") and q.get("answers")]
    dump = lambda rs: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs)  # noqa: E731
    return {
        "corpus.jsonl": dump({"id": d["id"], "title": d["title"], "text": d["text"], "lang": d["lang"]} for d in docs),
        "queries.jsonl": dump({"id": q["id"], "text": q["question"], "lang": q["lang"]} for q in qs),
        "answers.jsonl": dump({"query-id": q["id"], "answers": q["answers"]} for q in qs),
        "qrels.tsv": "query-id\tcorpus-id\tscore\n" + "".join(f"{q['id']}\t{q['doc']}\t1\n" for q in qs),
    }


if __name__ == "__main__":
    (HERE / "beir").mkdir(exist_ok=True)
    for name, text in beir_files().items():
        (HERE / "beir" / name).write_text(text, encoding="utf-8")
    print(f"wrote {HERE / 'beir'}")
