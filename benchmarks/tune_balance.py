"""Does language-balanced sampling keep grounded-answer quality even when Thai data is scarce?

The combined architecture's experiment: grounded-answer examples from ``thaija tune qa-data``
(the exact prompt ``ask --generator local`` sends, target = gold sentence with its [n] marker, or
the refusal sentence when the gold paragraph is not retrieved) on iapp-wiki-qa (th) and JSQuAD
(ja) valid, naturally imbalanced (ja = ``--ratio`` x th). Strategies proportional, temperature
(alpha 0.3) and UniMax, each with several seeds; the same step budget, LoRA settings and data.
Measured: per-language held-out answer-token loss over training (plot), and for the final
adapters answer-only recall, citation validity and refusal rate of the real RAG pipeline
(``thaija.rag.pipeline.answer``, hybrid retrieval, local generator with the adapter) on dev
questions from paragraphs never trained on, next to the untuned base model and the extractive
answerer. Mean +- standard deviation over seeds.

Every phase is cached under ``--work`` (data, each run's adapter, each RAG evaluation), so an
interrupted run resumes where it stopped; the results JSON is rewritten after every phase.

    nohup nice -n 10 .venv/bin/python benchmarks/tune_balance.py [--seeds 3] [--steps 16] &

Writes benchmarks/results/tune_balance_grounded.json (+ .png).
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SETS = {"th": SHARED / "iapp_wiki_qa" / "valid", "ja": SHARED / "jsquad" / "valid"}
STRATEGIES = ("proportional", "temperature", "unimax")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def build_corpus(work: Path, docs: dict[str, int], dev_docs: dict[str, int]) -> dict:
    """One bilingual BEIR folder: the first ``docs[lang]`` paragraphs of each set; the last
    ``dev_docs[lang]`` of them are dev paragraphs (their questions are never trained on)."""
    folder = work / "corpus"
    meta = work / "split.json"
    if meta.is_file():
        return json.loads(meta.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    corpus, queries, answers, qrels, dev_ids = [], [], [], [], {}
    for lang, src in SETS.items():
        rows = _jsonl(src / "corpus.jsonl")[: docs[lang]]
        keep = {r["id"] for r in rows}
        dev_ids[lang] = [r["id"] for r in rows[-dev_docs[lang]:]]
        corpus += rows
        q_doc = {}
        for line in (src / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
            qid, did = line.split("\t")[:2]
            if did in keep:
                q_doc[qid] = did
                qrels.append(f"{qid}\t{did}\t1")
        queries += [q for q in _jsonl(src / "queries.jsonl") if q["id"] in q_doc]
        answers += [a for a in _jsonl(src / "answers.jsonl") if a["query-id"] in q_doc]
    _write_jsonl(folder / "corpus.jsonl", corpus)
    _write_jsonl(folder / "queries.jsonl", queries)
    _write_jsonl(folder / "answers.jsonl", answers)
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    split = {"folder": str(folder), "dev_docs": dev_ids,
             "documents": {k: docs[k] for k in docs}}
    meta.write_text(json.dumps(split, indent=2))
    return split


def build_examples(work: Path, split: dict, args) -> dict:
    """qa-data over every question; split into train pools and dev sets by paragraph."""
    from thaija.rag.evaluate import load_qa
    from thaija.rag.qa_data import QADataConfig, qa_data

    folder, db = split["folder"], str(work / "index.db")
    allx = work / "qa_all.jsonl"
    if not allx.is_file():
        print("qa-data over all questions (indexes the corpus first)…", flush=True)
        qa_data(allx, db=db, folder=folder, config=QADataConfig(k=args.k, context_tokens=args.context_tokens),
                progress=False)
    _, queries, answers, qrels = load_qa(folder)
    dev_docs = {d for ids in split["dev_docs"].values() for d in ids}
    is_dev = {str(q["id"]): bool(qrels.get(str(q["id"]), set()) & dev_docs) for q in queries}
    recs = _jsonl(allx)
    train = {lang: [r for r in recs if r["lang"] == lang and not is_dev.get(r["id"], True)] for lang in SETS}
    n_th = min(args.n_th, len(train["th"]))
    n_ja = min(len(train["ja"]), round(args.ratio * n_th))
    pool = train["th"][:n_th] + train["ja"][:n_ja]
    dev_recs = [r for r in recs if is_dev.get(r["id"], False)]
    held = []
    for lang in SETS:  # held-out loss set: grounded and refusal examples as they come
        held += [r for r in dev_recs if r["lang"] == lang][: args.n_loss]
    _write_jsonl(work / "train.jsonl", pool)
    _write_jsonl(work / "heldout.jsonl", held)
    dev_q = {lang: [q for q in queries if is_dev[str(q["id"])] and q.get("lang") == lang] for lang in SETS}
    for lang in SETS:
        if not dev_q[lang]:  # queries without a lang field: detect like ask does
            from thaija.rag.pipeline import detect_lang
            dev_q[lang] = [q for q in queries if is_dev[str(q["id"])] and detect_lang(q["text"]) == lang]
    return {"db": db, "train": str(work / "train.jsonl"), "heldout": str(work / "heldout.jsonl"),
            "counts": {"th": n_th, "ja": n_ja},
            "train_sources": {lang: _count([r for r in pool if r["lang"] == lang]) for lang in SETS},
            "heldout_counts": {lang: sum(r["lang"] == lang for r in held) for lang in SETS},
            "dev_questions": {lang: [str(q["id"]) for q in dev_q[lang][: args.n_rag]] for lang in SETS},
            "answers": answers, "qtext": {str(q["id"]): q["text"] for q in queries}, "qrels": qrels}


def _count(rows: list[dict]) -> dict:
    out: dict[str, int] = {}
    for r in rows:
        out[r["source"]] = out.get(r["source"], 0) + 1
    return out


def train_run(work: Path, data: dict, strategy: str, seed: int, args) -> dict:
    out = work / "runs" / f"{strategy}-s{seed}"
    if not (out / "report.json").is_file():
        from thaija.tune.config import TuneConfig
        from thaija.tune.train import train

        print(f"train {strategy} seed {seed}…", flush=True)
        train(TuneConfig(data=data["train"], eval_data=data["heldout"], output=str(out), strategy=strategy,
                         alpha=args.alpha, max_epochs=args.max_epochs, max_steps=args.steps,
                         batch_size=args.batch_size, learning_rate=args.lr, r=args.lora_r,
                         lora_alpha=2 * args.lora_r, max_length=args.context_tokens,
                         eval_every=args.eval_every, save_every=args.eval_every, resume=True, seed=seed,
                         num_threads=args.threads, progress=False))
    rep = json.loads((out / "report.json").read_text())
    run = json.loads((out / "run.json").read_text())
    return {"adapter": str(out), "shares": rep["shares"], "realized_shares": run["realized_shares"],
            "eval_before": {k: v["loss"] for k, v in rep["eval_before"].items()},
            "eval_after": {k: v["loss"] for k, v in rep["eval"].items()},
            "history": [{"step": h["step"], **{k: v["loss"] for k, v in h["eval"].items()}}
                        for h in rep["history"]],
            "seconds": run["seconds"]}


def rag_eval(work: Path, data: dict, name: str, generator: str, adapter: str | None, args, n: int) -> dict:
    """Answer the dev questions with the real pipeline; answer-only recall, citation validity.

    Each answered question is appended to ``rag/<name>.rows.jsonl`` at once, so an interrupted
    evaluation continues with the next question (and a larger ``n`` only answers the new ones)."""
    path = work / "rag" / f"{name}.json"
    if path.is_file():
        done = json.loads(path.read_text())
        if all(done[lang]["questions"] == min(n, len(q)) for lang, q in data["dev_questions"].items()):
            return done
    path.parent.mkdir(parents=True, exist_ok=True)
    rows_path = work / "rag" / f"{name}.rows.jsonl"
    have: dict[tuple[str, str], dict] = {}
    if rows_path.is_file():
        for line in rows_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                have[(row["lang"], row["id"])] = row
    elif path.is_file():  # a finished evaluation from before rows were kept
        for lang, ev in json.loads(path.read_text()).items():
            for row in ev.get("rows", []):
                have[(lang, row["id"])] = {**row, "lang": lang}
    from thaija.rag.pipeline import AskConfig, answer

    print(f"rag eval {name}…", flush=True)
    cfg = AskConfig(generator=generator, adapter=adapter, k=args.k, review=False,
                    context_tokens=args.context_tokens if generator == "local" else None)
    out: dict = {}
    for lang, qids in data["dev_questions"].items():
        rows = []
        for qid in qids[:n]:
            if (lang, qid) not in have:
                gold = data["answers"][qid]
                r = answer(data["qtext"][qid], db=data["db"], config=cfg)
                quotes = [c["quote"] for c in r.citations]
                row = {"lang": lang, "id": qid, "refused": r.refused, "reason": r.reason, "answer": r.answer,
                       "raw": r.extra.get("raw_answer"), "seconds": r.seconds,
                       "answer_recall": (not r.refused) and any(g in r.answer for g in gold),
                       "citation_valid": (not r.refused) and any(g in q for g in gold for q in quotes),
                       "lang_ok": (not r.refused) and _in_lang(r.answer, lang)}
                with rows_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                have[(lang, qid)] = row
            rows.append(have[(lang, qid)])
        m = len(rows)
        answered = [x for x in rows if not x["refused"]]
        out[lang] = {"questions": m,
                     "answer_recall": sum(x["answer_recall"] for x in rows) / m,
                     "citation_validity": (sum(x["citation_valid"] for x in answered) / len(answered)
                                           if answered else 0.0),
                     "refusal_rate": sum(x["refused"] for x in rows) / m,
                     "answer_in_language": (sum(x["lang_ok"] for x in answered) / len(answered)
                                            if answered else 0.0),
                     "latency_p50_s": statistics.median(x["seconds"] for x in rows),
                     "rows": rows}
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1))
    return out


def _in_lang(text: str, lang: str) -> bool:
    from thaija.lang import detect

    return detect(text).lang == lang


def _ms(xs: list[float]) -> dict:
    return {"mean": statistics.mean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}


def summarize(runs: dict, rag: dict) -> dict:
    out: dict = {}
    for strategy in STRATEGIES:
        rs = [r for k, r in runs.items() if k.startswith(strategy + "-")]
        if not rs:
            continue
        s: dict = {"seeds": len(rs), "th_share": rs[0]["shares"].get("th")}
        for lang in SETS:
            s[f"heldout_loss_{lang}"] = _ms([r["eval_after"][lang] for r in rs])
            s[f"heldout_loss_drop_{lang}"] = _ms([r["eval_before"][lang] - r["eval_after"][lang] for r in rs])
            evs = [rag[k][lang] for k in runs if k.startswith(strategy + "-") and k in rag]
            if evs:
                for m in ("answer_recall", "citation_validity", "refusal_rate"):
                    s[f"rag_{m}_{lang}"] = _ms([e[m] for e in evs])
        out[strategy] = s
    return out


def same_questions(rag: dict) -> dict:
    """The extractive answerer's metrics on exactly the questions the local generators answered."""
    ext = rag.get("extractive")
    local = next((v for k, v in rag.items() if k != "extractive"), None)
    if not ext or not local:
        return {}
    out = {}
    for lang, ev in local.items():
        ids = {r["id"] for r in ev.get("rows", [])}
        rows = [r for r in ext[lang]["rows"] if r["id"] in ids]
        ans = [r for r in rows if not r["refused"]]
        if rows:
            out[lang] = {"questions": len(rows),
                         "answer_recall": sum(r["answer_recall"] for r in rows) / len(rows),
                         "citation_validity": sum(r["citation_valid"] for r in ans) / len(ans) if ans else 0.0,
                         "refusal_rate": sum(r["refused"] for r in rows) / len(rows)}
    return out


