"""`thaija index add --redact`: personal data never reaches the index, chunks or citations."""
import json
import subprocess
import sys
from pathlib import Path

THAIJA = str(Path(sys.executable).parent / "thaija")


def test_index_add_redact_removes_pii_from_store_and_search(tmp_path):
    doc = tmp_path / "contact.txt"
    doc.write_text("ติดต่อฝ่ายบุคคลที่ 081-234-5678 หรือ hr@example.co.th ในวันทำการ\n"
                   "人事部の電話は03-1234-5678です。\n", encoding="utf-8")
    db = str(tmp_path / "t.db")
    r = subprocess.run([THAIJA, "index", "add", str(doc), "--db", db, "--redact", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([THAIJA, "search", "ติดต่อฝ่ายบุคคล", "--db", db, "--mode", "bm25", "--json"],
                       capture_output=True, text=True, timeout=600)
    hits = json.loads(r.stdout)["results"]
    assert hits, r.stderr
    text = " ".join(h["text"] for h in hits)
    assert "[PHONE]" in text and "[EMAIL]" in text
    assert "081-234-5678" not in text and "hr@example.co.th" not in text and "03-1234-5678" not in text
    from thaija.index import Index

    with Index(db) as idx:
        stored = idx.document_text(hits[0]["doc_id"])
    assert "081-234-5678" not in stored and stored[hits[0]["start"]:hits[0]["end"]] == hits[0]["text"]
