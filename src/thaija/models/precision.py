"""Which float type this CPU runs matrix products fastest in.

bfloat16 halves the memory a matmul reads, but only CPUs with bf16 matrix instructions (AVX512-BF16,
AMX) run it natively; elsewhere (AVX2, plain AVX-512) torch emulates it and a bf16 matmul costs 4-6x
its fp32 twin (measured on an AVX2 EPYC: the e5-small encoder 29 s bf16 vs 4.9 s fp32 for the same
60 paragraphs; Gemma-3-270m prefill 24.6 s vs 5.3 s). ``auto`` choices read :func:`bf16_native`.
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def bf16_native() -> bool:
    """True when this CPU has native bfloat16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        import torch

        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - no torch, or a build without the op: fp32
        return False
