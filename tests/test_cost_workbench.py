"""Issue 14, cost and planning like a user thinks: measured on the user's own texts and index,
prices per row with date and source, and a planner whose verdict follows costs and budget."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app
from thaija.cost.estimate import estimate, load_prices, measured_premiums
from thaija.cost.plan import plan
from thaija.errors import ThaijaError

DATA = Path(__file__).parent / "data"
runner = CliRunner()


def _lines(name: str, a: int, b: int) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").splitlines()[a:b]


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory) -> Path:
    """Thai HR rules and a Japanese manual (real FLORES/NTREX sentences), plus one empty file."""
    d = tmp_path_factory.mktemp("docs")
    (d / "hr").mkdir()
    (d / "hr" / "rules_th.txt").write_text("\n".join(_lines("ntrex_tha.txt", 0, 40)), encoding="utf-8")
    (d / "manual_ja.md").write_text("# 取扱説明\n\n" + "\n".join(_lines("ntrex_jpn.txt", 0, 20)), encoding="utf-8")
    (d / "empty.txt").write_text("", encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def index_db(tmp_path_factory, docs_dir) -> str:
    from thaija.index import Index, IndexConfig

    base = tmp_path_factory.mktemp("idx")
    cfg = IndexConfig(db=str(base / "t.db"), cache_path=str(base / "emb.sqlite"), chunk_tokens=256, overlap=16)
    with Index(cfg) as idx:
        idx.add_paths([str(docs_dir / "hr"), str(docs_dir / "manual_ja.md")], progress=False)
    return cfg.db


def test_price_rows_are_dated_sourced_and_cover_current_families():
    models = load_prices()["models"]
    for fam in ("claude-", "gemini-", "gpt-5", "gpt-4.1", "deepseek", "mistral"):
        assert any(n.startswith(fam) for n in models), fam
    for name, m in models.items():
        assert m["source"].startswith("https://") and m["date"] and "verify" in m["note"], name
    claude = models["claude-sonnet-4.5"]
    assert claude["approximation"] is True and "not public" in claude["approximation_reason"]


def test_prices_override_adds_a_model_by_name(tmp_path):
    over = tmp_path / "p.toml"
    over.write_text('[models."qwen3-8b-selfhosted"]\ninput = 0.05\noutput = 0.1\nsource = "our quote"\n'
                    'date = "2026-11-30"\n[models."qwen3-32b"]\ninput = 0.2\noutput = 0.6\nsource = "x"\ndate = "2026-11-30"\n',
                    encoding="utf-8")
    r = estimate(models=["qwen3-32b", "gpt-4o-mini"], prices=str(over), mix="th")
    q = next(m for m in r["models"] if m["model"] == "qwen3-32b")
    assert q["tokenizer"] == "qwen3" and q["approximation"] is False and q["price_source"] == "x"
    bad = tmp_path / "b.toml"
    bad.write_text('[models."whatever-llm"]\ninput = 1\noutput = 1\n', encoding="utf-8")
    with pytest.raises(ThaijaError, match="unknown model 'whatever-llm'"):
        load_prices(str(bad))


def test_estimate_from_texts_measures_the_users_documents(docs_dir):
    """Friction: premiums came only from the shipped FLORES sample, never from the user's texts."""
    r = estimate(models=["gpt-4o-mini", "gemini-2.5-flash"], from_texts=str(docs_dir))
    meas = r["measured"]
    assert meas["documents"] == 2 and meas["characters"]["th"] > 1000 and meas["characters"]["ja"] > 300
    assert r["inputs"]["mix_source"].startswith("your documents") and r["inputs"]["mix"]["th"] > r["inputs"]["mix"]["ja"]
    m = next(x for x in r["models"] if x["model"] == "gpt-4o-mini")
    assert m["languages"]["th"]["premium_source"] == "your texts"
    flores = measured_premiums("o200k_base", ["th"])["th"]
    assert m["languages"]["th"]["premium"] != pytest.approx(flores, abs=1e-4)  # calibrated, not copied
    assert 0.5 * flores < m["languages"]["th"]["premium"] < 2 * flores
    from thaija.tokenizers import get_tokenizer

    assert m["corpus_tokens"]["th"] > 0 and m["corpus_tokens"]["th"] <= get_tokenizer("o200k_base").count(
        (docs_dir / "hr" / "rules_th.txt").read_text(encoding="utf-8")) * 1.2
    g = next(x for x in r["models"] if x["model"] == "gemini-2.5-flash")
    assert g["approximation"] and g["tokenizer"] == "gemma3"


