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

    nohup nice -n 5 .venv/bin/python benchmarks/tune_balance.py --seeds 3 --steps 24 --eval-every 6 \
        --n-loss 12 --context-tokens 640 --n-th 30 --ratio 10 --n-rag 50 --n-rag-local 50 \
        --rag-seeds 1 --threads 1 --work .cache/thaija/bench/tune_balance_r4 &

(``--phase baselines`` and ``--phase rag --first-seed N --seeds 1`` processes can run beside it on
the other core: same cache, a lock per RAG evaluation. docs/tune.md has the exact commands.)
The results carry ``verdict_lines``: one plain line per language (helped / no clear effect / hurt,
by the 2-std rules under ``verdicts``) and one on the adapters against the untuned base.

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
    """Write ``rows``; an identical file is left alone (a parallel process may be reading it)."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


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
        run = json.loads((out / "run.json").read_text())
        run["load_1min_at_end"] = round(os.getloadavg()[0], 2)  # the machine's load while it trained
        (out / "run.json").write_text(json.dumps(run, ensure_ascii=False, indent=2), encoding="utf-8")
    rep = json.loads((out / "report.json").read_text())
    run = json.loads((out / "run.json").read_text())
    return {"adapter": str(out), "shares": rep["shares"], "realized_shares": run["realized_shares"],
            "eval_before": {k: v["loss"] for k, v in rep["eval_before"].items()},
            "eval_after": {k: v["loss"] for k, v in rep["eval"].items()},
            "history": [{"step": h["step"], **{k: v["loss"] for k, v in h["eval"].items()}}
                        for h in rep["history"]],
            "seconds": run["seconds"], "load_1min_at_end": run.get("load_1min_at_end")}


def rag_eval(work: Path, data: dict, name: str, generator: str, adapter: str | None, args, n: int) -> dict:
    """Answer the dev questions with the real pipeline; answer-only recall, citation validity.

    Each answered question is appended to ``rag/<name>.rows.jsonl`` at once, so an interrupted
    evaluation continues with the next question (and a larger ``n`` only answers the new ones)."""
    path = work / "rag" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if args.phase == "report":  # what is answered so far, nothing new (no lock, nothing written)
        return _rag_eval(work, data, name, generator, adapter, args, n, path, answer_missing=False)
    lock = path.with_suffix(".lock")
    while True:  # a parallel process of this script (--phase baselines) may be answering them
        if path.is_file():
            done = json.loads(path.read_text())
            if all(done[lang]["questions"] == min(n, len(q)) for lang, q in data["dev_questions"].items()):
                return done
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = int(lock.read_text() or 0)
            if holder and _alive(holder):
                print(f"rag eval {name}: process {holder} is on it; waiting…", flush=True)
                time.sleep(30)
            else:
                lock.unlink(missing_ok=True)  # stale lock of a process that ended
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        break
    try:
        return _rag_eval(work, data, name, generator, adapter, args, n, path)
    finally:
        lock.unlink(missing_ok=True)


def _code_state() -> dict:
    """The commit, whether src/ had uncommitted changes, and the support model file in use."""
    import hashlib
    import subprocess

    def git(where: Path, *a: str) -> str:
        return subprocess.run(["git", "-C", str(where), *a], capture_output=True, text=True).stdout.strip()

    import thaija

    src = Path(thaija.__file__).resolve().parents[1]  # PYTHONPATH may point at a frozen source tree
    support = src / "thaija" / "rag" / "support.json"
    out = {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git(ROOT, "rev-parse", "--short", "HEAD"),
           "src": str(src) if src != ROOT / "src" else "src/ of the checkout",
           "src_dirty": bool(git(ROOT, "status", "--porcelain", "--", "src")),
           "support_json_sha1": hashlib.sha1(support.read_bytes()).hexdigest()[:10] if support.is_file() else None}
    if src != ROOT / "src":  # a frozen tree (e.g. a git worktree): its own commit and state are what ran
        out["commit_of_checkout"], out["src_dirty_in_checkout"] = out["commit"], out["src_dirty"]
        out["commit"] = git(src, "rev-parse", "--short", "HEAD") or None
        out["src_dirty"] = bool(git(src, "status", "--porcelain", "--", ".")) if out["commit"] else None
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rag_eval(work: Path, data: dict, name: str, generator: str, adapter: str | None, args, n: int,
              path: Path, answer_missing: bool = True) -> dict:
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
    from thaija.rag import generators
    from thaija.rag.pipeline import AskConfig, answer

    if args.threads:  # the generator's thread count, fixed (default: cores minus load, which varies)
        generators.LocalGenerator.cpu_threads = lambda self: int(args.threads)  # type: ignore[method-assign]
    print(f"rag eval {name}…", flush=True)
    cfg = AskConfig(generator=generator, adapter=adapter, k=args.k, review=False,
                    context_tokens=args.context_tokens if generator == "local" else None)
    out: dict = {}
    for lang, qids in data["dev_questions"].items():
        rows = []
        for qid in qids[:n]:
            if (lang, qid) not in have and not answer_missing:
                continue
            if (lang, qid) not in have:
                gold = data["answers"][qid]
                r = answer(data["qtext"][qid], db=data["db"], config=cfg)
                quotes = [c["quote"] for c in r.citations]
                row = {"lang": lang, "id": qid, "refused": r.refused, "load_1min": os.getloadavg()[0], "reason": r.reason, "answer": r.answer,
                       "raw": r.extra.get("raw_answer"), "seconds": r.seconds,
                       "answer_recall": (not r.refused) and any(g in r.answer for g in gold),
                       "citation_valid": (not r.refused) and any(g in q for g in gold for q in quotes),
                       "lang_ok": (not r.refused) and _in_lang(r.answer, lang)}
                with rows_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                have[(lang, qid)] = row
            rows.append(have[(lang, qid)])
        m = len(rows)
        if not m:
            continue
        answered = [x for x in rows if not x["refused"]]
        out[lang] = {"questions": m,
                     "answer_recall": sum(x["answer_recall"] for x in rows) / m,
                     "citation_validity": (sum(x["citation_valid"] for x in answered) / len(answered)
                                           if answered else 0.0),
                     "refusal_rate": sum(x["refused"] for x in rows) / m,
                     "answer_in_language": (sum(x["lang_ok"] for x in answered) / len(answered)
                                            if answered else 0.0),
                     "latency_p50_s": statistics.median(x["seconds"] for x in rows),
                     "load_1min_mean": (statistics.mean(x["load_1min"] for x in rows if "load_1min" in x)
                                        if any("load_1min" in x for x in rows) else None),
                     "rows": rows}
        if m < min(n, len(qids)):
            out[lang]["partial"] = f"{m} of {min(n, len(qids))} questions answered when the report was written"
    if not answer_missing:
        return out
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1))
    meta = path.with_suffix(".meta.json")  # which code answered (the rows of one name may span runs)
    prior = json.loads(meta.read_text()) if meta.is_file() else {}
    meta.write_text(json.dumps({"runs": prior.get("runs", []) + [_code_state()]}, indent=1))
    return out


def _in_lang(text: str, lang: str) -> bool:
    from thaija.lang import detect

    return detect(text).lang == lang


def _ms(xs: list[float]) -> dict:
    return {"mean": statistics.mean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}


def _curve(rs: list[dict], lang: str) -> list[dict]:
    """Held-out loss per eval step (step 0 = the base model): mean and std over the seeds."""
    steps = sorted({0} | {h["step"] for r in rs for h in r["history"]})
    out = []
    for st in steps:
        ys = [r["eval_before"][lang] if st == 0 else next((h[lang] for h in r["history"] if h["step"] == st), None)
              for r in rs]
        ys = [y for y in ys if y is not None]
        if ys:
            out.append({"step": st, **_ms(ys)})
    return out


def summarize(runs: dict, rag: dict) -> dict:
    """Per strategy: held-out loss mean +- std over seeds (final, drop, Thai-Japanese gap, the
    curve and how much the last eval interval still moved it), and the RAG metrics of its
    RAG-evaluated adapter(s) with their question count."""
    out: dict = {}
    for strategy in STRATEGIES:
        keys = sorted(k for k in runs if k.rsplit("-s", 1)[0] == strategy)
        rs = [runs[k] for k in keys]
        if not rs:
            continue
        s: dict = {"seeds": len(rs), "seed_runs": keys, "th_share": rs[0]["shares"].get("th")}
        for lang in SETS:
            s[f"heldout_loss_{lang}"] = _ms([r["eval_after"][lang] for r in rs])
            s[f"heldout_loss_drop_{lang}"] = _ms([r["eval_before"][lang] - r["eval_after"][lang] for r in rs])
            curve = _curve(rs, lang)
            s[f"heldout_curve_{lang}"] = curve
            if len(curve) >= 3:  # the last interval's change as a share of the whole drop
                total = curve[0]["mean"] - curve[-1]["mean"]
                last = curve[-2]["mean"] - curve[-1]["mean"]
                s[f"last_interval_drop_{lang}"] = {"from_step": curve[-2]["step"], "to_step": curve[-1]["step"],
                                                   "drop": last, "share_of_total_drop": last / total if total else None}
        s["heldout_gap_th_minus_ja"] = _ms([r["eval_after"]["th"] - r["eval_after"]["ja"] for r in rs])
        evs = {k: rag[k] for k in keys if k in rag}
        if evs:
            s["rag_adapters"] = sorted(evs)
            for lang in SETS:
                have = [e[lang] for e in evs.values() if lang in e]  # a one-language check has one
                if not have:
                    continue
                for m in ("answer_recall", "citation_validity", "refusal_rate", "answer_in_language"):
                    s[f"rag_{m}_{lang}"] = _ms([e[m] for e in have])
                s[f"rag_questions_{lang}"] = min(e["questions"] for e in have)
        out[strategy] = s
    return out


def flatten(runs: dict, max_share: float) -> dict:
    """Whether held-out loss has flattened, per run and language, by a rule fixed before the run:
    the last eval interval lowers held-out loss by less than ``max_share`` of the run's whole drop
    (step 0 to the last step). A rise in the last interval (over-fitting) is a plateau too and is
    listed under ``rose``."""
    out: dict = {"rule": (f"per run and language: (loss at the second-to-last eval - loss at the last eval) "
                          f"/ (loss at step 0 - loss at the last eval) < {max_share:g}; a rise in the last "
                          f"interval (share < 0, over-fitting) also counts as flat and is listed under 'rose'"),
                 "max_share": max_share, "runs": {}, "rose": [], "not_flat": []}
    for key, r in sorted(runs.items()):
        if len(r["history"]) < 2:
            continue
        a, b = r["history"][-2], r["history"][-1]
        for lang in SETS:
            total = r["eval_before"][lang] - b[lang]
            share = (a[lang] - b[lang]) / total if total else None
            flat = share is not None and share < max_share
            out["runs"].setdefault(key, {})[lang] = {"from_step": a["step"], "to_step": b["step"],
                                                     "last_interval_drop": a[lang] - b[lang],
                                                     "share_of_total_drop": share, "flat": flat}
            if share is not None and share < 0:
                out["rose"].append(f"{key} {lang}")
            if not flat:
                out["not_flat"].append(f"{key} {lang}")
    out["all_flat"] = bool(out["runs"]) and not out["not_flat"]
    return out


def _label(diff: float, noise: float, lower_is_better: bool) -> str:
    if noise <= 0 or abs(diff) <= 2 * noise:
        return "no clear effect"
    good = diff < 0 if lower_is_better else diff > 0
    return "helped" if good else "hurt"


def _paired(rows_a: list[dict], rows_b: list[dict], field: str) -> dict:
    """Difference a - b of a yes/no metric on the same questions, with the standard error of a
    paired mean difference (question sampling noise only)."""
    b = {r["id"]: bool(r[field]) for r in rows_b}
    ds = [int(bool(r[field])) - int(b[r["id"]]) for r in rows_a if r["id"] in b]
    n = len(ds)
    if n < 2:
        return {"diff": None, "se": None, "questions": n}
    return {"diff": statistics.mean(ds), "se": statistics.stdev(ds) / n ** 0.5, "questions": n}


def _unpaired(ev_a: dict, ev_b: dict, metric: str, denom: str) -> dict:
    """Difference of a rate whose denominator differs between a and b (citation validity: over
    the answered questions), with the binomial standard error of the difference."""
    pa, pb = ev_a[metric], ev_b[metric]
    na = sum(not r["refused"] for r in ev_a["rows"]) if denom == "answered" else ev_a["questions"]
    nb = sum(not r["refused"] for r in ev_b["rows"]) if denom == "answered" else ev_b["questions"]
    if not na or not nb:
        return {"diff": None, "se": None, "answered": [na, nb]}
    return {"diff": pa - pb, "se": (pa * (1 - pa) / na + pb * (1 - pb) / nb) ** 0.5, "answered": [na, nb]}


def verdicts(summary: dict, rag: dict) -> dict:
    """Plain verdicts: each balanced strategy against proportional sampling, per language, on
    held-out loss (seed noise) and on RAG answers (question-sampling noise); each adapter
    against the untuned base. A difference within 2 standard deviations is "no clear effect"."""
    out: dict = {"rule": ("held-out loss: difference of seed means vs proportional; noise = pooled seed "
                          "std sqrt((sd_a^2+sd_b^2)/2); |diff| <= 2 noise -> no clear effect. RAG (one "
                          "adapter per strategy, same seed): answer recall paired on the same questions, "
                          "citation validity over answered questions (binomial); noise = standard error "
                          "of the difference (question sampling only: seed noise of RAG is not measured); "
                          "|diff| <= 2 se -> no clear effect."),
                 "heldout_loss": {}, "rag_vs_proportional": {}, "rag_vs_base": {}}
    prop = summary.get("proportional")
    for strategy in ("temperature", "unimax"):
        s = summary.get(strategy)
        if not s or not prop or s["seeds"] < 2 or prop["seeds"] < 2:
            continue
        v = {}
        for lang in SETS:
            a, b = s[f"heldout_loss_{lang}"], prop[f"heldout_loss_{lang}"]
            noise = ((a["std"] ** 2 + b["std"] ** 2) / 2) ** 0.5
            d = a["mean"] - b["mean"]
            v[lang] = {"diff": d, "seed_noise_std": noise, "diff_in_noise_std": d / noise if noise else None,
                       "verdict": _label(d, noise, lower_is_better=True)}
        out["heldout_loss"][strategy] = v

    def adapter(strategy: str) -> str | None:
        keys = (summary.get(strategy) or {}).get("rag_adapters") or []
        return keys[0] if keys else None

    def compare(a: str, b: str) -> dict:
        v = {}
        for lang in SETS:
            if lang not in rag[a] or lang not in rag[b]:
                continue
            ea, eb = rag[a][lang], rag[b][lang]
            rec = _paired(ea["rows"], eb["rows"], "answer_recall")
            cit = _unpaired(ea, eb, "citation_validity", "answered")
            ref = _paired(ea["rows"], eb["rows"], "refused")
            v[lang] = {"answer_recall": {**rec, "verdict": _label(rec["diff"] or 0.0, rec["se"] or 0.0, False)},
                       "citation_validity": {**cit, "verdict": _label(cit["diff"] or 0.0, cit["se"] or 0.0, False)},
                       "refusal_rate": ref}
        return v

    pa = adapter("proportional")
    for strategy in ("temperature", "unimax"):
        a = adapter(strategy)
        if a and pa and a in rag and pa in rag:
            out["rag_vs_proportional"][f"{a} vs {pa}"] = compare(a, pa)
    if "base" in rag:
        for strategy in STRATEGIES:
            a = adapter(strategy)
            if a and a in rag:
                out["rag_vs_base"][f"{a} vs base"] = compare(a, "base")
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


def verdict_lines(summary: dict, verdicts_: dict, more: dict, flat: dict) -> dict:
    """One plain line per language (did balancing help, do nothing or hurt, by the 2-std rules of
    ``verdicts``), and one line on the adapters against the untuned base model."""
    out: dict = {}
    for lang in SETS:
        labels: dict[str, list[str]] = {}
        parts = []
        loss = [(st, v[lang]) for st, v in verdicts_.get("heldout_loss", {}).items() if lang in v]
        if loss:
            ns = sorted({summary[st]["seeds"] for st, _ in loss} | {summary["proportional"]["seeds"]})
            seeds = f"{ns[0]} seeds each" if len(ns) == 1 else f"{ns[0]}-{ns[-1]} seeds"
            parts.append(f"held-out loss vs proportional ({seeds}): " + ", ".join(
                f"{st} {v['diff']:+.3f} ({v['diff_in_noise_std']:+.1f} seed std): {v['verdict']}"
                if v["diff_in_noise_std"] is not None else f"{st} {v['diff']:+.3f}: {v['verdict']}"
                for st, v in loss))
            for st, v in loss:
                labels.setdefault(st, []).append(v["verdict"])
        rag = [(k.split(" vs ")[0], v[lang]["answer_recall"])
               for k, v in verdicts_.get("rag_vs_proportional", {}).items() if lang in v]
        if rag:
            seed = rag[0][0].rsplit("-s", 1)[-1]    # the adapters' seed, from the key (e.g. temperature-s2)
            parts.append(f"RAG answer recall vs proportional (seed {seed}, {rag[0][1]['questions']} questions, "
                         "question-sampling se): " + ", ".join(
                             f"{k} {v['diff']:+.2f} ± {v['se']:.2f}: {v['verdict']}" for k, v in rag))
            for k, v in rag:
                labels.setdefault(k.rsplit("-s", 1)[0], []).append(v["verdict"])
        seeds_v = [(st, x[lang]["answer_recall"]) for st, x in more.get("verdict_vs_proportional", {}).items()
                   if lang in x]
        if seeds_v:
            ns = sorted({len(more["mean_std_over_seeds"][st][lang]["seeds"]) for st, _ in seeds_v})
            seeds = f"{ns[0]} adapter seeds each" if len(ns) == 1 else f"{ns[0]}-{ns[-1]} adapter seeds"
            parts.append(f"RAG answer recall over {seeds}: " + ", ".join(
                f"{st} {v['diff']:+.2f} (seed std {v['seed_noise_std']:.2f}): {v['verdict']}" for st, v in seeds_v))
            for st, v in seeds_v:
                labels.setdefault(st, []).append(v["verdict"])
        if not parts:
            continue
        def word(ls: list[str]) -> str:
            return ("mixed" if "helped" in ls and "hurt" in ls else "helped" if "helped" in ls
                    else "hurt" if "hurt" in ls else "no clear effect")

        head = ", ".join(f"{st} {word(ls)}" for st, ls in labels.items())
        pairs = [r[lang] for r in flat.get("runs", {}).values() if lang in r]
        flat_note = (f"held-out loss flat by the {flat.get('max_share', 0):g} rule in "
                     f"{sum(p['flat'] for p in pairs)} of {len(pairs)} runs") if pairs else ""
        out[lang] = f"{lang}: balancing vs proportional: {head} — " + "; ".join(parts + ([flat_note] if flat_note else []))
    base = [(k.split(" vs ")[0], lang, v[lang]["answer_recall"]) for k, v in verdicts_.get("rag_vs_base", {}).items()
            for lang in SETS if lang in v]
    if base:
        better = [f"{a} {lang}" for a, lang, v in base if v["verdict"] == "helped"]
        worse = [f"{a} {lang}" for a, lang, v in base if v["verdict"] == "hurt"]
        out["adapters_vs_base"] = ("adapters vs untuned base, RAG answer recall: " + ", ".join(
            f"{a} {lang} {v['diff']:+.2f} ± {v['se']:.2f}" for a, lang, v in base) +
            f" — clearly better: {', '.join(better) or 'none'}; clearly worse: {', '.join(worse) or 'none'}")
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
        # a run merged into the prior file already names its own origin: keep it (chained merges)
        result["runs"][key] = {**run, "from": run.get("from") or {"file": path.name, "commit": prior.get("commit"),
                                                                  "date": prior.get("date")}}
    result["prior"] = {"commit": prior.get("commit"), "date": prior.get("date"), "args": prior.get("args")}


def compare_to(path: Path) -> dict:
    """An earlier results file's settings, held-out loss summary and RAG rates, for comparison only
    (nothing of it enters this run's summary or verdicts)."""
    prior = json.loads(path.read_text(encoding="utf-8"))
    keep = ("seeds", "heldout_loss_th", "heldout_loss_ja", "heldout_gap_th_minus_ja",
            "last_interval_drop_th", "last_interval_drop_ja")
    return {"file": path.name, "commit": prior.get("commit"), "date": prior.get("date"), "args": prior.get("args"),
            "settings": prior.get("settings"),
            "eval_before": next(iter(prior["runs"].values()))["eval_before"] if prior.get("runs") else None,
            "summary": {st: {k: v for k, v in s.items() if k in keep} for st, s in prior.get("summary", {}).items()},
            "heldout_verdicts": (prior.get("verdicts") or {}).get("heldout_loss"),
            "rag": prior.get("rag")}


def _rates(rows: list[dict]) -> dict:
    answered = [r for r in rows if not r["refused"]]
    return {"questions": len(rows), "answer_recall": sum(r["answer_recall"] for r in rows) / len(rows),
            "citation_validity": (sum(r["citation_valid"] for r in answered) / len(answered)) if answered else None,
            "refusal_rate": sum(r["refused"] for r in rows) / len(rows)}


def rechecks(work: Path, rag: dict) -> dict:
    """The baselines answered again at a later commit (``--phase baselines --tag``), finished or not,
    next to the main evaluation's rates on exactly the same questions."""
    out: dict = {}
    for p in sorted((work / "rag").glob("*-*.rows.jsonl")):
        name = p.name[: -len(".rows.jsonl")]
        main = name.split("-", 1)[0]
        if main not in ("base", "extractive") or main not in rag:
            continue
        rows = [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
        entry: dict = {"finished": (work / "rag" / f"{name}.json").is_file()}
        for lang in SETS:
            mine = [r for r in rows if r["lang"] == lang]
            if not mine:
                continue
            ids = {r["id"] for r in mine}
            entry[lang] = {"recheck": _rates(mine),
                           "main_same_questions": _rates([r for r in rag[main][lang]["rows"] if r["id"] in ids]),
                           "same_outcome": sum(
                               (r["refused"], r["answer_recall"]) == (m["refused"], m["answer_recall"])
                               for r in mine for m in rag[main][lang]["rows"] if m["id"] == r["id"]) / len(mine)}
        out[name] = entry
    return out


def rag_more_seeds(work: Path, rag: dict) -> dict:
    """RAG evaluations of adapters of other seeds (possibly one language only), and per strategy and
    language the mean +- std over every seed evaluated (the main rows' seed included)."""
    other: dict = {}
    for p in sorted((work / "rag").glob("*-s*.json")):
        key = p.stem
        if key.endswith(".meta") or key in rag or key.rsplit("-s", 1)[0] not in STRATEGIES:
            continue
        other[key] = {lang: {m: v for m, v in e.items() if m != "rows"} for lang, e in json.loads(p.read_text()).items()}
    by_strategy: dict = {}
    for strategy in STRATEGIES:
        evs = {k: v for k, v in {**rag, **other}.items() if k.rsplit("-s", 1)[0] == strategy}
        for lang in SETS:
            have = {k: v[lang] for k, v in evs.items() if lang in v}
            if len(have) > 1:
                by_strategy.setdefault(strategy, {})[lang] = {
                    "seeds": sorted(have), "questions": min(e["questions"] for e in have.values()),
                    **{m: _ms([e[m] for e in have.values()]) for m in
                       ("answer_recall", "citation_validity", "refusal_rate")}}
    verdict: dict = {}  # the held-out loss rule on RAG metrics: seed means, pooled seed std
    for strategy in ("temperature", "unimax"):
        for lang, x in by_strategy.get(strategy, {}).items():
            ref = by_strategy.get("proportional", {}).get(lang)
            if not ref:
                continue
            for m in ("answer_recall", "citation_validity"):
                a, b = x[m], ref[m]
                noise = ((a["std"] ** 2 + b["std"] ** 2) / 2) ** 0.5
                verdict.setdefault(strategy, {}).setdefault(lang, {})[m] = {
                    "diff": a["mean"] - b["mean"], "seed_noise_std": noise,
                    "verdict": _label(a["mean"] - b["mean"], noise, lower_is_better=False)}
    return {"evaluations": other, "mean_std_over_seeds": by_strategy, "verdict_vs_proportional": verdict}


def plot(runs: dict, path: Path, title: str) -> None:
    """Held-out answer-token loss per language vs step: mean +- std over seeds per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110, sharey=False)
    colors = {"proportional": "tab:gray", "temperature": "tab:blue", "unimax": "tab:green"}
    for ax, lang in zip(axes, ("th", "ja")):
        for strategy in STRATEGIES:
            rs = [r for k, r in runs.items() if k.rsplit("-s", 1)[0] == strategy]
            if not rs:
                continue
            curve = _curve(rs, lang)
            xs = [c["step"] for c in curve]
            ms = [c["mean"] for c in curve]
            sd = [c["std"] for c in curve]
            ax.plot(xs, ms, "-o", ms=3, color=colors[strategy], label=f"{strategy} (n={len(rs)} seeds)")
            ax.fill_between(xs, [m - d for m, d in zip(ms, sd)], [m + d for m, d in zip(ms, sd)],
                            color=colors[strategy], alpha=0.2)
        ax.set_title(f"{lang}: held-out answer-token loss (mean ± std over seeds)")
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
    ap.add_argument("--no-baselines", action="store_true",
                    help="all/rag phases: leave the extractive and base evaluations to a --phase baselines process")
    ap.add_argument("--rag-langs", default=",".join(SETS),
                    help="RAG-evaluate questions of these languages only (a partial check of more seeds; "
                         "such evaluations are reported under rag_more_seeds, not in the summary)")
    ap.add_argument("--tag", default="",
                    help="baselines phase: evaluate them again as extractive-TAG / base-TAG (a re-check at "
                         "the current code); the all phase reports every such re-check beside the main rows")
    ap.add_argument("--note-file", default=None, help="read --note from this file")
    ap.add_argument("--load-log", default=None,
                    help="report phase: a file of 'HH:MM:SS load1 load5 load15' lines sampled while the "
                         "runs and answers were made (the report itself runs later); kept as load_log")
    ap.add_argument("--baseline-names", default="extractive,base",
                    help="baselines phase: which of extractive, base to evaluate (a process per baseline)")
    ap.add_argument("--compare", default=None,
                    help="an earlier results JSON of this script with other settings (e.g. fewer steps): its "
                         "held-out loss summary and RAG rates are kept under 'compare', marked with its commit")
    ap.add_argument("--flat-share", type=float, default=0.02,
                    help="flatten rule: the last eval interval lowers held-out loss by less than this share "
                         "of the run's whole drop (checked per run and language, reported under 'flatten')")
    ap.add_argument("--phase", choices=("all", "train", "rag", "baselines", "report"), default="all",
                    help="train: held-out loss runs only; rag: RAG-evaluate cached adapters only; "
                         "baselines: only the extractive and untuned-base RAG evaluations (can run beside "
                         "a training process on the same --work; writes <work>/baselines.json); report: "
                         "write the results file from what is cached (finished runs, answered questions; an "
                         "unfinished RAG evaluation is marked partial), training and answering nothing")
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
    if args.phase == "baselines":
        out = work / "baselines.json"
    if args.note_file:
        args.note = Path(args.note_file).read_text(encoding="utf-8").strip()
    t0 = time.time()
    split = build_corpus(work, {"th": args.th_docs, "ja": args.ja_docs}, {"th": args.dev_docs, "ja": args.dev_docs})
    data = build_examples(work, split, args)
    data["dev_questions"] = {k: v for k, v in data["dev_questions"].items() if k in args.rag_langs.split(",")}
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
              "rag_seed": args.first_seed if args.rag_seeds else None,
              "load_1min_samples": [],
              "runs": {}, "rag": {}, "summary": {}}

    def save() -> None:
        result["seconds"] = round(time.time() - t0, 1)
        result["load_1min_samples"].append(round(os.getloadavg()[0], 2))
        out.parent.mkdir(parents=True, exist_ok=True)
        slim = {**result, "rag": {k: {lang: {m: v for m, v in e.items() if m != "rows"} for lang, e in ev.items()}
                                  for k, ev in result["rag"].items()}}
        out.write_text(json.dumps(stamp(slim), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    save()  # the data phase is on record before the long training phase
    title = (f"grounded QA, ja:th = {args.ratio:g}:1, {args.steps} steps x {args.batch_size}, "
             f"Gemma-3-270m LoRA r{args.lora_r}, prompt budget {args.context_tokens} tokens")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    chosen = [s for s in STRATEGIES if s in args.strategies.split(",")]
    baselines = (("extractive", "extractive", args.n_rag), ("base", "local", args.n_rag_local))
    if args.phase == "baselines":
        baselines = tuple(b for b in baselines if b[0] in args.baseline_names.split(","))
    if args.phase == "baselines" and args.tag:
        baselines = tuple((f"{n}-{args.tag}", g, k) for n, g, k in baselines)
        out = work / f"baselines-{args.tag}.json"
    if args.phase == "baselines":
        for name, generator, n in baselines:
            result["rag"][name] = rag_eval(work, data, name, generator, None, args, n)
            save()
        result["status"] = "baselines only"
        save()
        return
    for seed in seeds:  # held-out loss first: the cheap part with error bars
        for strategy in chosen:
            key = f"{strategy}-s{seed}"
            if args.phase in ("rag", "report") and not (work / "runs" / key / "report.json").is_file():
                continue  # rag phase: only adapters that finished training
            result["runs"][key] = train_run(work, data, strategy, seed, args)
            result["summary"] = summarize(result["runs"], result["rag"])
            result["verdicts"] = verdicts(result["summary"], result["rag"])
            result["flatten"] = flatten(result["runs"], args.flat_share)
            save()
            plot(result["runs"], out.with_suffix(".png"), title)
    if args.prior:
        merge_prior(result, Path(args.prior))
        result["summary"] = summarize(result["runs"], result["rag"])
        result["flatten"] = flatten(result["runs"], args.flat_share)   # every run, the merged ones too
        save()
        plot(result["runs"], out.with_suffix(".png"), title)
    if args.phase == "train":
        result["status"] = "trained (RAG evaluation not run)"
        save()
        return
    for seed in list(seeds)[: args.rag_seeds]:  # adapters first: the baselines may run beside training
        for strategy in chosen:
            key = f"{strategy}-s{seed}"
            if key not in result["runs"]:
                continue
            ev = rag_eval(work, data, key, "local", result["runs"][key]["adapter"], args, args.n_rag_local)
            if not ev:  # report phase, nothing answered yet
                continue
            result["rag"][key] = ev
            result["summary"] = summarize(result["runs"], result["rag"])
            result["verdicts"] = verdicts(result["summary"], result["rag"])
            save()
    for name, generator, n in baselines:
        if not args.no_baselines:
            ev = rag_eval(work, data, name, generator, None, args, n)
            if ev:
                result["rag"][name] = ev
            save()
    result["summary"] = summarize(result["runs"], result["rag"])
    result["verdicts"] = verdicts(result["summary"], result["rag"])
    result["rag_extractive_same_questions"] = same_questions(result["rag"])
    result["rag_code"] = {p.name[: -len(".meta.json")]: json.loads(p.read_text())["runs"]
                          for p in sorted((work / "rag").glob("*.meta.json"))}
    result["rag_more_seeds"] = rag_more_seeds(work, result["rag"])
    result["rag_rechecks"] = rechecks(work, result["rag"])
    result["verdict_lines"] = verdict_lines(result["summary"], result["verdicts"], result["rag_more_seeds"],
                                            result.get("flatten", {}))
    want = [f"{st}-s{sd}" for sd in list(seeds)[: args.rag_seeds] for st in STRATEGIES]
    done = args.rag_seeds > 0 and all(k in result["rag"] for k in want) and not any(
        "partial" in e for ev in result["rag"].values() for e in ev.values()) and all(
        f"{st}-s{sd}" in result["runs"] for sd in seeds for st in STRATEGIES)
    result["status"] = "complete" if done else "partial"
    if args.compare:
        result["compare"] = compare_to(Path(args.compare))
    if args.load_log:
        result["load_log"] = [dict(zip(("utc", "load1", "load5", "load15"), [x.split()[0]] + [float(v) for v in x.split()[1:4]]))
                              for x in Path(args.load_log).read_text().splitlines() if len(x.split()) >= 4]
    if args.note:
        result["note"] = args.note
    save()
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
