"""TuneConfig: the one validated configuration of a fine-tuning run (loadable from TOML).

Field names follow PEFT / transformers where they exist (``r``, ``lora_alpha``, ``lora_dropout``,
``target_modules``, ``learning_rate``, ``gradient_accumulation_steps``). A TOML file may hold the
fields at top level or under ``[tune]``; CLI flags override the file.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thaija.errors import ThaijaError
from thaija.tune.sampling import STRATEGIES


@dataclass
class TuneConfig:
    """Everything a `thaija tune train` run needs. Validated on construction."""

    data: str = ""                      #: training JSONL
    eval_data: str | None = None        #: held-out JSONL; else eval_split is taken per language
    eval_split: float = 0.1             #: fraction held out per language (stratified)
    max_eval_per_lang: int | None = 200  #: cap on eval examples per language (speed)
    model: str | None = None            #: None = offline default (Gemma-3-270m)
    output: str = "tune-out"
    strategy: str = "temperature"
    alpha: float = 0.3
    max_epochs: float = 4.0
    weights: dict[str, float] | None = None
    # LoRA (PEFT LoraConfig names)
    r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] | str | None = None  #: None = chosen per architecture
    qlora: bool = False                 #: 4-bit base (needs CUDA + bitsandbytes); LoRA on CPU
    # optimisation
    max_steps: int = 100
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_length: int = 256
    seed: int = 0
    # evaluation / checkpoints
    eval_every: int = 25                #: steps between per-language evals (0 = only at the end)
    save_every: int = 50                #: steps between checkpoints (0 = none)
    keep_checkpoints: int = 2
    resume: bool = False                #: continue from the latest checkpoint in output/
    languages: list[str] | None = None  #: restrict to these languages
    num_threads: int | None = None      #: CPU threads for torch (None = torch's default); 1 is
                                        #: much faster than 2 on a CPU shared with other jobs
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        bad: list[str] = []
        if self.strategy not in STRATEGIES:
            bad.append(f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})")
        if self.strategy == "weights" and not self.weights:
            bad.append("strategy 'weights' needs weights")
        if not (0 <= self.alpha and math.isfinite(self.alpha)):
            bad.append(f"alpha must be >= 0 (got {self.alpha})")
        if not self.max_epochs > 0:
            bad.append(f"max_epochs must be > 0 (got {self.max_epochs})")
        if not 0 <= self.eval_split < 1:
            bad.append(f"eval_split must be in [0, 1) (got {self.eval_split})")
        if self.eval_data is None and self.eval_split == 0:
            bad.append("need eval_data or eval_split > 0 (per-language evaluation)")
        for name in ("r", "lora_alpha", "max_steps", "batch_size", "gradient_accumulation_steps",
                     "max_length"):
            if int(getattr(self, name)) < 1:
                bad.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        for name in ("eval_every", "save_every", "warmup_steps", "seed"):
            if int(getattr(self, name)) < 0:
                bad.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.num_threads is not None and self.num_threads < 1:
            bad.append("num_threads must be >= 1")
        if self.keep_checkpoints < 1:
            bad.append("keep_checkpoints must be >= 1")
        if self.max_eval_per_lang is not None and self.max_eval_per_lang < 1:
            bad.append("max_eval_per_lang must be >= 1")
        if not 0 <= self.lora_dropout < 1:
            bad.append(f"lora_dropout must be in [0, 1) (got {self.lora_dropout})")
        if not self.learning_rate > 0:
            bad.append(f"learning_rate must be > 0 (got {self.learning_rate})")
        if self.extra:
            bad.append(f"unknown settings: {', '.join(sorted(self.extra))}")
        if bad:
            raise ThaijaError("invalid tune config: " + "; ".join(bad))

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> TuneConfig:
        """Read a TOML file (top level or ``[tune]`` table); ``overrides`` (not None) win."""
        try:
            import tomllib
        except ImportError:  # pragma: no cover - python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ThaijaError(f"{path}: no such config file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ThaijaError(f"{path}: invalid TOML: {exc}") from None
        raw = raw.get("tune", raw)
        return cls.from_dict({**raw, **{k: v for k, v in overrides.items() if v is not None}})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TuneConfig:
        """Build from a dict; unknown keys are reported as an error."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        extra = {k: v for k, v in d.items() if k not in names}
        try:
            return cls(**known, extra=extra)
        except TypeError as exc:
            raise ThaijaError(f"invalid tune config: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of the settings."""
        d = dataclasses.asdict(self)
        d.pop("extra")
        return d
