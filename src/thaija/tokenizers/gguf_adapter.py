"""Tokenizers rebuilt from GGUF metadata (transformers' GGUF converter), cached as tokenizer.json.

The first build takes ~10-15 s (Gemma-3's 262k vocabulary), so it prints a status line on stderr;
later loads read the cached JSON.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from thaija.errors import MissingDependency, ThaijaError
from thaija.tokenizers.base import Tokenizer, atomic_write, cache_dir, package_dir
from thaija.tokenizers.hf_adapter import from_json_text

__all__ = ["load_file", "load_package", "package_gguf"]


def package_gguf(module: str, pip: str, file: str) -> Path:
    """A GGUF file (or its first split part) shipped inside an installed package."""
    return package_dir(module, pip) / file


def cached_path(name: str, path: Path) -> Path:
    """Where the converted tokenizer.json of ``path`` is cached."""
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}".encode()).hexdigest()[:16]
    return cache_dir() / "tokenizers" / f"{name.replace('/', '_')}-{key}.json"


def load_file(name: str, path: Path) -> Tokenizer:
    """Rebuild a GGUF's tokenizer; only the metadata at the head of the file is read."""
    cached = cached_path(name, path)
    if cached.exists():
        return from_json_text(name, cached.read_text(encoding="utf-8"), kind="gguf")
    try:
        from transformers.integrations.gguf.gguf_tokenizer_mapping import (
            convert_gguf_tokenizer,
            get_gguf_tokenizer,
        )
    except ImportError as exc:
        raise MissingDependency("transformers", f"the GGUF tokenizer {name}") from exc
    # a one-off build of 10-15 s: say what is happening (always on stderr, also when not a terminal)
    print(f"thaija: building the {name} tokenizer from its GGUF vocabulary (first use, ~15 s; "
          f"cached in {cached.parent})…", file=sys.stderr, flush=True)
    try:
        architecture, tokenizer_dict, _ = get_gguf_tokenizer(str(path))
        backend, _ = convert_gguf_tokenizer(architecture, tokenizer_dict)
        text = backend.to_str()
    except Exception as exc:
        raise ThaijaError(f"{path}: could not rebuild the tokenizer from GGUF metadata ({type(exc).__name__}: {exc})") \
            from exc
    atomic_write(cached, text.encode("utf-8"))
    return from_json_text(name, text, kind="gguf")


def load_package(name: str, module: str, pip: str, file: str) -> Tokenizer:
    """Registry loader: a GGUF shipped inside an installed package."""
    path = package_gguf(module, pip, file)
    if not path.exists():
        raise ThaijaError(f"{path} is missing: reinstall {pip}")
    return load_file(name, path)
