"""Mix planning formulas and the seeded BalancedSampler (property tests)."""
from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thaija.errors import ThaijaError
from thaija.tune.sampling import BalancedOrder, allocate, plan_mix


def test_temperature_follows_the_formula_exactly():
    plan = plan_mix({"ja": 400, "th": 100}, "temperature", alpha=0.5)
    want_th = 100 ** 0.5 / (100 ** 0.5 + 400 ** 0.5)
    assert plan.shares["th"] == pytest.approx(want_th, abs=1e-12)
    assert plan.shares["ja"] == pytest.approx(1 - want_th, abs=1e-12)
    # default budget = one pass over the data: epochs = share * N / n
    assert plan.epochs["th"] == pytest.approx(want_th * 500 / 100)
    assert plan.to_json() == {"strategy": "temperature", "counts": {"ja": 400, "th": 100},
                              "shares": plan.shares, "epochs": plan.epochs}


def test_alpha_one_is_proportional_and_alpha_zero_uniform():
    counts = {"ja": 900, "th": 100, "en": 50}
    prop = plan_mix(counts, "proportional")
    assert prop.shares == pytest.approx({k: v / 1050 for k, v in counts.items()})
    assert all(e == pytest.approx(1.0) for e in prop.epochs.values())
    assert plan_mix(counts, "temperature", alpha=1.0).shares == pytest.approx(prop.shares)
    assert plan_mix(counts, "temperature", alpha=0.0).shares == pytest.approx(
        {k: 1 / 3 for k in counts})


def test_unimax_caps_small_languages_and_redistributes():
    # budget 1000 over 3 languages: fair share 333.3; en (n=20, cap 4 epochs = 80) is capped,
    # the leftover is split evenly between th and ja (460 each, th cap 4*200 = 800 not reached).
    plan = plan_mix({"en": 20, "th": 200, "ja": 5000}, "unimax", max_epochs=4, budget=1000)
    assert plan.shares == pytest.approx({"en": 0.08, "th": 0.46, "ja": 0.46})
    assert plan.epochs["en"] == pytest.approx(4.0)
    assert plan.epochs["th"] == pytest.approx(2.3)
    # a large budget hits th's cap too; ja takes the rest
    big = plan_mix({"en": 20, "th": 200, "ja": 5000}, "unimax", max_epochs=4, budget=9000)
    assert big.epochs["en"] == pytest.approx(4.0) and big.epochs["th"] == pytest.approx(4.0)
    assert big.shares["ja"] == pytest.approx((9000 - 80 - 800) / 9000)


def test_weights_strategy_and_errors():
    plan = plan_mix({"ja": 90, "th": 10}, "weights", weights={"ja": 1, "th": 3})
    assert plan.shares == pytest.approx({"ja": 0.25, "th": 0.75})
    with pytest.raises(ThaijaError, match="not in the data: ko"):
        plan_mix({"ja": 90, "th": 10}, "weights", weights={"ko": 1})
    with pytest.raises(ThaijaError, match="needs weights"):
        plan_mix({"ja": 1}, "weights")
    with pytest.raises(ThaijaError, match="unknown strategy"):
        plan_mix({"ja": 1}, "balanced")
    with pytest.raises(ThaijaError, match="alpha"):
        plan_mix({"ja": 1}, "temperature", alpha=-1)
    with pytest.raises(ThaijaError, match="no examples"):
        plan_mix({}, "proportional")


@given(st.dictionaries(st.sampled_from(["th", "ja", "en", "ko", "zh"]),
                       st.integers(1, 10_000), min_size=1),
       st.floats(0, 1), st.sampled_from(["proportional", "temperature", "unimax"]),
       st.integers(1, 100_000))
def test_shares_are_a_distribution(counts, alpha, strategy, budget):
    plan = plan_mix(counts, strategy, alpha=alpha, budget=budget)
    assert math.isclose(sum(plan.shares.values()), 1.0, abs_tol=1e-9)
    assert all(s > 0 for s in plan.shares.values())
    for k, n in counts.items():
        assert plan.epochs[k] == pytest.approx(plan.shares[k] * plan.budget / n)
    if strategy == "unimax":  # never past the cap: when every language hits it, the budget shrinks
        assert all(e <= 4.0 + 1e-9 for e in plan.epochs.values())
        assert plan.budget <= budget
    else:
        assert plan.budget == budget
    if strategy == "temperature":  # more data never means a smaller share
        ordered = sorted(counts, key=counts.get)
        assert all(plan.shares[a] <= plan.shares[b] + 1e-12 for a, b in zip(ordered, ordered[1:]))


@given(st.dictionaries(st.sampled_from(["th", "ja", "en"]), st.floats(0.01, 1), min_size=1),
       st.integers(0, 5000))
def test_allocate_is_exact_to_one_draw(shares, total):
    z = sum(shares.values())
    shares = {k: v / z for k, v in shares.items()}
    got = allocate(shares, total)
    assert sum(got.values()) == total
    assert all(abs(got[k] - shares[k] * total) < 1 for k in shares)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["th", "ja", "en"]), st.integers(1, 40), min_size=1),
       st.integers(1, 600), st.integers(0, 2**31 - 1), st.floats(0, 1))
def test_realized_shares_match_plan(counts, num_samples, seed, alpha):
    langs = [lang for lang, n in sorted(counts.items()) for _ in range(n)]
    plan = plan_mix(counts, "temperature", alpha=alpha, budget=num_samples)
    s = BalancedOrder(langs, plan.shares, num_samples, seed=seed)
    order = list(s)
    assert len(order) == num_samples == len(s)
    realized = s.realized_shares()
    for lang in counts:
        assert abs(realized[lang] - plan.shares[lang]) < 1 / num_samples + 1e-12
    # inside a language every example is seen floor or ceil(draws / n) times (epochs balanced)
    seen = Counter(order)
    for lang, n in counts.items():
        idx = [i for i, x in enumerate(langs) if x == lang]
        draws = sum(seen[i] for i in idx)
        assert {seen[i] for i in idx} <= {draws // n, -(-draws // n)}
    # seeded: the same seed gives the same order; start= resumes as a suffix
    assert list(BalancedOrder(langs, plan.shares, num_samples, seed=seed)) == order
    k = num_samples // 2
    assert list(BalancedOrder(langs, plan.shares, num_samples, seed=seed, start=k)) == order[k:]


def test_is_a_torch_sampler_usable_by_dataloader():
    import torch
    from torch.utils.data import DataLoader

    from thaija.tune.sampling import BalancedSampler

    langs = ["ja"] * 90 + ["th"] * 10
    s = BalancedSampler(langs, {"ja": 0.5, "th": 0.5}, 200, seed=3)
    assert isinstance(s, torch.utils.data.Sampler)
    dl = DataLoader(list(range(100)), batch_size=20, sampler=s)
    got = torch.cat(list(dl)).tolist()
    assert got == s.order
    assert Counter(langs[i] for i in got) == {"ja": 100, "th": 100}
    # 10 Thai examples drawn 100 times: each exactly 10 times
    assert set(Counter(i for i in got if langs[i] == "th").values()) == {10}
    assert list(BalancedSampler(langs, {"ja": 0.5, "th": 0.5}, 200, seed=4)) != got


def test_sampler_rejects_languages_without_examples():
    with pytest.raises(ThaijaError, match="no examples"):
        BalancedOrder(["ja", "ja"], {"ja": 0.5, "th": 0.5}, 10)
