"""Configs of the guard stage (light: imports no detector, so the CLI can build its options from them).

:class:`RedactConfig` says which PII types are redacted and how the placeholder looks;
:class:`thaija.guard.review.ReviewConfig` says where the review queue lives.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from thaija.config import setting
from thaija.errors import ThaijaError

PII_TYPES: tuple[str, ...] = ("th_national_id", "jp_my_number", "payment_card", "phone", "email")
DEFAULT_PLACEHOLDER = "[{TYPE}]"  # {TYPE} -> PHONE, {type} -> phone


class GuardError(ThaijaError, ValueError):
    """Invalid guard configuration (unknown PII type, bad placeholder)."""


def parse_types(types: str | Iterable[str] | None) -> tuple[str, ...]:
    """Validate a type selection ("phone,email", a list, or None for all) in canonical order."""
    if types is None:
        return PII_TYPES
    items = [t.strip() for t in types.split(",")] if isinstance(types, str) else [str(t).strip() for t in types]
    items = [t for t in items if t]
    unknown = sorted(set(items) - set(PII_TYPES))
    if unknown:
        raise GuardError(f"unknown PII type(s) {', '.join(unknown)}; choose from {', '.join(PII_TYPES)}")
    if not items:
        raise GuardError(f"no PII type selected; choose from {', '.join(PII_TYPES)}")
    return tuple(t for t in PII_TYPES if t in items)


@dataclass(frozen=True)
class RedactConfig:
    """Which PII types to redact and how the placeholder looks (``{TYPE}`` / ``{type}`` fields)."""

    types: tuple[str, ...] | str | None = setting(None, (
        "Comma-separated PII types to redact (default: all): " + ", ".join(PII_TYPES) + "."), choices=PII_TYPES)
    placeholder: str = setting(DEFAULT_PLACEHOLDER, "Replacement text; {TYPE} becomes e.g. PHONE, {type} becomes phone.")

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", parse_types(self.types))  # None / "phone,email" -> a tuple
        try:
            self.placeholder.format(TYPE="X", type="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise GuardError(
                f"bad placeholder {self.placeholder!r}: only {{TYPE}} and {{type}} fields are allowed"
            ) from exc

    def placeholder_for(self, pii_type: str) -> str:
        """The replacement text for one type, e.g. ``[PHONE]``."""
        return self.placeholder.format(TYPE=pii_type.upper(), type=pii_type)
