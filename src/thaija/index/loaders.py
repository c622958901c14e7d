"""File formats -> (text, title): HTML, PDF, Word (.docx), Excel (.xlsx), PowerPoint (.pptx).

Every converter returns plain text with Markdown-style structure, so the ingest's section-aware
chunking applies (documents carry ``metadata["format"] = "markdown"``): headings become ``#``
lines (each starts a chunk and is kept as the chunk's heading), list items ``- `` lines, and every
table row one line, ``header: value | header: value`` when the table has a header row (a row then
reads on its own in a chunk or a citation). Offsets of chunks and citations index this text.

- HTML: the main content through trafilatura (navigation, breadcrumbs, sidebars, footers and
  cookie banners removed; headings and tables kept); a page trafilatura finds no content in falls
  back to the visible text without ``nav``/``header``/``footer``/``aside``. A page nested deeper
  than 512 elements is read as plain text in linear time, with a warning.
- .docx (python-docx): paragraphs and tables in document order; ``Heading n`` / ``Title`` styles
  become headings; title = the document's title property, else its first heading.
- .xlsx (openpyxl, values not formulas): one ``## sheet`` section per sheet, one line per row.
- .pptx (python-pptx): one ``## Slide n: title`` section per slide: text boxes top to bottom,
  tables as rows, then the speaker notes.
- .pdf (pypdf): the text of each page.
A damaged file raises ``ThaijaError`` naming the file and the format.
"""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from thaija.errors import ThaijaError, require

#: Formats loaded here (the ingest also reads .txt .md .markdown .jsonl itself).
SUFFIXES = (".html", ".htm", ".xhtml", ".pdf", ".docx", ".xlsx", ".xlsm", ".pptx")
#: Known formats that cannot be read, with what to do instead (a skip names the reason).
HINTS = {
    ".doc": "old binary Word file: save it as .docx",
    ".xls": "old binary Excel file: save it as .xlsx",
    ".ppt": "old binary PowerPoint file: save it as .pptx",
    ".rtf": "RTF: save it as .docx or .txt",
    ".odt": "OpenDocument text: save it as .docx",
    ".ods": "OpenDocument spreadsheet: save it as .xlsx",
    ".odp": "OpenDocument presentation: save it as .pptx",
    ".csv": "CSV: convert it to .xlsx or JSONL (one record per row)",
}
TINY_PAGE = 200  # characters of main text under which a page is kept whole (its own nav/footer still dropped)
_SPACE = re.compile(r"[ \t\u00a0\u3000]+")


def unsupported_reason(suffix: str, supported: Sequence[str]) -> str:
    """Why a file is not loaded: a hint for known formats, else the supported list."""
    hint = HINTS.get(suffix.lower())
    if hint:
        return f"unsupported file type {suffix} ({hint})"
    return f"unsupported file type {suffix or '(none)'} (use {' '.join(supported)})"


def _clean(text: Any) -> str:
    """One line of text: runs of spaces (ASCII, NBSP, ideographic) collapsed, ends stripped."""
    return _SPACE.sub(" ", re.sub(r"[\r\n\v\f]", " ", str(text or ""))).strip()


def table_lines(rows: Iterable[Sequence[Any]], header: bool | None = None) -> list[str]:
    """Rows as lines: ``h1: v1 | h2: v2`` under a header row, else ``v1 | v2``; empty rows dropped.

    ``header=None`` takes the first row as a header when its non-empty cells (at least two, unless
    the table has one column) are all non-numeric text and there is at least one more row.
    """
    rows = [[_cell(c) for c in r] for r in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    if header is None:  # at least two named columns (or a one-column table), no numbers
        names = [c for c in rows[0] if c]
        width = max(sum(1 for c in r if c) for r in rows)
        header = (len(rows) > 1 and len(names) >= min(2, width)
                  and all(not re.fullmatch(r"[-+]?[\d.,%]+", c) for c in names))
    lines = []
    if header:
        names, body = rows[0], rows[1:]
        lines.append(" | ".join(c for c in names if c))
        for r in body:
            cells = [f"{names[i]}: {c}" if i < len(names) and names[i] else c for i, c in enumerate(r) if c]
            lines.append(" | ".join(cells))
    else:
        lines.extend(" | ".join(c for c in r if c) for r in rows)
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return _clean(value)


def _join(blocks: Iterable[str]) -> str:
    """Blocks separated by a blank line; repeated neighbouring blocks (duplicated titles) dropped."""
    out: list[str] = []
    for b in blocks:
        b = b.strip("\n")
        if b.strip() and (not out or out[-1] != b):
            out.append(b)
    return "\n\n".join(out) + ("\n" if out else "")


# ------------------------------------------------------------------------------------ HTML
#: element nesting beyond which a page is read as plain text (parsers take minutes on 200,000 levels)
MAX_HTML_DEPTH = 512
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr p li dt dd option tr td th "
                  "thead tbody tfoot colgroup rb rt rp optgroup".split())


