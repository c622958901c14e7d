"""Fusion of ranked lists: reciprocal rank fusion and min-max weighted score fusion.

Each input is a list of (key, score) sorted best first. Output: (key, fused score) best first,
ties broken by key for determinism.
"""
from __future__ import annotations

from typing import Hashable, Sequence

Ranked = Sequence[tuple[Hashable, float]]


def rrf(lists: Sequence[Ranked], k: int = 60, weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """Reciprocal rank fusion (Cormack et al. 2009): sum of w / (k + rank), rank from 1."""
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    out: dict[Hashable, float] = {}
    for w, lst in zip(weights, lists):
        for r, (key, _) in enumerate(lst, start=1):
            out[key] = out.get(key, 0.0) + w / (k + r)
    return sorted(out.items(), key=lambda kv: (-kv[1], str(kv[0])))


def minmax(lst: Ranked) -> dict[Hashable, float]:
    """Scores scaled to [0, 1] within the list (all equal -> 1)."""
    if not lst:
        return {}
    vals = [s for _, s in lst]
    lo, hi = min(vals), max(vals)
    if hi - lo <= 1e-12:
        return {key: 1.0 for key, _ in lst}
    return {key: (s - lo) / (hi - lo) for key, s in lst}


def weighted(lists: Sequence[Ranked], weights: Sequence[float]) -> list[tuple[Hashable, float]]:
    """Min-max normalise each list, then sum weight * score (missing = 0)."""
    out: dict[Hashable, float] = {}
    for w, lst in zip(weights, lists):
        for key, s in minmax(lst).items():
            out[key] = out.get(key, 0.0) + w * s
    return sorted(out.items(), key=lambda kv: (-kv[1], str(kv[0])))


def fuse(lists: Sequence[Ranked], method: str = "weighted", weights: Sequence[float] | None = None,
         rrf_k: int = 60) -> list[tuple[Hashable, float]]:
    """Dispatch on `method` ("rrf" | "weighted")."""
    if method == "rrf":
        return rrf(lists, k=rrf_k, weights=weights)
    if method == "weighted":
        return weighted(lists, weights if weights is not None else [1.0 / len(lists)] * len(lists))
    raise ValueError(f"unknown fusion {method!r}: use rrf or weighted")
