"""Input/output helpers shared by the CLI modules: strict UTF-8 input, one-line errors, JSON out.

Text input is checked here (missing/empty file, a folder, invalid UTF-8 with its byte offset, NUL
characters with ``file:line``); structured input (JSON/JSONL/TOML/TSV) goes through
:mod:`thaija.validate`, whose errors name ``file:line`` too.
"""
from __future__ import annotations

import codecs
import json
import os
import sys
from typing import IO, Any, Iterator, NamedTuple

from thaija.errors import ThaijaError

#: output formats of the line-by-line commands (detect, segment, sentences, chunk, redact)
FORMATS = ("text", "jsonl")

_FROM_FIELD: Any = object()


class OptionField(NamedTuple):
    """What :func:`option` built an option from (kept on it as ``.thaija_field`` for the tests)."""

    cls: type
    name: str
    overridden: bool = False  # the CLI default differs from the field's on purpose
    unset: bool = False       # default None = "not given" (a config file or the library decides)
    note: str = ""            # command-specific words after the field's help


def option(cfg_cls: type, name: str, *flags: str, default: Any = _FROM_FIELD, unset: bool = False,
           note: str = "", **kw: Any) -> Any:
    """A ``typer.Option`` for the field ``name`` of the config dataclass ``cfg_cls``: its help text and
    default come from the field (written once, in the config).

    ``default=`` overrides the default only where the CLI contract differs from the library (e.g. a
    flag the CLI requires); ``unset=True`` makes the default None ("not given": a config file or the
    library decides) and shows the field's default in the help; ``note`` adds command-specific words
    after the field's help. The option remembers its field (``.thaija_field``) so
    tests/test_config_cli.py can check that help and defaults never drift."""
    import dataclasses

    import typer

    from thaija.config import default_of, help_of

    if "help" in kw:
        raise TypeError("option(): the help text comes from the config field; edit it there")
    text = help_of(cfg_cls, name)
    if note:
        text = f"{text} {note}"
    overridden = default is not _FROM_FIELD
    if unset:
        if overridden:
            raise TypeError("option(): give default= or unset=True, not both")
        field_default = default_of(cfg_cls, name)
        if field_default is not dataclasses.MISSING and field_default not in (None, ""):
            text = f"{text} [default: {field_default}]"
        default = None
    elif not overridden:
        default = default_of(cfg_cls, name)
        if default is dataclasses.MISSING:
            default = ...
    info = typer.Option(default, *flags, help=text, **kw)
    info.thaija_field = OptionField(cfg_cls, name, overridden, unset, note)
    return info


def fail(message: str) -> None:
    """Stop the command with a one-line error (exit code 2, no traceback)."""
    raise ThaijaError(message)


def _check_utf8(path: str) -> None:
    """Fail naming ``path`` and the byte offset of the first invalid UTF-8 sequence, or the line of
    the first NUL character."""
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            try:
                dec.decode(block)
            except UnicodeDecodeError as exc:
                fail(f"{path}: not valid UTF-8 at byte {offset + exc.start}")
            nul = block.find(b"\x00")
            if nul >= 0:
                line = lines + block.count(b"\n", 0, nul) + 1
                fail(f"{path}:{line}: NUL character (binary data is not text)")
            lines += block.count(b"\n")
            offset += len(block)
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            fail(f"{path}: not valid UTF-8 at byte {offset + exc.start} (truncated sequence at the end)")


def _open_checked(file: str) -> IO[bytes]:
    if file == "-":
        return sys.stdin.buffer
    if not os.path.exists(file):
        fail(f"{file}: no such file")
    if os.path.isdir(file):
        fail(f"{file}: is a directory, not a file")
    if os.path.getsize(file) == 0:
        fail(f"{file}: file is empty")
    _check_utf8(file)
    return open(file, "rb")


def iter_lines(text: str | None, file: str | None, name: str = "TEXT") -> Iterator[str]:
    """Lines of ``--file`` (streamed; ``-`` = stdin) or the single TEXT argument.

    Bad input fails before any output: missing/empty file, invalid UTF-8 (with its byte offset).
    """
    if file is None:
        if text is None or text == "":
            fail(f"give {name} or --file PATH (use --file - for standard input)")
        yield text  # type: ignore[misc]
        return
    fh = _open_checked(file)
    offset, seen = 0, False
    try:
        for n, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:  # only reachable for stdin
                fail(f"{file}: not valid UTF-8 at byte {offset + exc.start}")
            if "\x00" in line:
                fail(f"{file}:{n}: NUL character (binary data is not text)")
            offset += len(raw)
            seen = True
            yield line.rstrip("\n").rstrip("\r")
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    if not seen:
        fail(f"{file}: input is empty")


def read_text(file: str) -> str:
    """The whole content of ``file`` (``-`` = stdin), with the same checks as :func:`iter_lines`."""
    fh = _open_checked(file)
    data = fh.read()
    if fh is not sys.stdin.buffer:
        fh.close()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{file}: not valid UTF-8 at byte {exc.start}")
    if not text.strip():
        fail(f"{file}: file is empty")
    if "\x00" in text:
        fail(f"{file}:{text.count(chr(10), 0, text.index(chr(0))) + 1}: NUL character (binary data is not text)")
    return text


def print_json(obj: Any, *, indent: int | None = None) -> None:
    """Print ``obj`` as JSON (UTF-8, not ASCII-escaped)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def parse_groups(groups: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``; empty/None -> None."""
    if not groups:
        return None
    out = [g.strip() for g in groups.split(",") if g.strip()]
    return out or None


class Progress:
    """Progress of long CLI work on stderr: a rich bar on a terminal; when stderr is redirected (a
    log file, a pipe) plain lines ``thaija: LABEL: DONE/TOTAL (WHAT), S s`` at most one per
    ``$THAIJA_PROGRESS_EVERY`` seconds (default 10) and a last one, so a log shows the work moving.

    ``with Progress("counting", total) as p: ... p.advance(1, "o200k_base")``
    """

    def __init__(self, label: str, total: int | None, *, enabled: bool = True) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.done, self.what = 0, ""
        self._bar = self._task = None
        self._plain = False

    def __enter__(self) -> "Progress":
        import time

        if not self.enabled:
            return self
        self._t0 = self._last = time.monotonic()
        try:
            self._every = max(0.0, float(os.environ.get("THAIJA_PROGRESS_EVERY", "10")))
        except ValueError:
            self._every = 10.0
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(transient=True, console=Console(stderr=True))
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total)
        else:
            self._plain = True
            self._line()
        return self

    def _line(self) -> None:
        import time

        now = time.monotonic()
        total = f"/{self.total}" if self.total is not None else ""
        what = f" ({self.what})" if self.what else ""
        print(f"thaija: {self.label}: {self.done}{total}{what}, {now - self._t0:.0f} s", file=sys.stderr, flush=True)
        self._last = now

    def advance(self, n: int = 1, what: str = "") -> None:
        """``n`` more units done; ``what`` names the current one."""
        import time

        self.done += n
        self.what = what or self.what
        if self._bar is not None:
            self._bar.update(self._task, advance=n, description=f"{self.label} {what}".strip())
        elif self._plain and time.monotonic() - self._last >= self._every:
            self._line()

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        elif self._plain and not any(exc):
            self.what = "done"
            self._line()
