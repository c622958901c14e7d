"""Loaders: .txt .md .html .jsonl .pdf .docx .xlsx .pptx, ids, groups, and file:line errors for bad JSONL."""
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
    # the page's main heading is its title (trafilatura prefers it to a <title> with site names)
    html = docs["c.html"].text  # a newline inside <p> is a space, as a browser shows it
    assert docs["c.html"].title == "見出し" and "var x" not in html and " ".join(JA[:40].split()) in html
    assert html.startswith("# 見出し\n\n") and docs["c.html"].metadata == {"format": "markdown"}
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
    (tmp_path / "x.docx").write_bytes(b"PK")  # a damaged Word file: named with its format
    with pytest.raises(ThaijaError, match=r"x\.docx: cannot read Word \(\.docx\) file"):
        load_paths([tmp_path / "x.docx"])
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")  # a known format that is not read says what to do
    with pytest.raises(ThaijaError, match=r"unsupported file type \.doc \(old binary Word file: save it as \.docx\)"):
        load_paths([tmp_path / "old.doc"])


def test_groups_are_validated_so_filters_cannot_be_injected():
    assert validate_groups("hr, finance,hr") == ["finance", "hr"]
    for bad in ['hr"] or public == true or ["', "a b", "x" * 200]:
        with pytest.raises(ThaijaError):
            validate_groups([bad])
    with pytest.raises(ThaijaError):
        Document(id="", text="x")


# ------------------------------------------------------------------ real-world formats
PORTAL = """<html><head><title>在宅勤務規程 | 人事ポータル | サンプル株式会社</title></head><body>
<header><nav class="breadcrumb"><a href="/">ホーム</a> &gt; <a href="/hr">人事</a> &gt; 在宅勤務規程</nav>
<div class="logo">サンプル株式会社 人事ポータル</div></header>
<main><article><h1>在宅勤務規程</h1>
<p>この規程は、正社員の在宅勤務について定めるものです。社員は上長の承認を得て在宅勤務を行うことができます。</p>
<h2>勤務日数</h2><p>在宅勤務は週2日までとします。繁忙期には上長の判断で出社を求めることがあります。</p>
<h2>手当</h2>
<table><tr><th>区分</th><th>月額</th></tr><tr><td>通信費</td><td>3,000円</td></tr><tr><td>光熱費</td><td>2,000円</td></tr></table>
<p>手当は毎月の給与とともに支給されます。申請は人事ポータルから行ってください。</p></article></main>
<aside><h3>関連リンク</h3><ul><li><a href="/a">出張規程</a></li><li><a href="/b">休暇規程</a></li></ul></aside>
<footer><p>© 2026 サンプル株式会社 All rights reserved. プライバシーポリシー | お問い合わせ</p></footer>
</body></html>"""


def test_html_boilerplate_removed_headings_kept_tables_as_rows(tmp_path):
    (tmp_path / "remote.html").write_text(PORTAL, encoding="utf-8")
    (doc,) = load_path(tmp_path / "remote.html", root=tmp_path)
    text = doc.text
    assert doc.title == "在宅勤務規程"
    for gone in ("ホーム", "関連リンク", "出張規程", "All rights reserved", "プライバシーポリシー"):
        assert gone not in text, gone  # breadcrumbs, sidebar, footer
    assert text.count("在宅勤務規程") == 1  # the title is not repeated
    assert text.startswith("# 在宅勤務規程\n") and "\n## 勤務日数\n" in text and "\n## 手当\n" in text
    assert "\n区分 | 月額\n区分: 通信費 | 月額: 3,000円\n区分: 光熱費 | 月額: 2,000円\n" in text
    assert "在宅勤務は週2日までとします。" in text


