"""Units of the answer stage: sentence units with exact offsets and clean display text, the
cross-language frame, calibrated support outcomes, the analysed Query."""
from types import SimpleNamespace

import pytest

from thaija.errors import ThaijaError
from thaija.rag.compose import compose
from thaija.rag.evidence import EvidenceConfig, clean, local_idf, score_units, select, units
from thaija.rag.support import outcome, support, thresholds
from thaija.retrieve.query import analyse, content_terms


def hit(text, lang, doc="d", start=0):
    return SimpleNamespace(text=text, lang=lang, chunk_id=f"{doc}#0", doc_id=doc, start=start,
                           end=start + len(text), source=doc)


DOC = ("# คู่มือเราเตอร์ NetLink AX3000\n\n## การรีเซ็ตเครื่อง\n- กดปุ่ม Reset ค้างไว้ 10 วินาที "
       "จนไฟกะพริบเป็นสีส้ม\n\n<p>ระบบเกิดเมื่อ พ.ศ. 2476 และปรับปรุงเมื่อ พ.ศ. 2555 &amp; ใช้งานได้ดี</p>\n")


def test_units_keep_exact_offsets_and_strip_markup():
    h = hit(DOC, "th", start=100)
    us = units([h])
    assert us and all(DOC[u.start - 100:u.end - 100] == u.text for u in us)
    heads = [u for u in us if u.heading]
    assert heads and not heads[0].text.startswith("#")       # span trimmed past the '#' marks
    body = [u for u in us if not u.heading]
    assert all("#" not in u.display and not u.display.startswith("- ") for u in body)
    assert any(u.section == "การรีเซ็ตเครื่อง" for u in body)
    # a Thai abbreviation dot (พ.ศ.) does not end a sentence
    assert any("พ.ศ. 2476" in u.text for u in body)
    assert clean("<p>a &amp; **b**</p>") == "a & b"


def test_title_words_are_not_evidence():
    h = hit(DOC, "th")
    q = analyse("NetLink AX3000 รีเซ็ตเครื่องยังไง")
    idf = local_idf([DOC], "th")
    scored = score_units(q, units([h]), idf=idf)
    best = select(scored, q, idf)[0]
    assert "10 วินาที" in best.unit.display
    assert not ({"netlink", "ax", "3000"} & set(best.covered))   # the title names the topic only


def test_cross_language_frame_and_joins():
    th = compose([("在宅勤務は週2日まで認められます。", "ja", 1)], "th")
    assert th == "ตามเอกสาร (ภาษาญี่ปุ่น): «在宅勤務は週2日まで認められます。» [1]"
    ja = compose([("ค่าล่วงเวลาในวันหยุด 3 เท่า", "th", 1), ("残業は事前承認が必要", "ja", 2)], "ja")
    assert ja == "資料（タイ語）によると：「ค่าล่วงเวลาในวันหยุด 3 เท่า」[1]。残業は事前承認が必要[2]。"
    assert compose([("在宅勤務は週2日までです。", "ja", 1), ("在宅勤務中は報告します。", "ja", 2)], "ja") == \
        "在宅勤務は週2日までです[1]。在宅勤務中は報告します[2]。"   # no "…[1]在宅" glue
    # a repeated sentence is written once
    assert compose([("A b.", "en", 1), ("A b.", "en", 1)], "en") == "A b. [1]"


def test_support_outcomes_and_override():
    strong = {"lex": 1.0, "dense": 1.0, "cover": 1.0, "cos": 0.93, "cross": False}
    weak = {"lex": 0.0, "dense": 0.0, "cover": 0.0, "cos": 0.75, "cross": False}
    assert 0.0 <= support(weak) < support(strong) <= 1.0
    lo, hi = thresholds("th")
    assert 0.0 <= lo <= hi <= 1.0
    assert outcome(support(strong), "th") == "answer"
    assert outcome(support(weak), "th") == "refuse"
    assert outcome(0.5, "ja", min_support=0.9) == "refuse" and outcome(0.95, "ja", min_support=0.9) == "answer"
    with pytest.raises(ThaijaError):
        EvidenceConfig(max_units=0)


def test_support_reads_the_unclipped_cosine():
    """cos_c (the raw best cosine, centred and scaled, unclipped unlike dense) is derived from the
    recorded cos; every coefficient of a parameter set is read (a new feature needs no code list)."""
    from thaija.rag.support import value

    assert value({"cos": 0.9}, "cos_c") == pytest.approx(1.0) and value({"cos": None}, "cos_c") == 0.0
    assert value({}, "lex") == 0.0 and value({"ce": None}, "ce") == 0.0
    p = {"same": {"bias": 0.0, "cos_c": 2.0}, "cross": {"bias": 0.0}, "thresholds": {}}
    near, far = support({"cos": 0.93}, p), support({"cos": 0.85}, p)
    assert near > far > 0.5 and support({"cos": 0.93, "cross": True}, p) == 0.5


