"""`thaija serve` loads the index, the embedder, the cross-encoder and the answer verifier before it
listens (QA Q18:
the first user waited 14 s with no word), and a missing index is left for the request to report."""
from pathlib import Path

from thaija.index import handles
from thaija.rag.config import ServeConfig
from thaija.rag.serve import Answerer


def test_warm_loads_index_and_models(policy_db):
    from thaija.models import answerability, verifier

    handles.close_index(policy_db)
    verifier._SHARED.clear()   # loaded by an earlier test of the session: warming must load it again
    a = Answerer(ServeConfig(db=policy_db))
    a.warm()
    key = str(Path(policy_db + ".state").resolve())
    assert any(k == key or k.startswith(str(Path(policy_db).resolve())) for k in handles._OPEN), handles._OPEN.keys()
    if answerability.available():
        assert answerability._SHARED, "the cross-encoder is loaded before the first request"
    if verifier.available():
        assert verifier._SHARED, "the answer verifier is loaded before the first request"
    ans = a.answer("ลาพักร้อนได้ปีละกี่วัน", None)     # and the warm handles answer
    assert ans is not None


def test_warm_without_an_index_does_not_raise(tmp_path):
    Answerer(ServeConfig(db=str(tmp_path / "none.db"))).warm()
    assert not (tmp_path / "none.db.state").exists()   # nothing created by warming
