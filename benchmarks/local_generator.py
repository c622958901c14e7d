"""Latency and behaviour of ``ask --generator local`` (offline Gemma-3-270m, optional adapter).

The real pipeline (hybrid retrieval -> grounded prompt with up to five 256-token chunks inside a
1536-token budget counted in Gemma's own tokens -> greedy decoding with the KV cache, logits for
the last position only, bfloat16 weights where the CPU has bf16 instructions, one torch thread,
stop at the end of the answer line -> citation checks) on questions from the shipped corpora
(corpora/wiki_th, corpora/wiki_ja). Records wall-clock and process CPU seconds per answer (CPU
time is what one free core would need; wall time includes waiting for a shared CPU), the machine
load average, prompt tokens and documents, new tokens, refusals and the answer language.

    nice -n 10 .venv/bin/python benchmarks/local_generator.py [--per-lang 5] [--adapter DIR] [--profile]

Writes benchmarks/results/local_generator.json.
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _rows(name: str, file: str) -> list[dict]:
    text = (ROOT / "corpora" / name / file).read_text("utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-lang", type=int, default=5, help="questions per language")
    ap.add_argument("--docs", type=int, default=12, help="paragraphs per language in the index")
    ap.add_argument("--context-tokens", type=int, default=None, help="default: the generator's (1536)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: the generator's (48)")
    ap.add_argument("--dtype", default=None, help="auto | float32 | bfloat16 (default: the generator's, auto)")
    ap.add_argument("--threads", type=int, default=None, help="default: the generator's (auto: cores left free by the load)")
    ap.add_argument("--vocabulary", default=None, choices=("prompt", "full"),
                    help="output tokens a grounded answer may use (default: the generator's, prompt)")
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--profile", action="store_true",
                    help="also split one real answer prompt into prefill and per-token decode cost for "
                         "threads 1 and 2, bfloat16 / float32 and prompt / full output vocabulary")
    ap.add_argument("--profile-threads", default="1,2", help="thread counts for --profile (comma-separated)")
    ap.add_argument("--out", default=str(RESULTS / "local_generator.json"))
    args = ap.parse_args()

    from thaija.index import Index
    from thaija.index.documents import Document
    from thaija.lang import detect
    from thaija.rag.generators import LocalGenerator, make_generator
    from thaija.rag.pipeline import AskConfig, answer

    gen = make_generator("local", adapter=args.adapter, context_tokens=args.context_tokens)
    assert isinstance(gen, LocalGenerator)
    if args.max_new_tokens:
        gen.max_new_tokens = args.max_new_tokens
    if args.threads:
        gen.threads = args.threads
    if args.dtype:
        gen.dtype = args.dtype
    if args.vocabulary:
        gen.vocabulary = args.vocabulary
    tmp = tempfile.TemporaryDirectory(prefix="bench-local-")
    db = str(Path(tmp.name) / "local.db")
    docs, questions = [], []
    for name in ("wiki_th", "wiki_ja"):
        keep = _rows(name, "corpus.jsonl")[: args.docs]
        ids = {d["id"] for d in keep}
        docs += [Document(id=d["id"], text=d["text"], title=d.get("title", ""), lang=d.get("lang"),
                          source=f"{name}/corpus.jsonl") for d in keep]
        qrels = dict(x.split("\t")[:2] for x in
                     (ROOT / "corpora" / name / "qrels.tsv").read_text("utf-8").splitlines()[1:])
        qs = [q for q in _rows(name, "queries.jsonl") if qrels.get(q["id"]) in ids]
        step = max(1, len(qs) // args.per_lang)  # spread over the paragraphs
        questions += [(name, q) for q in qs[::step][: args.per_lang]]
    ix = Index(db)
    try:
        ix.add_documents(docs, progress=False)
    finally:
        ix.close()
    gen._load()  # model load and first-call warm-up outside the timings
    cfg = AskConfig(generator="local", adapter=args.adapter, review=False)
    answer(questions[0][1]["text"], db=db, config=cfg, generator=gen)
    gen_cpu: list[float] = []
    plain_generate = gen.generate

    def timed_generate(*a, **kw):  # the generator's own share of each answer's CPU time
        c = time.process_time()
        try:
            return plain_generate(*a, **kw)
        finally:
            gen_cpu.append(time.process_time() - c)

    gen.generate = timed_generate  # type: ignore[method-assign]
    prompts: list = []
    plain_run = gen._run

    def recording_run(messages, *a, **kw):  # the exact messages of each answer, for --profile
        prompts.append((messages, a, kw))
        return plain_run(messages, *a, **kw)

    gen._run = recording_run  # type: ignore[method-assign]
    rows = []
    for name, q in questions:
        gen_cpu.clear()
        load = os.getloadavg()[0]
        threads = gen.cpu_threads()
        c0, t0 = time.process_time(), time.perf_counter()
        r = answer(q["text"], db=db, config=cfg, generator=gen)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        _, tok = gen._load()
        raw = r.extra.get("raw_answer", "")
        rows.append({"set": name, "id": q["id"], "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                     "generate_cpu_s": round(sum(gen_cpu), 3),
                     "load_avg_1min": round(load, 2), "threads": threads, "prompt_tokens": r.prompt_tokens,
                     "prompt_docs": r.extra.get("prompt_hits"),
                     "new_tokens": len(tok(raw, add_special_tokens=False)["input_ids"]) if raw else 0,
                     "refused": r.refused, "reason": r.reason,
                     "answer_lang": detect(r.answer).lang if not r.refused else None,
                     "question_lang": r.lang, "raw_answer": raw[:300]})
        print(json.dumps(rows[-1], ensure_ascii=False)[:220], flush=True)
    tmp.cleanup()
    profile = (_profile(gen, prompts[0], [int(t) for t in args.profile_threads.split(",")])
               if args.profile and prompts else None)
    walls = [x["wall_s"] for x in rows]
    cpus = [x["cpu_s"] for x in rows]
    answered = [x for x in rows if not x["refused"]]
    result = {
        "benchmark": "local_generator", "model": gen.model, "threads": gen.threads or "auto (cores minus load, >= 1)",
        "dtype": str(gen._load()[0].dtype).replace("torch.", ""),
        "answer_prefix": gen.answer_prefix if gen.answer_prefix is not None else gen.adapter is None,
        "context_tokens": gen.context_tokens, "max_new_tokens": gen.max_new_tokens,
        "vocabulary": gen.vocabulary,
        "questions": len(rows), "cpus": os.cpu_count(),
        "wall_p50_s": statistics.median(walls), "cpu_p50_s": statistics.median(cpus),
        "generate_cpu_p50_s": statistics.median(x["generate_cpu_s"] for x in rows),
        "new_tokens_p50": statistics.median(x["new_tokens"] for x in rows),
        "wall_max_s": max(walls), "load_avg_1min_mean": round(statistics.mean(x["load_avg_1min"] for x in rows), 2),
        "prompt_docs_p50": statistics.median(x["prompt_docs"] or 0 for x in rows),
        "prompt_tokens_p50": statistics.median(x["prompt_tokens"] for x in rows),
        "refusal_rate": 1 - len(answered) / len(rows),
        "answered_in_question_language": (sum(x["answer_lang"] == x["question_lang"] for x in answered)
                                          / len(answered)) if answered else None,
        "target": "p50 <= 5 s per answer on 2 CPU cores",
        "profile": profile,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamp(result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wall p50 {result['wall_p50_s']:.1f} s · CPU p50 {result['cpu_p50_s']:.1f} s · load "
          f"{result['load_avg_1min_mean']} · docs p50 {result['prompt_docs_p50']} · refusals "
          f"{result['refusal_rate']:.2f} -> {out}")


def _profile(gen, recorded, thread_counts: list[int]) -> dict:
    """Prefill and per-token decode cost of one recorded answer prompt, per setting."""
    import torch

    from thaija.rag.generators import _answer_vocabulary, chat_messages, greedy_decode

    messages, a, kw = recorded
    prefix = a[1] if len(a) > 1 else kw.get("prefix", "")
    lang = kw.get("lang")
    rows, n, used = [], 24, gen.dtype
    for dtype in ("bfloat16", "float32"):
        gen.dtype = dtype
        model, tok = gen._load()
        text = tok.apply_chat_template(chat_messages(messages), add_generation_prompt=True, tokenize=False)
        ids = tok(text + prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
        for vocab in ("prompt", "full"):
            allowed = _answer_vocabulary(tok, ids[0], lang) if vocab == "prompt" else None
            for threads in thread_counts:
                torch.set_num_threads(threads)
                greedy_decode(model, ids[:, :64], 2, set(), lambda new: False, allowed)  # warm-up
                load = os.getloadavg()[0]
                c0, t0 = time.process_time(), time.perf_counter()
                greedy_decode(model, ids, 1, set(), lambda new: False, allowed)
                pre_c, pre_w = time.process_time() - c0, time.perf_counter() - t0
                c0, t0 = time.process_time(), time.perf_counter()
                greedy_decode(model, ids, n + 1, set(), lambda new: False, allowed)
                all_c, all_w = time.process_time() - c0, time.perf_counter() - t0
                rows.append({"dtype": dtype, "vocabulary": vocab, "threads": threads,
                             "output_rows": int(allowed.numel()) if allowed is not None else None,
                             "load_avg_1min": round(load, 2), "prompt_tokens": int(ids.shape[1]),
                             "prefill_cpu_s": round(pre_c, 3), "prefill_wall_s": round(pre_w, 3),
                             "decode_cpu_s_per_token": round(max(0.0, all_c - pre_c) / n, 4),
                             "decode_wall_s_per_token": round(max(0.0, all_w - pre_w) / n, 4)})
                print(json.dumps(rows[-1]), flush=True)
    gen.dtype = used
    return {"what": f"one answer prompt, prefill (first token) and then {n} more tokens without early stop; "
                    "CPU = process CPU seconds, wall includes waiting for a shared CPU", "rows": rows}


if __name__ == "__main__":
    main()
