"""`thaija doctor`: what is installed and usable, with versions, and the fix for anything missing."""
from __future__ import annotations

import typer


def doctor_cmd(json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON.")) -> None:
    """Check segmenters, tokenizers, embedders, Milvus Lite, torch/CUDA and the offline models."""
    from thaija.doctor import run_checks

    checks = run_checks()
    if json_out:
        from thaija.cli._common import print_json

        print_json({"ok": all(c["ok"] or not c["required"] for c in checks), "checks": checks}, indent=2)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="thaija doctor")
    for col in ("component", "status", "version", "detail / fix"):
        table.add_column(col)
    for c in checks:
        status = "[green]ok[/]" if c["ok"] else ("[red]missing[/]" if c["required"] else "[yellow]optional[/]")
        table.add_row(c["name"], status, c["version"] or "-", c["detail"] if c["ok"] else c["fix"])
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach `doctor`."""
    app.command("doctor")(doctor_cmd)
