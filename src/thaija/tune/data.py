"""Training records: JSONL loading with line-numbered validation, language labels, eval split.

Accepted record shapes (one JSON object per line; blank lines are skipped)::

    {"text": "..."}
    {"prompt": "...", "completion": "..."}            # loss on the completion only
    {"messages": [{"role": "user"|"assistant"|"system", "content": "..."}, ...]}

Optional keys: ``"lang"`` (else detected with :func:`thaija.lang.detect` on the text the model
learns: the completion / assistant turns) and ``"source"``
(e.g. ``"replay"`` for general data mixed in against forgetting). Any other key is an error, so
typos ("compleiton") do not silently train on nothing.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thaija.errors import ThaijaError

_ROLES = {"system", "user", "assistant"}
_OPTIONAL = {"lang", "source", "id", "groups"}  # groups: access label kept by `review export`


class DataError(ThaijaError):
    """Invalid training data; ``errors`` holds ``(line_number, reason)`` for every bad line."""

    def __init__(self, path: str, errors: list[tuple[int, str]]) -> None:
        self.path, self.errors = path, errors
        shown = "; ".join(f"line {n}: {why}" for n, why in errors)
        super().__init__(f"{path}: {len(errors)} invalid line{'s' * (len(errors) != 1)} "
                         f"— fix them first: {shown}")


@dataclass(frozen=True)
class Record:
    """One training example. ``kind`` is "text", "prompt" or "messages"."""

    kind: str
    lang: str
    line: int = 0
    text: str = ""
    prompt: str = ""
    completion: str = ""
    messages: tuple[tuple[str, str], ...] = ()
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def content(self) -> str:
        """All the record's text joined."""
        if self.kind == "text":
            return self.text
        if self.kind == "prompt":
            return self.prompt + "\n" + self.completion
        return "\n".join(c for _, c in self.messages)

    @property
    def target(self) -> str:
        """The text the model learns to write (completion / assistant turns); its language is
        the record's language when ``lang`` is missing (a Japanese-to-Thai translation is Thai)."""
        if self.kind == "text":
            return self.text
        if self.kind == "prompt":
            return self.completion
        return "\n".join(c for r, c in self.messages if r == "assistant")

    @property
    def key(self) -> str:
        """Content hash: identical examples share a key (never on both sides of a split)."""
        body = json.dumps([self.kind, self.text, self.prompt, self.completion, self.messages],
                          ensure_ascii=False)
        return hashlib.sha1(body.encode("utf-8")).hexdigest()


def parse_record(obj: Any, line: int = 0) -> tuple[Record | None, str | None]:
    """Validate one decoded JSON value; return ``(record, None)`` or ``(None, reason)``."""
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    shapes = [k for k in ("text", "prompt", "messages") if k in obj]
    allowed = {"text": {"text"}, "prompt": {"prompt", "completion"}, "messages": {"messages"}}
    if len(shapes) != 1:
        return None, ("no 'text', 'prompt'/'completion' or 'messages' key" if not shapes
                      else f"mixes record shapes ({', '.join(shapes)})")
    kind = shapes[0]
    unknown = sorted(set(obj) - allowed[kind] - _OPTIONAL)
    if unknown:
        return None, f"unknown key{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}"
    lang = obj.get("lang")
    if lang is not None and (not isinstance(lang, str) or not lang.strip()):
        return None, "'lang' must be a non-empty string"
    source = obj.get("source")
    if source is not None and not isinstance(source, str):
        return None, "'source' must be a string"
    groups = obj.get("groups")
    if groups is not None and not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
        return None, "'groups' must be a list of strings"
    lang = lang.strip().lower() if lang else ""
    if kind == "text":
        if not isinstance(obj["text"], str) or not obj["text"].strip():
            return None, "'text' must be a non-empty string"
        return Record("text", lang, line, text=obj["text"], source=source), None
    if kind == "prompt":
        p, c = obj.get("prompt"), obj.get("completion")
        if not isinstance(p, str) or not isinstance(c, str):
            return None, "'prompt' and 'completion' must both be strings"
        if not c.strip():
            return None, "'completion' is empty"
        return Record("prompt", lang, line, prompt=p, completion=c, source=source), None
    msgs = obj["messages"]
    if not isinstance(msgs, list) or not msgs:
        return None, "'messages' must be a non-empty list"
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            return None, f"messages[{i}] must be an object with exactly 'role' and 'content'"
        if m["role"] not in _ROLES:
            return None, f"messages[{i}].role must be system, user or assistant (got {m['role']!r})"
        if not isinstance(m["content"], str):
            return None, f"messages[{i}].content must be a string"
        out.append((m["role"], m["content"]))
    if not any(r == "assistant" and c.strip() for r, c in out):
        return None, "'messages' has no non-empty assistant turn to learn from"
    return Record("messages", lang, line, messages=tuple(out), source=source), None


