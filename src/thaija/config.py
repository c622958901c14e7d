"""Shared paths, defaults and the config-field helpers (floor 0).

Each component keeps one validated config dataclass; its fields are made with :func:`setting`
(``metadata={"help": …}``) so that the CLI options take their help and default from them
(:func:`thaija.cli._common.option`). :func:`cache_dir` decides where thaija may write caches (never
the user's home folder unless asked)."""
from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import MISSING, Field, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from thaija.errors import ThaijaError

DEFAULT_DB = "./thaija.db"


def cache_dir() -> Path:
    """thaija's cache folder: ``$THAIJA_CACHE``, else ``<repo>/.cache/thaija`` when running from a
    writable source checkout, else ``<tempdir>/thaija-cache``. Nothing goes to ``~`` unless
    ``THAIJA_CACHE`` points there."""
    env = os.environ.get("THAIJA_CACHE")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return repo / ".cache" / "thaija"
    return Path(tempfile.gettempdir()) / "thaija-cache"


# --------------------------------------------------------------------------- config fields
# Every component's config is a dataclass whose fields carry their help text (PEFT ``LoraConfig``
# style); the CLI builds its options from these fields (thaija.cli._common.option), so a help
# string and a default are written once.

_MUTABLE = (list, dict, set)


def setting(default: Any = MISSING, help: str = "", *, choices: Sequence[Any] | None = None,
            factory: Callable[[], Any] | None = None, **metadata: Any) -> Any:
    """A dataclass field with ``metadata={"help": help, "choices": …}``. Mutable defaults (list, dict,
    set) are copied per instance; ``factory`` builds the default per instance (e.g. an embedded config);
    neither ``default`` nor ``factory`` = a required field."""
    if not help:
        raise ValueError("setting() needs a help text")
    meta = {"help": help, **metadata}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    if isinstance(default, _MUTABLE):
        return field(default_factory=lambda d=default: copy.deepcopy(d), metadata=meta)
    return field(default=default, metadata=meta)


def config_field(cls: type, name: str) -> Field:
    """The dataclass field ``name`` of the config class ``cls`` (KeyError if it has none)."""
    try:
        return {f.name: f for f in fields(cls)}[name]
    except KeyError:
        raise KeyError(f"{cls.__name__} has no field {name!r}") from None


def help_of(cls: type, name: str) -> str:
    """The help text of ``cls.name`` (from its field metadata)."""
    text = config_field(cls, name).metadata.get("help")
    if not text:
        raise KeyError(f"{cls.__name__}.{name} has no help metadata")
    return text


def default_of(cls: type, name: str) -> Any:
    """The default of ``cls.name`` (``MISSING`` for a required field)."""
    f = config_field(cls, name)
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return MISSING


def choices_of(cls: type, name: str) -> tuple[Any, ...] | None:
    """The allowed values of ``cls.name`` when its field declares them."""
    return config_field(cls, name).metadata.get("choices")


def check_choice(value: Any, choices: Sequence[Any], what: str) -> Any:
    """``value`` when it is one of ``choices``, else a ThaijaError naming them."""
    if value not in choices:
        raise ThaijaError(f"unknown {what} {value!r}: use {', '.join(map(str, choices))}")
    return value


# --------------------------------------------------------------------------- lazy stage packages

def lazy_stage(package: str, exports: Mapping[str, str]) -> None:
    """Let the stage ``package`` resolve its public names on first use (``exports``: name -> submodule,
    or a full module path for a name re-exported from another stage),
    so that importing one light submodule (e.g. ``thaija.retrieve.config``, read by the CLI to build
    its options) does not load the whole stage.

    Same names as an eager ``__init__``: where a function shares its submodule's name
    (``thaija.retrieve.search``), the package attribute stays the function even after the submodule
    is imported, exactly as ``from thaija.retrieve.search import search`` in ``__init__`` would leave it."""
    import importlib
    import sys
    import types

    mod = sys.modules[package]

    class _Stage(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            where = exports.get(name)
            if where is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            module = where if "." in where else f"{package}.{where}"  # a submodule, or a full path
            value = getattr(importlib.import_module(module), name)
            types.ModuleType.__setattr__(self, name, value)
            return value

        def __setattr__(self, name: str, value: Any) -> None:
            if (exports.get(name) == name and isinstance(value, types.ModuleType)
                    and value.__name__ == f"{package}.{name}" and hasattr(value, name)):
                value = getattr(value, name)  # the import system binding the submodule: keep the function
            types.ModuleType.__setattr__(self, name, value)

        def __dir__(self) -> list[str]:
            return sorted(set(super().__dir__()) | set(exports))

    mod.__class__ = _Stage
