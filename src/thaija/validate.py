"""One input-validation layer for JSON / JSONL / TOML / TSV input (files and HTTP bodies).

Every reader of user input goes through here, so every bad input becomes one
:class:`ValidationError` (a :class:`~thaija.errors.ThaijaError`: the CLI prints ``thaija: error: …``
and exits 2, the server answers HTTP 400 with a JSON error) that names ``file:line``:

- syntax errors, nesting deeper than ``MAX_DEPTH``, integers longer than ``MAX_INT_DIGITS`` digits,
  ``NaN`` / ``Infinity`` / overflowing floats, lone surrogates (``"\\ud800"``) and NUL characters;
- wrong field types (:func:`check_fields`): ``"groups": 5``, ``"groups": {"hr": 1}``,
  ``"id": ["x"]`` or a dict title are errors, never silently converted;
- empty inputs (an empty ``.jsonl`` is an error, not "0 documents").

>>> parse_json('{"a": [1, 2]}')
{'a': [1, 2]}
>>> parse_json('{"a": NaN}', where="q.jsonl:3")
Traceback (most recent call last):
thaija.validate.ValidationError: q.jsonl:3: NaN/Infinity is not allowed (NaN)
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from thaija.errors import ThaijaError

MAX_DEPTH = 32           #: deepest nesting accepted in any JSON / TOML input
MAX_INT_DIGITS = 40      #: longest integer literal accepted (Python itself stops at 4,300)
MAX_LINE_BYTES = 64 << 20  #: one JSONL line (a whole document) at most 64 MB

_SURROGATE = re.compile("[\ud800-\udfff]")


class ValidationError(ThaijaError):
    """Invalid user input; the message starts with where it was found (``file:line: …``)."""


def _at(where: str, msg: str) -> ValidationError:
    return ValidationError(f"{where}: {msg}" if where else msg)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"NaN/Infinity is not allowed ({name})")


def _parse_int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(s.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(s)


def _parse_float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(f"number {s[:20]} is out of range")
    return v


def check_text(value: str, where: str = "", name: str = "text") -> str:
    """``value`` unless it holds a lone surrogate or a NUL character."""
    m = _SURROGATE.search(value)
    if m:
        raise _at(where, f"{name}: lone surrogate U+{ord(m.group()):04X} (not valid Unicode text)")
    if "\x00" in value:
        raise _at(where, f"{name}: NUL character at position {value.index(chr(0))}")
    return value


def check_tree(obj: Any, where: str = "", max_depth: int = MAX_DEPTH) -> Any:
    """Walk a parsed JSON/TOML value (iteratively): depth, strings (keys too), finite numbers."""
    stack: list[tuple[Any, int, str]] = [(obj, 1, "")]
    while stack:
        v, depth, path = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > max_depth:
                raise _at(where, f"nested deeper than {max_depth} levels")
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, x in items:
                sub = f"{path}.{k}" if isinstance(k, str) else f"{path}[{k}]"
                if isinstance(k, str):
                    check_text(k, where, f"key {sub.lstrip('.')[:40]!r}")
                stack.append((x, depth + 1, sub))
        elif isinstance(v, str):
            check_text(v, where, f"field {path.lstrip('.')[:40]!r}" if path else "value")
        elif isinstance(v, float) and not math.isfinite(v):
            raise _at(where, f"{path.lstrip('.') or 'value'}: NaN/Infinity is not allowed")
    return obj


def _depth_precheck(text: str, max_depth: int, where: str) -> None:
    """Refuse absurd nesting before a recursive parser sees it (cheap upper bound on depth)."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise _at(where, f"nested deeper than {max_depth} levels")
        elif ch in "]}":
            depth -= 1


