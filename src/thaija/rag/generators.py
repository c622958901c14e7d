"""Answer generators: extractive (no LLM), local (transformers causal LM), openai (HTTP).

Every generator turns a grounded :class:`~thaija.rag.prompt.Prompt` into a :class:`Generation`
whose text carries ``[n]`` markers pointing at the prompt's documents. LLM generators also offer
``complete(messages)`` (plain chat), used for agentic question decomposition.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from thaija.errors import ThaijaError
from thaija.rag.citations import MIN_CHARS, Citation, Evidence, coverage, evidence_windows, make_citation, sentence_evidence, terms
from thaija.rag.prompt import Prompt

from thaija.rag.config import GENERATORS  # noqa: E402,F401 (defined once, in rag/config.py)


@dataclass
class Generation:
    """A generated answer; ``citations`` is set when the generator knows its exact spans."""

    text: str
    citations: list[Citation] | None = None
    model: str = ""
    score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class Generator(Protocol):
    name: str
    model: str
    tokenizer: str | None      # cost-registry name used to budget prompts (None: own tokenizer)
    context_tokens: int         # prompt budget

    def generate(self, prompt: Prompt, question: str, lang: str) -> Generation: ...

    def complete(self, messages: list[dict[str, str]], max_tokens: int = 256) -> str | None: ...

    def count(self, text: str) -> int: ...


def _registry_counter(name: str):
    """Counter of a tokenizer or model name; characters/2 only when it cannot load (thaija.tokenizers)."""
    from thaija.tokenizers import counter

    return counter(name)


# --------------------------------------------------------------------------- extractive
@dataclass
class ExtractiveGenerator:
    """Selects the retrieved sentence(s) that best cover the question's content terms.

    Terms are the normalised segments of ``thaija.lang.segment`` (so Thai and Japanese match on
    words, not characters), weighted by inverse sentence frequency over the retrieved sentences;
    a small bonus favours higher-ranked chunks. Candidates are windows: a sentence shorter than
    ``min_chars[lang]`` grows by its following sentences (one contiguous document span, so the quote
    stays exact). Thai needs longer windows because its "sentences" are space-separated phrases
    (160 characters: oracle-paragraph answer recall 0.75 on corpora/wiki_th vs 0.55 at 80).
    """

    max_sentences: int = 1
    min_chars: dict[str, int] = field(default_factory=lambda: dict(MIN_CHARS))
    rank_bonus: float = 0.03
    name: str = "extractive"
    model: str = "extractive"
    tokenizer: str | None = "o200k_base"
    context_tokens: int = 4096
    prompt_style: str = "tags"

    def count(self, text: str) -> int:
        return _registry_counter(self.tokenizer or "o200k_base")(text)

    def complete(self, messages: list[dict[str, str]], max_tokens: int = 256) -> str | None:
        return None  # no language model: decomposition stays rule-based

    def select(self, question: str, hits: Sequence[Any], lang: str) -> list[tuple[float, Evidence]]:
        """Ranked (score, evidence) pairs, best first, contiguous-extended when short."""
        evidence = sentence_evidence(hits)
        if not evidence:
            return []
        q = terms(question, lang)
        windows = evidence_windows(hits, self.min_chars)
        sent_terms = [set(terms(ev.text, ev.lang)) for ev in evidence]
        win_terms = [set(terms(w.text, w.lang)) for w in windows]
        df = Counter(t for st in sent_terms for t in set(q) & st)
        n = len(evidence)
        weights = {t: math.log(1 + n / (1 + df[t])) for t in set(q)}
        scored = []
        for ev, wt in zip(windows, win_terms):
            s = coverage(q, wt, weights)
            if s > 0:
                scored.append((s + self.rank_bonus / (1 + ev.hit), ev))
        scored.sort(key=lambda x: (-x[0], x[1].hit, x[1].start))
        return scored

    def generate(self, prompt: Prompt, question: str, lang: str) -> Generation:
        ranked = self.select(question, prompt.hits, lang)
        if not ranked:
            return Generation("", [], self.model, 0.0)
        chosen: list[Evidence] = []
        covered: set[str] = set()
        q = set(terms(question, lang))
        for s, ev in ranked:
            if len(chosen) >= self.max_sentences:
                break
            et = set(terms(ev.text, ev.lang))
            if chosen and (not (q & et) - covered or s < 0.5 * ranked[0][0]):
                continue
            if any(c.hit == ev.hit and c.start < ev.end and ev.start < c.end for c in chosen):
                continue
            chosen.append(ev)
            covered |= q & et
        cites = [make_citation(i + 1, prompt.hits[ev.hit], ev.start, ev.end) for i, ev in enumerate(chosen)]
        sep = "" if lang == "ja" else " "
        text = sep.join(f"{c.quote} [{c.n}]" for c in cites)
        return Generation(text, cites, self.model, ranked[0][0])


# --------------------------------------------------------------------------- local
_LOADED: dict[tuple[str | None, str | None], tuple[Any, Any]] = {}


def chat_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The turns a small chat model really sees: Gemma has no system role, so the rules open the
    first user turn. ``tune qa-data`` writes training examples in exactly this form."""
    if messages and messages[0]["role"] == "system" and len(messages) > 1:
        return [{"role": messages[1]["role"], "content": messages[0]["content"] + "\n\n" + messages[1]["content"]},
                *messages[2:]]
    return list(messages)