def merge_prior(result: dict, path: Path) -> None:
    """Add the runs of an earlier results file made with the same settings and data (other seeds).

    The same data is checked, not assumed: every prior run must have the same step-0 held-out loss
    (same base model, same held-out examples) and the same training example counts."""
    prior = json.loads(path.read_text(encoding="utf-8"))
    same = ("steps", "batch_size", "lr", "lora_r", "alpha", "max_epochs", "ratio", "context_tokens")
    diff = [k for k in same if prior["settings"].get(k) != result["settings"].get(k)]
    if diff or prior["data"]["train"] != result["data"]["train"]:
        raise SystemExit(f"--prior {path}: different settings/data ({', '.join(diff) or 'train counts'})")
    mine = next(iter(result["runs"].values()), None)
    for key, run in prior["runs"].items():
        if key in result["runs"]:
            continue
        if mine is not None and any(abs(run["eval_before"][k] - mine["eval_before"][k]) > 1e-3
                                    for k in mine["eval_before"]):
            raise SystemExit(f"--prior {path}: {key} has another step-0 held-out loss (other held-out data)")
        result["runs"][key] = {**run, "from": {"file": path.name, "commit": prior.get("commit"),
                                               "date": prior.get("date")}}
    result["prior"] = {"commit": prior.get("commit"), "date": prior.get("date"), "args": prior.get("args")}


