"""Mistral's Tekken tokenizer (tiktoken-based) from mistral-common's ``tekken*.json`` files."""
from __future__ import annotations

from pathlib import Path

from thaija.errors import MissingDependency
from thaija.tokenizers.base import Tokenizer
from thaija.tokenizers.sentencepiece_adapter import mistral_file
from thaija.tokenizers.tiktoken_adapter import TiktokenTokenizer

__all__ = ["load_file", "load_mistral"]


def load_file(name: str, path: Path) -> Tokenizer:
    """A local ``tekken*.json``; ids equal ``Tekkenizer.encode(s, bos=False, eos=False)``."""
    try:
        from mistral_common.tokens.tokenizers.tekken import Tekkenizer
    except ImportError as exc:
        raise MissingDependency("mistral-common", name) from exc
    tk = Tekkenizer.from_file(path)
    # Tekkenizer.encode(s, bos=False, eos=False) == inner tiktoken ids + num_special_tokens
    return TiktokenTokenizer(name, tk._model, kind="tekken", id_offset=tk.num_special_tokens, vocab=tk.n_words)


def load_mistral(name: str, file: str) -> Tokenizer:
    """Registry loader: a Tekken file shipped by mistral-common."""
    return load_file(name, mistral_file(file))
