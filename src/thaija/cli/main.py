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
    from typer._click.exceptions import UsageError as _ClickUsageError
except ImportError:  # pragma: no cover - older typer on top of click
    from click import ClickException as _ClickException
    from click import UsageError as _ClickUsageError


class _CLIError(_ClickException):
    """A library ThaijaError as the CLI shows it: one line, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click API
        print(f"thaija: error: {self.format_message()}", file=file or sys.stderr)


class _UsageError(_ClickUsageError):
    """A usage error (missing argument, unknown option): click's usage line and hint, then the
    error as every other CLI error reads, ``thaija: error: ...`` (exit 2)."""

    #: ``thaija`` / ``thaija index`` without a command: the help, then this error
    no_command = False

    def show(self, file=None) -> None:  # noqa: D102 - click API
        file = file or sys.stderr
        ctx = self.ctx
        if self.no_command and ctx is not None:
            print(ctx.get_help(), file=file)
            print(f"\nthaija: error: no command given: '{ctx.command_path} COMMAND' (the commands are listed above)",
                  file=file)
            return
        if ctx is not None:
            print(ctx.get_usage(), file=file)
            if ctx.command.get_help_option(ctx) is not None:
                print(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.", file=file)
        print(f"thaija: error: {self.format_message()}", file=file)


def _usage(exc: _ClickUsageError) -> _UsageError:
    if isinstance(exc, _UsageError):
        return exc
    out = _UsageError(exc.format_message(), exc.ctx)
    out.no_command = type(exc).__name__ == "NoArgsIsHelpError"   # its message is the whole help text
    return out


class _Group(TyperGroup):
    """Maps library errors (plain exceptions) to the CLI's one-line error and exit 2."""

    def make_context(self, info_name, args, parent=None, **extra):  # noqa: D102 - `thaija --bogus`
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _ClickUsageError as exc:
            raise _usage(exc) from None

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except _ClickUsageError as exc:  # a sub-command's usage error (parsed inside invoke)
            raise _usage(exc) from None
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
            if isinstance(exc, UnicodeEncodeError) and "surrogates" in str(exc.reason):
                # argv and file names come in with undecodable bytes kept as lone surrogates (PEP 383)
                bad = exc.object[exc.start:exc.end].encode("utf-8", "surrogateescape")[:8]
                raise _CLIError(f"a file name or argument is not valid UTF-8 (bytes {bad!r}): rename the "
                                "file or pass UTF-8 text (THAIJA_DEBUG=1 shows the traceback)") from exc
            raise _CLIError(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else 'unexpected input'}"
                            " (THAIJA_DEBUG=1 shows the traceback)") from exc

#: the stage module that registers each top-level command (help order: commands, then groups)
_OWNER: dict[str, str] = {
    "detect": "lang", "segment": "lang", "sentences": "lang", "normalize": "lang", "chunk": "lang",
    "plan": "cost", "search": "index", "eval": "index", "ask": "rag", "eval-qa": "rag", "serve": "rag",
    "keygen": "rag", "redact": "guard", "doctor": "doctor",
    "cost": "cost", "index": "index", "tune": "tune", "review": "guard",
}
_MODULES = ("lang", "cost", "index", "tune", "rag", "guard", "doctor")  # registration order

#: first help paragraph of each command, for `thaija --help` without importing the stage modules
#: (tests/test_cli_lazy.py checks it equals the commands' own help)
_SUMMARY: dict[str, str] = {
    "detect": "Detect the language of each line (th / ja / en / other) and its language spans.",
    "segment": "Split text into words. Offsets are Python string indices into each input line.",
    "sentences": "Split a document into sentences (Thai spaces, Japanese 。！？ + closing brackets, "
                 "English . ! ?).",
    "normalize": "Normalize text (zero-width chars, Thai mark order, NFKC full/half width for Japanese).",
    "chunk": "Cut one document into chunks on sentence/word boundaries, sized in the target model's tokens.",
    "plan": "Decide RAG vs LoRA fine-tuning vs both, with every cost computed from your inputs and the "
            "price table.",
    "search": "Search the index. Access control applies in every mode; offsets point into the original "
              "document.",
    "eval": "Measure retrieval quality (nDCG@10, recall@10/100, MRR@10 via ranx); chunk hits count per "
            "document (max).",
    "ask": "Answer a question from the index with citations [n] to exact document spans.",
    "eval-qa": "Score `ask` on a QA set: answer_recall (gold answer in the answer or its cited quotes), "
               "answer_only_recall (in the answer text itself), mean_answer_chars, citation_support (a "
               "cited quote holds the gold answer), refusal_rate, unanswerable_refusal_rate, latency; "
               "generated_by says what produced the answers.",
    "serve": "Serve an OpenAI-compatible API: POST /v1/chat/completions, GET /v1/models.",
    "keygen": "Make a new API key for `thaija serve --keys FILE`.",
    "redact": "Find and redact PII in Thai, Japanese and English text.",
    "doctor": "Check segmenters, tokenizers, embedders, Milvus Lite, torch/CUDA and the offline models.",
    "cost": "Token cost per language and model: tokenizer registry, counts, premiums, monthly estimates.",
    "index": "Build and maintain the hybrid index (Milvus + per-language BM25): add, remove, list, stats.",
    "tune": "Language-balanced LoRA / QLoRA fine-tuning with per-language evaluation.",
    "review": "Human review of refused, low-confidence and user-flagged answers; export approved pairs "
              "for tuning.",
}


