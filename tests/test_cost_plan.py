"""Estimate and planner: brief scenarios, numbers that follow the inputs and the price table."""
from __future__ import annotations

import pytest

from thaija.cost.estimate import EstimateConfig, estimate, load_prices, measured_premiums, parse_mix
from thaija.cost.plan import PlanConfig, plan
from thaija.errors import ThaijaError


def test_price_table_is_dated_and_sourced():
    table = load_prices()
    assert table["meta"]["table_date"]
    for name, m in table["models"].items():
        assert m["source"].startswith("https://") and m["date"], name
        assert m["input"] > 0 and m["output"] > 0
    from thaija.tokenizers import REGISTRY

    assert {m["tokenizer"] for m in table["models"].values()} <= set(REGISTRY)


@pytest.mark.parametrize("need,n,freq,want", [
    ("knowledge", 50, "weekly", "rag"),       # weekly-updated policies, 50 examples
    ("style", 5000, "never", "fine-tune"),    # fixed legal style, 5,000 examples
    ("both", 2000, "weekly", "combined"),     # style + weekly updates, 2,000 examples
])
def test_brief_scenarios(need, n, freq, want):
    r = plan(need=need, labeled_examples=n, update_frequency=freq)
    assert r["recommendation"] == want
    assert [s["name"] for s in r["steps"]] == ["budget", "data volume", "update frequency", "need", "languages", "verdict"]
    assert set(r["costs"]) == {"rag", "fine-tune", "combined"}
    for v in r["costs"].values():
        assert v["total_usd_month"] == pytest.approx(
            v["training_usd_month"] + v["inference_usd_month"] + v["operations_usd_month"], abs=0.02)


def test_few_examples_fall_back_to_rag():
    r = plan(need="style", labeled_examples=20, update_frequency="never")
    assert r["recommendation"] == "rag" and any("100" in n for n in r["notes"])


def test_weekly_updates_make_fine_tune_expensive():
    weekly = plan(need="both", labeled_examples=2000, update_frequency="weekly")["costs"]
    never = plan(need="both", labeled_examples=2000, update_frequency="never")["costs"]
    assert weekly["fine-tune"]["training_usd_month"] > 4 * never["fine-tune"]["training_usd_month"]
    assert weekly["combined"]["training_usd_month"] == never["combined"]["training_usd_month"]


def test_budget_changes_the_decision():
    r = plan(need="both", labeled_examples=2000, update_frequency="weekly")
    rag, comb = r["costs"]["rag"]["total_usd_month"], r["costs"]["combined"]["total_usd_month"]
    assert rag < comb
    tight = plan(need="both", labeled_examples=2000, update_frequency="weekly", monthly_budget_usd=(rag + comb) / 2)
    assert tight["recommendation"] == "rag" and any("budget" in n for n in tight["notes"])


def test_costs_scale_with_queries_and_premium():
    a = plan(need="knowledge", labeled_examples=0, update_frequency="monthly", queries_per_month=10_000)
    b = plan(need="knowledge", labeled_examples=0, update_frequency="monthly", queries_per_month=20_000)
    assert b["costs"]["rag"]["inference_usd_month"] == pytest.approx(2 * a["costs"]["rag"]["inference_usd_month"], rel=1e-3)
    th = plan(need="knowledge", labeled_examples=0, update_frequency="monthly", languages=["th"], model="gpt-3.5-turbo")
    en = plan(need="knowledge", labeled_examples=0, update_frequency="monthly", languages=["en"], model="gpt-3.5-turbo")
    ratio = th["costs"]["rag"]["inference_usd_month"] / en["costs"]["rag"]["inference_usd_month"]
    assert 3.0 < ratio < 4.5  # cl100k Thai premium ≈ 4.2 on everything but the English system prompt
    assert th["inputs"]["premiums"]["th"] == pytest.approx(measured_premiums("cl100k_base", ["th"])["th"], abs=1e-4)


def test_on_prem_uses_local_costs():
    r = plan(need="knowledge", labeled_examples=0, update_frequency="weekly", on_prem=True)
    assert r["inputs"]["model"] is None and "hardware_usd" in r["costs"]["rag"]
    assert r["costs"]["rag"]["inference_usd_month"] >= load_prices()["on_prem"]["gpu_month_usd"]


def test_price_override_file(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[models."gpt-4o-mini"]\ninput = 1.5\noutput = 6.0\n', encoding="utf-8")
    base = estimate(models=["gpt-4o-mini"])["models"][0]["monthly_usd"]
    over = estimate(models=["gpt-4o-mini"], prices=str(f))["models"][0]
    assert over["monthly_usd"] == pytest.approx(10 * base, rel=1e-3)
    assert over["price_source"].startswith("https://")  # untouched keys come from the packaged table
    bad = tmp_path / "bad.toml"
    bad.write_text("[models\n", encoding="utf-8")
    with pytest.raises(ThaijaError, match="not valid TOML"):
        load_prices(bad)


def test_estimate_arithmetic():
    cfg = EstimateConfig(queries_per_month=1000, mix="th", system_tokens=100, query_tokens_en=10, k=2,
                         chunk_tokens=50, answer_tokens_en=20, models=["gpt-4o"])
    m = estimate(cfg)["models"][0]
    p = measured_premiums("o200k_base", ["th"])["th"]
    want = 1000 * ((100 + (10 + 2 * 50) * p) * 2.5 + 20 * p * 10.0) / 1e6
    assert m["monthly_usd"] == pytest.approx(want, rel=1e-4)


def test_validation():
    with pytest.raises(ThaijaError):
        PlanConfig(need="magic", labeled_examples=1, update_frequency="weekly")
    with pytest.raises(ThaijaError):
        PlanConfig(need="style", labeled_examples=1, update_frequency="hourly")
    with pytest.raises(ThaijaError):
        parse_mix("th=abc")
    assert parse_mix("th=3,ja=1") == {"th": 0.75, "ja": 0.25}
    with pytest.raises(ThaijaError, match="priced models"):
        estimate(models=["no-such-model"])


def test_shipped_premium_table_matches_live_measurement():
    """premiums.toml (used when installed without corpora/) must equal a fresh measurement."""
    from thaija.cost.estimate import _shipped_premiums

    table = _shipped_premiums()["premiums"]
    for name in ("cl100k_base", "o200k_base", "qwen3", "tekken"):
        live = measured_premiums(name, ["th", "ja"])
        assert table[name]["th"] == pytest.approx(live["th"], abs=1e-5)
        assert table[name]["ja"] == pytest.approx(live["ja"], abs=1e-5)


def test_premiums_fall_back_to_shipped_table_without_checkout(monkeypatch):
    import thaija.cost.compare as cmp
    from thaija.cost import estimate as est

    est._premiums_cached.cache_clear()
    monkeypatch.setattr(cmp, "repo_root", lambda: None)
    try:
        p = measured_premiums("o200k_base", ["th", "ja"])
        assert p["th"] == pytest.approx(est._shipped_premiums()["premiums"]["o200k_base"]["th"])
        with pytest.raises(ThaijaError, match="source checkout"):
            measured_premiums("/some/user/tokenizer.json", ["th"])
    finally:
        est._premiums_cached.cache_clear()
