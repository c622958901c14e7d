"""One validated config dataclass per component, and CLI help written once.

Every field of every ``*Config`` dataclass carries its help text (``metadata={"help": …}``); every CLI
option that maps to a config field takes its help and default from that field
(:func:`thaija.cli._common.option`), so ``thaija … --help`` and the library can never drift apart.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import warnings

import pytest
import typer
from typer.main import get_command

import thaija
from thaija.cli.main import app
from thaija.config import check_choice, default_of, help_of, setting
from thaija.errors import ThaijaError

#: modules kept as deprecated aliases of moved ones (importing them only warns)
_ALIASES = {"thaija.rag.guard", "thaija.rag.review", "thaija.tune.model", "thaija.cost.tokenizers"}

#: commands that must build their options from a config class (command path -> class path)
_COMMAND_CONFIGS = {
    "cost estimate": "thaija.cost.estimate.EstimateConfig",
    "plan": "thaija.cost.plan.PlanConfig",
    "redact": "thaija.guard.config.RedactConfig",
    "chunk": "thaija.lang.config.ChunkConfig",
    "search": "thaija.retrieve.config.SearchConfig",
    "eval": "thaija.retrieve.config.EvalConfig",
    "index add": "thaija.index.config.IndexConfig",
    "tune mix": "thaija.tune.config.TuneConfig",
    "tune train": "thaija.tune.config.TuneConfig",
    "tune qa-data": "thaija.rag.qa_data.QADataConfig",
    "ask": "thaija.rag.config.AskConfig",
    "eval-qa": "thaija.rag.config.QAEvalConfig",
    "serve": "thaija.rag.config.ServeConfig",
}

#: where the CLI contract differs from the library default, on purpose (command, option) -> why
_CLI_DEFAULTS = {
    ("plan", "update_frequency"): "the CLI requires --update-frequency (issue contract); the library defaults to monthly",
    ("serve", "db"): "the CLI finds the index ($THAIJA_DB, else the nearest thaija.db); the library takes a path",
    ("index add", "db"): "the CLI finds the index ($THAIJA_DB, else the nearest thaija.db, else creates ./thaija.db)",
}


def _load(path: str):
    mod, _, name = path.rpartition(".")
    return getattr(importlib.import_module(mod), name)


def _commands(typer_app: typer.Typer, prefix: str = ""):
    """``(path, callback)`` of every command of a typer app, sub-apps included."""
    for info in typer_app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        yield f"{prefix}{name}", info.callback
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        name = group.name or sub.info.name
        yield from _commands(sub, f"{prefix}{name} ")


def _click_command(path: str):
    cmd = get_command(app)
    for part in path.split():
        cmd = cmd.commands[part]
    return cmd


def _config_classes() -> list[type]:
    """Every ``*Config`` dataclass defined in the package."""
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for info in pkgutil.walk_packages(thaija.__path__, "thaija."):
            if info.name in _ALIASES or info.name.endswith("__main__"):
                continue
            mod = importlib.import_module(info.name)
            for name, obj in vars(mod).items():
                if (name.endswith("Config") and inspect.isclass(obj) and dataclasses.is_dataclass(obj)
                        and obj.__module__ == mod.__name__):
                    found[f"{obj.__module__}.{name}"] = obj
    return [found[k] for k in sorted(found)]


CONFIGS = _config_classes()
COMMANDS = list(_commands(app))


def test_the_walk_finds_the_commands_and_configs():
    paths = {p for p, _ in COMMANDS}
    assert set(_COMMAND_CONFIGS) <= paths, set(_COMMAND_CONFIGS) - paths
    names = {c.__name__ for c in CONFIGS}
    assert {"EstimateConfig", "PlanConfig", "RedactConfig", "ChunkConfig", "SearchConfig", "EvalConfig"} <= names


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_config_field_has_help(cls):
    missing = [f.name for f in dataclasses.fields(cls) if not str(f.metadata.get("help") or "").strip()]
    assert not missing, f"{cls.__name__}: fields without metadata help: {missing}"


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_config_validates(cls):
    assert "__post_init__" in vars(cls), f"{cls.__name__} has no __post_init__ validation"


@pytest.mark.parametrize("path,callback", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_options_take_help_and_default_from_their_config_field(path, callback):
    """The built click option shows the field's help and default; a parameter named like a field of
    the command's config class must be generated from it (never a second, hand-written help)."""
    params = inspect.signature(callback).parameters
    click_params = {p.name: p for p in _click_command(path).params}
    classes = {_load(_COMMAND_CONFIGS[path])} if path in _COMMAND_CONFIGS else set()
    for name, param in params.items():
        marker = getattr(param.default, "thaija_field", None)
        if marker is None:
            continue
        cls, field_name = marker.cls, marker.name
        classes.add(cls)
        cp = click_params[name]
        want_help = help_of(cls, field_name) + (f" {marker.note}" if marker.note else "")
        want = default_of(cls, field_name)
        if marker.unset:  # "not given" -> a config file or the library decides; the help shows the default
            assert cp.default is None, f"{path} --{name}: an unset option defaults to None"
            if want is not dataclasses.MISSING and want not in (None, ""):
                want_help += f" [default: {want}]"
        elif marker.overridden:
            assert (path, field_name) in _CLI_DEFAULTS, f"{path} --{name}: default overridden without a reason"
        elif want is dataclasses.MISSING:
            assert cp.required, f"{path} --{name}: {cls.__name__}.{field_name} has no default, the option must be required"
        else:
            assert cp.default == want, f"{path} --{name}: default {cp.default!r} != {cls.__name__}.{field_name} {want!r}"
        assert cp.help == want_help, f"{path} --{name}: help differs from {cls.__name__}.{field_name}"
    for cls in classes:
        fields = {f.name for f in dataclasses.fields(cls)}
        for name, param in params.items():
            if isinstance(param.default, typer.models.ArgumentInfo):
                continue  # a positional argument is not an option
            if name in fields and getattr(param.default, "thaija_field", None) is None:
                pytest.fail(f"{path} --{name}: written by hand; use option({cls.__name__}, {name!r}, …)")


