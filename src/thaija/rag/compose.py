"""Answer text from chosen evidence: clean sentences with their own ``[n]``, a frame in the
question's language around evidence written in another language, clean joins.

Thai question, Japanese evidence:  ``ตามเอกสาร (ภาษาญี่ปุ่น): «…» [1]``
Japanese question, Thai evidence:  ``資料（タイ語）によると：「…」[1]。``
English question, Thai evidence:   ``According to the source (in Thai): "…" [1]``
"""
from __future__ import annotations

from typing import Sequence

#: Language names in each answer language.
LANG_NAMES: dict[str, dict[str, str]] = {
    "th": {"th": "ภาษาไทย", "ja": "ภาษาญี่ปุ่น", "en": "ภาษาอังกฤษ"},
    "ja": {"th": "タイ語", "ja": "日本語", "en": "英語"},
    "en": {"th": "Thai", "ja": "Japanese", "en": "English"},
}
#: (opening with {lang}, quote open, quote close) per answer language.
FRAMES: dict[str, tuple[str, str, str]] = {
    "th": ("ตามเอกสาร ({lang}): ", "«", "»"),
    "ja": ("資料（{lang}）によると：", "「", "」"),
    "en": ("According to the source (in {lang}): ", "\u201c", "\u201d"),
}


def joiner(lang: str) -> str:
    """Separator between sentences of an answer in ``lang`` (Japanese writes none)."""
    return "" if lang == "ja" else " "


def _cite(text: str, n: int, lang: str) -> str:
    """``text`` with its marker: ``… [n]`` (Thai, English); Japanese puts it before the sentence
    end, ``…ます[n]。`` (adding 。 when the source had none), so the next sentence never glues
    onto a marker."""
    if lang != "ja":
        return f"{text} [{n}]"
    if text and text[-1] in "。．！？!?":
        return f"{text[:-1]}[{n}]{text[-1]}"
    return f"{text}[{n}]。"


def compose(parts: Sequence[tuple[str, str, int]], qlang: str) -> str:
    """Answer text from ``(clean sentence, its language, citation number)`` in reading order.

    Sentences in the question's language are written as they are, each followed by ``[n]``.
    Consecutive sentences in another language go inside one frame in the question's language,
    each quote with its own ``[n]``. Repeated sentences are written once.
    """
    qlang = qlang if qlang in FRAMES else "en"
    out: list[str] = []
    seen: set[str] = set()
    group_lang: str | None = None
    group: list[str] = []

    def flush() -> None:
        nonlocal group, group_lang
        if group:
            head, qo, qc = FRAMES[qlang]
            name = LANG_NAMES[qlang].get(group_lang or "", group_lang or "")
            body = ("" if qlang == "ja" else " ").join(f"{qo}{g}" for g in group)
            out.append(head.format(lang=name) + body + ("。" if qlang == "ja" else ""))
        group, group_lang = [], None

    for text, lang, n in parts:
        text = text.strip()
        if not text or text in seen:
            continue
        seen.add(text)
        if lang == qlang or lang not in LANG_NAMES[qlang]:
            flush()
            out.append(_cite(text, n, qlang))
            continue
        if group_lang not in (None, lang):
            flush()
        group_lang = lang
        _, qo, qc = FRAMES[qlang]
        group.append(f"{text}{qc}[{n}]" if qlang == "ja" else f"{text}{qc} [{n}]")
    flush()
    return joiner(qlang).join(out)
