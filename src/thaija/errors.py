"""Errors shared by every stage."""
from __future__ import annotations


class ThaijaError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with code 2."""


class MissingDependency(ThaijaError, ImportError):
    """An optional package is not installed; the message names the pip package."""

    def __init__(self, package: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        super().__init__(f"the package '{package}' is needed{what}: pip install {package}")
        self.package = package


def require(module: str, package: str | None = None, purpose: str = ""):
    """Import ``module`` or raise MissingDependency naming the pip package."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only when missing
        raise MissingDependency(package or module, purpose) from exc