def load_records(path: str | Path, *, detect_missing: bool = True,
                 languages: Sequence[str] | None = None) -> list[Record]:
    """Read and validate a JSONL file; raise :class:`DataError` listing EVERY bad line.

    Records without ``"lang"`` get ``thaija.lang.detect(content).lang``. ``languages`` keeps only
    those languages.
    """
    p = Path(path)
    if str(path) == "-":  # standard input
        import sys

        raw = sys.stdin.buffer.read()
    elif not p.is_file():
        raise ThaijaError(f"{path}: no such file" if not p.exists() else f"{path}: not a file")
    else:
        raw = p.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is not part of line 1
        raw = raw[3:]
    if not raw.strip():
        raise ThaijaError(f"{path}: file is empty")
    errors: list[tuple[int, str]] = []
    records: list[Record] = []
    for n, bline in enumerate(raw.split(b"\n"), start=1):
        if not bline.strip():
            continue
        try:
            line = bline.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append((n, f"not valid UTF-8 at byte {exc.start}"))
            continue
        try:  # strict JSON: depth, huge ints, NaN, surrogates, NUL (thaija.validate)
            from thaija.validate import parse_json

            obj = parse_json(line)
        except ThaijaError as exc:
            errors.append((n, str(exc)))
            continue
        rec, why = parse_record(obj, n)
        if why:
            errors.append((n, why))
        else:
            records.append(rec)  # type: ignore[arg-type]
    if errors:
        raise DataError(str(path), errors)
    if detect_missing and any(not r.lang for r in records):
        records = label_languages(records)
    if languages:
        keep = {x.lower() for x in languages}
        records = [r for r in records if r.lang in keep]
        if not records:
            raise ThaijaError(f"{path}: no records in languages {', '.join(sorted(keep))}")
    return records


def label_languages(records: Iterable[Record]) -> list[Record]:
    """Fill in missing ``lang`` with the language layer's detector."""
    from dataclasses import replace

    from thaija.lang import detect

    return [r if r.lang else replace(r, lang=detect(r.target).lang) for r in records]


def count_languages(records: Iterable[Record]) -> dict[str, int]:
    """Number of records per language (sorted by language)."""
    out: dict[str, int] = {}
    for r in records:
        out[r.lang] = out.get(r.lang, 0) + 1
    return dict(sorted(out.items()))


def split_eval(records: Sequence[Record], fraction: float = 0.1, *, seed: int = 0,
               max_per_lang: int | None = None) -> tuple[list[Record], list[Record]]:
    """Stratified split: ``fraction`` of each language (at least 1, never all) goes to eval.

    Identical examples (same content) land on the same side, so train and eval never overlap.
    Languages with a single distinct example stay in training only.
    """
    rng = random.Random(seed)
    by_lang: dict[str, dict[str, list[Record]]] = {}
    for r in records:
        by_lang.setdefault(r.lang, {}).setdefault(r.key, []).append(r)
    train: list[Record] = []
    evals: list[Record] = []
    for lang in sorted(by_lang):
        groups = list(by_lang[lang].values())
        rng.shuffle(groups)
        n_eval = 0
        if fraction > 0 and len(groups) >= 2:
            n_eval = min(len(groups) - 1, max(1, round(fraction * len(groups))))
            if max_per_lang is not None:
                n_eval = min(n_eval, max_per_lang)
        for g in groups[:n_eval]:
            evals.extend(g[:1])  # one copy of a duplicated example is enough for evaluation
        for g in groups[n_eval:]:
            train.extend(g)
    train.sort(key=lambda r: r.line)
    evals.sort(key=lambda r: r.line)
    return train, evals


def remove_overlap(train: Sequence[Record], evals: Sequence[Record]) -> tuple[list[Record], int]:
    """Drop training records whose content also appears in ``evals``; return (kept, dropped)."""
    keys = {r.key for r in evals}
    kept = [r for r in train if r.key not in keys]
    return kept, len(train) - len(kept)


def limit_per_lang(records: Sequence[Record], n: int | None, seed: int = 0) -> list[Record]:
    """At most ``n`` records per language (a seeded random subset, original order kept)."""
    if n is None:
        return list(records)
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by.setdefault(r.lang, []).append(i)
    keep = sorted(i for idx in by.values() for i in (rng.sample(idx, n) if len(idx) > n else idx))
    return [records[i] for i in keep]


def encode(record: Record, tokenizer: Any, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 = no loss) for one record, truncated to ``max_length``.

    text: loss on every token; prompt/completion: on the completion (+ EOS) only; messages: on
    the last assistant turn (rendered with the tokenizer's chat template).
    """
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if record.kind == "text":
        ids = tokenizer(record.text, add_special_tokens=True)["input_ids"] + eos
        return ids[:max_length], ids[:max_length]
    if record.kind == "prompt":
        prompt_ids = tokenizer(record.prompt, add_special_tokens=True)["input_ids"]
        target = tokenizer(record.completion, add_special_tokens=False)["input_ids"] + eos
    else:
        msgs = [{"role": r, "content": c} for r, c in record.messages]
        last = max(i for i, (r, _) in enumerate(record.messages) if r == "assistant")
        prefix = tokenizer.apply_chat_template(msgs[:last], tokenize=False,
                                               add_generation_prompt=True)
        full = tokenizer.apply_chat_template(msgs[: last + 1], tokenize=False)
        if not full.startswith(prefix):  # unusual template: learn the whole conversation
            ids = tokenizer(full, add_special_tokens=False)["input_ids"]
            return ids[:max_length], ids[:max_length]
        prompt_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
        target = tokenizer(full[len(prefix):], add_special_tokens=False)["input_ids"]
    ids = prompt_ids + target
    labels = [-100] * len(prompt_ids) + target
    if len(prompt_ids) >= max_length:  # keep the end of the prompt and some target
        keep_prompt = max(1, max_length // 2)
        ids = prompt_ids[-keep_prompt:] + target
        labels = [-100] * keep_prompt + target
    return ids[:max_length], labels[:max_length]