def parse_json(text: str | bytes, *, where: str = "", max_depth: int = MAX_DEPTH,
               max_bytes: int | None = None) -> Any:
    """Parse strict JSON (see the module docstring for what is refused)."""
    if isinstance(text, (bytes, bytearray)):
        if max_bytes is not None and len(text) > max_bytes:
            raise _at(where, f"input is larger than {max_bytes} bytes")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _at(where, f"not valid UTF-8 at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise _at(where, "empty input (expected JSON)")
    _depth_precheck(text, max_depth, where)
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise _at(where, f"malformed JSON ({exc.msg}, column {exc.colno})") from None
    except RecursionError:
        raise _at(where, "JSON nested too deeply") from None
    except ValueError as exc:
        raise _at(where, str(exc)) from None
    return check_tree(obj, where, max_depth)


def read_text_file(path: str | os.PathLike, *, what: str = "file") -> str:
    """UTF-8 text of a regular, non-empty file (BOM dropped) or a one-line error."""
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"{p}: no such {what}")
    if p.is_dir():
        raise ValidationError(f"{p}: is a folder, not a {what}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{p}: not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ValidationError(f"{p}: {what} is empty")
    return text


def iter_jsonl(path: str | os.PathLike, *, text: str | None = None, objects: bool = True,
               allow_empty: bool = False) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` per non-blank line; each line checked by :func:`parse_json`.

    ``objects``: every line must be a JSON object. An input without any record is an error
    unless ``allow_empty``.
    """
    if text is None:
        text = read_text_file(path, what="JSONL file")
    seen = False
    for n, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is valid JSON
        if not line.strip():
            continue
        rec = parse_json(line, where=f"{path}:{n}")
        if objects and not isinstance(rec, dict):
            raise ValidationError(f"{path}:{n}: each line must be a JSON object, got {_kind(rec)}")
        seen = True
        yield n, rec
    if not seen and not allow_empty:
        raise ValidationError(f"{path}: no records (the file holds only blank lines)")


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib


def parse_toml(text: str, *, where: str = "", max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse TOML with the same limits as JSON (nesting, surrogates, NUL, finite floats)."""
    tomllib = _toml()
    check_text(text, where, "TOML")
    depth = peak = 0
    for ch in text:  # arrays/inline tables nest with [ { ; a rough bound is enough
        if ch in "[{":
            depth += 1
            peak = max(peak, depth)
            if peak > max_depth * 2:
                raise _at(where, f"nested deeper than {max_depth} levels")
        elif ch in "]}":
            depth = max(depth - 1, 0)
    try:
        obj = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _at(where, f"not valid TOML ({exc})") from None
    except RecursionError:
        raise _at(where, "TOML nested too deeply") from None
    return check_tree(obj, where, max_depth)


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """A TOML file through :func:`parse_toml`, errors naming the file."""
    return parse_toml(read_text_file(path, what="TOML file"), where=str(path))


def iter_tsv(path: str | os.PathLike, *, min_columns: int = 2, text: str | None = None,
             header: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """``(line number, columns)`` of a tab- (or whitespace-) separated file; ``header``: the
    first column of a header line to skip."""
    if text is None:
        text = read_text_file(path, what="TSV file")
    seen = False
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        check_text(line, f"{path}:{n}", "line")
        cols = line.strip().split("\t") if "\t" in line else line.split()
        if header is not None and not seen and cols and cols[0].strip() == header:
            continue
        if len(cols) < min_columns:
            raise ValidationError(f"{path}:{n}: expected {min_columns} columns, got {len(cols)}")
        seen = True
        yield n, [c.strip() for c in cols]
    if not seen:
        raise ValidationError(f"{path}: no records")


def parse_number(value: str, where: str = "", name: str = "value") -> float:
    """A finite float from text (``inf`` / ``nan`` refused)."""
    try:
        v = float(value)
    except ValueError:
        raise _at(where, f"{name} {value[:30]!r} is not a number") from None
    if not math.isfinite(v):
        raise _at(where, f"{name} {value[:30]!r} must be a finite number")
    return v


def _kind(v: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


#: field type names for :func:`check_fields`
TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "number": (int, float), "bool": (bool,), "object": (dict,),
    "array": (list,), "id": (str, int),
}


def check_fields(rec: Mapping[str, Any], spec: Mapping[str, str], where: str = "",
                 required: tuple[str, ...] = ()) -> None:
    """Check the types of ``rec``'s fields: ``spec`` maps a field to a :data:`TYPES` name, or
    ``"groups"`` (a list of strings or one comma-separated string), or ``"strs"`` (a list of
    strings); ``null`` counts as absent. Unknown fields are allowed (JSONL records carry extras)."""
    for key in required:
        if rec.get(key) is None:
            raise _at(where, f"missing field {key!r}")
    for key, kind in spec.items():
        v = rec.get(key)
        if v is None:
            continue
        if kind in ("groups", "strs"):
            ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
            ok = ok or (kind == "groups" and isinstance(v, str))
            if not ok:
                want = "a list of strings" + (" or a comma-separated string" if kind == "groups" else "")
                raise _at(where, f"field {key!r} must be {want}, got {_kind(v)}")
            continue
        types = TYPES[kind]
        want = "a number" if kind == "number" else _kind(types[0]())
        if isinstance(v, bool) and bool not in types:
            raise _at(where, f"field {key!r} must be {want}, got a boolean")
        if not isinstance(v, types):
            raise _at(where, f"field {key!r} must be {want}, got {_kind(v)}")
