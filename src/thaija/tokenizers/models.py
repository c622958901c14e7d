"""Model name -> tokenizer (``--model NAME``): tiktoken's ``encoding_for_model`` for OpenAI names, then
the ordered rules of ``registry.toml`` ``[[models]]``; an approximation says why in every output."""
from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass

from thaija.errors import ThaijaError

__all__ = ["ModelMatch", "lookup_model", "known_models"]


@dataclass(frozen=True)
class ModelMatch:
    """How a model name's tokens are counted."""

    model: str
    tokenizer: str
    approximation: bool
    reason: str  # why this tokenizer: the exact source, or why it is only an approximation

    def to_dict(self) -> dict:
        return asdict(self)


def _normalize(name: str) -> str:
    n = name.strip().lower().replace("_", "-").replace(" ", "-")
    if "/" in n and not n.startswith("ft:"):
        n = n.rsplit("/", 1)[1]  # hub / provider prefixes: Qwen/Qwen3-8B, anthropic/claude-…
    return n


def _rules() -> list[dict]:
    from thaija.tokenizers.registry import registry_table

    return registry_table().get("models", [])


def known_models() -> list[str]:
    """Example model names of every rule (what suggestions are drawn from)."""
    return [e for r in _rules() for e in r.get("examples", [])]


def _tiktoken_encoding(name: str) -> str | None:
    try:
        from tiktoken.model import encoding_name_for_model
    except ImportError:
        return None
    try:
        return encoding_name_for_model(name)
    except KeyError:
        return None


def lookup_model(name: str) -> ModelMatch:
    """The tokenizer that counts ``name``'s tokens; ThaijaError with close matches when unknown."""
    from thaija.tokenizers.registry import REGISTRY

    if not isinstance(name, str) or not name.strip():
        raise ThaijaError("model name must be a non-empty string (e.g. gpt-4o, claude-sonnet-4.5, qwen3-8b)")
    raw = name.strip()
    if raw in REGISTRY:
        return ModelMatch(raw, raw, False, f"'{raw}' is a tokenizer registry name")
    n = _normalize(raw)
    enc = _tiktoken_encoding(n)
    if enc is not None:
        if enc in REGISTRY:
            return ModelMatch(raw, enc, False, f"tiktoken.model.encoding_name_for_model({n!r}) = {enc}")
        if enc == "o200k_harmony":
            return ModelMatch(raw, "o200k_base", False,
                              "tiktoken maps it to o200k_harmony = o200k_base + chat special tokens (same counts on text)")
        raise ThaijaError(f"model '{raw}' uses tiktoken's {enc}, which is not shipped offline "
                          "(have cl100k_base, o200k_base)")
    for rule in _rules():
        if re.match(f"(?:{rule['pattern']})(?=$|[-.:@/_ ])", n):
            approx = rule.get("approximation")
            if approx:
                return ModelMatch(raw, rule["tokenizer"], True, approx)
            return ModelMatch(raw, rule["tokenizer"], False,
                              f"the model family's own tokenizer ({REGISTRY[rule['tokenizer']].source.split(':')[0]})")
    candidates = known_models() + list(REGISTRY)
    close = difflib.get_close_matches(n, candidates, n=5, cutoff=0.5)
    hint = f"close matches: {', '.join(close)}" if close else f"known families, e.g. {', '.join(known_models()[:12])}"
    raise ThaijaError(f"unknown model '{raw}'; {hint} (or pass --tokenizer NAME; list: thaija cost tokenizers)")
