"""Thai answer units never start with a conjunction cut from their sentence (QA session 8: QA-4, QA-7,
QA-13, QA-15 — "และต้องยื่นใบลา…" quoted as a sick-leave rule, a list cut after its first item)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from thaija.rag.evidence import _TH_CONT, _continues, _units_of

DATA = Path(__file__).parent / "data" / "policy"


def units(text: str) -> list[str]:
    return [text[a:b] for a, b, _, _ in _units_of(text, "th")]


@pytest.mark.parametrize("text", [
    "พนักงานลากิจได้ปีละ 3 วันโดยได้รับค่าจ้าง และต้องยื่นใบลาล่วงหน้าอย่างน้อย 3 วัน",
    "AirPure 300 มี 3 โหมด ได้แก่ โหมดอัตโนมัติ โหมดนอนหลับ และโหมดเทอร์โบ",
    "ไส้กรอง HEPA ของ AirPure 300 ควรเปลี่ยนทุก 6 เดือน หรือเมื่อไฟเตือนไส้กรองเป็นสีแดง",
    "ไส้กรองคาร์บอนต้องเปลี่ยนทุก 12 เดือน ส่วนไส้กรอง RO ต้องเปลี่ยนทุก 24 เดือน",
    "เกิดแผ่นดินไหวเมื่อวันที่ 7 กันยายน พ.ศ. 2560 เวลา 23:49 น. (ตามเวลาในประเทศไทย) ในอ่าวเตวนเตเปก",
])
def test_one_sentence_stays_whole(text: str) -> None:
    assert units(text) == [text]


def test_conjunction_opens_no_unit_in_the_policy_corpus() -> None:
    docs = [json.loads(x) for x in (DATA / "docs.jsonl").read_text("utf-8").splitlines() if x.strip()]
    seen = 0
    for d in docs:
        if d["lang"] != "th":
            continue
        got = units(d["text"])
        seen += len(got)
        assert not any(_TH_CONT.match(u) or u.startswith(")") for u in got), (d["id"], got)
    assert seen > 30
    leave = next(d["text"] for d in docs if d["id"] == "th-leave")
    assert any("ลากิจ" in u and u.endswith("และต้องยื่นใบลาล่วงหน้าอย่างน้อย 3 วัน") for u in units(leave))


def test_separate_sentences_and_long_ones_stay_apart() -> None:
    # "ส่วนใหญ่" (most) opens a sentence of its own
    a = "ประชากรส่วนมากอาศัยอยู่ในเขตเมืองและทำงานในภาคบริการเป็นหลักมาตั้งแต่ทศวรรษที่ผ่านมา"
    b = "ส่วนใหญ่ของพื้นที่เป็นภูเขาสูงและป่าไม้ที่อุดมสมบูรณ์ซึ่งเป็นแหล่งต้นน้ำสำคัญของประเทศ"
    assert units(f"{a} {b}") == [a, b]
    assert not _continues(a, b)
    # a conjunction-led piece continues any sentence
    assert _continues(a, "และต้องยื่นใบลา")


def test_a_question_asking_a_date_prefers_the_sentence_that_holds_one() -> None:
    """Session 8 analysis of the Thai misses: for "…เกิดวันที่เท่าไร" the topic sentence (names the
    person, no date) was quoted while a later line held the date. Lexical scores only (no models),
    so the penalty is set to outweigh the lexical gap; the pipeline's default is smaller since dense
    and cross-encoder scores narrow it."""
    from thaija.rag.evidence import EvidenceConfig, local_idf, prefer_asked, score_units, select
    from thaija.rag.evidence import units as units_of_hits
    from thaija.retrieve import Hit
    from thaija.retrieve.query import analyse

    text = ("สง่า มะยุระ เป็นจิตรกรชาวไทยผู้มีชื่อเสียงด้านภาพวาดสีน้ำมัน\n"
            "ผลงานของเขาจัดแสดงในพิพิธภัณฑ์หลายแห่ง\n"
            "เขาเกิดเมื่อ 20 สิงหาคม พ.ศ. 2452 ที่จังหวัดนนทบุรี\n")
    q = analyse("สง่า มะยุระ จิตรกรชาวไทย เกิดวันที่เท่าไร")
    hits = [Hit(1, 1.0, "a#0", "a", "th", 0, len(text), text, "a.md")]
    idf = local_idf([text, "จิตรกร ภาพวาด", "วันที่ เกิด"], "th")

    def first(cfg: EvidenceConfig) -> str:
        scored = score_units(q, units_of_hits(hits), idf=idf, cfg=cfg)
        prefer_asked(scored, q, hits, cfg)
        return select(scored, q, idf, cfg)[0].unit.display

    assert "2452" in first(EvidenceConfig(type_penalty=1.0))   # an option, off by default
    assert "2452" not in first(EvidenceConfig(type_penalty=0.0))   # the topic sentence
