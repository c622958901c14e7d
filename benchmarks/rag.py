"""RAG benchmark: answer recall, citation support, refusal and p50 latency of `ask` per generator on
the shared dev sets (iapp_wiki_qa valid, JSQuAD valid). Writes benchmarks/results/rag.json.

Run from the repo root:  nice -n 10 .venv/bin/python benchmarks/rag.py [--queries 100] [--local 1] [--openai 20]

References measured in the same run: an "oracle" extractive reader given only the gold paragraph
(upper bound of sentence selection) and a "top-hit first sentence" baseline (no question-aware
selection). Refusal is calibrated with questions whose gold paragraph is NOT in the index.
The JSQuAD index holds the gold paragraphs of the sampled questions plus 300 random others
(the full 1,145-paragraph corpus costs minutes of embedding on 2 cores); iapp uses its full corpus.
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
OUT = ROOT / "benchmarks" / "results" / "rag.json"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SETS = {"th": "iapp_wiki_qa/valid", "ja": "jsquad/valid"}


def log(*a) -> None:
    print(*a, flush=True)


def rows(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text("utf-8").splitlines() if x.strip()]


def load(lang: str, n: int, rng: random.Random):
    d = DATA / SETS[lang]
    corpus = {x["id"]: x for x in rows(d / "corpus.jsonl")}
    answers = {x["query-id"]: x["answers"] for x in rows(d / "answers.jsonl")}
    qrels = dict(x.split("\t")[:2] for x in (d / "qrels.tsv").read_text("utf-8").splitlines()[1:])
    queries = [q for q in rows(d / "queries.jsonl") if answers.get(q["id"])]
    sample = rng.sample(queries, min(n, len(queries)))
    keep = {qrels[q["id"]] for q in sample}
    if lang == "ja":
        others = sorted(set(corpus) - keep)
        keep |= set(rng.sample(others, min(300, len(others))))
    else:
        keep = set(corpus)
    # unanswerable: questions whose gold paragraph is left out of the index (JSQuAD only has them)
    negatives = [q for q in queries if qrels[q["id"]] not in keep]
    negatives = rng.sample(negatives, min(n // 2, len(negatives)))
    return corpus, keep, answers, qrels, sample, negatives


def hit(doc: dict):
    from thaija.retrieve import Hit

    return Hit(1, 1.0, doc["id"] + "#0", doc["id"], doc["lang"], 0, len(doc["text"]), doc["text"], "")


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs), 4) if xs else 0.0


def run_ask(questions, answers, db, **kw) -> dict:
    from thaija.rag import ask

    ok = sup = refused = 0
    lat = []
    for q in questions:
        t = time.perf_counter()
        r = ask(q["text"], db=db, review=False, **kw)
        lat.append(time.perf_counter() - t)
        gold = answers[q["id"]]
        quotes = [c["quote"] for c in r["citations"]]
        ok += not r["refused"] and any(g in r["answer"] or any(g in x for x in quotes) for g in gold)
        sup += not r["refused"] and any(g in x for g in gold for x in quotes)
        refused += r["refused"]
    n = len(questions) or 1
    answered = max(1, n - refused)
    return {"queries": len(questions), "answer_recall": round(ok / n, 4), "citation_support": round(sup / answered, 4),
            "refusal_rate": round(refused / n, 4), "latency_p50_s": p50(lat)}


def references(questions, answers, corpus, qrels, db) -> dict:
    """Oracle reader (gold paragraph only) and top-hit-first-sentence baseline."""
    from thaija.rag.citations import sentence_evidence
    from thaija.rag.generators import ExtractiveGenerator
    from thaija.rag.prompt import build_prompt
    from thaija.retrieve import search

    g = ExtractiveGenerator()
    oracle = first = 0
    for q in questions:
        gold = answers[q["id"]]
        p = build_prompt(q["text"], [hit(corpus[qrels[q["id"]]])], q["lang"], budget=100_000)
        oracle += any(a in g.generate(p, q["text"], q["lang"]).text for a in gold)
        hits = search(q["text"], db=db, k=1)
        ev = sentence_evidence(hits) if hits else []
        first += bool(ev) and any(a in ev[0].text for a in gold)
    n = len(questions) or 1
    return {"oracle_reader_recall": round(oracle / n, 4), "top_hit_first_sentence_recall": round(first / n, 4)}


def calibration(pos, neg, db) -> dict:
    from thaija.rag.citations import evidence_support
    from thaija.retrieve import search

    sp = [evidence_support(q["text"], search(q["text"], db=db, k=5), q["lang"]) for q in pos]
    sn = [evidence_support(q["text"], search(q["text"], db=db, k=5), q["lang"]) for q in neg]
    out = {}
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        out[str(t)] = {"false_refusals": round(sum(x < t for x in sp) / max(1, len(sp)), 4),
                       "true_refusals": round(sum(x < t for x in sn) / max(1, len(sn)), 4)}
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_server(db: str, fn):
    import httpx

    port = free_port()
    exe = str(Path(sys.executable).with_name("thaija"))
    proc = subprocess.Popen([exe, "serve", "--db", db, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        return fn(base + "/v1")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def agentic(questions, answers, db, pairs: int, rng: random.Random, lang: str) -> dict:
    from thaija.rag import ask

    joiner = {"th": " และ ", "ja": "また、"}[lang]
    both = rounds = 0
    lat = []
    qs = list(questions)
    rng.shuffle(qs)
    for a, b in list(zip(qs[0::2], qs[1::2]))[:pairs]:
        text = a["text"].rstrip() + joiner + b["text"]
        t = time.perf_counter()
        r = ask(text, db=db, agentic=True, review=False)
        lat.append(time.perf_counter() - t)
        blob = r["answer"] + " ".join(c["quote"] for c in r["citations"])
        both += any(g in blob for g in answers[a["id"]]) and any(g in blob for g in answers[b["id"]])
        rounds += max((x["round"] for x in r["trace"]), default=0)
    n = max(1, min(pairs, len(qs) // 2))
    return {"pairs": n, "both_answers_recall": round(both / n, 4), "mean_rounds": round(rounds / n, 3),
            "latency_p50_s": p50(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=100, help="questions per language (extractive)")
    ap.add_argument("--openai", type=int, default=20, help="questions per language via thaija serve")
    ap.add_argument("--local", type=int, default=1, help="questions per language with the local Gemma")
    ap.add_argument("--local-tokens", type=int, default=32, help="max new tokens of the local Gemma")
    ap.add_argument("--pairs", type=int, default=10, help="agentic two-part questions per language")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no shared data at {DATA}")
    from thaija.index import Index
    from thaija.index.documents import Document
    from thaija.index.handles import open_index

    rng = random.Random(7)
    res: dict = {"machine": f"{os.cpu_count()} CPU cores (shared)", "args": vars(args), "k": 5, "mode": "hybrid", "min_support": 0.5, "languages": {}}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="thaija-bench-rag-") as tmp:
        for lang in ("th", "ja"):
            corpus, keep, answers, qrels, sample, negatives = load(lang, args.queries, rng)
            db = str(Path(tmp) / f"{lang}.db")
            t = time.perf_counter()
            ix = Index(db)
            ix.add_documents([Document(id=i, text=corpus[i]["text"], title=corpus[i].get("title", ""), lang=lang,
                                       source=SETS[lang]) for i in sorted(keep)], progress=False)
            ix.close()
            open_index(db).snapshot()
            out: dict = {"dataset": SETS[lang], "paragraphs_indexed": len(keep),
                         "ingest_s": round(time.perf_counter() - t, 1)}
            log(f"[{lang}] indexed {len(keep)} paragraphs in {out['ingest_s']} s")
            out["extractive"] = run_ask(sample, answers, db)
            log(f"[{lang}] extractive {out['extractive']}")
            ref = references(sample, answers, corpus, qrels, db)
            ref["ratio_vs_oracle"] = round(out["extractive"]["answer_recall"] / max(1e-9, ref["oracle_reader_recall"]), 3)
            ref["ratio_vs_first_sentence"] = round(out["extractive"]["answer_recall"] / max(1e-9, ref["top_hit_first_sentence_recall"]), 3)
            out["reference"] = ref
            log(f"[{lang}] reference {ref}")
            if negatives:
                out["refusal_calibration"] = {"answerable": len(sample), "unanswerable": len(negatives),
                                              "thresholds": calibration(sample, negatives, db)}
                log(f"[{lang}] calibration {out['refusal_calibration']['thresholds']['0.5']}")
            out["agentic"] = agentic(sample, answers, db, args.pairs, rng, lang)
            log(f"[{lang}] agentic {out['agentic']}")
            if args.openai:
                out["openai_via_thaija_serve"] = with_server(db, lambda url: run_ask(
                    sample[:args.openai], answers, db, generator="openai", base_url=url, model="thaija-extractive"))
                log(f"[{lang}] openai {out['openai_via_thaija_serve']}")
            if args.local:
                from thaija.rag.pipeline import AskConfig, get_generator

                gen = get_generator(AskConfig(generator="local"))
                gen.max_new_tokens = args.local_tokens
                gen._load()  # load once, outside the timing

                out["local_gemma3_270m"] = run_ask(sample[:args.local], answers, db, generator="local")
                log(f"[{lang}] local {out['local_gemma3_270m']}")
            res["languages"][lang] = out
    res["seconds"] = round(time.perf_counter() - t_all, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(stamp(res), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {OUT} in {res['seconds']} s")


if __name__ == "__main__":
    main()
