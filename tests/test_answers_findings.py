"""QA findings on the answer stage (issue 11), rebuilt on the project's own bilingual policy corpus
(tests/data/policy, written for the project) with the real index, embedder and segmenters:

- F2: ``NetLink AX3000 รีเซ็ตเครื่องยังไง`` was answered (low confidence) from an unrelated rank-5
  Japanese sentence although the Thai reset page ranks first;
- F10: ``駐車場はどこですか`` was answered by a title line with support 0.75 (the document says how to
  register for parking, not where it is);
- English inflections (charge / charges) did not match, so English evidence scored on dense alone.
"""
import json
from pathlib import Path

import pytest

from thaija.rag.pipeline import AskConfig, answer

DATA = Path(__file__).parent / "data" / "policy"
DOCS = {d["id"]: d for d in map(json.loads, (DATA / "docs.jsonl").read_text("utf-8").splitlines())}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(policy_db):
    return policy_db


def ask(db, q, **kw):
    kw.setdefault("review", False)
    return answer(q, db=db, config=AskConfig(**kw)).to_dict()


def test_f2_reset_question_is_answered_from_the_thai_reset_page_only(db):
    r = ask(db, "NetLink AX3000 รีเซ็ตเครื่องยังไง")
    assert not r["refused"], r
    assert {c["doc_id"] for c in r["citations"]} == {"th-netlink"}, r["citations"]
    assert all(c["lang"] == "th" for c in r["citations"]) and not r["answer"].startswith("ตามเอกสาร")
    assert "10 วินาที" in r["answer"] and "คู่มือเราเตอร์" not in r["answer"]
    for c in r["citations"]:
        assert DOCS[c["doc_id"]]["text"][c["start"]:c["end"]] == c["quote"]


def test_f10_where_question_without_a_place_is_not_a_confident_answer(db):
    r = ask(db, "駐車場はどこですか")
    assert r["refused"] or r["reason"] == "low_confidence", r
    assert r["answer"].strip("。[]1 ") != "駐車場の利用"          # never the title line alone
    assert r["evidence"]["kind_miss"] == 1.0
    # the same document does answer what it says: the fee
    r = ask(db, "駐車場の利用料はいくらですか")
    assert not r["refused"] and "3,000円" in r["answer"], r
    assert r["evidence"]["type_miss"] == 0.0


def test_type_of_the_expected_answer():
    from thaija.retrieve.query import answer_type, has_type

    assert [answer_type(q, l) for q, l in [("ลาพักร้อนได้ปีละกี่วัน", "th"), ("สร้างขึ้นเมื่อไร", "th"),
                                             ("โรงอาหารอยู่ที่ไหน", "th"), ("パスワードは何日ごとに変更しますか", "ja"),
                                             ("設立は何年ですか", "ja"), ("誰に報告しますか", "ja"),
                                             ("How many days of leave?", "en"), ("What is a router?", "en")]] \
        == ["number", "date", "place", "number", "date", "person", "number", None]
    assert has_type("มีสิทธิ์ลาพักร้อนปีละ 10 วันทำงาน", "number", "ลาพักร้อนได้ปีละกี่วัน")
    assert not has_type("ลาพักร้อนต้องแจ้งล่วงหน้า", "number", "ลาพักร้อนได้ปีละกี่วัน")
    assert not has_type("ในปี 2009 เมืองนี้เติบโต", "number", "ปี 2009 มีประชากรกี่คน")   # the asked number itself
    assert has_type("社員食堂は本館2階にあります", "place", "社員食堂はどこですか")
    assert not has_type("社員駐車場は事前登録制です。", "place", "駐車場はどこですか")
    # QA session 8, QA-19: "under the sink" is a place (kind_miss sent the answer to review)
    assert has_type("ติดตั้งเครื่องกรองน้ำ AquaClean ใต้ซิงก์ล้างจาน", "place", "ควรติดตั้ง AquaClean ที่ไหน")
    assert has_type("浄水器はシンクの下に設置します。", "place", "浄水器はどこに設置しますか")
    assert not has_type("บนพื้นฐานของความเสี่ยง", "place", "ตั้งอยู่ที่ไหน")


def test_english_inflections_match():
    """charge / charges / charging: the sentence that answers gets the lexical credit (before, both
    sentences matched only 'battery' and tied)."""
    from thaija.rag.evidence import local_idf, score_units, select, units
    from thaija.retrieve import Hit
    from thaija.retrieve.query import analyse, en_stem

    assert {en_stem(w) for w in ("charge", "charges", "charged", "charging")} == {"charg"}
    assert en_stem("class") == "class" and en_stem("batteries") == "battery"
    text = "The battery warranty lasts one year. The battery charges fully in about 4 hours."
    hits = [Hit(1, 1.0, "m#0", "m", "en", 0, len(text), text, "manual.txt")]
    q = analyse("How long does the battery take to charge?")
    scored = score_units(q, units(hits), idf=local_idf([text, "The battery is removable."], "en"))
    best = select(scored, q, local_idf([text], "en"))[0]
    assert "4 hours" in best.unit.display and "charge" in best.covered
    assert scored[0].lex > scored[1].lex


