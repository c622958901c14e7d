"""Model names -> tokenizers (`--model`), the deprecated alias, the README table, one chars/2 fallback."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app
from thaija.errors import ThaijaError
from thaija.tokenizers import REGISTRY, counter, get_tokenizer, lookup_model
from thaija.tokenizers.base import approx_count

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3", "o4-mini", "gpt-5",
                                   "gpt-4-turbo", "gpt-3.5-turbo", "text-embedding-3-small"])
def test_openai_names_follow_tiktoken(model):
    from tiktoken.model import encoding_name_for_model

    m = lookup_model(model)
    assert m.tokenizer == encoding_name_for_model(model) and m.approximation is False


@pytest.mark.parametrize("model,tok,approx", [
    ("claude-sonnet-4.5", "o200k_base", True), ("anthropic/claude-3.5-haiku", "o200k_base", True),
    ("gemini-2.5-flash", "gemma3", True), ("gemma-3-4b-it", "gemma3", False),
    ("Qwen/Qwen3-8B", "qwen3", False), ("qwen3.5-27b", "qwen3.5", False), ("qwen2.5-7b-instruct", "qwen3", False),
    ("llama-3.1-8b-instruct", "llama3", False), ("meta-llama/Llama-3.3-70B-Instruct", "llama3", False),
    ("deepseek-chat", "deepseek-v3", False), ("mistral-7b-instruct-v0.2", "mistral-v1", False),
    ("mistral-nemo", "tekken", False), ("mistral-large", "mistral-v3", True),
    ("multilingual-e5-small", "xlm-r", False), ("gpt-oss-20b", "o200k_base", False),
])
def test_model_families(model, tok, approx):
    m = lookup_model(model)
    assert (m.tokenizer, m.approximation) == (tok, approx)
    assert m.tokenizer in REGISTRY and m.reason  # every match says why


def test_unknown_model_lists_close_matches():
    with pytest.raises(ThaijaError, match="close matches: .*gpt-4o"):
        lookup_model("gpt-4x")  # near a real name, but no real model: refused, not guessed
    with pytest.raises(ThaijaError, match="unknown model 'no-such-model'"):
        lookup_model("no-such-model")


def test_cli_count_model_contract():
    """Issue 14: `cost count --model NAME --file F --json` = today's keys + model + approximation."""
    f = str(DATA / "flores_tha.txt")
    a = json.loads(run("cost", "count", "--model", "gpt-4o", "--file", f, "--json").stdout)
    b = json.loads(run("cost", "count", "--tokenizer", "o200k_base", "--file", f, "--json").stdout)
    assert {k: a[k] for k in b} == b and set(b) == {"tokenizer", "tokens", "characters", "bytes", "lines"}
    assert a["model"] == "gpt-4o" and a["approximation"] is False and "o200k_base" in a["approximation_reason"]
    c = json.loads(run("cost", "count", "--model", "claude-sonnet-4.5", "--file", f, "--json").stdout)
    assert c["approximation"] is True and "not public" in c["approximation_reason"]
    text = run("cost", "count", "--model", "claude-sonnet-4.5", "สวัสดีครับ").stdout
    assert "approximation" in text  # labelled in the human output too


def test_cli_tokenizer_flag_accepts_model_names_and_several():
    """Friction: `--tokenizer gpt-4o` was rejected, and one tokenizer was counted per call."""
    r = run("cost", "count", "--tokenizer", "gpt-4o", "--json", "ภาษาไทย")
    assert r.exit_code == 0 and json.loads(r.stdout)["tokenizer"] == "o200k_base"
    r = run("cost", "count", "--tokenizers", "cl100k_base,o200k_base,qwen3-8b", "--json", "ภาษาไทยง่ายนิดเดียว")
    recs = json.loads(r.stdout)
    assert [x["tokenizer"] for x in recs] == ["cl100k_base", "o200k_base", "qwen3"]
    assert recs[0]["tokens"] == get_tokenizer("cl100k_base").count("ภาษาไทยง่ายนิดเดียว")
    assert recs[2]["model"] == "qwen3-8b"


def test_cli_unknown_model_one_line_exit_2():
    r = run("cost", "count", "--model", "no-such-model", "x")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_compare_accepts_model_names(tmp_path):
    out = tmp_path / "c.json"
    args = [a for l, f in (("th", "tha"), ("en", "eng")) for a in ("--text", f"{l}={DATA}/flores_{f}.txt")]
    r = run("cost", "compare", *args, "-t", "gpt-4o,claude-haiku-4.5", "--json", str(out))
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())["tokenizers"]
    assert res["gpt-4o"]["tokens"] == res["claude-haiku-4.5"]["tokens"] and res["claude-haiku-4.5"]["approximation"]
    assert "approximation" in r.stdout