def html_depth(html: str, stop: int = MAX_HTML_DEPTH) -> int:
    """Element nesting depth of a page, by a linear scan of its tags (void and auto-closed
    elements such as ``<br>`` or ``<p>`` are not counted); stops counting past `stop`."""
    depth = peak = 0
    for m in _TAG.finditer(html):
        if m.group(2).lower() in _VOID or m.group(3):
            continue
        if m.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            if depth > peak:
                peak = depth
                if peak > stop:
                    break
    return peak


def html_plain_text(html: str) -> tuple[str, str]:
    """Text of a page without parsing it into a tree (linear time): tags, scripts and styles
    dropped, entities decoded, one block per line."""
    import html as _html

    m = re.search(r"<title[^>]*>(.*?)</title", html, flags=re.S | re.I)
    title = _clean(_html.unescape(re.sub(r"<[^>]*>", "", m.group(1)))) if m else ""
    body = re.sub(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>", " ", html, flags=re.S | re.I)
    body = re.sub(r"<title[^>]*>.*?</title\s*>", " ", body, flags=re.S | re.I)
    body = re.sub(r"</?(p|div|br|li|h[1-6]|tr|table|section|article|blockquote|pre)\b[^>]*>", "\n", body,
                  flags=re.I)
    body = re.sub(r"<[^>]*>", " ", body)
    lines = [_clean(_html.unescape(ln)) for ln in body.split("\n")]
    return _join(ln for ln in lines if ln), title


def html_to_text(html: str, *, where: str = "", on_warn: Callable[[str], None] | None = None) -> tuple[str, str]:
    """Main content of an HTML page as structured text, and the page's title. A page nested
    deeper than :data:`MAX_HTML_DEPTH` levels is read as plain text (:func:`html_plain_text`) and
    ``on_warn`` says so."""
    depth = html_depth(html)
    if depth > MAX_HTML_DEPTH:
        if on_warn:
            on_warn(f"{where or 'HTML page'}: elements nested more than {MAX_HTML_DEPTH} levels deep: "
                    f"read as plain text (headings, tables and boilerplate removal skipped)")
        return html_plain_text(html)
    trafilatura = require("trafilatura", "trafilatura", "HTML loading")
    from lxml import etree

    xml = None
    try:
        xml = trafilatura.extract(html, output_format="xml", include_tables=True, include_formatting=False,
                                  include_comments=False, include_links=False, include_images=False)
        meta = trafilatura.extract_metadata(html)
    except Exception:  # trafilatura raises many types on odd markup: fall back below
        meta = None
    title = _clean(getattr(meta, "title", "") or "")
    blocks: list[str] = []
    if xml:
        root = etree.fromstring(xml.encode("utf-8"))
        main = root.find("main")
        blocks = _xml_blocks(main if main is not None else root)
    if not any(b.startswith("#") for b in blocks):  # nothing found, or headings merged into text
        found, fallback_title = _html_blocks(html)
        title = title or fallback_title
        if not any(b.strip() for b in blocks):
            blocks = found
        elif any(b.startswith("#") for b in found):
            # trafilatura chose the content but flattened it: keep the page's own blocks that
            # lie inside what it chose (boilerplate stays out, headings come back)
            main = _squash("\n".join(blocks))
            kept = [b for b in found if _inside(b, main)]
            if len(main) < TINY_PAGE:  # too little text for the extractor to judge: keep the page
                blocks = found
            elif len(_squash("".join(kept))) >= 0.8 * len(main):
                blocks = kept
    return _join(_merge_lists(blocks)), title


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _inside(block: str, main: str) -> bool:
    """Whether a structured block's text is part of the squashed main text."""
    cells = []
    for line in block.splitlines():
        line = re.sub(r"^(#+|-)\s+", "", line)
        cells.extend(c.split(": ", 1)[-1] for c in line.split(" | "))
    cells = [_squash(c) for c in cells if _squash(c)]
    return bool(cells) and sum(c in main for c in cells) >= max(1, (len(cells) + 1) // 2)


def _xml_blocks(node: Any) -> list[str]:
    """trafilatura's XML (head/p/list/item/table/row/cell/quote/code) as text blocks."""
    out: list[str] = []
    for el in node:
        tag = el.tag if isinstance(el.tag, str) else ""
        text = _clean("".join(el.itertext()))
        if tag == "head":
            level = int((el.get("rend") or "h2")[1:] or 2) if (el.get("rend") or "").startswith("h") else 2
            if text:
                out.append("#" * max(1, min(level, 6)) + " " + text)
        elif tag == "list":
            items = [_clean("".join(i.itertext())) for i in el if getattr(i, "tag", "") == "item"]
            out.append("\n".join(f"- {i}" for i in items if i))
        elif tag == "table":
            rows = [[("".join(c.itertext())) for c in r if getattr(c, "tag", "") == "cell"]
                    for r in el if getattr(r, "tag", "") == "row"]
            heads = [r for r in el if getattr(r, "tag", "") == "row"][:1]
            header = bool(heads) and all(c.get("role") == "head" for c in heads[0] if getattr(c, "tag", "") == "cell")
            out.append("\n".join(table_lines(rows, header=header or None)))
        elif tag in ("p", "quote", "code"):
            if text:
                out.append(text)
        elif tag in ("div", "main", "doc"):
            out.extend(_xml_blocks(el))
        elif text:
            out.append(text)
    return out


def _html_blocks(html: str) -> tuple[list[str], str]:
    """Fallback: visible text of the page without navigation, headers, footers and sidebars."""
    bs4 = require("bs4", "beautifulsoup4", "HTML loading")
    soup = bs4.BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    blocks: list[str] = []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "table", "pre", "blockquote", "dd", "dt"]):
        if el.find_parent(["table", "li"]) is not None and el.name != "table":
            continue  # part of a table or a list item handled above it
        if el.name == "table":
            if el.find_parent("table") is None:
                rows = [[c.get_text(" ") for c in tr.find_all(["th", "td"])] for tr in el.find_all("tr")]
                first = el.find("tr")
                header = first is not None and all(c.name == "th" for c in first.find_all(["th", "td"]))
                blocks.append("\n".join(table_lines(rows, header=header or None)))
        elif el.name.startswith("h") and len(el.name) == 2:
            blocks.append("#" * int(el.name[1]) + " " + _clean(el.get_text(" ")))
        elif el.name == "li":
            blocks.append("- " + _clean(el.get_text(" ")))
        else:
            blocks.append(_clean(el.get_text(" ")))
    if not any(b.strip() for b in blocks):  # a page of bare text
        blocks = [_clean(ln) for ln in body.get_text("\n").splitlines()]
    return blocks, _clean(title)


