"""The `thaija` console script: one typer sub-app per stage, thin wrappers over the library.

Only typer is imported here; every stage module imports its heavy dependencies inside the
command that needs them so that `thaija --help` stays fast.
"""
from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from thaija.errors import ThaijaError


try:  # typer >= 0.20 vendors click: its CLI only catches its own ClickException
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older typer on top of click
    from click import ClickException as _ClickException


class _CLIError(_ClickException):
    """A library ThaijaError as the CLI shows it: one line, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click API
        print(f"thaija: error: {self.format_message()}", file=file or sys.stderr)


class _Group(TyperGroup):
    """Maps library errors (plain exceptions) to the CLI's one-line error and exit 2."""

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except ThaijaError as exc:
            raise _CLIError(str(exc)) from exc
        except BrokenPipeError:  # `thaija detect --file f | head`: the reader left; that is success
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
            raise SystemExit(0) from None
        except (_ClickException, SystemExit, KeyboardInterrupt):
            raise
        except (RecursionError, MemoryError, UnicodeError, ValueError, OSError) as exc:
            # an input no reader foresaw: still one line, never a traceback (THAIJA_DEBUG=1 shows it)
            import os

            if os.environ.get("THAIJA_DEBUG"):
                raise
            raise _CLIError(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else 'unexpected input'}"
                            " (THAIJA_DEBUG=1 shows the traceback)") from exc

from thaija.cli import cost as _cost
from thaija.cli import index as _index
from thaija.cli import lang as _lang
from thaija.cli import rag as _rag
from thaija.cli import tune as _tune
from thaija.cli import doctor as _doctor
from thaija.cli import guard as _guard

app = typer.Typer(
    name="thaija",
    cls=_Group,
    help="Thai–Japanese (and English) toolkit: language layer, hybrid retrieval, token cost, "
    "balanced LoRA and grounded answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # errors print as one plain line (ThaijaError.show), not a rich box
)

@app.callback()
def _options(state: str = typer.Option(
        "", "--state", metavar="DIR",
        help="State folder (registry + BM25) of a Milvus SERVER index (--db http://...): the same folder "
             "for every process and machine sharing the server. Default: $THAIJA_STATE, else "
             "~/.local/state/thaija/<host_port>. A .db index keeps DB.state/ beside itself.")) -> None:
    """Thai–Japanese (and English) toolkit."""
    if state:
        import os

        os.environ["THAIJA_STATE"] = state


_lang.register(app)      # detect, segment, sentences, normalize, chunk
_cost.register(app)      # cost (tokenizers|count|compare|estimate), plan
_index.register(app)     # index (add|remove|list|stats), search, eval
_tune.register(app)      # tune (mix|train|merge|eval)
_rag.register(app)       # ask, eval-qa, serve
_guard.register(app)     # redact, review
_doctor.register(app)    # doctor


if __name__ == "__main__":  # pragma: no cover
    app()