def test_query_is_analysed_once():
    q = analyse("CleanBot R7 ชาร์จแบตเต็มใช้เวลากี่ชั่วโมง")
    assert q.lang == "th" and "cleanbot" in q.content and "กี่" not in q.content
    assert q.terms["all"] == content_terms(q.text, "th") and q.sentences
    assert q.vector is None


def test_text_output_says_when_an_answer_is_low_confidence():
    """QA F3b: `thaija ask` without --json must not print a low-confidence answer as if it were sure."""
    from thaija.rag.pipeline import render

    res = {"answer": "資料（タイ語）によると：「ค่าล่วงเวลา 1.5 เท่า」[1]。", "refused": False, "reason": "low_confidence",
           "support": 0.43, "review_id": 3,
           "citations": [{"n": 1, "doc_id": "ot_th", "start": 0, "end": 16, "source": "ot_th.md", "quote": "ค่าล่วงเวลา 1.5 เท่า"}]}
    out = render(res)
    assert "low confidence" in out and "0.43" in out and "review id 3" in out
    res["reason"] = None
    assert "low confidence" not in render(res)


def test_specific_coverage_discounts_words_every_candidate_shares():
    """Contrastive coverage (issue 11 refusal): a question word found in every retrieved chunk (the
    article's name) is the topic, not evidence; the sentence must cover the specific words."""
    from thaija.rag.evidence import specific_coverage

    docs = ["ปราสาทหินพิมาย สร้างขึ้นในพุทธศตวรรษที่ 16 ด้วยหินทรายสีขาว",
            "ปราสาทหินพิมาย ตั้งอยู่ในจังหวัดนครราชสีมา ใกล้แม่น้ำมูล",
            "ปราสาทหินพิมาย เปิดให้เข้าชมทุกวัน ค่าเข้าชม 100 บาท"]
    hits = [hit(t, "th", doc=f"d{i}") for i, t in enumerate(docs)]
    q = analyse("ปราสาทหินพิมาย สร้างด้วยหินทรายสีอะไร")
    idf = local_idf(docs + ["แม่น้ำ", "จังหวัด", "บาท"], "th")
    scored = score_units(q, units(hits), idf=idf)
    built = [r for r in scored if "หินทราย" in r.unit.display]
    other = [r for r in scored if "นครราชสีมา" in r.unit.display]
    spec_built, miss_built = specific_coverage(scored, built, q, idf)
    spec_other, miss_other = specific_coverage(scored, other, q, idf)
    assert spec_built > 0.5 > spec_other and miss_other == 1.0 and miss_built < 1.0
    # the shared name covers much of the plain IDF weight but little of the specific weight (สี
    # matches inside นครราชสีมา: the Thai sub-word rule)
    assert spec_other < other[0].lex / 2, (spec_other, other[0].lex)


def test_clause_cut_without_a_space_is_joined_without_one():
    """A Thai line cut into two units where the document has no space (…ใคร ใคร...ก็บินได้) becomes
    one citation whose display keeps the document's spacing (it added a space: the gold answer
    string was no longer in the answer)."""
    from thaija.rag.evidence import Scored, Unit
    from thaija.rag.pipeline import Evidence, _spans

    text = "สายการบินนี้ใช้สโลแกนหลัก ใคร ใคร...ก็บินได้ (Now Everyone Can Fly) เพื่อดึงดูดผู้โดยสาร"
    cut = text.index("ก็บินได้")
    h = hit(text, "th")
    a = Unit(0, 0, cut, text[:cut], "th", clean(text[:cut]), line_end=False)
    b = Unit(0, cut, len(text), text[cut:], "th", clean(text[cut:]))
    ev = Evidence(None, [h], [], [Scored(a, 1.0, None, 1, 1.0), Scored(b, 1.0, None, 1, 1.0)], {}, 1.0)
    (got,) = _spans(ev)
    assert got[1:3] == (0, len(text)) and "ใคร ใคร...ก็บินได้" in got[3]
    # a cut at a space keeps one space
    sp = text.index(" เพื่อ")
    a = Unit(0, 0, sp, text[:sp], "th", clean(text[:sp]), line_end=False)
    b = Unit(0, sp + 1, len(text), text[sp + 1:], "th", clean(text[sp + 1:]))
    ev = Evidence(None, [h], [], [Scored(a, 1.0, None, 1, 1.0), Scored(b, 1.0, None, 1, 1.0)], {}, 1.0)
    assert _spans(ev)[0][3] == text


MIXED = ("381 ประเทศไทยมีประชากรประมาณหกสิบหกล้านคน กรุงเทพมหานครเป็นเมืองหลวง\r\n"
         "382 日本の首都は東京です。富士山は日本で一番高い山です。\r\n"
         "383 The quick brown fox jumps over the lazy dog. Bangkok is the capital of Thailand.\r\n"
         "384 ประเทศไทยมีประชากรประมาณหกสิบหกล้านคน กรุงเทพมหานครเป็นเมืองหลวง\r\n"
         "386 The quick brown fox jumps over the lazy dog. Bangkok is the capital of Thailand.\r\n")