# ------------------------------------------------------------------------------------ PDF
def pdf_to_text(path: Path) -> tuple[str, str]:
    pypdf = require("pypdf", "pypdf", "PDF loading")
    try:
        reader = pypdf.PdfReader(str(path))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = _clean((reader.metadata or {}).get("/Title", "")) if reader.metadata else ""
    except Exception as exc:  # pypdf raises many types on broken files
        raise ThaijaError(f"{path}: cannot read PDF ({type(exc).__name__}: {exc})") from None
    return "\n\n".join(p for p in pages if p), title


# ------------------------------------------------------------------------------------ Office
def _office(path: Path, kind: str, opener: Callable[[str], Any]) -> Any:
    try:
        return opener(str(path))
    except Exception as exc:  # zipfile.BadZipFile, KeyError, lxml errors … on damaged files
        raise ThaijaError(f"{path}: cannot read {kind} file ({type(exc).__name__}: {exc})") from None


def docx_to_text(path: Path) -> tuple[str, str]:
    """Paragraphs and tables of a Word document in order; heading styles become ``#`` lines."""
    docx = require("docx", "python-docx", ".docx loading")
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = _office(path, "Word (.docx)", docx.Document)
    blocks: list[str] = []
    first_heading = ""
    style_names: dict[str | None, str] = {}
    for item in doc.iter_inner_content():
        if isinstance(item, Table):
            blocks.append("\n".join(table_lines([[c.text for c in _unique(r.cells)] for r in item.rows])))
            continue
        if not isinstance(item, Paragraph):
            continue
        text = _clean(item.text)
        if not text:
            continue
        sid = item._p.style  # w:pStyle id; resolving it is a scan of every style: once per id, not per paragraph
        if sid not in style_names:
            st = item.style
            style_names[sid] = (st.name if st is not None else "") or ""
        style = style_names[sid]
        level = _heading_level(style)
        if level:
            blocks.append("#" * level + " " + text)
            first_heading = first_heading or text
        elif style.lower().startswith("list") or item._p.pPr is not None and item._p.pPr.numPr is not None:
            blocks.append("- " + text)
        else:
            blocks.append(text)
    title = _clean(doc.core_properties.title or "") or first_heading
    return _join(_merge_lists(blocks)), title


