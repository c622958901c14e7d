"""The answer verifier (thaija.models.verifier): a real Gemma-3-270m reads whether an answer makes
its question likely; the support model reads it only where it was fitted, and falls back to the set
fitted without it when the verifier cannot run."""
from __future__ import annotations

import copy
import json

import pytest

from thaija.rag import support as S

pytest.importorskip("torch")
verifier = pytest.importorskip("thaija.models.verifier")
if not verifier.available():
    pytest.skip("the offline Gemma-3-270m package is not installed", allow_module_level=True)


# (question, the sentence that answers it, a sentence of the same document that does not):
# the project's own policy and product documents (tests/data/policy, tests/data/products)
PAIRS = [
    ("พนักงานลาพักร้อนได้ปีละกี่วัน", "พนักงานที่ทำงานครบ 1 ปี มีสิทธิ์ลาพักร้อนปีละ 10 วันทำงาน",
     "พนักงานทำงานวันละ 8 ชั่วโมง สัปดาห์ละ 5 วัน"),
    ("โรงอาหารพนักงานเปิดกี่โมง", "โรงอาหารพนักงานอยู่ที่ชั้น 2 ของอาคาร B เปิดบริการตั้งแต่ 07:30 ถึง 14:00 น.",
     "พนักงานชำระค่าอาหารด้วยบัตรพนักงานเท่านั้น"),
    ("AirPure 300 มีกี่โหมด", "AirPure 300 มี 3 โหมด ได้แก่ โหมดอัตโนมัติ โหมดนอนหลับ และโหมดเทอร์โบ",
     "ไส้กรอง HEPA ของ AirPure 300 ควรเปลี่ยนทุก 6 เดือน"),
    ("在宅勤務は週に何日できますか", "在宅勤務は週2日まで認められます。",
     "在宅勤務中は、始業時と終業時にチャットで上長に報告してください。"),
]


@pytest.fixture(scope="module")
def v():
    return verifier.shared()


@pytest.mark.parametrize("question,answer,other", PAIRS, ids=[p[0] for p in PAIRS])
def test_the_answering_sentence_makes_the_question_more_likely(v, question, answer, other):
    lang = "ja" if question.startswith("在宅") else "th"
    got, topic_only = v.score(question, answer, lang), v.score(question, other, lang)
    assert set(got) == {"qlm", "judge"}
    assert got["qlm"] > topic_only["qlm"] + 0.3, (got, topic_only)
    # only what is asked for is computed
    assert v.score(question, answer, lang, want=("judge",)) == {"judge": got["judge"]}


def test_scores_are_deterministic_and_bounded_on_hostile_input(v):
    q, a, _ = PAIRS[0]
    assert v.score(q, a) == v.score(q, a)
    # a 50 000-character answer and a 10 000-character question are read up to their budgets
    long = v.score(q * 500, a * 1000)
    assert all(abs(x) < 50 for x in long.values())
    assert v.score("", a, "th") == {"qlm": 0.0, "judge": 0.0}
    assert v.score(q, "   ", "th", want=("qlm",)) == {"qlm": 0.0}


def _params_with_verifier() -> dict:
    """A small parameter file in the shipped layout: Thai reads qlm, the rest does not."""
    same = {"bias": -1.0, "lex": 2.0, "dense": 1.0}
    p = {"same": same, "cross": {"bias": -2.0, "dense": 3.0},
         "same_by_lang": {"th": {**same, "qlm": 1.5}},
         "thresholds": {"th": {"refuse_below": 0.4, "review_below": 0.6},
                        "en": {"refuse_below": 0.3, "review_below": 0.5}}}
    p["without_qlm"] = {"same": same, "cross": p["cross"], "same_by_lang": {"th": dict(same)},
                        "thresholds": {"th": {"refuse_below": 0.2, "review_below": 0.5},
                                       "en": {"refuse_below": 0.3, "review_below": 0.5}}}
    return p


def test_support_reads_the_verifier_only_where_fitted_and_falls_back_without_it():
    p = _params_with_verifier()
    th = {"lex": 0.5, "dense": 0.5, "qlang": "th"}
    assert S.wanted(th, p) == ("qlm",) and not S.verified(th, p)
    # not run: the set fitted without it, and its thresholds
    assert S.support(th, p) == pytest.approx(S.support(th, p["without_qlm"]))
    assert S.read_from(th, p) == {"ce": False, "cross": False, "rel": False, "qlm": False}
    assert S.thresholds("th", p, qlm=S.verified(th, p)) == (0.2, 0.5)
    hi, lo = S.support({**th, "qlm": 2.0}, p), S.support({**th, "qlm": -1.0}, p)
    assert hi > lo
    assert S.thresholds("th", p, qlm=True) == (0.4, 0.6)
    # English and cross-language evidence read sets without it: never run, never missing
    en, cross = {"lex": 0.5, "dense": 0.5, "qlang": "en"}, {"dense": 0.9, "cross": True, "qlang": "th"}
    assert not S.wanted(en, p) and S.verified(en, p)
    assert not S.wanted(cross, p) and S.verified(cross, p)
    # a parameter file without a verifier set (older support.json) never asks for it
    old = copy.deepcopy(p)
    del old["same_by_lang"]["th"]["qlm"], old["without_qlm"]
    assert not S.wanted(th, old)


def test_shipped_support_file_has_a_fallback_for_every_verifier_set():
    p = json.loads(S.PARAMS_FILE.read_text("utf-8"))
    sets = [p.get("same", {}), p.get("cross", {}), *p.get("same_by_lang", {}).values(),
            *p.get("cross_by_lang", {}).values()]
    if any(f in w for w in sets for f in S.VERIFIER_FEATURES):
        fb = p["without_qlm"]
        fb_sets = [fb["same"], fb["cross"], *fb.get("same_by_lang", {}).values(), *fb.get("cross_by_lang", {}).values()]
        assert not any(f in w for w in fb_sets for f in S.VERIFIER_FEATURES)
        assert set(fb["thresholds"]) >= {"th", "ja", "en"}


def test_the_pipeline_records_the_verifier_and_can_be_switched_off(policy_db, monkeypatch):
    from thaija.rag.pipeline import AskConfig, answer

    q = "พนักงานลาพักร้อนได้ปีละกี่วัน"
    monkeypatch.setenv("THAIJA_VERIFY", "all")
    on = answer(q, db=policy_db, config=AskConfig(review=False))
    assert not on.refused and "10 วัน" in on.answer
    ev = on.extra["evidence"]
    assert ev["qlm"] > 1.0 and "judge" in ev
    monkeypatch.setenv("THAIJA_VERIFY", "0")
    off = answer(q, db=policy_db, config=AskConfig(review=False))
    assert "qlm" not in off.extra["evidence"] and off.answer == on.answer
    # without the verifier, support comes from the set fitted without it
    assert off.support == pytest.approx(S.support(off.extra["evidence"]), abs=1e-4)
