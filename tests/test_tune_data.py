"""Training data: validation (every bad line), language labels, stratified split, encoding, config."""
from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "examples"))  # tiny_model, tune_demo

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from thaija.errors import ThaijaError
from thaija.tune.config import TuneConfig
from thaija.tune.data import (DataError, Record, count_languages, encode, limit_per_lang,
                              load_records, remove_overlap, split_eval)


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)
                              for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from thaija.models.causal_lm import prepare_tokenizer
    from tiny_model import tokenizer_files

    tok = AutoTokenizer.from_pretrained(tokenizer_files(tmp_path_factory.mktemp("tok")))
    prepare_tokenizer(tok)
    return tok


def test_every_bad_line_is_reported_with_its_number(tmp_path, th_lines, ja_lines):
    p = write_jsonl(tmp_path / "bad.jsonl", [
        {"text": th_lines[0], "lang": "th"},                     # 1 ok
        "{not json",                                             # 2
        {"prompt": ja_lines[0]},                                 # 3 no completion
        {"text": ""},                                            # 4 empty
        {"messages": [{"role": "user", "content": ja_lines[1]}]},  # 5 no assistant turn
        {"text": ja_lines[2], "compleiton": "x"},               # 6 typo key
        "",                                                      # 7 blank: skipped
        {"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "y"}]},  # 8
        "[1, 2]",                                                # 9 not an object
        {"text": th_lines[1], "lang": 3},                        # 10 bad lang
    ])
    with pytest.raises(DataError) as e:
        load_records(p)
    assert [n for n, _ in e.value.errors] == [2, 3, 4, 5, 6, 8, 9, 10]
    msg = str(e.value)
    for n in (2, 3, 4, 5, 6, 8, 9, 10):
        assert f"line {n}:" in msg
    assert "'compleiton'" in msg and "role must be" in msg
    # the CLI prints it as one line, exit code 2, no traceback
    from thaija.cli.main import app

    r = CliRunner().invoke(app, ["tune", "mix", str(p)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "line 10:" in r.output


def test_invalid_utf8_and_missing_files(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match="line 2: not valid UTF-8"):
        load_records(p)
    with pytest.raises(ThaijaError, match="no such file"):
        load_records(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(ThaijaError, match="empty"):
        load_records(tmp_path / "empty.jsonl")


def test_record_shapes_and_detected_languages(tmp_path, th_lines, ja_lines):
    p = write_jsonl(tmp_path / "d.jsonl", [
        {"text": th_lines[3]},
        {"prompt": "翻訳してください: " + ja_lines[3], "completion": ja_lines[4]},
        {"messages": [{"role": "user", "content": th_lines[4]},
                      {"role": "assistant", "content": th_lines[5]}], "source": "replay"},
        {"text": "This line is labelled explicitly.", "lang": "EN"},
    ])
    recs = load_records(p)
    assert [(r.kind, r.lang, r.line) for r in recs] == [
        ("text", "th", 1), ("prompt", "ja", 2), ("messages", "th", 3), ("text", "en", 4)]
    assert recs[2].source == "replay"
    assert count_languages(recs) == {"en": 1, "ja": 1, "th": 2}
    assert [r.lang for r in load_records(p, languages=["th"])] == ["th", "th"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["th", "ja", "en"]), st.integers(0, 30)),
                min_size=1, max_size=120),
       st.floats(0.05, 0.5), st.integers(0, 1000))
def test_stratified_split_never_overlaps(items, frac, seed):
    # duplicates included on purpose: identical examples must land on the same side
    recs = [Record("text", lang, i + 1, text=f"{lang}-{k}") for i, (lang, k) in enumerate(items)]
    train, evals = split_eval(recs, frac, seed=seed)
    assert not {r.key for r in train} & {r.key for r in evals}
    assert len({r.key for r in evals}) == len(evals)
    for lang in {r.lang for r in recs}:
        distinct = len({r.key for r in recs if r.lang == lang})
        n_eval = sum(r.lang == lang for r in evals)
        assert any(r.lang == lang for r in train)  # a language is never moved out of training
        if distinct >= 2:
            assert n_eval == min(distinct - 1, max(1, round(frac * distinct)))
        else:
            assert n_eval == 0
    assert split_eval(recs, frac, seed=seed) == (train, evals)


def test_explicit_eval_data_removes_overlap_and_limits(th_lines, ja_lines):
    train = [Record("text", "th", i, text=t) for i, t in enumerate(th_lines[:20])]
    evals = [Record("text", "th", 0, text=th_lines[3]), Record("text", "th", 0, text="อื่น")]
    kept, dropped = remove_overlap(train, evals)
    assert dropped == 1 and th_lines[3] not in {r.text for r in kept}
    lim = limit_per_lang(train + [Record("text", "ja", 99, text=ja_lines[0])], 5)
    assert count_languages(lim) == {"ja": 1, "th": 5}


def test_encode_masks_the_prompt(tokenizer, ja_lines):
    r = Record("prompt", "ja", prompt="要約: " + ja_lines[0], completion=ja_lines[1])
    ids, labels = encode(r, tokenizer, 512)
    target = tokenizer(ja_lines[1], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    n_prompt = len(ids) - len(target)
    assert ids[n_prompt:] == target and labels[n_prompt:] == target
    assert labels[:n_prompt] == [-100] * n_prompt and n_prompt > 3
    # plain text: every token is a target, truncated to max_length
    ids, labels = encode(Record("text", "ja", text=ja_lines[2]), tokenizer, 16)
    assert ids == labels and len(ids) == 16


def test_encode_messages_learns_the_last_assistant_turn(tokenizer, th_lines):
    msgs = (("system", "ตอบสั้น ๆ"), ("user", th_lines[0]), ("assistant", th_lines[1]))
    ids, labels = encode(Record("messages", "th", messages=msgs), tokenizer, 1024)
    learned = tokenizer.decode([t for t in labels if t != -100])
    assert th_lines[1] in learned and th_lines[0] not in learned


def test_config_from_toml_and_validation(tmp_path):
    p = tmp_path / "tune.toml"
    p.write_text('[tune]\ndata = "d.jsonl"\nstrategy = "unimax"\nmax_epochs = 2.5\nr = 8\n'
                 'target_modules = ["q_proj", "v_proj"]\n', encoding="utf-8")
    cfg = TuneConfig.from_toml(p, max_steps=7, alpha=None)
    assert (cfg.strategy, cfg.max_epochs, cfg.r, cfg.max_steps, cfg.alpha) == ("unimax", 2.5, 8, 7, 0.3)
    assert cfg.target_modules == ["q_proj", "v_proj"]
    with pytest.raises(ThaijaError) as e:
        TuneConfig(strategy="nope", r=0, eval_split=1.5)
    assert all(s in str(e.value) for s in ("strategy", "r must be", "eval_split"))
    (tmp_path / "typo.toml").write_text('lora_rank = 8\n')
    with pytest.raises(ThaijaError, match="unknown settings: lora_rank"):
        TuneConfig.from_toml(tmp_path / "typo.toml")
    (tmp_path / "broken.toml").write_text('data = \n')
    with pytest.raises(ThaijaError, match="invalid TOML"):
        TuneConfig.from_toml(tmp_path / "broken.toml")


def test_demo_data_is_nine_to_one_and_disjoint(tmp_path, repo_root):
    from tune_demo import build_demo_data

    tr, ev = build_demo_data(repo_root / "corpora", tmp_path)
    train, evals = load_records(tr), load_records(ev)
    assert count_languages(train) == {"ja": 90, "th": 10}
    assert count_languages(evals) == {"ja": 6, "th": 6}
    assert not {r.prompt for r in train} & {r.prompt for r in evals}
    assert all(r.kind == "prompt" and r.completion for r in train + evals)


def test_cli_mix_json_contract(tmp_path, th_lines, ja_lines):
    from thaija.cli.main import app

    p = write_jsonl(tmp_path / "d.jsonl", [{"lang": "ja", "text": t} for t in ja_lines[:200]]
                    + [{"text": t} for t in th_lines[:50]])  # Thai detected
    r = CliRunner().invoke(app, ["tune", "mix", str(p), "--strategy", "temperature", "--alpha",
                                 "0.5", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"strategy", "counts", "shares", "epochs"}
    assert out["counts"] == {"ja": 200, "th": 50}
    assert out["shares"]["th"] == pytest.approx(50 ** 0.5 / (50 ** 0.5 + 200 ** 0.5), abs=1e-12)
    assert out["epochs"]["th"] == pytest.approx(out["shares"]["th"] * 250 / 50)
    r = CliRunner().invoke(app, ["tune", "mix", str(p), "--strategy", "unimax", "--budget", "100",
                                 "--max-epochs", "1", "--json"])
    assert json.loads(r.stdout)["shares"] == {"ja": 0.5, "th": 0.5}
    r = CliRunner().invoke(app, ["tune", "mix", str(p), "--budget", "0"])
    assert r.exit_code == 2
