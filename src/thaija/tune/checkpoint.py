"""Checkpoints without pickle: adapter + optimizer tensors as safetensors, the rest as JSON.

Layout of ``OUTPUT/checkpoints/step-000050/``::

    adapter_model.safetensors adapter_config.json   (PEFT)
    optimizer.safetensors                           (AdamW moments per parameter index)
    rng.safetensors                                 (torch CPU / CUDA generator states)
    state.json                                      (step, history, eval_before, optimizer groups,
                                                     run signature)
"""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from thaija.errors import ThaijaError

STATE = "state.json"


def checkpoint_dirs(output: str | Path) -> list[Path]:
    """Completed checkpoints in ``output`` (oldest first)."""
    root = Path(output) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if (p / STATE).is_file())


def save_checkpoint(output: str | Path, step: int, model: Any, optimizer: Any,
                    state: dict[str, Any], keep: int = 2) -> Path:
    """Write a checkpoint for ``step`` atomically (tmp dir + rename) and prune old ones."""
    import torch
    from safetensors.torch import save_file

    root = Path(output) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    tmp = root / f".tmp-step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with warnings.catch_warnings():  # PEFT cannot find a hub config for the default's alias
        warnings.simplefilter("ignore", UserWarning)
        model.save_pretrained(tmp)
    opt = optimizer.state_dict()
    tensors: dict[str, Any] = {}
    for idx, st in opt["state"].items():
        for k, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(v)
            tensors[f"{idx}.{k}"] = t.detach().cpu().contiguous()
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"cuda{i}"] = s
    save_file(rng, str(tmp / "rng.safetensors"))
    groups = [{k: v for k, v in g.items() if k != "params"} | {"params": list(g["params"])}
              for g in opt["param_groups"]]
    (tmp / STATE).write_text(json.dumps({**state, "step": step, "param_groups": groups},
                                        ensure_ascii=False, indent=1, default=_jsonable),
                             encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    for old in checkpoint_dirs(output)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _jsonable(x: Any) -> Any:
    if isinstance(x, tuple):
        return list(x)
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"not JSON serializable: {type(x).__name__}")


def read_state(path: str | Path) -> dict[str, Any]:
    """The JSON part of a checkpoint (step, history, run signature, …)."""
    return json.loads((Path(path) / STATE).read_text(encoding="utf-8"))


def load_checkpoint(path: str | Path, model: Any, optimizer: Any) -> dict[str, Any]:
    """Restore adapter weights, optimizer state and RNG from ``path``; return its state.json."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    p = Path(path)
    state = read_state(p)
    weights = load_file(str(p / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(model, weights)
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
    if missing:
        raise ThaijaError(f"{p}: checkpoint does not match the model ({missing[0]} …)")
    flat = load_file(str(p / "optimizer.safetensors"))
    opt_state: dict[int, dict[str, Any]] = {}
    for key, t in flat.items():
        idx, name = key.split(".", 1)
        opt_state.setdefault(int(idx), {})[name] = t
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g
              for g in state.pop("param_groups")]
    optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    rng = load_file(str(p / "rng.safetensors"))
    torch.set_rng_state(rng["cpu"])
    if torch.cuda.is_available():
        states = [rng[k] for k in sorted(k for k in rng if k.startswith("cuda"))]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    return state