def test_q3_chat_reply_content_says_low_confidence(db):
    """QA Q3: through the OpenAI-style reply (thaija serve) a chat client shows only the content —
    a low-confidence answer must say so there, not only in ``thaija.reason``."""
    from thaija.rag.chat import LOW_CONFIDENCE_NOTE, chat_completion

    r = chat_completion([{"role": "user", "content": "駐車場はどこですか"}], db=db, config=AskConfig(review=False))
    assert r["thaija"]["reason"] == "low_confidence" and not r["thaija"]["refused"]
    assert r["choices"][0]["message"]["content"].startswith(LOW_CONFIDENCE_NOTE["ja"])
    r = chat_completion([{"role": "user", "content": "ลาพักร้อนได้ปีละกี่วัน"}], db=db, config=AskConfig(review=False))
    assert r["thaija"]["reason"] is None and "10 วัน" in r["choices"][0]["message"]["content"]
    assert not r["choices"][0]["message"]["content"].startswith(LOW_CONFIDENCE_NOTE["th"])


def test_q4_japanese_followup_keeps_particles_and_skips_generic_words(db):
    """QA Q4: "領収書は？" after "東京の場合、宿泊費の上限は？" was resolved to "東京場合の領収書は？"
    (a generic word borrowed, particles lost) and refused although the receipt rule is indexed."""
    from thaija.rag.chat import chat_completion, resolve_followup

    msgs = [{"role": "user", "content": "出張旅費の精算期限は？"}, {"role": "assistant", "content": "翌月10日です。[1]"},
            {"role": "user", "content": "東京の場合、宿泊費の上限は？"}, {"role": "assistant", "content": "わかりません。"},
            {"role": "user", "content": "領収書は？"}]
    r = resolve_followup(msgs)
    assert r.followup and "場合" not in r.question and r.question.endswith("の領収書は？"), r
    assert "".join(r.borrowed) not in r.question or len(r.borrowed) == 1     # joined by の, not glued
    out = chat_completion(msgs, db=db, config=AskConfig(review=False))
    assert not out["thaija"]["refused"], out["thaija"]
    assert "3,000円" in out["choices"][0]["message"]["content"]
    assert out["citations"][0]["doc_id"] == "ja-expense"


def test_q1_5_a_heading_line_cut_at_its_space_is_heading_not_an_answer(db):
    """Session 6 QA Q1-5: the Thai heading ``# คู่มือเครื่องกรองน้ำ AquaClean`` was cut at its space and its
    second piece ``AquaClean`` was scored as a sentence, so ``AquaCleanの価格はいくらですか`` (no price
    anywhere) was answered with a quote of the product name alone (support 0.88)."""
    from thaija.rag.evidence import _units_of

    text = DOCS["th-aquaclean"]["text"]
    heads = [text[a:b] for a, b, heading, _ in _units_of(text, "th") if heading]
    assert heads[0] == "คู่มือเครื่องกรองน้ำ AquaClean" and "การติดตั้ง" in heads
    assert all(text[a:b] != "AquaClean" for a, b, _, _ in _units_of(text, "th"))
    r = ask(db, "AquaCleanの価格はいくらですか")
    # never the name alone (refusing is the right outcome; with hybrid retrieval leaving the Thai
    # manual to dense this question is answered from the filter sentence: a known weak spot, QA Q1-4)
    assert all(c["quote"].strip() != "AquaClean" for c in r["citations"]), r
    assert r["refused"] or len(r["citations"][0]["quote"]) > len("AquaClean") + 10, r
    r = ask(db, "AquaCleanのフィルターは何か月ごとに交換しますか")       # what the manual does say
    assert not r["refused"] and "12 เดือน" in r["answer"], r


def test_a_question_language_sentence_is_not_outranked_by_the_cross_language_floor(tmp_path):
    """QA session 12: an English question matching its English answer by meaning only (lose / lost,
    computer / laptop) quoted a Japanese overtime rule: every sentence in another language got the
    cross-language lexical floor, the English one (best cosine of all) nothing. Now a question-language
    sentence that matches as little is on the same footing: the English rule is the evidence (refused
    or not, never the overtime rule)."""
    from thaija.index import Document, Index
    from thaija.retrieve import close_index

    db = str(tmp_path / "m.db")
    ix = Index(db)
    ix.add_documents([
        Document("remote-en", "# Remote Work Security Checklist\n\n## Devices\nOnly company-issued laptops may be "
                 "used for remote work.\n\n## Incident reporting\nA lost laptop must be reported to the IT helpdesk "
                 "within 2 hours.\n", title="Remote Work Security Checklist", metadata={"format": "markdown"}),
        Document("overtime-ja", "# 残業規程\n\n残業は事前に上長の承認が必要です。申請は勤怠システムで当日の午後5時までに"
                 "行ってください。残業時間は月45時間、年360時間を上限とします。\n", title="残業規程",
                 metadata={"format": "markdown"}),
        Document("leave-th", "# ระเบียบการลา\n\nพนักงานลาป่วยได้ไม่เกิน 30 วันต่อปีโดยได้รับค่าจ้าง\n", title="ระเบียบการลา",
                 metadata={"format": "markdown"}),
    ])
    ix.close()
    try:
        r = answer("If I lose my work computer, how quickly do I need to tell someone?", db=db,
                   config=AskConfig(review=False)).to_dict()
        assert "残業" not in r["answer"] and not r["evidence"]["cross"], (r["answer"], r["evidence"])
        assert all(c["doc_id"] == "remote-en" for c in r["citations"]), r["citations"]
    finally:
        close_index(db)
