"""The answer stage reads each chunk's context: its document's title and the heading it sits under.

QA session 11 (a new user's product manual): a Markdown chunk never holds its own heading line, so a
product name found only in the title (GreenCut G3) counted as a question word the answer lacks, and
``GreenCut G3 น้ำหนักเท่าไร`` was refused although the weight sentence was chosen. Table rows
(``| 消費電力 | 1,250 W |``) reached the answer with their pipes.
"""
from __future__ import annotations

import pytest

from thaija.rag.evidence import clean, how_words

MANUAL = ("# คู่มือการใช้งานหุ่นยนต์ตัดหญ้า GreenCut G3\n\n## ข้อมูลจำเพาะ\n\n- แบตเตอรี่ลิเธียม 28 V 2.5 Ah\n"
          "- ใช้เวลาชาร์จเต็มประมาณ 90 นาที\n- น้ำหนักตัวเครื่อง 9.5 กิโลกรัม\n\n## การบำรุงรักษา\n\n"
          "ควรเปลี่ยนใบมีดทุก 3 เดือน หรือเมื่อใบมีดบิ่น\n\n## การรับประกัน\n\n"
          "ตัวเครื่องรับประกัน 1 ปี ส่วนแบตเตอรี่รับประกัน 6 เดือน นับจากวันที่ซื้อ\n")
KETTLE = ("# 電気ケトル YuPot K2 取扱説明書\n\n## 仕様\n\n| 項目 | 値 |\n|---|---|\n| 容量 | 1.2 L |\n"
          "| 消費電力 | 1,250 W |\n\n## お手入れ\n\n月に1回、クエン酸30 gで内部を洗浄してください。\n")


def test_table_rows_read_as_cells():
    assert clean("| 消費電力 | 1,250 W |") == "消費電力：1,250 W"
    assert clean("| ความจุ | 1.2 L |") == "ความจุ: 1.2 L"
    assert clean("|---|:---:|") == ""
    assert clean("a | b") == "a | b"            # a pipe inside prose stays
    assert clean("El\u200bev\ufeffator") == "Elevator"   # invisible characters are not shown


def test_thai_how_adjectives_are_part_of_the_question_word():
    assert how_words("หุ่นยนต์ตัดหญ้าควรเปลี่ยนใบมีดบ่อยแค่ไหน") == {"บ่อย"}
    assert how_words("GreenCut G3 ชาร์จนานแค่ไหน") == {"นาน"}
    assert how_words("กังฟูแพนด้าตลกไหม") == frozenset()


@pytest.fixture(scope="module")
def manual_db(tmp_path_factory):
    from thaija.index import Document, Index
    from thaija.retrieve import close_index

    db = str(tmp_path_factory.mktemp("ctx") / "m.db")
    ix = Index(db)
    ix.add_documents([
        Document("mower.md", MANUAL, title="คู่มือการใช้งานหุ่นยนต์ตัดหญ้า GreenCut G3", metadata={"format": "markdown"}),
        Document("kettle.md", KETTLE, title="電気ケトル YuPot K2 取扱説明書", metadata={"format": "markdown"}),
    ])
    ix.close()
    yield db
    close_index(db)


@pytest.mark.slow
def test_a_product_named_only_in_the_title_is_not_a_missing_word(manual_db):
    from thaija.rag.pipeline import ask

    r = ask("GreenCut G3 น้ำหนักเท่าไร", db=manual_db, review=False)
    assert not r["refused"], r
    assert r["citations"][0]["quote"] == "น้ำหนักตัวเครื่อง 9.5 กิโลกรัม"
    assert r["evidence"]["miss"] == 0.0 and r["evidence"]["lex"] == 1.0   # GreenCut, G3: the title's words
    r = ask("GreenCut G3の保証期間は？", db=manual_db, review=False)
    assert not r["refused"] and "รับประกัน 1 ปี" in r["citations"][0]["quote"], r


@pytest.mark.slow
def test_a_table_row_is_answered_without_its_pipes(manual_db):
    from thaija.rag.pipeline import ask

    r = ask("YuPot K2の消費電力は何ワットですか", db=manual_db, review=False)
    assert not r["refused"], r
    assert r["answer"].startswith("消費電力：1,250 W"), r["answer"]
    assert r["citations"][0]["quote"] == "| 消費電力 | 1,250 W |"   # the citation keeps the exact text


def test_english_how_adjectives_and_small_talk():
    from thaija.rag.pipeline import small_talk

    assert how_words("How often does the shuttle bus run?") == {"often"}
    assert how_words("How many days of leave?") == frozenset()
    assert [small_talk(q) for q in ("สวัสดีครับ", "ขอบคุณมากค่ะ", "こんにちは", "ありがとうございます！", "Hello!")] == \
        ["greeting", "thanks", "greeting", "thanks", "greeting"]
    assert small_talk("สวัสดิการพนักงานมีอะไรบ้าง") is None and small_talk("hi, how many days of leave?") is None


@pytest.mark.slow
def test_a_greeting_is_answered_without_documents(manual_db):
    from thaija.rag.pipeline import ask, render

    r = ask("สวัสดีครับ", db=manual_db)   # review on: small talk is never queued
    assert r["reason"] == "small_talk" and not r["citations"] and r["review_id"] is None
    assert r["answer"].startswith("สวัสดี") and render(r) == r["answer"]
