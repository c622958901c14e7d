"""`thaija doctor`: what is installed and usable, with versions, and the fix for anything missing."""
from __future__ import annotations

import typer


def doctor_cmd(json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON.")) -> None:
    """Check segmenters, tokenizers, embedders, Milvus Lite, torch/CUDA and the offline models."""
    import sys

    from thaija.doctor import run_checks

    if sys.stderr.isatty():
        from rich.console import Console as _C

        with _C(stderr=True).status("checking…") as status:
            checks = run_checks(lambda i, n, name: status.update(f"checking {name} ({i}/{n})…"))
    else:  # logs and pipes: one line per check on stderr, so a slow check is visible
        checks = run_checks(lambda i, n, name: print(f"doctor: {i}/{n} {name}", file=sys.stderr, flush=True))
    if json_out:
        from thaija.cli._common import print_json

        print_json({"ok": all(c["ok"] or not c["required"] for c in checks), "checks": checks}, indent=2)
        return
    from rich.console import Console
    from rich.table import Table

    from rich import box

    table = Table(title="thaija doctor", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("component", ratio=2)
    table.add_column("status", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("detail / fix", ratio=4, overflow="fold")
    for c in checks:
        status = "[green]ok[/]" if c["ok"] else ("[red]missing[/]" if c["required"] else "[yellow]optional[/]")
        table.add_row(c["name"], status, c["version"] or "-", c["detail"] if c["ok"] else c["fix"])
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Attach `doctor`."""
    app.command("doctor")(doctor_cmd)
