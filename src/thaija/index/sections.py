"""Document structure for chunking: Markdown sections and each chunk's context (title + heading).

Markdown documents are cut at ATX headings (``#`` … ``######``): each heading starts a new
section, the heading line itself is not chunk text (so it never becomes answer text) but the
chunk's heading. Offsets stay those of the original document. A chunk's *context* — the
document title and the heading it sits under — is added to its BM25 terms and to the text that
is embedded, never to the stored chunk text or its offsets.
"""
from __future__ import annotations

import bisect
import re

_HEADING = re.compile(r"^[ ]{0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*\r?$", re.M)
MARKDOWN_SUFFIXES = (".md", ".markdown")


def is_markdown(source: str, metadata: dict | None = None) -> bool:
    """True for documents loaded from .md files (or metadata ``format: markdown``)."""
    fmt = str((metadata or {}).get("format", "")).lower()
    return fmt == "markdown" or source.lower().endswith(MARKDOWN_SUFFIXES)


def headings(text: str) -> list[tuple[int, int, str]]:
    """(line start, line end, heading text) of every ATX heading, outside fenced code blocks."""
    fences = [m.start() for m in re.finditer(r"^[ ]{0,3}(```|~~~)", text, flags=re.M)]
    out = []
    for m in _HEADING.finditer(text):
        if bisect.bisect_right(fences, m.start()) % 2:  # inside a code fence
            continue
        title = m.group(2).strip()
        if title:
            out.append((m.start(), m.end(), title))
    return out


def sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, heading) of each Markdown section body; heading lines are left out.

    Text before the first heading is a section with heading ""; empty bodies are dropped."""
    hs = headings(text)
    bounds = [(0, hs[0][0] if hs else len(text), "")]
    for i, (_, e, title) in enumerate(hs):
        bounds.append((e, hs[i + 1][0] if i + 1 < len(hs) else len(text), title))
    out = []
    for s, e, title in bounds:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e, title))
    return out


def heading_at(text: str, pos: int) -> str:
    """The heading of the Markdown section holding offset `pos` ("" before any heading)."""
    hs = headings(text)
    i = bisect.bisect_right([h[1] for h in hs], pos) - 1
    return hs[i][2] if i >= 0 else ""


def context(title: str, heading: str) -> str:
    """The context line of a chunk: title and heading (the heading once when it repeats the title)."""
    parts = [p for p in (title.strip(), heading.strip()) if p]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return " / ".join(parts)


def embed_text(ctx: str, text: str) -> str:
    """What the embedder sees for a chunk: its context line, then the chunk text."""
    return f"{ctx}\n{text}" if ctx else text
