"""Errors shared by every stage.

``ThaijaError`` is a plain ``Exception``: the library never depends on the CLI framework. The
``thaija`` command maps it to one line (``thaija: error: ...``) and exit code 2
(:mod:`thaija.cli.main`).
"""
from __future__ import annotations


class ThaijaError(Exception):
    """A user-facing error: one line of text that says what went wrong and what to do."""

    exit_code = 2


class MissingDependency(ThaijaError, ImportError):
    """An optional package is not installed; the message names the pip package."""

    def __init__(self, package: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        ThaijaError.__init__(self, f"the package '{package}' is needed{what}: pip install {package}")
        self.package = package


def require(module: str, package: str | None = None, purpose: str = ""):
    """Import ``module`` or raise MissingDependency naming the pip package."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only when missing
        raise MissingDependency(package or module, purpose) from exc
