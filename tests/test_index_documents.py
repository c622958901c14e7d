"""Loaders: .txt .md .html .jsonl .pdf, ids, groups, and file:line errors for bad JSONL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from thaija.errors import ThaijaError
from thaija.index.documents import Document, load_path, load_paths, validate_groups

ROOT = Path(__file__).resolve().parents[1]
TH = (ROOT / "corpora/news/th/rt.com.91337.txt").read_text(encoding="utf-8")
JA = (ROOT / "corpora/news/ja/rt.com.91337.txt").read_text(encoding="utf-8")


def _pdf(path: Path, text: str) -> None:
    """Write a minimal one-page PDF (Helvetica, ASCII text) with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))


def test_txt_md_html_pdf(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text(TH, encoding="utf-8")
    (tmp_path / "b.md").write_text("# ข่าวโลก\n\n" + JA, encoding="utf-8")
    (tmp_path / "c.html").write_text(f"<html><head><title>ニュース</title><script>var x=1;</script></head>"
                                     f"<body><h1>見出し</h1><p>{JA[:80]}</p></body></html>", encoding="utf-8")
    _pdf(tmp_path / "d.pdf", "Dense retrieval across Thai and Japanese")
    docs = {d.id: d for d in load_paths([tmp_path])}
    assert set(docs) == {"a.txt", "b.md", "c.html", "d.pdf"}
    assert docs["a.txt"].text == TH and docs["a.txt"].title == "a"
    assert docs["b.md"].title == "ข่าวโลก"
    assert docs["c.html"].title == "ニュース" and "var x" not in docs["c.html"].text and JA[:40] in docs["c.html"].text
    assert "Dense retrieval across Thai and Japanese" in docs["d.pdf"].text
    assert all(d.groups == [] for d in docs.values())


def test_jsonl_records_and_groups(tmp_path):
    p = tmp_path / "c.jsonl"
    recs = [{"id": "th-1", "title": "ไทย", "text": TH, "lang": "th", "metadata": {"url": "x"}},
            {"id": "ja-1", "text": JA, "groups": ["hr"]}]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n\n", encoding="utf-8")
    docs = load_path(p, groups=["staff"])
    assert [d.id for d in docs] == ["th-1", "ja-1"]
    assert docs[0].lang == "th" and docs[0].metadata == {"url": "x"} and docs[0].groups == ["staff"]
    assert docs[1].lang is None and docs[1].groups == ["hr", "staff"]
    assert docs[0].content_hash != docs[1].content_hash


@pytest.mark.parametrize("line, what", [
    ('{"id": "x", "text": "ok"', "malformed JSON"),
    ('["not", "an", "object"]', "JSON object"),
    ('{"id": "x"}', "'text'"),
    ('{"id": "a", "text": "dup"}', "duplicate id"),
    ('{"id": "y", "text": "t", "groups": ["bad group"]}', "invalid access group"),
])
def test_bad_jsonl_line_names_file_and_line(tmp_path, line, what):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "a", "text": "สวัสดี"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ThaijaError) as e:
        load_paths([p])
    assert f"{p}:2" in str(e.value) and what in str(e.value)


def test_bad_files(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ThaijaError, match="not valid UTF-8"):
        load_paths([tmp_path / "latin1.txt"])
    with pytest.raises(ThaijaError, match="no such file"):
        load_paths([tmp_path / "missing.txt"])
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(ThaijaError, match="unsupported file type"):
        load_paths([tmp_path / "x.docx"])


def test_groups_are_validated_so_filters_cannot_be_injected():
    assert validate_groups("hr, finance,hr") == ["finance", "hr"]
    for bad in ['hr"] or public == true or ["', "a b", "x" * 200]:
        with pytest.raises(ThaijaError):
            validate_groups([bad])
    with pytest.raises(ThaijaError):
        Document(id="", text="x")