def _unique(cells: Sequence[Any]) -> list[Any]:
    """Merged cells repeat in python-docx rows: keep each cell once."""
    seen, out = set(), []
    for c in cells:
        if id(c._tc) not in seen:
            seen.add(id(c._tc))
            out.append(c)
    return out


def _heading_level(style: str) -> int:
    s = style.lower()
    if s == "title":
        return 1
    m = re.match(r"heading\s*(\d)", s) or re.match(r"見出し\s*(\d)", style)
    return min(int(m.group(1)), 6) if m else 0


def _merge_lists(blocks: list[str]) -> list[str]:
    """Consecutive ``- item`` blocks become one block (a list reads as one passage)."""
    out: list[str] = []
    for b in blocks:
        if b.startswith("- ") and out and out[-1].startswith("- "):
            out[-1] += "\n" + b
        else:
            out.append(b)
    return out


def xlsx_to_text(path: Path) -> tuple[str, str]:
    """Every sheet as ``## name`` and one line per row (cell values, not formulas)."""
    openpyxl = require("openpyxl", "openpyxl", ".xlsx loading")
    wb = _office(path, "Excel (.xlsx)", lambda p: openpyxl.load_workbook(p, read_only=True, data_only=True))
    blocks: list[str] = []
    try:
        for ws in wb.worksheets:
            lines = table_lines(ws.iter_rows(values_only=True))
            if lines:
                blocks.append(f"## {ws.title}")
                blocks.append("\n".join(lines))
        title = _clean(wb.properties.title or "")
    except Exception as exc:
        raise ThaijaError(f"{path}: cannot read Excel (.xlsx) file ({type(exc).__name__}: {exc})") from None
    finally:
        wb.close()
    return _join(blocks), title


def pptx_to_text(path: Path) -> tuple[str, str]:
    """Every slide as ``## Slide n: title``, its text boxes top to bottom, tables as rows, notes."""
    pptx = require("pptx", "python-pptx", ".pptx loading")
    prs = _office(path, "PowerPoint (.pptx)", pptx.Presentation)
    blocks: list[str] = []
    first_title = ""
    for n, slide in enumerate(prs.slides, start=1):
        title_shape = slide.shapes.title
        title = _clean(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
        first_title = first_title or title
        blocks.append(f"## Slide {n}" + (f": {title}" if title else ""))
        shapes = sorted((s for s in _shapes(slide.shapes) if title_shape is None or s.shape_id != title_shape.shape_id),
                        key=lambda s: ((s.top or 0), (s.left or 0)))
        for shape in shapes:
            if getattr(shape, "has_table", False) and shape.has_table:
                rows = [[c.text for c in r.cells] for r in shape.table.rows]
                blocks.append("\n".join(table_lines(rows)))
            elif shape.has_text_frame:
                paras = [_clean(p.text) for p in shape.text_frame.paragraphs]
                paras = [p for p in paras if p]
                if paras:
                    blocks.append("\n".join(paras))
        if slide.has_notes_slide:
            notes = _clean(slide.notes_slide.notes_text_frame.text if slide.notes_slide.notes_text_frame else "")
            if notes:
                blocks.append(f"Notes: {notes}")
    title = _clean(prs.core_properties.title or "") or first_title
    return _join(blocks), title


def _shapes(shapes: Iterable[Any]) -> Iterable[Any]:
    """Shapes with grouped shapes flattened."""
    for s in shapes:
        if getattr(s, "shape_type", None) == 6 and hasattr(s, "shapes"):  # MSO_SHAPE_TYPE.GROUP
            yield from _shapes(s.shapes)
        else:
            yield s


def load_file(path: Path, read_text: Callable[[Path], str],
              on_warn: Callable[[str], None] | None = None) -> tuple[str, str]:
    """(text, title) of a file in one of :data:`SUFFIXES` (``read_text`` reads UTF-8 text files);
    ``on_warn(message)`` hears about a degraded load."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm", ".xhtml"):
        return html_to_text(read_text(path), where=str(path), on_warn=on_warn)
    if suffix == ".pdf":
        return pdf_to_text(path)
    if suffix == ".docx":
        return docx_to_text(path)
    if suffix in (".xlsx", ".xlsm"):
        return xlsx_to_text(path)
    if suffix == ".pptx":
        return pptx_to_text(path)
    raise ThaijaError(f"{path}: not a format of thaija.index.loaders ({suffix})")
