"""Errors shared by every stage.

``ThaijaError`` is a (typer-vendored) ``ClickException`` with exit code 2, so any library error that reaches the
CLI is printed as one line (``thaija: error: ...``) without a traceback.
"""
from __future__ import annotations

import sys

try:  # typer >= 0.20 vendors click: its CLI only catches its own ClickException
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older typer on top of click
    from click import ClickException as _ClickException


class ThaijaError(_ClickException):
    """A user-facing error: the CLI prints its message on one line and exits with code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click API
        print(f"thaija: error: {self.format_message()}", file=file or sys.stderr)


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