class _LazyGroup(_Group):
    """The top-level group: lists every command from ``_SUMMARY`` (the stage modules that are not
    loaded stay unimported), so `thaija --help` imports no stage module."""

    def list_commands(self, ctx) -> list[str]:  # noqa: D102
        return list(dict.fromkeys([*_OWNER, *self.commands]))

    def format_commands(self, ctx, formatter) -> None:  # noqa: D102
        from typer._click.utils import make_default_short_help

        names = [n for n in self.list_commands(ctx) if not (n in self.commands and self.commands[n].hidden)]
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = [(n, self.commands[n].get_short_help_str(limit) if n in self.commands
                 else make_default_short_help(_SUMMARY[n], limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _requested(argv: list[str]) -> str | None:
    """The top-level command named in ``argv`` (global options skipped), else None."""
    it = iter(argv)
    for arg in it:
        if arg == "--state":
            next(it, None)
        elif not arg.startswith("-"):
            return arg
    return None


class _LazyTyper(typer.Typer):
    """The `thaija` app. Run as the console script it imports only the stage module of the command
    asked for (none for `thaija --help`); reading its commands (``registered_commands``/``groups``,
    as ``typer.main.get_command`` and tests do) registers every stage."""

    def __init__(self, **kwargs) -> None:
        self.__dict__["_kwargs"] = kwargs
        super().__init__(**kwargs)
        self.__dict__["_loaded"] = set()

    def _load(self, modules) -> None:
        import importlib

        state = self.__dict__
        if state.get("_busy"):  # a stage registering reads registered_commands: no recursion
            return
        state["_busy"] = True
        try:
            for mod in modules:
                if mod not in state["_loaded"]:
                    state["_loaded"].add(mod)
                    importlib.import_module(f"thaija.cli.{mod}").register(self)
        finally:
            state["_busy"] = False

    @property
    def registered_commands(self):  # noqa: D102
        if "_loaded" in self.__dict__:
            self._load(_MODULES)
        return self.__dict__["_commands"]

    @registered_commands.setter
    def registered_commands(self, value) -> None:
        self.__dict__["_commands"] = value

    @property
    def registered_groups(self):  # noqa: D102
        if "_loaded" in self.__dict__:
            self._load(_MODULES)
        return self.__dict__["_groups"]

    @registered_groups.setter
    def registered_groups(self, value) -> None:
        self.__dict__["_groups"] = value

    def __call__(self, *args, **kwargs):  # noqa: D102
        if self.__dict__["_loaded"]:  # already introspected: the full app
            return super().__call__(*args, **kwargs)
        argv = kwargs.get("args", args[0] if args else None)
        name = _requested(list(sys.argv[1:] if argv is None else argv))
        part = typer.Typer(**self.__dict__["_kwargs"])
        part.registered_callback = self.registered_callback
        if name is not None:  # one stage; an unknown name loads all (click then suggests the close ones)
            for mod in ([_OWNER[name]] if name in _OWNER else _MODULES):
                import importlib

                importlib.import_module(f"thaija.cli.{mod}").register(part)
        return part(*args, **kwargs)


app = _LazyTyper(
    name="thaija",
    cls=_LazyGroup,
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


# stages register lazily (see _LazyTyper): lang (detect, segment, sentences, normalize, chunk),
# cost (cost, plan), index (index, search, eval), tune, rag (ask, eval-qa, serve, keygen),
# guard (redact, review), doctor


if __name__ == "__main__":  # pragma: no cover
    app()
