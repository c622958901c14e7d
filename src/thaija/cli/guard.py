"""CLI for the rag guardrails (redact, review) (thin: parse, call the library, print)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the top-level app."""
    return None
