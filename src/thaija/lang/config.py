"""Config of the language layer's chunker, and the language choices (light: loads no segmenter).

The CLI reads :class:`ChunkConfig` to build ``thaija chunk``'s options (help and defaults written once).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from thaija.config import check_choice, setting
from thaija.errors import ThaijaError

#: ``lang`` values of segment / sentences / chunk: auto detects language spans
LANGS = ("auto", "th", "ja", "en")

Counter = Callable[[str], int]
TokenizerSpec = Union[str, Counter, object, None]


@dataclass
class ChunkConfig:
    """How to cut documents (validated)."""

    max_tokens: int = setting(256, "Upper limit of tokens per chunk.")
    overlap: int = setting(32, "Tokens of whole words shared by consecutive chunks.")
    tokenizer: TokenizerSpec = setting("words", (
        "What a token is: words (segmenter tokens), chars, bytes, or a model tokenizer name "
        "(see `thaija cost tokenizers`)."))
    lang: str = setting("auto", "Language: auto (detect spans, each to its own segmenter), th, ja or en.",
                        choices=LANGS)

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ThaijaError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not 0 <= self.overlap < self.max_tokens:
            raise ThaijaError(f"overlap must be in [0, max_tokens), got {self.overlap}")
        check_choice(self.lang, LANGS, "language")
