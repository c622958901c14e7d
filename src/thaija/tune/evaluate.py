"""Per-language loss and perplexity (token-weighted mean NLL over each language's examples)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from thaija.tune.data import Record, encode

Encoded = tuple[list[int], list[int]]


def collate(items: Sequence[Encoded], pad_id: int, device: Any = None):
    """Right-pad a list of (ids, labels) into tensors: input_ids, attention_mask, labels."""
    import torch

    width = max(len(ids) for ids, _ in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    for i, (x, y) in enumerate(items):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
        labels[i, : len(y)] = torch.tensor(y)
    if device is not None:
        ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
    return ids, mask, labels


def example_nll(model: Any, ids: Any, mask: Any, labels: Any):
    """Summed next-token NLL and number of target tokens, per example (tensors of shape [B]).

    Only positions whose next token is a target go through the output layer (``logits_to_keep``
    with a boolean mask): with Gemma's 262k vocabulary the head is most of the compute, and
    prompts, padding and masked turns need no logits. Models without that argument fall back to
    full logits.
    """
    import torch
    import torch.nn.functional as F

    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != -100
    targets = labels[:, 1:][keep[:, :-1]]
    rows = keep.nonzero()[:, 0]
    logits = None
    if getattr(model, "_thaija_logits_to_keep", True):
        try:
            out = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
            logits = out.reshape(-1, out.size(-1))
            if logits.size(0) != targets.numel():
                logits = None
        except TypeError:
            logits = None
        if logits is None:
            model._thaija_logits_to_keep = False
    if logits is None:
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][keep[:, :-1]]
    nll = F.cross_entropy(logits.float(), targets, reduction="none")
    sums = torch.zeros(labels.size(0), dtype=nll.dtype, device=nll.device).index_add(0, rows, nll)
    return sums, torch.bincount(rows, minlength=labels.size(0))


def evaluate_encoded(model: Any, data: Sequence[tuple[str, Encoded]], *, pad_id: int,
                     batch_size: int = 8, device: Any = None) -> dict[str, dict[str, float]]:
    """``{lang: {"loss", "perplexity", "tokens", "examples"}}`` for pre-encoded (lang, example)s."""
    import torch

    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    toks: dict[str, int] = {}
    n: dict[str, int] = {}
    # length-sorted batches waste less padding
    order = sorted(range(len(data)), key=lambda i: len(data[i][1][0]))
    with torch.no_grad():
        for b in range(0, len(order), batch_size):
            chunk = [data[i] for i in order[b: b + batch_size]]
            ids, mask, labels = collate([e for _, e in chunk], pad_id, device)
            s, t = example_nll(model, ids, mask, labels)
            for (lang, _), si, ti in zip(chunk, s.tolist(), t.tolist()):
                sums[lang] = sums.get(lang, 0.0) + si
                toks[lang] = toks.get(lang, 0) + int(ti)
                n[lang] = n.get(lang, 0) + 1
    if was_training:
        model.train()
    out = {}
    for lang in sorted(sums):
        loss = sums[lang] / max(toks[lang], 1)
        out[lang] = {"loss": loss, "perplexity": math.exp(min(loss, 700.0)),
                     "tokens": toks[lang], "examples": n[lang]}
    return out


def evaluate(model: Any, tokenizer: Any, records: Sequence[Record], *, max_length: int = 256,
             batch_size: int = 8) -> dict[str, dict[str, float]]:
    """Per-language ``{"loss", "perplexity", "tokens", "examples"}`` of ``model`` on ``records``."""
    data = [(r.lang, encode(r, tokenizer, max_length)) for r in records]
    device = next(model.parameters()).device
    return evaluate_encoded(model, data, pad_id=tokenizer.pad_token_id, batch_size=batch_size,
                            device=device)


def evaluate_model(data: str, *, model: str | None = None, adapter: str | None = None,
                   max_length: int = 256, batch_size: int = 8,
                   max_per_lang: int | None = None, seed: int = 0,
                   num_threads: int | None = None) -> dict[str, Any]:
    """`thaija tune eval`: load a base model (+ adapter) and evaluate it on a JSONL file."""
    import torch

    if num_threads:
        torch.set_num_threads(num_threads)
    from thaija.tune.data import limit_per_lang, load_records
    from thaija.models.causal_lm import DEFAULT_MODEL, base_model_of, load_causal_lm

    records = limit_per_lang(load_records(data), max_per_lang, seed)
    lm, tok = load_causal_lm(model, adapter)
    name = model or (base_model_of(adapter) if adapter else DEFAULT_MODEL)
    return {"model": name, "adapter": adapter, "data": str(data),
            "eval": evaluate(lm, tok, records, max_length=max_length, batch_size=batch_size)}
