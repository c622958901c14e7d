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

from thaija.config import setting
from thaija.errors import ThaijaError
from thaija.tune.sampling import STRATEGIES


@dataclass
class TuneConfig:
    """Everything a `thaija tune train` run needs. Validated on construction."""

    data: str = setting("", "Training JSONL ({'text'} / {'prompt','completion'} / {'messages'} records, optional 'lang').")
    eval_data: str | None = setting(None, "Held-out JSONL (else --eval-split per language).")
    eval_split: float = setting(0.1, "Fraction held out per language (stratified).")
    max_eval_per_lang: int | None = setting(200, "Cap on evaluation examples per language (speed).")
    model: str | None = setting(None, (
        "Base model: local folder, .gguf file or hub id (online only). Default: offline Gemma-3-270m."))
    output: str = setting("tune-out", "Output folder.")
    strategy: str = setting("temperature", (
        "Language mix: proportional (share ∝ n), temperature (share ∝ n^alpha), unimax (uniform, capped at "
        "--max-epochs passes per language) or weights (--weights)."), choices=STRATEGIES)
    alpha: float = setting(0.3, "Temperature exponent alpha (share ∝ n^alpha): 1 = proportional, 0 = uniform.")
    max_epochs: float = setting(4.0, "unimax: at most this many passes over a language's data.")
    weights: dict[str, float] | None = setting(None, "Explicit relative weights for --strategy weights, e.g. 'th=1,ja=1'.")
    # LoRA (PEFT LoraConfig names)
    r: int = setting(16, "LoRA rank.")
    lora_alpha: int = setting(32, "LoRA alpha (scaling = lora_alpha / r).")
    lora_dropout: float = setting(0.05, "Dropout on the LoRA layers.")
    target_modules: list[str] | str | None = setting(None, "Modules that get LoRA layers (default: chosen per architecture).")
    qlora: bool = setting(False, (
        "QLoRA: 4-bit NF4 base model (bitsandbytes, CUDA only; a GGUF is dequantised first). Stops with an "
        "error on a machine without CUDA."))
    # optimisation
    max_steps: int = setting(100, "Optimizer steps.")
    batch_size: int = setting(4, "Examples per micro-batch.")
    gradient_accumulation_steps: int = setting(1, "Gradient accumulation steps.")
    learning_rate: float = setting(2e-4, "Peak learning rate.")
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    warmup_steps: int = setting(0, "Linear warm-up steps.")
    max_length: int = setting(256, "Tokens per example.")
    seed: int = setting(0, "Random seed.")
    # evaluation / checkpoints
    eval_every: int = setting(25, "Per-language eval every N steps (0 = only at the end).")
    save_every: int = setting(50, "Checkpoint every N steps (0 = none).")
    keep_checkpoints: int = setting(2, "Checkpoints kept in output/checkpoints.")
    resume: bool = setting(False, "Continue from the latest checkpoint in --output.")
    languages: list[str] | None = setting(None, "Train on these languages only (default: all in the data).")
    num_threads: int | None = setting(None, (
        "CPU threads for torch (1 is fastest on a busy shared CPU; default: torch's)."))
    progress: bool = setting(True, "Show a progress bar.")
    extra: dict[str, Any] = field(default_factory=dict, repr=False, metadata={
        "help": "Unknown settings read from a file (reported as an error)."})

    def __post_init__(self) -> None:
        bad: list[str] = []
        if self.strategy not in STRATEGIES:
            bad.append(f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})")
        if self.strategy == "weights" and not self.weights:
            bad.append("strategy 'weights' needs weights")
        if self.weights and self.strategy != "weights":
            bad.append(f"weights are used only by strategy 'weights' (got strategy {self.strategy!r})")
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