def _stop_ids(tok: Any) -> list[int]:
    """Token ids that end an answer: EOS and Gemma's ``<end_of_turn>``."""
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    vocab = tok.get_vocab()
    for t in ("<end_of_turn>", "<|im_end|>", "<|eot_id|>"):
        if t in vocab:
            ids.add(vocab[t])
    return sorted(ids)


class _EarlyStop:
    """Stop decoding early (CPU time goes into every token): after a cited sentence that ends its
    line (``… [n]`` + newline: the answer is complete), or when the draft is merely repeating the
    prompt's own rules (an echo the pipeline refuses anyway)."""

    def __init__(self, tok: Any, prompt_len: int, rules: str, min_echo_tokens: int = 12) -> None:
        self.tok, self.prompt_len, self.min_echo = tok, prompt_len, min_echo_tokens
        self.rules = " ".join(rules.split())

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.done(input_ids[0]), dtype=torch.bool,
                          device=input_ids.device)

    def done(self, ids: Any) -> bool:
        new = ids[self.prompt_len:]
        if new.numel() == 0:
            return False
        text = self.tok.decode(new, skip_special_tokens=True)
        if _CITED_LINE.search(text):
            return True
        flat = " ".join(text.split())
        return new.numel() >= self.min_echo and len(flat) >= 8 and self.rules.startswith(flat)


_CITED_LINE = __import__("re").compile(r"\[\d+(?:\s*,\s*\d+)*\][ \t]*\n")


@dataclass
class LocalGenerator:
    """A transformers causal LM on this machine (default: the offline Gemma-3-270m of the tune
    stage), optionally with a PEFT adapter directory from ``thaija tune``.

    Greedy decoding with the KV cache, stopping at end-of-turn; the prompt budget
    (``context_tokens``, default 1536: five 256-token chunks plus rules) is counted in the
    model's own tokens. ``threads``: torch CPU threads while generating (default 1: a 270M model
    is memory-bound, and on a busy 2-core machine one thread measured ~15x faster than two).
    """

    model_name: str | None = None
    adapter: str | None = None
    max_new_tokens: int = 64
    context_tokens: int = 1536
    threads: int | None = 1
    name: str = "local"
    tokenizer: str | None = None
    prompt_style: str = "plain"

    @property
    def model(self) -> str:
        return (self.model_name or "gemma-3-270m") + (f"+{self.adapter}" if self.adapter else "")

    def _load(self) -> tuple[Any, Any]:
        key = (self.model_name, self.adapter)
        if key not in _LOADED:
            from thaija.models.causal_lm import load_causal_lm

            model, tok = load_causal_lm(model=self.model_name, adapter=self.adapter)
            model.eval()
            _LOADED[key] = (model, tok)
        return _LOADED[key]

    def count(self, text: str) -> int:
        if self.tokenizer:
            return _registry_counter(self.tokenizer)(text)
        _, tok = self._load()
        return len(tok(text, add_special_tokens=False)["input_ids"])

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        import torch

        model, tok = self._load()
        messages = chat_messages(messages)
        try:
            enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        except Exception:  # a tokenizer without chat template: plain concatenation
            text = "\n\n".join(m["content"] for m in messages) + "\n\n"
            enc = tok(text, return_tensors="pt")
        enc = {k: v.to(model.device) for k, v in enc.items()}  # the model may sit on CUDA
        from transformers import StoppingCriteriaList

        stop = _EarlyStop(tok, enc["input_ids"].shape[1], messages[0]["content"] if messages else "")
        before = torch.get_num_threads()
        if self.threads and model.device.type == "cpu":
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=max_tokens or self.max_new_tokens, do_sample=False,
                                     use_cache=True, eos_token_id=_stop_ids(tok) or None,
                                     stopping_criteria=StoppingCriteriaList([stop]),
                                     pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        finally:
            torch.set_num_threads(before)
        new = out[0, enc["input_ids"].shape[1]:]
        return tok.decode(new, skip_special_tokens=True).strip()

    def generate(self, prompt: Prompt, question: str, lang: str) -> Generation:
        text = self.complete(prompt.messages)
        other = _other_language(text, lang)
        if other:  # answers come in the question's language: a draft in another one is refused
            return Generation("", None, self.model, meta={"wrong_language": other, "draft": text})
        return Generation(text, None, self.model)


