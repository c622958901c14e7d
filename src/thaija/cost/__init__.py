"""Token cost: tokenizer registry, counts, premiums on parallel text, monthly estimates, RAG/LoRA planner.

    from thaija.cost import get_tokenizer
    from thaija.cost.compare import compare
    from thaija.cost.estimate import estimate
    from thaija.cost.plan import plan
    get_tokenizer("o200k_base").count("ภาษาไทย")
    compare(None, tokenizers="cl100k_base,o200k_base,gemma3")   # shipped th/ja/en sample
    plan(need="both", labeled_examples=2000, update_frequency="weekly")["recommendation"]

Names resolve lazily, so importing ``thaija.cost`` loads no tokenizer library. ``compare``, ``estimate``
and ``plan`` are imported from their modules (a package attribute of the same name is the submodule).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "get_tokenizer": "tokenizers", "list_tokenizers": "tokenizers", "tokenizer_names": "tokenizers",
    "prefill_tiktoken_cache": "tokenizers", "Tokenizer": "tokenizers",
    "count_text": "count", "count_lines": "count", "count_per_line": "count", "read_lines": "count",
    "load_parallel": "compare", "premium_records": "compare", "plot_premiums": "compare",
    "write_csv": "compare",
    "EstimateConfig": "estimate", "load_prices": "estimate",
    "measured_premiums": "estimate", "estimate_records": "estimate",
    "PlanConfig": "plan",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"thaija.cost.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'thaija.cost' has no attribute {name!r}")