def test_chunk_cli_model_option(tmp_path):
    doc = "\n".join((DATA / "flores_tha.txt").read_text(encoding="utf-8").splitlines()[:20])
    p = tmp_path / "d.txt"
    p.write_text(doc, encoding="utf-8")
    r = run("chunk", "--file", str(p), "--model", "gpt-4o", "--max-tokens", "48", "--overlap", "8")
    chunks = [json.loads(l) for l in r.stdout.splitlines()]
    tok = get_tokenizer("o200k_base")
    assert len(chunks) > 2 and all(tok.count(c["text"]) == c["tokens"] <= 48 for c in chunks)


def test_old_import_path_is_a_warning_alias():
    code = ("import warnings; warnings.simplefilter('error')\n"
            "try:\n    import thaija.cost.tokenizers\nexcept DeprecationWarning as e:\n    print('warned', e)\n"
            "warnings.simplefilter('ignore'); import thaija.cost.tokenizers as old, thaija.tokenizers as new\n"
            "print(old is new, old.get_tokenizer is new.get_tokenizer)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "warned thaija.cost.tokenizers moved to thaija.tokenizers" in out and "True True" in out


def test_lang_chunk_never_imports_tokenizers():
    code = ("import sys; from thaija.lang import chunk\n"
            "cs = chunk('ภาษาไทยง่ายนิดเดียว ' * 20, max_tokens=16, overlap=2, tokenizer='chars')\n"
            "print(len(cs) > 1, [m for m in sys.modules if m.startswith(('thaija.tokenizers', 'thaija.cost'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert out.strip() == "True []"
    from thaija.lang import chunk

    with pytest.raises(ThaijaError, match="get_tokenizer"):
        chunk("ภาษาไทย", max_tokens=8, overlap=0, tokenizer="cl100k_base")


def test_chars_half_fallback_lives_in_one_place():
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")
            if re.search(r"\(len\((?:text|s|t|string)\)\s*\+\s*1\)\s*//\s*2", p.read_text(encoding="utf-8"))]
    assert hits == ["src/thaija/tokenizers/base.py"]
    assert approx_count("ภาษาไทย") == 4
    c = counter("no-such-tokenizer-anywhere")
    assert c.exact is False and c("abcd") == 2 and "no-such-tokenizer-anywhere" in c.reason
    assert counter("gpt-4o").exact and counter("gpt-4o")("ภาษาไทย") == get_tokenizer("o200k_base").count("ภาษาไทย")


def test_readme_table_is_the_registry():
    from thaija.tokenizers.registry import markdown_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- tokenizers:begin", 1)[1].split("-->", 1)[1].split("<!-- tokenizers:end -->")[0]
    assert block.strip() == markdown_table(), "regenerate: thaija cost tokenizers --markdown"


def test_tokenizers_table_fits_80_columns():
    from rich.cells import cell_len

    r = runner.invoke(app, ["cost", "tokenizers"], env={"COLUMNS": "80"})
    assert r.exit_code == 0 and max(cell_len(l) for l in r.stdout.splitlines()) <= 80


def test_detect_into_closed_pipe_exits_0(tmp_path):
    """`thaija detect --file f | head -1` exits 0 without a traceback."""
    f = tmp_path / "many.txt"
    f.write_text("ภาษาไทย test 日本語\n" * 20000, encoding="utf-8")
    thaija = Path(sys.executable).parent / "thaija"
    p = subprocess.Popen([str(thaija), "detect", "--file", str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline().startswith(b"th")
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0 and "Traceback" not in err and "Error" not in err


@pytest.mark.slow
def test_gemma3_first_build_says_so(tmp_path):
    """The first gemma3 load (~15 s GGUF conversion) prints a status line; the cached one is silent."""
    code = "from thaija.tokenizers import get_tokenizer; print(get_tokenizer('gemma3').count('ภาษาไทย'))"
    env = {**__import__("os").environ, "THAIJA_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert "building the gemma3 tokenizer" in first.stderr and int(first.stdout) > 0
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert "building" not in second.stderr and second.stdout == first.stdout


def test_library_count_takes_model_names_like_the_cli():
    from thaija.cost.count import count_lines, count_text

    rec = count_text("ภาษาไทย", "gemini-2.5-flash")
    assert rec["tokenizer"] == "gemma3" and rec["approximation"] is True and rec["model"] == "gemini-2.5-flash"
    assert rec["tokens"] == get_tokenizer("gemma3").count("ภาษาไทย")
    assert set(count_lines(["a", "b"], "cl100k_base")) == {"tokenizer", "tokens", "characters", "bytes", "lines"}