def _other_language(text: str, lang: str) -> str | None:
    """The draft's language when it is clearly not ``lang`` (th/ja/en only), else None."""
    import re

    from thaija.lang import detect

    body = re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", "", text).strip()
    if not body or lang not in ("th", "ja", "en"):
        return None
    found = detect(body).lang
    return found if found in ("th", "ja", "en") and found != lang else None


# --------------------------------------------------------------------------- openai
@dataclass
class OpenAIGenerator:
    """Any OpenAI-compatible ``/chat/completions`` endpoint. The key comes from ``OPENAI_API_KEY``
    (optional for local servers); ``base_url`` ends before ``/chat/completions`` (e.g. ``…/v1``)."""

    base_url: str | None = None
    model_name: str | None = None
    max_new_tokens: int = 256
    context_tokens: int = 4096
    timeout: float = 120.0
    tokenizer: str | None = "o200k_base"
    name: str = "openai"
    prompt_style: str = "tags"

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ThaijaError(f"--base-url must start with http:// or https://, got {self.base_url!r}")
        self.model_name = self.model_name or os.environ.get("OPENAI_MODEL") or "gpt-4o-mini"

    @property
    def model(self) -> str:
        return str(self.model_name)

    def count(self, text: str) -> int:
        return _registry_counter(self.tokenizer or "o200k_base")(text)

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        import httpx

        headers = {"Content-Type": "application/json"}
        key = os.environ.get("OPENAI_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {"model": self.model, "messages": messages, "temperature": 0,
                "max_tokens": max_tokens or self.max_new_tokens}
        url = f"{self.base_url}/chat/completions"
        try:
            r = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ThaijaError(f"cannot reach {url}: {exc}") from exc
        if r.status_code >= 400:
            try:
                msg = r.json().get("error", {}).get("message") or r.text
            except Exception:
                msg = r.text
            raise ThaijaError(f"{url} answered HTTP {r.status_code}: {str(msg)[:200]}")
        try:
            return r.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ThaijaError(f"{url} did not answer in the OpenAI chat format") from exc

    def generate(self, prompt: Prompt, question: str, lang: str) -> Generation:
        return Generation(self.complete(prompt.messages), None, self.model)


def make_generator(name: str = "extractive", *, model: str | None = None, adapter: str | None = None,
                   base_url: str | None = None, context_tokens: int | None = None) -> Generator:
    """A generator by name: ``extractive`` | ``local`` | ``openai``."""
    if name == "extractive":
        g: Any = ExtractiveGenerator()
    elif name == "local":
        g = LocalGenerator(model_name=model, adapter=adapter, tokenizer="gemma3" if model is None else None)
    elif name == "openai":
        g = OpenAIGenerator(base_url=base_url, model_name=model)
    else:
        raise ThaijaError(f"unknown generator {name!r}: choose one of {', '.join(GENERATORS)}")
    if context_tokens:
        g.context_tokens = int(context_tokens)
    return g