def plot(runs: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110, sharey=False)
    colors = {"proportional": "tab:gray", "temperature": "tab:blue", "unimax": "tab:green"}
    for ax, lang in zip(axes, ("th", "ja")):
        for key, r in runs.items():
            strategy = key.rsplit("-s", 1)[0]
            xs = [0] + [h["step"] for h in r["history"]]
            ys = [r["eval_before"][lang]] + [h[lang] for h in r["history"]]
            ax.plot(xs, ys, "-o", ms=3, color=colors[strategy], alpha=0.8,
                    label=strategy if key == f"{strategy}-s{min(int(k.rsplit('-s', 1)[1]) for k in runs)}" else None)
        ax.set_title(f"{lang}: held-out answer-token loss")
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("nats / answer token")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--eval-every", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--lora-r", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=0.3)
    ap.add_argument("--max-epochs", type=float, default=4.0)
    ap.add_argument("--ratio", type=float, default=10.0, help="ja examples per th example")
    ap.add_argument("--n-th", type=int, default=30, help="Thai training examples")
    ap.add_argument("--th-docs", type=int, default=40)
    ap.add_argument("--ja-docs", type=int, default=120)
    ap.add_argument("--dev-docs", type=int, default=15, help="dev paragraphs per language")
    ap.add_argument("--n-loss", type=int, default=8, help="held-out loss examples per language")
    ap.add_argument("--n-rag", type=int, default=50, help="dev questions per language in the RAG eval")
    ap.add_argument("--n-rag-local", type=int, default=50, help="dev questions per language for local generators")
    ap.add_argument("--rag-seeds", type=int, default=3, help="RAG-evaluate the adapters of the first N seeds")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--context-tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--strategies", default=",".join(STRATEGIES),
                    help="comma-separated subset (parallel processes can each train one; same --work)")
    ap.add_argument("--note", default="", help="a sentence stored in the results (what was left out and why)")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed+seeds-1")
    ap.add_argument("--prior", default=None,
                    help="an earlier results JSON of this script with the same settings: its runs (other "
                         "seeds) join the summary, marked with their commit; checked by identical step-0 loss")
    ap.add_argument("--phase", choices=("all", "train", "rag"), default="all",
                    help="train: held-out loss runs only; rag: RAG-evaluate cached adapters only")
    ap.add_argument("--work", default=str(ROOT / ".cache" / "thaija" / "bench" / "tune_balance"))
    ap.add_argument("--out", default=str(RESULTS / "tune_balance_grounded.json"))
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"shared data not found at {SHARED}")
    import torch

    torch.set_num_threads(args.threads)
    from thaija.models.causal_lm import DEFAULT_MODEL, default_model_dir

    default_model_dir()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    t0 = time.time()
    split = build_corpus(work, {"th": args.th_docs, "ja": args.ja_docs}, {"th": args.dev_docs, "ja": args.dev_docs})
    data = build_examples(work, split, args)
    result = {"benchmark": "tune_balance_grounded", "model": DEFAULT_MODEL, "device": "cpu",
              "threads": args.threads, "status": "running",
              "data": {"train": data["counts"], "train_sources": data["train_sources"],
                       "heldout_loss_examples": data["heldout_counts"],
                       "rag_dev_questions": {k: len(v) for k, v in data["dev_questions"].items()},
                       "rag_dev_questions_local": {k: min(len(v), args.n_rag_local) for k, v in data["dev_questions"].items()},
                       "documents": split["documents"], "dev_documents": {k: len(v) for k, v in split["dev_docs"].items()},
                       "sources": "iapp-wiki-qa valid (th), JSQuAD valid (ja); see ../shared/data/LICENSES"},
              "settings": {k: getattr(args, k) for k in ("steps", "batch_size", "lr", "lora_r", "alpha",
                                                         "max_epochs", "ratio", "k", "context_tokens",
                                                         "seeds", "rag_seeds")},
              "runs": {}, "rag": {}, "summary": {}}

    def save() -> None:
        result["seconds"] = round(time.time() - t0, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        slim = {**result, "rag": {k: {lang: {m: v for m, v in e.items() if m != "rows"} for lang, e in ev.items()}
                                  for k, ev in result["rag"].items()}}
        out.write_text(json.dumps(stamp(slim), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    save()  # the data phase is on record before the long training phase
    title = (f"grounded QA, ja:th = {args.ratio:g}:1, {args.steps} steps x {args.batch_size}, "
             f"Gemma-3-270m LoRA r{args.lora_r}, prompt budget {args.context_tokens} tokens")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    chosen = [s for s in STRATEGIES if s in args.strategies.split(",")]
    for seed in seeds:  # held-out loss first: the cheap part with error bars
        for strategy in chosen:
            key = f"{strategy}-s{seed}"
            if args.phase == "rag" and not (work / "runs" / key / "report.json").is_file():
                continue  # rag phase: only adapters that finished training
            result["runs"][key] = train_run(work, data, strategy, seed, args)
            result["summary"] = summarize(result["runs"], result["rag"])
            save()
            plot(result["runs"], out.with_suffix(".png"), title)
    if args.prior:
        merge_prior(result, Path(args.prior))
        result["summary"] = summarize(result["runs"], result["rag"])
        save()
        plot(result["runs"], out.with_suffix(".png"), title)
    if args.phase == "train":
        result["status"] = "trained (RAG evaluation not run)"
        save()
        return
    result["rag"]["extractive"] = rag_eval(work, data, "extractive", "extractive", None, args, args.n_rag)
    save()
    result["rag"]["base"] = rag_eval(work, data, "base", "local", None, args, args.n_rag_local)
    save()
    for seed in list(seeds)[: args.rag_seeds]:
        for strategy in chosen:
            key = f"{strategy}-s{seed}"
            if key not in result["runs"]:
                continue
            result["rag"][key] = rag_eval(work, data, key, "local", result["runs"][key]["adapter"], args,
                                          args.n_rag_local)
            result["summary"] = summarize(result["runs"], result["rag"])
            save()
    result["rag_extractive_same_questions"] = same_questions(result["rag"])
    want = [f"{st}-s{sd}" for sd in list(seeds)[: args.rag_seeds] for st in STRATEGIES]
    done = args.rag_seeds > 0 and all(k in result["rag"] for k in want) and all(
        f"{st}-s{sd}" in result["runs"] for sd in seeds for st in STRATEGIES)
    result["status"] = "complete" if done else "partial"
    if args.note:
        result["note"] = args.note
    save()
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
