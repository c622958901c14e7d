"""`thaija tune qa-data`: real QA pairs (corpora/wiki_th + wiki_ja, iapp-wiki-qa / JSQuAD slices)
and a real review-queue export -> grounded chat examples in the exact prompt the ask pipeline
sends to the local generator, with gold sentences + [n] markers or refusals."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THAIJA = [str(Path(sys.executable).parent / "thaija")]
N_DOCS = 3


def _rows(name: str, file: str) -> list[dict]:
    text = (ROOT / "corpora" / name / file).read_text("utf-8")
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*THAIJA, *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def beir(tmp_path_factory) -> Path:
    """3 Thai + 3 Japanese paragraphs with their questions; one extra question whose gold
    paragraph is not in the corpus (so it can never be retrieved)."""
    d = tmp_path_factory.mktemp("beir")
    corpus, qrels, qids = [], [], set()
    for name in ("wiki_th", "wiki_ja"):
        keep = _rows(name, "corpus.jsonl")[:N_DOCS]
        ids = {x["id"] for x in keep}
        corpus += keep
        for line in (ROOT / "corpora" / name / "qrels.tsv").read_text("utf-8").splitlines()[1:]:
            q, doc = line.split("\t")[:2]
            if doc in ids:
                qrels.append(line)
                qids.add(q)
        missing = _rows(name, "corpus.jsonl")[-1]["id"]
        q_missing = next(line.split("\t")[0] for line in
                         (ROOT / "corpora" / name / "qrels.tsv").read_text("utf-8").splitlines()[1:]
                         if line.split("\t")[1] == missing)
        qrels.append(f"{q_missing}\t{missing}\t1")
        qids.add(q_missing)
    queries = [q for n in ("wiki_th", "wiki_ja") for q in _rows(n, "queries.jsonl") if q["id"] in qids]
    answers = [a for n in ("wiki_th", "wiki_ja") for a in _rows(n, "answers.jsonl") if a["query-id"] in qids]
    for f, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries), ("answers.jsonl", answers)):
        (d / f).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows), "utf-8")
    (d / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n", "utf-8")
    return d


@pytest.fixture(scope="module")
def made(beir, tmp_path_factory):
    out = tmp_path_factory.mktemp("qa")
    db, data = str(out / "qa.db"), out / "data.jsonl"
    p = _cli("tune", "qa-data", str(beir), "--db", db, "--output", str(data), "--json")
    assert p.returncode == 0, p.stderr
    return db, data, json.loads(p.stdout)


@pytest.mark.slow
def test_examples_are_the_ask_prompt_with_gold_sentence_and_marker(made, beir):
    from thaija.rag.generators import chat_messages, make_generator
    from thaija.rag.pipeline import detect_lang
    from thaija.rag.prompt import build_prompt, prompt_texts
    from thaija.retrieve import search
    from thaija.tune.data import load_records

    db, data, stats = made
    recs = [json.loads(x) for x in data.read_text("utf-8").splitlines()]
    assert stats["examples"] == len(recs) > 10 and set(stats["by_lang"]) == {"th", "ja"}
    assert {r.lang for r in load_records(data)} == {"th", "ja"}  # valid training data
    answers = {a["query-id"]: a["answers"] for a in
               (json.loads(x) for x in (beir / "answers.jsonl").read_text("utf-8").splitlines())}
    questions = {q["id"]: q["text"] for q in
                 (json.loads(x) for x in (beir / "queries.jsonl").read_text("utf-8").splitlines())}
    gen = make_generator("local")
    grounded = [r for r in recs if r["source"] == "grounded"]
    assert len(grounded) >= 0.6 * len(recs)
    for r in recs:
        q = questions[r["id"]]
        lang = detect_lang(q)
        assert r["lang"] == lang
        user, target = r["messages"][0], r["messages"][1]
        assert [m["role"] for m in r["messages"]] == ["user", "assistant"]
        # exactly what the pipeline builds for the local generator (system rules merged in)
        hits = search(q, db=db, k=5, mode="hybrid")
        want = build_prompt(q, hits, lang, budget=gen.context_tokens, count=gen.count,
                            reserve=min(256, gen.context_tokens // 4), style=gen.prompt_style)
        assert [user] == chat_messages(want.messages)[:1]
        assert user["content"].startswith(prompt_texts(lang).system)
        if r["source"] == "refusal":
            assert target["content"] == prompt_texts(lang).refusal
            continue
        m = re.fullmatch(r"(.+?) ?\[(\d+)\]", target["content"], re.S)
        assert m, target["content"]
        quote, n = m.group(1), int(m.group(2))
        assert quote in want.hits[n - 1].text  # a verbatim span of document [n]
        assert any(a in quote for a in answers[r["id"]])


@pytest.mark.slow
def test_unretrievable_gold_paragraph_becomes_a_refusal(made):
    _, data, stats = made
    recs = [json.loads(x) for x in data.read_text("utf-8").splitlines()]
    refusals = {r["id"] for r in recs if r["source"] == "refusal"}
    missing = {_rows(n, "corpus.jsonl")[-1]["id"] for n in ("wiki_th", "wiki_ja")}
    qrels = {line.split("\t")[0]: line.split("\t")[1] for n in ("wiki_th", "wiki_ja")
             for line in (ROOT / "corpora" / n / "qrels.tsv").read_text("utf-8").splitlines()[1:]}
    gone = {r["id"] for r in recs if qrels.get(r["id"]) in missing}
    assert len(gone) == 2 and gone <= refusals
    assert stats["by_source"]["refusal"] == len(refusals)


@pytest.mark.slow
def test_review_export_to_training_examples(made, tmp_path):
    from thaija.guard.review import ReviewQueue
    from thaija.index.handles import open_index
    from thaija.rag.prompt import prompt_texts

    db, _, _ = made
    doc = _rows("wiki_ja", "corpus.jsonl")[0]
    sentence = doc["text"].split("。")[0] + "。"
    queue = ReviewQueue.for_index(db)
    good = queue.add(doc["title"] + "とは何ですか", sentence + " [1]", "ja", [], "low_confidence", groups=["hr"])
    bad = queue.add("東京タワーの高さは何メートルですか", "東京タワーの高さは333メートルです。", "ja", [],
                    "refused")
    queue.approve(good)
    queue.edit(bad, "東京タワーの高さは333メートルです。")
    export = tmp_path / "approved.jsonl"
    assert queue.export(export) == 2
    out = tmp_path / "review_data.jsonl"
    p = _cli("tune", "qa-data", "--review-export", str(export), "--db", db, "--output", str(out), "--json")
    assert p.returncode == 0, p.stderr
    recs = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    by_q = {r["messages"][0]["content"].rsplit(": ", 1)[-1]: r for r in recs}
    assert len(recs) == 2 and all(r["lang"] == "ja" for r in recs)
    g = by_q[doc["title"] + "とは何ですか"]
    assert g["source"] == "grounded" and re.search(r"\[\d\]$", g["messages"][1]["content"])
    assert g["groups"] == ["hr"]  # QA F13: an answer asked with access groups keeps its label
    assert "groups" not in by_q["東京タワーの高さは何メートルですか"]
    assert sentence.strip() in open_index(db).document_text(doc["id"])
    r = by_q["東京タワーの高さは何メートルですか"]  # the index holds no evidence: learn to refuse
    assert r["source"] == "refusal" and r["messages"][1]["content"] == prompt_texts("ja").refusal


def test_errors_are_one_line(tmp_path):
    for args, msg in (
            (["tune", "qa-data", "--db", str(tmp_path / "x.db"), "--output", str(tmp_path / "o.jsonl")],
             "exactly one"),
            (["tune", "qa-data", str(tmp_path), "--db", str(tmp_path / "x.db"), "--output",
              str(tmp_path / "o.jsonl")], "answers.jsonl"),
            (["tune", "qa-data", "--review-export", str(tmp_path / "none.jsonl"), "--db",
              str(tmp_path / "x.db"), "--output", str(tmp_path / "o.jsonl")], "no index")):
        from typer.testing import CliRunner

        from thaija.cli.main import app

        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        assert msg in r.output and "Traceback" not in r.output
        assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.slow
def test_combined_path_qa_data_train_ask_with_adapter(made, tmp_path):
    """qa-data -> tune train -> ask --generator local --adapter, offline (a tiny random model
    stands in for Gemma so the test stays fast; the wiring is the same)."""
    sys.path.insert(0, str(ROOT / "examples"))
    from tiny_model import make_tiny_model

    from thaija.rag.pipeline import AskConfig, answer
    from thaija.rag.prompt import prompt_texts

    db, data, _ = made
    tiny = make_tiny_model(tmp_path / "tiny")
    out = tmp_path / "adapter"
    p = _cli("tune", "train", "--data", str(data), "--model", str(tiny), "--max-steps", "2",
             "--batch-size", "2", "--max-length", "256", "--eval-split", "0.2", "--threads", "1",
             "--output", str(out), "--json", "--quiet")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert set(rep["eval"]) == {"th", "ja"} and rep["training"]["quantization"] == "none"
    q = _rows("wiki_ja", "queries.jsonl")[0]["text"]
    cfg = AskConfig(generator="local", model=str(tiny), adapter=str(out), review=False, context_tokens=512)
    r = answer(q, db=db, config=cfg)
    assert r.generator == "local" and str(out) in r.model and r.prompt_tokens > 0
    if r.refused:  # random weights: the draft is unsupported, refused in the question's language
        assert r.answer == prompt_texts("ja").refusal and r.citations == []
    else:
        from thaija.index.handles import open_index

        for c in r.citations:  # whatever it says, every citation is an exact document span
            assert open_index(db).document_text(c["doc_id"])[c["start"]:c["end"]] == c["quote"]
    # the same through the command line a user types: thaija ask --generator local --adapter
    p = _cli("ask", q, "--db", db, "--generator", "local", "--model", str(tiny), "--adapter", str(out),
             "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["generator"] == "local" and str(out) in got["model"] and got["lang"] == "ja"
    assert got["refused"] or got["citations"]


@pytest.mark.parametrize("draft, lang, other", [
    ("東京タワーの高さは333メートルです。 [1]", "th", "ja"),
    ("นายสุวัฒน์ วรรณศิริกุล เกิดวันที่ 1 พฤศจิกายน พ.ศ. 2476 [1]", "th", None),
    ("The tower is 333 metres tall. [2]", "ja", "en"),
    ("2476 [1]", "th", None),
])
def test_local_answers_must_be_in_the_question_language(draft, lang, other):
    from thaija.rag.generators import _other_language

    assert _other_language(draft, lang) == other
