"""Token cost (floor 3): counts, premiums on parallel text, monthly estimates, the RAG/LoRA planner.

The tokenizers themselves live in :mod:`thaija.tokenizers` (re-exported here for convenience);
``corpus`` measures the user's own documents, index and queries.

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
    "get_tokenizer": "thaija.tokenizers", "list_tokenizers": "thaija.tokenizers",
    "tokenizer_names": "thaija.tokenizers", "prefill_tiktoken_cache": "thaija.tokenizers",
    "Tokenizer": "thaija.tokenizers", "lookup_model": "thaija.tokenizers",
    "load_corpus": "corpus", "read_queries": "corpus",
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
        where = _EXPORTS[name]
        module = importlib.import_module(where if "." in where else f"thaija.cost.{where}")
        return getattr(module, name)
    raise AttributeError(f"module 'thaija.cost' has no attribute {name!r}")
