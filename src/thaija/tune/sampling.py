"""Language mix planning (proportional / temperature / unimax / weights) and a seeded sampler.

* proportional: share_i = n_i / sum(n)
* temperature:  share_i = n_i**alpha / sum_j n_j**alpha   (alpha=1: proportional, 0: uniform)
* unimax (Chung et al. 2023, "UniMax"): spread the budget uniformly over languages, cap each at
  ``max_epochs * n_i`` examples, hand the leftover to the languages not yet capped (smallest first).
* weights: explicit relative weights per language.

``epochs_i = share_i * budget / n_i`` is how often each language's data is seen for ``budget``
examples (default budget: one pass over the data set).
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from thaija.errors import ThaijaError

STRATEGIES = ("proportional", "temperature", "unimax", "weights")


@dataclass(frozen=True)
class MixPlan:
    """A planned language mix: ``shares`` sum to 1; ``epochs`` for ``budget`` examples."""

    strategy: str
    counts: dict[str, int]
    shares: dict[str, float]
    epochs: dict[str, float]
    budget: int
    alpha: float | None = None
    max_epochs: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The `thaija tune mix --json` object."""
        return {"strategy": self.strategy, "counts": dict(self.counts), "shares": dict(self.shares),
                "epochs": dict(self.epochs)}


def plan_mix(counts: Mapping[str, int], strategy: str = "temperature", *, alpha: float = 0.3,
             max_epochs: float = 4.0, budget: int | None = None,
             weights: Mapping[str, float] | None = None) -> MixPlan:
    """Plan language shares for ``counts`` (examples per language) under ``strategy``."""
    counts = {k: int(v) for k, v in sorted(counts.items())}
    if not counts:
        raise ThaijaError("no examples: cannot plan a language mix")
    if any(v <= 0 for v in counts.values()):
        raise ThaijaError(f"every language needs at least one example: {counts}")
    if strategy not in STRATEGIES:
        raise ThaijaError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ThaijaError(f"alpha must be >= 0, got {alpha}")
    if not max_epochs > 0:
        raise ThaijaError(f"max_epochs must be > 0, got {max_epochs}")
    total = sum(counts.values())
    budget = total if budget is None else int(budget)
    if budget <= 0:
        raise ThaijaError(f"budget must be > 0, got {budget}")

    if strategy == "proportional":
        raw = {k: float(n) for k, n in counts.items()}
    elif strategy == "temperature":
        raw = {k: float(n) ** alpha for k, n in counts.items()}
    elif strategy == "unimax":
        raw = _unimax(counts, budget, max_epochs)
    else:
        if not weights:
            raise ThaijaError("strategy 'weights' needs weights, e.g. --weights th=1,ja=1")
        unknown = sorted(set(weights) - set(counts))
        if unknown:
            raise ThaijaError(f"weights for languages not in the data: {', '.join(unknown)}")
        if any(not (w >= 0 and math.isfinite(w)) for w in weights.values()):
            raise ThaijaError(f"weights must be finite and >= 0: {dict(weights)}")
        raw = {k: float(weights.get(k, 0.0)) for k in counts}
    z = sum(raw.values())
    if z <= 0:
        raise ThaijaError("the weights sum to zero")
    shares = {k: v / z for k, v in raw.items()}
    if strategy == "unimax" and z < budget:  # every language hit its cap: the budget shrinks to the caps
        budget = int(round(z))
    epochs = {k: shares[k] * budget / counts[k] for k in counts}
    return MixPlan(strategy, counts, shares, epochs, budget,
                   alpha if strategy == "temperature" else None,
                   max_epochs if strategy == "unimax" else None)


def _unimax(counts: Mapping[str, int], budget: int, max_epochs: float) -> dict[str, float]:
    """UniMax allocation (examples per language): uniform, capped at max_epochs * n_i."""
    alloc: dict[str, float] = {}
    left = float(budget)
    order = sorted(counts, key=lambda k: (counts[k], k))
    for i, k in enumerate(order):
        fair = left / (len(order) - i)
        alloc[k] = min(fair, max_epochs * counts[k])
        left -= alloc[k]
    return {k: alloc[k] for k in counts}


