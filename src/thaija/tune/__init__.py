"""Language-balanced LoRA / QLoRA fine-tuning with per-language evaluation.

Modules: ``config`` (TuneConfig), ``data`` (JSONL records, validation, stratified split),
``sampling`` (mix planning + BalancedSampler); model loading lives in :mod:`thaija.models`,
``train`` (the training loop), ``evaluate`` (per-language loss), ``report`` (report.json + plot).
Everything heavy is imported lazily.
"""
from __future__ import annotations

from typing import Any

__all__ = ["TuneConfig", "load_records", "plan_mix", "MixPlan", "BalancedSampler", "train",
           "evaluate", "load_causal_lm", "merge_adapter"]

_WHERE = {"TuneConfig": "config", "load_records": "data", "plan_mix": "sampling",
          "MixPlan": "sampling", "BalancedSampler": "sampling", "train": "train",
          "evaluate": "evaluate", "load_causal_lm": "model", "merge_adapter": "model"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"thaija.tune.{_WHERE[name]}"), name)
    raise AttributeError(name)
