"""SentencePiece models (Mistral v1/v3 files shipped by mistral-common, or any local ``*.model``)."""
from __future__ import annotations

import os
from pathlib import Path

from thaija.errors import MissingDependency, ThaijaError
from thaija.tokenizers.base import Tokenizer, package_dir

__all__ = ["SentencePieceTokenizer", "load_file", "load_mistral", "mistral_file"]


class SentencePieceTokenizer(Tokenizer):
    """A sentencepiece model (no BOS/EOS: the library's default)."""

    def __init__(self, name: str, processor) -> None:
        super().__init__(name, "sentencepiece")
        self.processor = processor

    def encode(self, text: str) -> list[int]:
        return self.processor.encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.processor.encode(list(texts), num_threads=os.cpu_count() or 2)

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()


def mistral_file(fname: str) -> Path:
    """A file under ``mistral_common/data``."""
    path = package_dir("mistral_common", "mistral-common") / "data" / fname
    if not path.exists():
        raise ThaijaError(f"{path} is missing: reinstall mistral-common")
    return path


def load_file(name: str, path: Path) -> Tokenizer:
    """A local sentencepiece model file."""
    try:
        import sentencepiece as spm
    except ImportError as exc:
        raise MissingDependency("sentencepiece", name) from exc
    return SentencePieceTokenizer(name, spm.SentencePieceProcessor(model_file=str(path)))


def load_mistral(name: str, file: str) -> Tokenizer:
    """Registry loader: a sentencepiece model shipped by mistral-common."""
    return load_file(name, mistral_file(file))
