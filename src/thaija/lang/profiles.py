"""Per-language profiles: data files ``thaija/lang/profiles_data/{th,ja,en}.toml`` shipped as package data.

A profile holds the default segmenter engine, normalization options, sentence-end rules and the
prompt wording the RAG stage uses (in that language).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

LANGS: tuple[str, ...] = ("th", "ja", "en")


@dataclass(frozen=True)
class Profile:
    """One language's defaults (see ``lang/profiles_data/<code>.toml``)."""

    code: str
    name: str
    segment: dict[str, Any] = field(default_factory=dict)
    normalize: dict[str, Any] = field(default_factory=dict)
    sentences: dict[str, Any] = field(default_factory=dict)
    prompt: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return self.segment.get("engine", "")


@functools.lru_cache(maxsize=None)
def get_profile(lang: str) -> Profile:
    """Load the profile of ``lang`` (th, ja or en); unknown codes fall back to English rules."""
    code = lang if lang in LANGS else "en"
    data = tomllib.loads(resources.files("thaija.lang").joinpath("profiles_data", f"{code}.toml").read_text("utf-8"))
    return Profile(
        code=lang if lang in LANGS else code,
        name=data.get("name", code),
        segment=data.get("segment", {}),
        normalize=data.get("normalize", {}),
        sentences=data.get("sentences", {}),
        prompt=data.get("prompt", {}),
    )