@pytest.mark.parametrize("html, text", [
    ("", ""), ("<nav>Home &gt; HR</nav>", ""),  # nothing to index: load_path then says "empty document"
    ("<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Basic</td><td>980</td></tr></table>",
     "Plan | Price\nPlan: Basic | Price: 980\n"),
    ("<p>unclosed <b>bold", "unclosed bold\n"),
    ("<div><h2>料金</h2><p>ベーシックは980円です。</p><ul><li>税込</li><li>月額</li></ul></div>",
     "## 料金\n\nベーシックは980円です。\n\n- 税込\n- 月額\n"),
])
def test_html_odd_pages(html, text):
    from thaija.index.loaders import html_to_text

    assert html_to_text(html)[0] == text


def _docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "ระเบียบการลา"
    d.add_heading("ระเบียบการลา", level=1)
    d.add_paragraph("พนักงานมีสิทธิ์ลาพักร้อนปีละ 10 วันทำการ หลังจากทำงานครบ 1 ปี")
    d.add_heading("ลาป่วย", level=2)
    d.add_paragraph("ลาป่วยได้ไม่เกิน 30 วันต่อปี โดยได้รับค่าจ้าง", style="List Bullet")
    d.add_paragraph("ลาป่วยตั้งแต่ 3 วันขึ้นไปต้องมีใบรับรองแพทย์", style="List Bullet")
    t = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("ประเภท", "จำนวนวัน"), ("ลากิจ", "3"), ("ลาคลอด", "98")]):
        t.cell(r, 0).text, t.cell(r, 1).text = a, b
    d.add_paragraph("ติดต่อฝ่ายบุคคลเพื่อขอแบบฟอร์ม")
    d.save(str(path))


def _xlsx(path: Path) -> None:
    import datetime

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "料金表"
    ws.append(["プラン", "月額（円）", "開始日"])
    ws.append(["ベーシック", 980, datetime.date(2026, 4, 1)])
    ws.append(["プレミアム", 1980.0, datetime.date(2026, 4, 1)])
    ws.append([None, None, None])
    ws["E1"] = "=B2*12"  # a formula: its value, not the formula, is indexed when cached
    other = wb.create_sheet("Notes")
    other.append(["Prices include tax."])
    wb.properties.title = "料金表 2026"
    wb.save(str(path))


def _pptx(path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[1])
    s1.shapes.title.text = "CleanBot R7"
    s1.placeholders[1].text_frame.text = "Battery: 4 hours to charge"
    s1.placeholders[1].text_frame.add_paragraph().text = "Runs 120 minutes per charge"
    s1.notes_slide.notes_text_frame.text = "Mention the dock."
    s2 = prs.slides.add_slide(prs.slide_layouts[5])
    s2.shapes.title.text = "Parts"
    table = s2.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, (a, b) in enumerate([("Part", "Replace every"), ("Dust filter", "3 months"), ("Side brush", "6 months")]):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    prs.save(str(path))


def test_docx_headings_lists_tables(tmp_path):
    _docx(tmp_path / "leave.docx")
    (doc,) = load_path(tmp_path / "leave.docx", root=tmp_path)
    assert doc.id == "leave.docx" and doc.title == "ระเบียบการลา" and doc.metadata == {"format": "markdown"}
    assert doc.text == ("# ระเบียบการลา\n\nพนักงานมีสิทธิ์ลาพักร้อนปีละ 10 วันทำการ หลังจากทำงานครบ 1 ปี\n\n## ลาป่วย\n\n"
                        "- ลาป่วยได้ไม่เกิน 30 วันต่อปี โดยได้รับค่าจ้าง\n- ลาป่วยตั้งแต่ 3 วันขึ้นไปต้องมีใบรับรองแพทย์\n\n"
                        "ประเภท | จำนวนวัน\nประเภท: ลากิจ | จำนวนวัน: 3\nประเภท: ลาคลอด | จำนวนวัน: 98\n\n"
                        "ติดต่อฝ่ายบุคคลเพื่อขอแบบฟอร์ม\n")