def test_mixed_chunk_keeps_each_lines_sentences_and_language():
    """QA session 7: in a chunk detected as Thai, an English line's short sentence was glued to the
    next one's full stop (quote ". Bangkok is ...") and labelled Thai ("(in Thai)"), and the same
    sentence was quoted twice. A chunk may also start at its overlap, right at a full stop."""
    for text in (MIXED, ". Bangkok is the capital of Thailand.\r\n" + MIXED):
        us = units([hit(text, "th")])
        en = [u for u in us if "Bangkok" in u.text]
        assert en and all(u.text == "Bangkok is the capital of Thailand." for u in en)
        assert all(u.lang == "en" for u in en)
        assert [u.lang for u in us if "東京" in u.text] == ["ja"]
        assert all(u.lang == "th" for u in us if "ประเทศไทย" in u.text)
    q = analyse("What is the capital of Thailand?")
    idf = local_idf([MIXED], "en")
    chosen = select(score_units(q, units([hit(MIXED, "th")]), idf=idf), q, idf)
    assert [r.unit.display for r in chosen] == ["Bangkok is the capital of Thailand."]
    # a product name or code alone stays in the chunk's language
    assert [u.lang for u in units([hit("รุ่น CleanBot R7\n", "th")])] == ["th"]
    # the citation names the quoted sentence's own language, not the chunk's
    from thaija.rag.citations import make_citation
    h = hit(MIXED, "th")
    a = MIXED.index("Bangkok")
    assert make_citation(1, h, a, a + len("Bangkok is the capital of Thailand.")).lang == "en"
    b = MIXED.index("日本")
    assert make_citation(2, h, b, b + len("日本の首都は東京です。")).lang == "ja"
    c = MIXED.index("ประเทศไทย")
    assert make_citation(3, h, c, c + 20).lang == "th"


def test_support_reads_the_question_languages_own_coefficients():
    """same_by_lang[lang] scores same-language evidence of a question in lang (feats["qlang"] or the
    lang argument); other languages and cross-language evidence keep their sets; a parameter file
    without same_by_lang (written before per-language sets) scores every language with same."""
    from thaija.rag.support import coefficients

    old = {"same": {"bias": 0.0, "lex": 2.0}, "cross": {"bias": -1.0, "cos_c": 1.0}, "thresholds": {}}
    new = {**old, "same_by_lang": {"ja": {"bias": 0.0, "lex": 2.0, "margin": -4.0}}}
    f = {"lex": 1.0, "margin": 0.5, "cos": 0.9}
    assert support({**f, "qlang": "ja"}, old) == support({**f, "qlang": "th"}, old) == support(f, old)
    assert support({**f, "qlang": "th"}, new) == support(f, old)                     # no Thai set: same
    assert support({**f, "qlang": "ja"}, new) == pytest.approx(0.5)                    # 2*1 - 4*0.5 = 0
    assert support(f, new, lang="ja") == pytest.approx(0.5)                            # lang argument
    assert support({**f, "qlang": "th"}, new, lang="ja") == pytest.approx(0.5)         # argument first
    assert support({**f, "qlang": "ja", "cross": True}, new) == support({**f, "cross": True}, old)
    assert coefficients({"qlang": "en"}, new) is new["same"]
    # the fallback without the cross-encoder reads its own per-language sets
    fb = {**new, "without_ce": {**old, "same_by_lang": {"ja": {"bias": 3.0}}}}
    assert support({**f, "qlang": "ja", "ce": None}, fb) == pytest.approx(1 / (1 + 2.718281828 ** -3.0))
    assert support({**f, "qlang": "ja", "ce": 0.9}, fb) == pytest.approx(0.5)


def test_shipped_support_params_are_complete_per_language():
    """Every per-language set of support.json has a bias and only readable features, a language with
    its own set has thresholds, and the features record the question's language for support()."""
    from thaija.rag.support import FEATURES, features, params

    p = params()
    readable = set(FEATURES) | {"margin", "ce_max", "type_miss", "kind_miss", "unit_miss", "name_miss", "bias"}
    for fb in (p, p.get("without_ce") or p):
        for lang, w in (fb.get("same_by_lang") or {}).items():
            assert "bias" in w and set(w) <= readable, (lang, w)
            assert lang in fb["thresholds"] and set(w) - {"bias"} == set(fb["features_by_lang"][lang])
    assert features([], [], "ja", 0.0)["qlang"] == "ja"
    text = "การทำงานล่วงเวลาในวันหยุด บริษัทจ่ายค่าล่วงเวลาเป็น 3 เท่าของอัตราค่าจ้างต่อชั่วโมง\n"
    q = analyse("วันหยุดได้ค่าล่วงเวลากี่เท่า", "th")
    idf = local_idf([text], "th")
    rows = score_units(q, units([hit(text, "th")]), idf=idf)
    f = features(rows, rows[:1], "th", 1.0, query=q, idf=idf)
    assert f["qlang"] == "th" and support(f) == support(f, lang="th")
