"""`--prices FILE` (QA F12): an unknown section or key, or a value of the wrong kind, is a one-line
error naming it (a misspelt price would otherwise be ignored silently)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from thaija.cost.estimate import estimate, load_prices
from thaija.errors import ThaijaError

THAIJA = str(Path(sys.executable).parent / "thaija")


@pytest.mark.parametrize("toml, message", [
    ('[models."gpt-4o-mini"]\ninput = 0.1\nouput = 0.5\n', """unknown key 'models."gpt-4o-mini".ouput' (did you mean 'output'?)"""),
    ("[operation]\nvector_db_month_usd = 10.0\n", "unknown key 'operation' (did you mean 'operations'?)"),
    ("[plan]\ndefault_queries_per_mont = 5000\n", "unknown key 'plan.default_queries_per_mont' (did you mean 'default_queries_per_month'?)"),
    ("[training]\ngpu_hour_usd = \"2.5\"\n", "training.gpu_hour_usd must be a number, got str"),
    ("[on_prem]\ngpu_watts = true\n", "on_prem.gpu_watts must be a number, got bool"),
    ("models = 3\n", "'models' must be a table"),
    ('[models."x"]\ninput = 1\noutput = 2\ntokenizer = 5\n', 'models."x".tokenizer must be a string'),
])
def test_unknown_or_mistyped_keys_are_named(tmp_path, toml, message):
    f = tmp_path / "p.toml"
    f.write_text(toml, encoding="utf-8")
    with pytest.raises(ThaijaError) as exc:
        load_prices(f)
    assert message in str(exc.value) and str(f) in str(exc.value)


def test_valid_override_still_merges_and_cli_error_is_one_line(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[models."gpt-4o-mini"]\ninput = 0.1\noutput = 0.5\n'
                    '[models."my-model"]\ninput = 1\noutput = 2\ntokenizer = "o200k_base"\n'
                    "[plan]\ndefault_queries_per_month = 5000\n", encoding="utf-8")
    table = load_prices(good)
    assert table["models"]["gpt-4o-mini"]["input"] == 0.1 and table["plan"]["default_queries_per_month"] == 5000
    assert table["models"]["gpt-4o-mini"]["source"]  # the packaged row's other keys are kept
    assert estimate(models=["my-model"], prices=str(good), mix="th")["models"][0]["input_usd_per_mtok"] == 1
    bad = tmp_path / "bad.toml"
    bad.write_text('[models."gpt-4o-mini"]\ninptu = 0.1\n', encoding="utf-8")
    r = subprocess.run([THAIJA, "cost", "estimate", "--prices", str(bad)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "inptu" in r.stderr and "Traceback" not in r.stderr