def test_cli_help_shows_the_field_help():
    from typer.testing import CliRunner

    from thaija.retrieve.config import SearchConfig

    out = CliRunner().invoke(app, ["search", "--help"], terminal_width=200).output
    assert " ".join(help_of(SearchConfig, "mode").split()) in " ".join(out.split())


def test_setting_and_choices():
    @dataclasses.dataclass
    class Demo:
        name: str = setting(help="A required name.")
        tags: list = setting(["a"], "Tags (a fresh list per instance).")
        mode: str = setting("x", "x or y.", choices=("x", "y"))

        def __post_init__(self) -> None:
            check_choice(self.mode, ("x", "y"), "mode")

    assert default_of(Demo, "name") is dataclasses.MISSING
    a, b = Demo("n"), Demo("m")
    assert a.tags == ["a"] and a.tags is not b.tags
    with pytest.raises(ThaijaError, match="unknown mode 'z': use x, y"):
        Demo("n", mode="z")
    with pytest.raises(KeyError):
        help_of(Demo, "nope")


def _bad(path: str, **kwargs):
    return pytest.param(path, kwargs, id=f"{path.rpartition('.')[2]}-{'-'.join(kwargs)}")


@pytest.mark.parametrize("path,kwargs", [
    _bad("thaija.cost.estimate.EstimateConfig", from_texts="docs", db="x.db"),
    _bad("thaija.cost.estimate.EstimateConfig", queries_per_month=0),
    _bad("thaija.cost.plan.PlanConfig", need="both", db="x.db", from_texts="docs"),
    _bad("thaija.cost.plan.PlanConfig", need="both", update_frequency="hourly"),
    _bad("thaija.guard.config.RedactConfig", types="phone,ssn"),
    _bad("thaija.guard.config.RedactConfig", placeholder="[{kind}]"),
    _bad("thaija.lang.config.ChunkConfig", max_tokens=16, overlap=16),
    _bad("thaija.lang.config.ChunkConfig", lang="ko"),
    _bad("thaija.retrieve.config.SearchConfig", mode="sparse"),
    _bad("thaija.retrieve.config.SearchConfig", bm25_weight=1.5),
    _bad("thaija.retrieve.config.EvalConfig", k=5),
    _bad("thaija.retrieve.config.EvalConfig", fusion="sum"),
    _bad("thaija.index.config.IndexConfig", db="notes.txt"),
    _bad("thaija.index.config.IndexConfig", chunk_tokens=64, overlap=64),
    _bad("thaija.index.config.BM25Config", b=1.5),
    _bad("thaija.tune.config.TuneConfig", strategy="weights"),
    _bad("thaija.tune.config.TuneConfig", weights={"th": 1.0}, strategy="temperature"),
    _bad("thaija.rag.config.AskConfig", adapter="adapter-dir"),
    _bad("thaija.rag.config.AskConfig", base_url="http://127.0.0.1:9/v1"),
    _bad("thaija.rag.config.AskConfig", mode="sparse"),
    _bad("thaija.rag.config.QAEvalConfig", limit=0),
    _bad("thaija.rag.config.ServeConfig", host="0.0.0.0", keys=None, insecure=False),
    _bad("thaija.rag.qa_data.QADataConfig", mode="sparse"),
])
def test_inconsistent_settings_are_refused(path, kwargs):
    with pytest.raises(ThaijaError):
        _load(path)(**kwargs)


