"""`make demo`: the whole pipeline end to end on the shipped corpora (offline).

1. language layer: detect, segment and chunk the th/ja/en corpora;
2. index the news and wiki corpora into Milvus Lite (BM25 per language + dense e5);
3. search in Thai, Japanese and English, and across languages;
4. answer Thai and Japanese questions with citations;
5. token-cost report: premiums per tokenizer and a monthly estimate.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT / "corpora"
console = Console(width=None if sys.stdout.isatty() else 120)


def _corpus_files() -> dict[str, list[Path]]:
    return {lang: sorted((CORPORA / "news" / lang).glob("*.txt")) for lang in ("th", "ja", "en")}


def stage_lang() -> None:
    from thaija.lang import chunk, detect, segment

    console.rule("[bold]1 · language layer")
    table = Table(title="Shipped corpora: detection, segmentation, chunking (64 words, overlap 8)")
    for col in ("corpus", "lang", "lines", "detected as lang", "mixed lines", "words", "chars/word", "chunks"):
        table.add_column(col, justify="right" if col not in ("corpus", "lang") else "left")
    code = {"th": "tha", "ja": "jpn", "en": "eng"}
    for lang, files in _corpus_files().items():
        sets = [("parallel/" + code[lang] + ".txt", [CORPORA / "parallel" / f"{code[lang]}.txt"]),
                (f"news/{lang}/ ({len(files)} docs)", files)]
        for name, paths in sets:
            lines, words, chunks, hits, mixed = 0, 0, 0, 0, 0
            chars = 0
            for p in paths:
                text = p.read_text(encoding="utf-8")
                for line in text.splitlines():
                    if not line.strip():
                        continue
                    d = detect(line)
                    lines += 1
                    hits += d.lang == lang
                    mixed += len({s.lang for s in d.spans} - {"other"}) > 1
                    toks = segment(line)
                    words += len(toks)
                    chars += sum(len(t.text) for t in toks)
                chunks += len(chunk(text, max_tokens=64, overlap=8, doc_id=p.stem))
            table.add_row(name, lang, str(lines), f"{hits / max(lines, 1):.1%}", str(mixed), str(words),
                          f"{chars / max(words, 1):.2f}", str(chunks))
    console.print(table)
    line = "ราคา iPhone 15 は 12万円 ครับ"
    console.print(f"mixed line: {line}", markup=False)
    console.print("  spans:  " + "  ".join(f"{s.lang}:{line[s.start:s.end]!r}" for s in detect(line).spans), markup=False)
    console.print("  tokens: " + " | ".join(f"{t.text}/{t.lang}" for t in segment(line)), markup=False)


DEMO_DIR = ROOT / ".cache" / "demo"
DB = str(DEMO_DIR / "thaija.db")


def _first_queries(name: str, n: int) -> list[tuple[str, list[str]]]:
    qs = [json.loads(l) for l in (CORPORA / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    ans = {json.loads(l)["query-id"]: json.loads(l)["answers"]
           for l in (CORPORA / name / "answers.jsonl").read_text(encoding="utf-8").splitlines()}
    return [(q["text"], ans.get(q["id"], [])) for q in qs[:n]]


def stage_index() -> None:
    from thaija.index import Index

    console.rule("[bold]2 · index (Milvus Lite + per-language BM25 + multilingual e5)")
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    paths = [str(CORPORA / "news"), str(CORPORA / "wiki_th" / "corpus.jsonl"), str(CORPORA / "wiki_ja" / "corpus.jsonl")]
    with Index(DB) as index:
        summary = index.add_paths(paths)
        stats = index.stats()
    console.print(f"db: {DB}", markup=False)
    console.print({k: v for k, v in summary.items() if not isinstance(v, (list, dict))})
    console.print({k: stats[k] for k in list(stats)[:8]})
    console.print("(run `make demo` again: unchanged documents are skipped, nothing is re-embedded)")


def stage_search() -> None:
    from thaija.retrieve import search

    console.rule("[bold]3 · search (hybrid: BM25 in the query's language + dense across languages)")
    queries = [
        ("th", _first_queries("wiki_th", 1)[0][0], "hybrid", None),
        ("ja", _first_queries("wiki_ja", 1)[0][0], "hybrid", None),
        ("en", "Why are Welsh assembly members worried about their new title?", "hybrid", None),
        ("th query, Japanese documents only (dense, cross-lingual)", "ฉลามกัดเด็กชายที่ดำน้ำจับกุ้งมังกร", "dense", "ja"),
        ("ja query, Thai documents only (dense, cross-lingual)", "マケドニアの国名変更の国民投票", "dense", "th"),
    ]
    for label, q, mode, lang in queries:
        table = Table(title=f"{label}: {q}  (mode={mode})", title_justify="left")
        for col in ("rank", "score", "doc", "lang", "span", "text"):
            table.add_column(col, overflow="fold", max_width=60 if col == "text" else None)
        for h in search(q, db=DB, k=3, mode=mode, lang=lang):
            table.add_row(str(h.rank), f"{h.score:.3f}", h.doc_id, h.lang, f"{h.start}:{h.end}",
                          h.text[:100].replace("\n", " "))
        console.print(table)


def stage_tune() -> None:
    sys.path.insert(0, str(ROOT / "examples"))  # checkout-only demo code lives in examples/
    from tune_demo import run_demo

    console.rule("[bold]4 · tune (language-balanced LoRA on Gemma-3-270m, a few CPU steps)")
    run_demo(CORPORA, DEMO_DIR / "tune", steps=4, console=console)


def stage_ask() -> None:
    from thaija.rag import ask

    console.rule("[bold]5 · ask (grounded answers with citations; extractive generator)")
    for name in ("wiki_th", "wiki_ja"):
        for question, gold in _first_queries(name, 2):
            r = ask(question, db=DB, generator="extractive", k=5)
            console.print(f"Q ({r['lang']}): {question}", markup=False)
            console.print(f"A: {r['answer']}" + ("  [refused]" if r["refused"] else ""), markup=False)
            for c in r["citations"]:
                console.print(f"   [{c['n']}] {c['doc_id']} {c['start']}:{c['end']}  “{c['quote'][:90]}”", markup=False)
            hit = any(g in r["answer"] or any(g in c["quote"] for c in r["citations"]) for g in gold)
            console.print(f"   gold: {gold}  → {'found' if hit else 'not found'}; prompt tokens: {r.get('prompt_tokens')}\n", markup=False)


def stage_cost() -> None:
    from thaija.cost.compare import compare
    from thaija.cost.estimate import estimate
    from thaija.cost.plan import plan

    console.rule("[bold]6 · token cost")
    r = compare(None, tokenizers="cl100k_base,o200k_base,qwen3,gemma3,llama3,tekken")
    table = Table(title=f"Token premium vs English on corpora/parallel ({r['lines']} FLORES-200 dev lines, per-line sums)")
    for col in ("tokenizer", "th tokens", "ja tokens", "en tokens", "th premium", "ja premium"):
        table.add_column(col, justify="right" if col != "tokenizer" else "left")
    for name, v in r["tokenizers"].items():
        t, p = v["tokens"], v["premium"]
        table.add_row(name, str(t["th"]), str(t["ja"]), str(t["en"]), f"{p['th']:.2f}×", f"{p['ja']:.2f}×")
    console.print(table)
    e = estimate(models=["gpt-4o-mini", "gpt-4o"])
    table = Table(title=f"Monthly cost of a th/ja bot ({e['inputs']['queries_per_month']:,} queries, "
                        f"k={e['inputs']['k']} × {e['inputs']['chunk_tokens']} tokens; prices of {e['price_table_date']})")
    for col in ("model", "tokenizer", "tokens in / month", "tokens out / month", "USD / month"):
        table.add_column(col, justify="right" if col not in ("model", "tokenizer") else "left")
    for m in e["models"]:
        table.add_row(m["model"], m["tokenizer"], f"{m['monthly_tokens_in']:,}", f"{m['monthly_tokens_out']:,}", f"${m['monthly_usd']:,.2f}")
    console.print(table)
    p = plan(need="both", labeled_examples=2000, update_frequency="weekly", languages=["th", "ja"])
    console.print(f"[bold]plan[/] (style + weekly updates, 2,000 examples): [green]{p['recommendation']}[/]")
    for step in p["steps"]:
        console.print(f"  • {step['name']}: {step['finding']}", markup=False)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    console.print(Panel.fit("thaija demo — Thai · Japanese · English, offline, on the shipped corpora"))
    stage_lang()
    stage_index()
    stage_search()
    if os.environ.get("THAIJA_DEMO_TUNE", "1") != "0":
        stage_tune()
    stage_ask()
    stage_cost()
    console.rule(f"[bold green]demo finished in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