def test_xlsx_sheets_and_rows(tmp_path):
    _xlsx(tmp_path / "prices.xlsx")
    (doc,) = load_path(tmp_path / "prices.xlsx", root=tmp_path)
    assert doc.title == "料金表 2026"
    lines = doc.text.splitlines()
    assert lines[0] == "## 料金表"
    assert "プラン: ベーシック | 月額（円）: 980 | 開始日: 2026-04-01" in lines
    assert "プラン: プレミアム | 月額（円）: 1980 | 開始日: 2026-04-01" in lines  # 1980.0 reads as 1980
    assert "## Notes" in lines and "Prices include tax." in lines
    assert "=B2*12" not in doc.text


def test_pptx_slides_tables_notes(tmp_path):
    _pptx(tmp_path / "deck.pptx")
    (doc,) = load_path(tmp_path / "deck.pptx", root=tmp_path)
    assert doc.title == "CleanBot R7"
    assert doc.text == ("## Slide 1: CleanBot R7\n\nBattery: 4 hours to charge\nRuns 120 minutes per charge\n\n"
                        "Notes: Mention the dock.\n\n## Slide 2: Parts\n\nPart | Replace every\n"
                        "Part: Dust filter | Replace every: 3 months\nPart: Side brush | Replace every: 6 months\n")


def test_folder_of_office_files_nothing_skipped_silently(tmp_path):
    from thaija.index.documents import iter_documents

    (tmp_path / "hr").mkdir()
    _docx(tmp_path / "hr" / "leave.docx")
    _xlsx(tmp_path / "prices.xlsx")
    _pptx(tmp_path / "deck.pptx")
    (tmp_path / "remote.html").write_text(PORTAL, encoding="utf-8")
    (tmp_path / "old.ppt").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really")
    skipped: list[tuple[str, str]] = []
    docs = list(iter_documents([tmp_path], on_skip=lambda p, m: skipped.append((Path(p).name, m))))
    assert sorted(d.id for d in docs) == ["deck.pptx", "hr/leave.docx", "prices.xlsx", "remote.html"]
    reasons = dict(skipped)
    assert set(reasons) == {"old.ppt", "broken.xlsx"}
    assert "save it as .pptx" in reasons["old.ppt"] and "cannot read Excel (.xlsx) file" in reasons["broken.xlsx"]


@pytest.mark.slow
def test_office_documents_are_searchable_by_section(tmp_path):
    """End to end: a spreadsheet row and a Word section are found, and chunks keep their heading."""
    from thaija.index.handles import close_index, open_index
    from thaija.index.ingest import Index, IndexConfig
    from thaija.retrieve import search

    folder = tmp_path / "docs"
    folder.mkdir()
    _docx(folder / "leave.docx")
    _xlsx(folder / "prices.xlsx")
    db = str(tmp_path / "office.db")
    idx = Index(IndexConfig(db=db, cache_path=""))
    try:
        idx.add_paths([str(folder)])
    finally:
        idx.close()
    try:
        hits = search("プレミアムの月額はいくらですか", db=db, k=3, mode="bm25")
        assert hits[0].doc_id == "prices.xlsx" and "プレミアム | 月額（円）: 1980" in hits[0].text
        hits = search("ลาคลอดได้กี่วัน", db=db, k=3, mode="bm25")
        assert hits[0].doc_id == "leave.docx" and "ลาคลอด | จำนวนวัน: 98" in hits[0].text
        assert open_index(db).document("leave.docx")["metadata"] == {"format": "markdown"}
    finally:
        close_index(db)


@pytest.mark.parametrize("name,data,pos", [("a.md", b"ab\x00cd", 2), ("n.txt", b"\x00\x00", 0),
                                           ("bom.txt", b"\xef\xbb\xbf\xe0\xb8\x81\x00", 1)])
def test_nul_bytes_in_text_files_are_refused_like_jsonl(tmp_path, name, data, pos):
    """QA session 12: a .txt/.md file with NUL bytes was indexed as text ('\\x00\\x00') while the same
    text in JSONL is refused; both readers (whole file and the streamed FileText) now refuse it."""
    from thaija.index.documents import FileText

    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(ThaijaError, match=f"NUL character at position {pos}"):
        load_path(f)
    with pytest.raises(ThaijaError, match=f"NUL character at position {pos}"):
        FileText(f)