def allocate(shares: Mapping[str, float], total: int) -> dict[str, int]:
    """Split ``total`` draws over languages by largest remainder: |count/total - share| < 1/total."""
    exact = {k: s * total for k, s in shares.items()}
    out = {k: math.floor(v) for k, v in exact.items()}
    rest = total - sum(out.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[:rest]:
        out[k] += 1
    return out


@dataclass
class BalancedOrder:
    """The draw order of a balanced run (pure Python; :class:`BalancedSampler` wraps it for torch).

    ``langs[i]`` is the language of example i. Exactly ``allocate(shares, num_samples)`` draws go
    to each language (realized share within 1/num_samples of the plan), interleaved at random;
    inside a language examples are drawn without replacement, reshuffled every pass, so each
    example is seen floor/ceil(epochs) times. ``start`` skips the first draws (resume).
    """

    langs: Sequence[str]
    shares: Mapping[str, float]
    num_samples: int
    seed: int = 0
    start: int = 0
    _order: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        present = set(self.langs)
        missing = sorted(k for k, s in self.shares.items() if s > 0 and k not in present)
        if missing:
            raise ThaijaError(f"sampler: no examples for languages with a share: {missing}")
        if self.num_samples < 0 or not 0 <= self.start <= self.num_samples:
            raise ThaijaError("sampler: need 0 <= start <= num_samples")
        self._order = self._build()

    def _build(self) -> list[int]:
        rng = random.Random(self.seed)
        by_lang: dict[str, list[int]] = {}
        for i, lang in enumerate(self.langs):
            by_lang.setdefault(lang, []).append(i)
        counts = allocate({k: s for k, s in self.shares.items() if s > 0}, self.num_samples)
        streams: dict[str, list[int]] = {}
        for lang in sorted(counts):
            pool, draws = by_lang[lang], []
            while len(draws) < counts[lang]:
                p = list(pool)
                rng.shuffle(p)
                draws.extend(p)
            streams[lang] = draws[: counts[lang]]
        labels = [lang for lang in sorted(counts) for _ in range(counts[lang])]
        rng.shuffle(labels)
        pos = dict.fromkeys(counts, 0)
        order = []
        for lang in labels:
            order.append(streams[lang][pos[lang]])
            pos[lang] += 1
        return order

    @property
    def order(self) -> list[int]:
        """All ``num_samples`` indices of the run (ignoring ``start``)."""
        return list(self._order)

    def __iter__(self) -> Iterator[int]:
        return iter(self._order[self.start:])

    def __len__(self) -> int:
        return self.num_samples - self.start

    def realized_shares(self) -> dict[str, float]:
        """Share of each language over the whole run."""
        out: dict[str, float] = {k: 0.0 for k in self.shares}
        for i in self._order:
            out[self.langs[i]] += 1
        return {k: (v / self.num_samples if self.num_samples else 0.0) for k, v in out.items()}


_SAMPLER_CLS: type | None = None


def _make_sampler_class() -> type:
    """Build ``BalancedSampler``, a real ``torch.utils.data.Sampler`` (torch imported lazily)."""
    global _SAMPLER_CLS
    if _SAMPLER_CLS is None:
        from torch.utils.data import Sampler

        class BalancedSampler(BalancedOrder, Sampler):  # type: ignore[misc]
            """Seeded torch Sampler following planned language shares (see BalancedOrder)."""

            def __init__(self, langs: Sequence[str], shares: Mapping[str, float],
                         num_samples: int, seed: int = 0, start: int = 0) -> None:
                BalancedOrder.__init__(self, langs, shares, num_samples, seed, start)

        BalancedSampler.__module__ = __name__
        _SAMPLER_CLS = BalancedSampler
    return _SAMPLER_CLS


def __getattr__(name: str) -> Any:
    if name == "BalancedSampler":
        return _make_sampler_class()
    raise AttributeError(name)
