"""One JSON form for every span type (tokens, sentences, language spans, chunks, PII findings).

Each span dataclass names the fields its JSON carries in ``_json``; ``to_dict`` is written once.
"""
from __future__ import annotations

from typing import Any, ClassVar


class JsonSpan:
    """Mixin: ``to_dict()`` returns the fields listed in the class's ``_json``, in that order."""

    _json: ClassVar[tuple[str, ...]] = ("start", "end")

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._json}
