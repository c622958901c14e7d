"""Measure the user's own texts: documents, characters and tokens per language, per tokenizer.

Sources: a folder of documents (``--from-texts DIR``: every format the index loads), an index
(``--db DB``: the documents stored in it) and a file of queries (one per line). Mixed documents are
split into their language spans (:func:`thaija.lang.detect`), so a Thai manual quoting English
product names counts each part under its own language.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from thaija.errors import ThaijaError

__all__ = ["Corpus", "load_corpus", "read_queries", "measure"]

LANGS = ("th", "ja", "en")


@dataclass
class Corpus:
    """Texts to measure, already split into (language, text) pieces."""

    source: str
    documents: int
    pieces: list[tuple[str, str]]  # (lang, text), lang in th/ja/en/other
    doc_langs: dict[str, int] = field(default_factory=dict)  # main language -> number of documents
    skipped: dict[str, str] = field(default_factory=dict)  # file -> reason

    def characters(self) -> dict[str, int]:
        """Characters per language."""
        out: dict[str, int] = {}
        for lang, text in self.pieces:
            out[lang] = out.get(lang, 0) + len(text)
        return out

    def shares(self) -> dict[str, float]:
        """Share of characters per language among th/ja/en (the corpus' language balance)."""
        chars = {l: n for l, n in self.characters().items() if l in LANGS and n}
        total = sum(chars.values())
        return {l: n / total for l, n in chars.items()} if total else {}


def _split(texts: Iterable[str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    from thaija.lang import detect

    pieces: list[tuple[str, str]] = []
    main: dict[str, int] = {}
    for text in texts:
        if not text.strip():
            continue
        d = detect(text)
        main[d.lang] = main.get(d.lang, 0) + 1
        for s in d.spans:
            piece = text[s.start:s.end]
            if piece.strip():
                pieces.append((s.lang if s.lang in LANGS else "other", piece))
    return pieces, main


def load_corpus(from_texts: str | None = None, db: str | None = None,
                on_skip: Callable[[str, str], None] | None = None) -> Corpus:
    """Read a folder of documents or the documents of an index (exactly one of the two)."""
    if (from_texts is None) == (db is None):
        raise ThaijaError("give one of --from-texts DIR or --db DB")
    texts: list[str] = []
    skipped: dict[str, str] = {}
    if from_texts is not None:
        from thaija.index.documents import iter_files, load_path

        root = Path(from_texts)
        if not root.exists():
            raise ThaijaError(f"{root}: no such file or folder")
        for f in iter_files([str(root)]):
            try:
                texts.extend(d.text for d in load_path(f, root=str(root if root.is_dir() else root.parent)))
            except (ThaijaError, OSError, ValueError) as exc:  # one bad file never aborts the measurement
                skipped[str(f)] = str(exc)
                if on_skip:
                    on_skip(str(f), str(exc))
        source = str(root)
    else:
        texts = _index_texts(str(db))
        source = str(db)
    if not any(t.strip() for t in texts):
        where = f"{source}" + (f" ({len(skipped)} file(s) skipped)" if skipped else "")
        raise ThaijaError(f"{where}: no text to measure")
    pieces, main = _split(texts)
    return Corpus(source, sum(1 for t in texts if t.strip()), pieces, main, skipped)


def _index_texts(db: str) -> list[str]:
    from thaija.index import Index

    if "://" not in db and not os.path.exists(db):
        raise ThaijaError(f"{db}: no thaija index here (build one with `thaija index add DOCS --db {db}`)")
    with Index(db) as idx:  # an index that holds nothing is not created by reading it
        docs = idx.list()
        if not docs:
            raise ThaijaError(f"{db}: the index holds no documents")
        return [idx.document_text(d["doc_id"]) for d in docs]


def read_queries(path: str) -> list[str]:
    """Queries, one per line (UTF-8; ``-`` = standard input); blank lines ignored."""
    from thaija.cost.count import read_lines

    return [q for q in read_lines(path) if q.strip()]


def measure(corpus: Corpus, tokenizers: Sequence[str], progress: bool = False) -> dict[str, dict[str, dict]]:
    """``{tokenizer: {lang: {"characters", "tokens", "tokens_per_char"}}}`` for each tokenizer/model name."""
    from thaija.tokenizers import resolve

    by_lang: dict[str, list[str]] = {}
    for lang, text in corpus.pieces:
        by_lang.setdefault(lang, []).append(text)
    out: dict[str, dict[str, dict]] = {}
    for i, name in enumerate(dict.fromkeys(tokenizers), 1):
        if progress and sys.stderr.isatty():
            print(f"\rmeasuring {corpus.source} with {name} ({i}/{len(tokenizers)})…", end="", file=sys.stderr,
                  flush=True)
        tok = resolve(name)
        rec = {}
        for lang, texts in by_lang.items():
            chars = sum(len(t) for t in texts)
            tokens = int(sum(tok.count_batch(texts)))
            rec[lang] = {"characters": chars, "tokens": tokens,
                         "tokens_per_char": round(tokens / chars, 6) if chars else 0.0}
        out[name] = rec
    if progress and sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    return out


def mean_tokens(texts_by_lang: Mapping[str, list[str]], tokenizer: str) -> dict[str, float]:
    """Mean tokens of one text per language (e.g. the user's queries) in ``tokenizer``."""
    from thaija.tokenizers import resolve

    tok = resolve(tokenizer)
    return {lang: sum(tok.count_batch(t)) / len(t) for lang, t in texts_by_lang.items() if t}
