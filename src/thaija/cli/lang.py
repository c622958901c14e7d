"""CLI for the language layer: detect, segment, sentences, normalize, chunk."""
from __future__ import annotations

import json
import os
import sys
from typing import Optional

import typer

from thaija.cli._common import FORMATS, fail, iter_lines, option
from thaija.config import help_of
from thaija.lang.config import LANGS, ChunkConfig  # light: loads no segmenter

LANG_HELP = help_of(ChunkConfig, "lang")
FORMAT_HELP = "Output: text (human-readable) or jsonl (one JSON record per input line)."
FILE_HELP = "Read this UTF-8 file instead of TEXT, one result per line ('-' = standard input)."


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        fail(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def _file_blocks(file: str):
    """Decoded text of ``--file`` block by block ('-' = stdin), with the checks of iter_lines."""
    from thaija.cli._common import _open_checked
    from thaija.errors import ThaijaError
    from thaija.lang.stream import read_blocks

    fh = _open_checked(file)
    seen, line = False, 1
    try:
        for block in read_blocks(fh, name=file):
            nul = block.find("\x00")  # files are checked before reading; stdin is checked here
            if nul != -1:
                fail(f"{file}:{line + block.count(chr(10), 0, nul)}: NUL character (binary data is not text)")
            line += block.count("\n")
            seen = True
            yield block
    except ThaijaError as exc:  # invalid UTF-8 on stdin (files are checked before reading)
        fail(str(exc))
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    if not seen:
        fail(f"{file}: input is empty")


def detect_cmd(
    text: Optional[str] = typer.Argument(None, help="Text to analyse."),
    file: Optional[str] = typer.Option(None, "--file", "-f", help=FILE_HELP),
    format: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Detect the language of each line (th / ja / en / other) and its language spans.

    Works on mixed lines such as 'ราคา iPhone 15 は 12万円 ครับ'. Han-only text counts as Japanese.
    """
    from thaija.lang import detect

    _check_choice(format, FORMATS, "format")
    for line in iter_lines(text, file):
        d = detect(line)
        if format == "jsonl":
            _emit(d.to_dict())
        else:
            spans = " ".join(f"{s.lang}[{s.start}:{s.end}]" for s in d.spans)
            typer.echo(f"{d.lang}\t{spans}")


def segment_cmd(
    text: Optional[str] = typer.Argument(None, help="Text to segment."),
    file: Optional[str] = typer.Option(None, "--file", "-f", help=FILE_HELP),
    lang: str = typer.Option("auto", "--lang", "-l", help=LANG_HELP),
    engine: Optional[str] = typer.Option(
        None, "--engine", "-e",
        help="Segmenter: th nlpo3 (default) | newmm | newmm-safe | longest | mm | any installed PyThaiNLP engine; ja mecab (default) | chars; en regex. With --lang auto it applies to the spans of its language.",
    ),
    format: str = typer.Option("text", "--format", help=FORMAT_HELP),
    normalize: bool = typer.Option(False, "--normalize/--no-normalize", help="Segment normalized text (offsets still point at the input)."),
) -> None:
    """Split text into words. Offsets are Python string indices into each input line."""
    from thaija.lang import segment

    _check_choice(lang, LANGS, "language")
    _check_choice(format, FORMATS, "format")
    if file is not None:  # big files: bounded pieces, output written as it comes (thaija.lang.stream)
        from thaija.lang.stream import segment_stream

        sep = ""
        for piece, toks in segment_stream(_file_blocks(file), lang=lang, engine=engine, normalize=normalize):
            if format == "jsonl":
                body = ", ".join(json.dumps(t, ensure_ascii=False) for t in toks)
                head = '{"tokens": [' if piece.offset == 0 else ""
                sys.stdout.write(head + (sep + body if body else ""))
                sep = ", " if body or sep else ""
            else:
                body = " ".join(t["text"] for t in toks)
                sys.stdout.write((sep + body) if body else "")
                sep = " " if body or sep else ""
            if piece.last:
                sys.stdout.write("]}\n" if format == "jsonl" else "\n")
                sep = ""
        return
    for line in iter_lines(text, file):
        toks = segment(line, lang=lang, engine=engine, normalize=normalize)
        if format == "jsonl":
            _emit({"tokens": [t.to_dict() for t in toks]})
        else:
            typer.echo(" ".join(t.text for t in toks))


def sentences_cmd(
    text: Optional[str] = typer.Argument(None, help="Text to split."),
    file: Optional[str] = typer.Option(None, "--file", "-f", help="Read this UTF-8 file as one document ('-' = stdin)."),
    engine: Optional[str] = typer.Option(None, "--engine", help="Thai sentence engine: rules (default) or crfcut (PyThaiNLP)."),
    format: str = typer.Option("text", "--format", help="text (one sentence per line) or jsonl."),
) -> None:
    """Split a document into sentences (Thai spaces, Japanese 。！？ + closing brackets, English . ! ?)."""
    from thaija.lang import sentences

    _check_choice(format, FORMATS, "format")
    if file is not None:  # read in bounded pieces (thaija.lang.stream): fine for 50 MB files
        from thaija.lang.stream import sentences_stream

        blank = [True]

        def blocks():
            for block in _file_blocks(file):
                blank[0] = blank[0] and not block.strip()
                yield block

        for s in sentences_stream(blocks(), engine=engine):
            typer.echo(json.dumps(s.to_dict(), ensure_ascii=False) if format == "jsonl" else s.text)
        if blank[0]:
            fail(f"{file}: file is empty")
        return
    doc = next(iter_lines(text, None))
    for s in sentences(doc, engine=engine):
        typer.echo(json.dumps(s.to_dict(), ensure_ascii=False) if format == "jsonl" else s.text)


def normalize_cmd(
    text: Optional[str] = typer.Argument(None, help="Text to normalize."),
    file: Optional[str] = typer.Option(None, "--file", "-f", help=FILE_HELP),
    lang: str = typer.Option("auto", "--lang", "-l", help="Profile whose rules apply (auto: all safe rules)."),
) -> None:
    """Normalize text (zero-width chars, Thai mark order, NFKC full/half width for Japanese)."""
    from thaija.lang import normalize

    _check_choice(lang, LANGS, "language")
    if file is not None:
        from thaija.lang.stream import normalize_stream

        for piece, norm in normalize_stream(_file_blocks(file), lang):
            sys.stdout.write(norm + ("\n" if piece.last else ""))
        return
    for line in iter_lines(text, file):
        typer.echo(normalize(line, lang).text)


def chunk_cmd(
    file: str = typer.Option(..., "--file", "-f", help="The document to chunk (UTF-8; '-' = stdin)."),
    lang: str = option(ChunkConfig, "lang", "--lang", "-l"),
    max_tokens: int = option(ChunkConfig, "max_tokens", "--max-tokens"),
    overlap: int = option(ChunkConfig, "overlap", "--overlap"),
    tokenizer: str = option(ChunkConfig, "tokenizer", "--tokenizer", "-t"),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Size chunks in this model's tokens (e.g. gpt-4o, qwen3-8b); overrides --tokenizer."),
    format: str = typer.Option("jsonl", "--format", help="jsonl (one chunk per line) or text."),
    doc_id: Optional[str] = typer.Option(None, "--id", help="Prefix of chunk ids (default: the file name)."),
) -> None:
    """Cut one document into chunks on sentence/word boundaries, sized in the target model's tokens."""
    from thaija.lang.stream import chunk_stream

    _check_choice(lang, LANGS, "language")
    _check_choice(format, FORMATS, "format")
    prefix = doc_id or (os.path.basename(file) if file != "-" else "stdin")
    counter = tokenizer
    if model is not None or tokenizer not in ("words", "chars", "bytes"):
        from thaija.tokenizers import resolve  # the CLI resolves names; the language layer takes a counter

        counter = resolve(model if model is not None else tokenizer)
    blank = [True]  # the document is read in bounded pieces (thaija.lang.stream): fine for 50 MB files

    def blocks():
        for block in _file_blocks(file):
            blank[0] = blank[0] and not block.strip()
            yield block

    for c in chunk_stream(blocks(), max_tokens=max_tokens, overlap=overlap, tokenizer=counter, lang=lang,
                          doc_id=prefix):
        if format == "jsonl":
            _emit(c.to_dict())
        else:
            typer.echo(f"--- {c.id} [{c.start}:{c.end}] {c.tokens} tokens\n{c.text}")
    if blank[0]:
        fail(f"{file}: file is empty")


def register(app: typer.Typer) -> None:
    """Attach the language-layer commands."""
    app.command("detect")(detect_cmd)
    app.command("segment")(segment_cmd)
    app.command("sentences")(sentences_cmd)
    app.command("normalize")(normalize_cmd)
    app.command("chunk")(chunk_cmd)