def test_estimate_queries_file_sets_sizes_and_mix(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("\n".join(_lines("flores_jpn.txt", 0, 30) + _lines("flores_tha.txt", 0, 10)), encoding="utf-8")
    r = estimate(models=["gpt-4o"], queries=str(q), query_tokens_en=1)
    assert r["inputs"]["mix"] == {"ja": 0.75, "th": 0.25} and r["inputs"]["mix_source"] == "your queries"
    ja = r["models"][0]["languages"]["ja"]
    assert ja["query_tokens_source"] == "your queries"
    from thaija.tokenizers import get_tokenizer

    tok = get_tokenizer("o200k_base")
    mean = sum(tok.count(x) for x in _lines("flores_jpn.txt", 0, 30)) / 30
    assert ja["input_tokens_per_query"] == pytest.approx(200 + mean + 5 * 256 * ja["premium"], abs=0.1)


@pytest.mark.slow
def test_estimate_and_plan_measure_an_index(index_db):
    """Friction: plan assumed a 2M-token corpus instead of measuring the user's."""
    r = runner.invoke(app, ["cost", "estimate", "--db", index_db, "--models", "gpt-4o-mini", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["measured"]["documents"] == 2
    p = plan(need="knowledge", labeled_examples=0, update_frequency="weekly", db=index_db)
    assert p["corpus"]["documents"] == 2 and set(p["corpus"]["tokens"]) >= {"th", "ja"}
    assert "measured: 2 documents" in p["steps"][0]["finding"]
    assumed = plan(need="knowledge", labeled_examples=0, update_frequency="weekly")
    # a tiny measured corpus costs less to keep indexed than the assumed 2M tokens
    assert p["costs"]["rag"]["operations_usd_month"] < assumed["costs"]["rag"]["operations_usd_month"]
    assert p["inputs"]["languages"][0] == "th"  # the corpus' main language
    missing = runner.invoke(app, ["plan", "--need", "knowledge", "--update-frequency", "weekly",
                                  "--db", str(Path(index_db).parent / "nothing.db")])
    assert missing.exit_code == 2 and "no thaija index" in missing.output
    assert not (Path(index_db).parent / "nothing.db").exists()


def test_plan_nothing_fits_budget_is_the_cheapest_said_plainly():
    """Friction: with $100 that no option fits, plan recommended combined ($360) over rag ($330)."""
    for budget in (1, 100):
        r = plan(need="both", labeled_examples=3000, update_frequency="weekly", monthly_budget_usd=budget)
        tot = {k: v["total_usd_month"] for k, v in r["costs"].items()}
        assert tot[r["recommendation"]] == min(tot.values()) > budget
        assert any("no option fits" in n and "RAG first" in n for n in r["notes"])


def test_plan_budget_verdict_fits_whenever_an_option_does():
    base = plan(need="both", labeled_examples=3000, update_frequency="never")
    tot = {k: v["total_usd_month"] for k, v in base["costs"].items()}
    for budget in sorted(tot.values()):
        r = plan(need="both", labeled_examples=3000, update_frequency="never", monthly_budget_usd=budget + 0.01)
        assert r["costs"][r["recommendation"]]["total_usd_month"] <= budget + 0.01


def test_update_frequency_and_query_volume_change_the_verdict():
    kw = dict(need="knowledge", labeled_examples=3000)
    assert plan(**kw, update_frequency="never", queries_per_month=10_000)["recommendation"] == "rag"
    heavy = plan(**kw, update_frequency="never", queries_per_month=2_000_000)
    assert heavy["recommendation"] == "fine-tune"  # static knowledge, very high volume: shorter prompts win
    assert heavy["costs"]["fine-tune"]["total_usd_month"] < heavy["costs"]["rag"]["total_usd_month"]
    for freq in ("monthly", "weekly", "daily"):  # never fine-tuning alone for knowledge that changes monthly+
        r = plan(**kw, update_frequency=freq, queries_per_month=2_000_000)
        assert r["recommendation"] != "fine-tune"
        assert "fine-tuning alone is ruled out" in r["steps"][2]["finding"]
    both = plan(need="both", labeled_examples=3000, update_frequency="weekly", queries_per_month=2_000_000)
    assert both["recommendation"] == "combined"


def test_plan_steps_in_the_guides_order_each_with_a_number(tmp_path):
    lab = tmp_path / "lab.jsonl"
    rows = [{"prompt": "q", "completion": t} for t in _lines("flores_tha.txt", 0, 150)]
    rows += [{"prompt": "q", "completion": t} for t in _lines("flores_jpn.txt", 0, 10)]
    lab.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    r = plan(need="style", update_frequency="never", labeled_data=str(lab))
    assert [s["name"] for s in r["steps"]] == ["budget", "data volume", "update frequency", "need", "languages",
                                               "verdict"]
    assert all(any(ch.isdigit() for ch in s["finding"]) for s in r["steps"] if s["name"] != "need")
    assert r["inputs"]["labeled_examples"] == 160 and r["labeled_languages"] == {"th": 150, "ja": 10}
    assert "th 150 (94%)" in r["steps"][4]["finding"]
    assert any("thin for ja" in n for n in r["notes"])


@pytest.mark.parametrize("args", [
    ("cost", "estimate"),
    ("plan", "--need", "both", "--labeled-examples", "2000", "--update-frequency", "weekly", "--budget", "100"),
])
def test_tables_fit_80_columns(args):
    from rich.cells import cell_len

    r = runner.invoke(app, list(args), env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert max(cell_len(l) for l in r.stdout.splitlines()) <= 80
    if args[1] == "estimate":
        assert "~ approximation" in r.stdout and "verify" in r.stdout