def test_library_and_cli_share_the_defaults():
    from thaija.cost.estimate import EstimateConfig
    from thaija.guard.config import PII_TYPES, RedactConfig

    assert EstimateConfig(models="all").models is None
    assert EstimateConfig(models="gpt-4o, claude-sonnet-4.5").models == ["gpt-4o", "claude-sonnet-4.5"]
    assert RedactConfig().types == PII_TYPES


def test_ask_config_is_embedded_not_copied():
    from thaija.rag.config import AskConfig, QAEvalConfig, ServeConfig

    ask_fields = {f.name for f in dataclasses.fields(AskConfig)}
    for cls in (QAEvalConfig, ServeConfig):
        assert not ask_fields & {f.name for f in dataclasses.fields(cls)}, f"{cls.__name__} copies AskConfig fields"
        assert isinstance(cls().ask, AskConfig)
    assert QAEvalConfig().ask.review is False  # evaluation never fills the review queue
    assert AskConfig(groups="hr, finance,").groups == ("hr", "finance")


def test_enumerations_are_defined_once():
    rc, search, evaluate = (importlib.import_module(f"thaija.retrieve.{m}") for m in ("config", "search", "evaluate"))

    assert search.MODES is rc.MODES and search.FUSIONS is rc.FUSIONS and evaluate.EVAL_MODES is rc.EVAL_MODES
    assert search.SearchConfig is rc.SearchConfig and evaluate.EvalConfig is rc.EvalConfig
    rag_config, generators, pipeline, qa_data = (importlib.import_module(f"thaija.rag.{m}")
                                                 for m in ("config", "generators", "pipeline", "qa_data"))
    assert rag_config.MODES is rc.MODES and pipeline.MODES is rc.MODES and qa_data.MODES is rc.MODES
    assert generators.GENERATORS is rag_config.GENERATORS
    assert pipeline.AskConfig is rag_config.AskConfig


def test_cli_import_stays_light():
    """The configs the CLI reads are light: building every command loads no segmenter, numpy or index."""
    import subprocess
    import sys

    code = ("import sys; from typer.main import get_command; from thaija.cli.main import app; get_command(app); "
            "print(','.join(m for m in ('numpy', 'thaija.lang.segment', 'thaija.index.store', 'thaija.retrieve.search',"
            " 'thaija.guard.pii', 'thaija.rag.pipeline', 'thaija.tune.train') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"loaded at CLI start: {out.stdout.strip()}"


def test_lazy_stage_keeps_the_eager_names():
    """``from thaija.lang import segment`` is the function even after the submodule was imported."""
    import subprocess
    import sys

    code = ("import thaija.lang.config, thaija.retrieve.config, thaija.tune.config\n"
            "import thaija.lang.segment, thaija.retrieve.search, thaija.tune.train, thaija.tune.evaluate\n"
            "from thaija.lang import segment, chunk, detect\n"
            "from thaija.retrieve import search\n"
            "from thaija.tune import train, evaluate\n"
            "print(all(callable(f) and not hasattr(f, '__path__') and type(f).__name__ == 'function' "
            "for f in (segment, chunk, detect, search, train, evaluate)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
