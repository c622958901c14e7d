"""Language-balanced LoRA / QLoRA fine-tuning with per-language evaluation.

Modules: ``config`` (TuneConfig), ``data`` (JSONL records, validation, stratified split),
``sampling`` (mix planning + BalancedSampler); model loading lives in :mod:`thaija.models`,
``train`` (the training loop), ``evaluate`` (per-language loss), ``report`` (report.json + plot).
Everything heavy is imported lazily.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from thaija.config import lazy_stage

__all__ = ["TuneConfig", "load_records", "plan_mix", "MixPlan", "BalancedSampler", "train",
           "evaluate", "load_causal_lm", "merge_adapter"]

if TYPE_CHECKING:  # pragma: no cover
    from thaija.models.causal_lm import load_causal_lm, merge_adapter
    from thaija.tune.config import TuneConfig
    from thaija.tune.data import load_records
    from thaija.tune.evaluate import evaluate
    from thaija.tune.sampling import BalancedSampler, MixPlan, plan_mix
    from thaija.tune.train import train

# names resolve on first use; `train` and `evaluate` stay the functions even after their submodules
# are imported, and model loading comes from its home (thaija.models), not the deprecated tune.model alias
lazy_stage(__name__, {"TuneConfig": "config", "load_records": "data", "plan_mix": "sampling",
                      "MixPlan": "sampling", "BalancedSampler": "sampling", "train": "train",
                      "evaluate": "evaluate", "load_causal_lm": "thaija.models.causal_lm",
                      "merge_adapter": "thaija.models.causal_lm"})
