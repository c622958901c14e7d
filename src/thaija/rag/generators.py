"""Answer generators: extractive (no LLM), local (transformers causal LM), openai (HTTP).

Every generator turns a grounded :class:`~thaija.rag.prompt.Prompt` into a :class:`Generation`
whose text carries ``[n]`` markers pointing at the prompt's documents. LLM generators also offer
``complete(messages)`` (plain chat), used for agentic question decomposition.
"""
from __future__ import annotations

import math
import os
import time as _time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from thaija.errors import ThaijaError
from thaija.rag.citations import MIN_CHARS, Citation, Evidence, coverage, evidence_windows, make_citation, sentence_evidence, terms
from thaija.rag.prompt import Prompt, masked_messages, prompt_texts

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
    """Stop decoding early (CPU time goes into every new token). ``line``: at the first line break
    after some answer text or the end of a first Japanese sentence (``。``): a grounded answer from a
    small model is one sentence (it otherwise goes on copying the documents); always after a cited sentence that ends its line (``… [n]`` + newline),
    when one token repeats 8 times in a row, or when the draft is merely repeating the prompt's
    own rules (an echo the pipeline refuses anyway)."""

    def __init__(self, tok: Any, prompt_len: int, rules: str, min_echo_tokens: int = 12,
                 line: bool = False) -> None:
        self.tok, self.prompt_len, self.min_echo, self.line = tok, prompt_len, min_echo_tokens, line
        self.rules = " ".join(rules.split())

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.done(input_ids[0]), dtype=torch.bool,
                          device=input_ids.device)

    def done(self, ids: Any) -> bool:
        """True when the tokens after ``prompt_len`` (a tensor or a list of ids) end the answer."""
        new = list(ids[self.prompt_len:].tolist() if hasattr(ids, "tolist") else ids[self.prompt_len:])
        if not new:
            return False
        text = self.tok.decode(new, skip_special_tokens=True)
        if len(new) >= _REPEATS and len(set(new[-_REPEATS:])) == 1:
            return True  # a token stuck in a loop ("1000000…"): nothing more will come
        if _CITED_LINE.search(text):
            return True
        if self.line and ("\n" in text.lstrip() or _JA_SENTENCE_END.search(text)):
            return True
        flat = " ".join(text.split())
        return len(new) >= self.min_echo and len(flat) >= 8 and self.rules.startswith(flat)


#: the same token this many times in a row ends decoding
_REPEATS = 8
_CITED_LINE = __import__("re").compile(r"\[\d+(?:\s*,\s*\d+)*\][ \t]*\n")
#: the end of a first Japanese/Chinese sentence (with its marker, if one follows at once)
_JA_SENTENCE_END = __import__("re").compile(r"[^\s\[\]\d][。！？](?:\s*\[\d+\])?(?!\s*\[)")

#: characters an answer may need beyond its prompt's tokens: digits, markers, punctuation
_ANSWER_EXTRA = "0123456789 [1] [2] [3] [4] [5] [1, 2] ( ) , . : ; ! ? - / % 、 。 「 」 ・ ー ๆ\n"


#: KV caches of the rules prefix, per (model, adapter, dtype, language)
_PREFIX: dict[tuple, dict] = {}


def _rules_prefix_len(tok: Any, text: str, ids: Any, rules: str) -> int:
    """Number of prompt tokens up to the end of the rules (0 when they do not end on a token
    boundary of ``ids``, or are too short to be worth caching)."""
    rules = rules.strip()
    at = text.find(rules) if len(rules) >= 40 else -1
    if at < 0:
        return 0
    head = tok(text[: at + len(rules)], add_special_tokens=False)["input_ids"]
    n = len(head)
    return n if 16 <= n < ids.shape[0] and ids[:n].tolist() == head else 0


def _answer_vocabulary(tok: Any, prompt_ids: Any, lang: str | None) -> Any:
    """Token ids a grounded answer may use: its prompt's, the refusal sentence's, digits and
    punctuation, and the end-of-turn tokens (a sorted LongTensor)."""
    import torch

    extra = _ANSWER_EXTRA
    for lg in {lang or "en", "en"}:
        try:
            extra += "\n" + prompt_texts(lg).refusal + "\n" + _answer_label(lg)
        except Exception:  # a language without prompt texts
            pass
    more = tok(extra, add_special_tokens=False)["input_ids"]
    more += [t for ch in extra for t in tok(ch, add_special_tokens=False)["input_ids"]]
    ids = set(prompt_ids.tolist()) | set(more) | set(_stop_ids(tok))
    return torch.tensor(sorted(ids), dtype=torch.long, device=prompt_ids.device)


def _decoder_parts(model: Any) -> tuple[Any, Any, float | None] | None:
    """(transformer body, output layer, logit soft-cap) of a causal LM, PEFT-wrapped or not."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    body = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    if head is None or body is None or body is base or not hasattr(head, "weight"):
        return None
    return body, head, getattr(base.config, "final_logit_softcapping", None)


def greedy_decode(model: Any, ids: Any, max_new_tokens: int, stop_ids: set[int], done: Any,
                  allowed: Any = None, prefix_len: int = 0, store: dict | None = None) -> list[int]:
    """Greedy decoding of one sequence with the KV cache: the new token ids.

    The output layer is applied to the last position only, and only to the rows of ``allowed``
    (token ids) when given. ``done(new_ids)`` ends decoding early; a token of ``stop_ids`` ends it
    (not included). ``store`` (a dict kept by the caller) holds the KV cache of the first
    ``prefix_len`` prompt tokens (the rules, the same for every question of a language): a prompt
    that starts with the same tokens reuses a copy instead of encoding them again. Models whose
    body and head cannot be told apart use ``model.generate``."""
    import copy
    import inspect

    import torch

    parts = _decoder_parts(model)
    if parts is None:
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                 eos_token_id=sorted(stop_ids) or None)
        new = out[0, ids.shape[1]:].tolist()
        cut = next((i for i, t in enumerate(new) if t in stop_ids), len(new))
        return new[:cut]
    body, head, _cap = parts  # the soft-cap (tanh) keeps the order: greedy ignores it
    weight, bias = head.weight, getattr(head, "bias", None)
    if allowed is not None:
        weight = weight.index_select(0, allowed)
        bias = bias.index_select(0, allowed) if bias is not None else None
    params = inspect.signature(body.forward).parameters
    key = "cache" if "cache" in params else "past_key_values"
    new: list[int] = []
    cache, x = None, ids
    with torch.inference_mode():
        if store is not None and 0 < prefix_len < ids.shape[1]:
            key_ids = tuple(ids[0, :prefix_len].tolist())
            hit = store.get(key_ids)
            if hit is None:
                first = body(input_ids=ids[:, :prefix_len], use_cache=True)
                hit = getattr(first, key, None)
                if hit is None:
                    hit = getattr(first, "past_key_values", None)
                store.clear()  # one prefix per language at a time is enough
                store[key_ids] = hit
            if hit is not None:
                cache, x = copy.deepcopy(hit), ids[:, prefix_len:]
        for _ in range(max_new_tokens):
            kw = {key: cache} if cache is not None else {}
            out = body(input_ids=x, use_cache=True, **kw)
            cache = getattr(out, key, None)
            if cache is None:
                cache = getattr(out, "past_key_values", None)
            h = out.last_hidden_state[:, -1]
            j = int(torch.nn.functional.linear(h.to(weight.dtype), weight, bias).argmax(-1)[0])
            t = int(allowed[j]) if allowed is not None else j
            if t in stop_ids:
                break
            new.append(t)
            if done(new):
                break
            x = torch.tensor([[t]], dtype=ids.dtype, device=ids.device)
    return new


_OWN: list[tuple[float, float]] = [(_time.monotonic(), _time.process_time())]  # (wall, CPU) samples, newest last


def _own_load(window: float = 60.0) -> float:
    """This process's share of the 1-minute load average: its CPU seconds per wall second over
    (about) the last minute, from samples taken at each call."""
    now, cpu = _time.monotonic(), _time.process_time()
    _OWN.append((now, cpu))
    while len(_OWN) > 2 and now - _OWN[1][0] >= window:
        _OWN.pop(0)
    t0, c0 = _OWN[0]
    if now - t0 < 1.0:
        return 0.0
    return max(0.0, (cpu - c0) / (now - t0))


@dataclass
class LocalGenerator:
    """A transformers causal LM on this machine (default: the offline Gemma-3-270m of the tune
    stage), optionally with a PEFT adapter directory from ``thaija tune``.

    What makes it fast enough on a CPU (benchmarks/local_generator.py): greedy decoding with the
    KV cache; logits only for the last position (transformers passes ``logits_to_keep=1``: the
    262k-row output layer is most of Gemma-3-270m's weights); bfloat16 weights where the CPU has
    bf16 instructions (``dtype="auto"``; halves the memory read per new token); stop at the end of
    the answer line or at end-of-turn; the prompt budget (``context_tokens``, default 1536: five
    256-token chunks plus rules) counted in the model's own tokens. ``threads``: torch CPU threads
    while generating; default None = the cores left free by the current load (see
    :meth:`cpu_threads`): on a busy 2-core machine one thread measured ~3x less CPU and wall time
    than two (up to ~15x less wall time under heavy load), while an idle machine gets every core.

    ``answer_prefix``: open the model's turn with the language's answer label ("คำตอบ:", "回答:",
    "Answer:"). The untuned base Gemma-3-270m is not instruction-tuned: given the plain chat turn it
    repeats the rules; after the label it answers from the documents. ``None`` (default) = only
    without an adapter (``tune qa-data`` examples, hence tuned adapters, answer without a label).

    ``vocabulary``: ``"prompt"`` (default) decodes a grounded answer over the tokens of its own
    prompt (documents, question, rules), the refusal sentence, digits and punctuation only: the
    output layer then scores ~1-2k rows instead of Gemma's 262k, which was ~85 ms of every new
    token on one core (the transformer body is the rest). The answer stage only accepts text the
    documents support, so a token that occurs in none of them could not survive it anyway; greedy
    decoding gives the same token whenever the full vocabulary's best one is in the set.
    ``"full"``: every token (also used for plain chat, :meth:`complete`).
    """

    model_name: str | None = None
    adapter: str | None = None
    max_new_tokens: int = 48
    context_tokens: int = 1536
    threads: int | None = None
    name: str = "local"
    tokenizer: str | None = None
    prompt_style: str = "plain"
    dtype: str = "auto"
    answer_prefix: bool | None = None
    vocabulary: str = "prompt"

    @property
    def model(self) -> str:
        return (self.model_name or "gemma-3-270m") + (f"+{self.adapter}" if self.adapter else "")

    @property
    def count_source(self) -> dict[str, Any]:
        """Which tokenizer budgets the prompt (exact: the model's own)."""
        name = self.tokenizer or "the model's own tokenizer"
        return {"tokenizer": name, "approximation": False}

    def cpu_threads(self) -> int:
        """Torch threads for the next answer: ``threads`` when set, else (``threads=None``) the cores
        the machine leaves free right now (CPU count minus the 1-minute load average, at least 1):
        all cores on an idle machine, one on a busy one, where a second thread only waits."""
        if self.threads:
            return int(self.threads)
        cores = os.cpu_count() or 1
        try:
            busy = os.getloadavg()[0]
        except OSError:  # no load average on this platform
            busy = 0.0
        # the load average counts this process's own recent work (the previous answers): without
        # taking it out, an idle machine that answers questions one after another reads as busy
        busy = max(0.0, busy - _own_load())
        return max(1, min(cores, int(cores - busy + 0.5)))

    def _dtype(self, device: str) -> Any:
        import torch

        if self.dtype == "auto":
            from thaija.models.precision import bf16_native

            return torch.bfloat16 if device == "cpu" and bf16_native() else torch.float32
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ThaijaError(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")
        return getattr(torch, self.dtype)

    def _load(self) -> tuple[Any, Any]:
        key = (self.model_name, self.adapter, self.dtype)
        if key not in _LOADED:
            from thaija.models.causal_lm import load_causal_lm

            model, tok = load_causal_lm(model=self.model_name, adapter=self.adapter)
            model.to(self._dtype(model.device.type))  # adapters load in float32; cast them too
            model.eval()
            _LOADED[key] = (model, tok)
        return _LOADED[key]

    def count(self, text: str) -> int:
        if self.tokenizer:
            return _registry_counter(self.tokenizer)(text)
        _, tok = self._load()
        return len(tok(text, add_special_tokens=False)["input_ids"])

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        return self._run(messages, max_tokens or self.max_new_tokens)

    def _run(self, messages: list[dict[str, str]], max_tokens: int, prefix: str = "",
             line: bool = False, lang: str | None = None) -> str:
        """Greedy decoding with the KV cache; ``lang`` set = a grounded answer (see ``vocabulary``)."""
        import torch

        model, tok = self._load()
        rules = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        messages = chat_messages(messages)
        try:
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception:  # a tokenizer without chat template: plain concatenation
            text = "\n\n".join(m["content"] for m in messages) + "\n\n"
        # the template already holds BOS: no second one
        ids = tok(text + prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
        ids = ids.to(model.device)  # the model may sit on CUDA
        if self.vocabulary not in ("prompt", "full"):
            raise ThaijaError(f"vocabulary must be prompt or full, got {self.vocabulary!r}")
        allowed = (_answer_vocabulary(tok, ids[0], lang) if lang is not None and self.vocabulary == "prompt"
                   else None)
        stop = _EarlyStop(tok, 0, messages[0]["content"] if messages else "", line=line)
        prefix_len = _rules_prefix_len(tok, text, ids[0], rules)
        store = _PREFIX.setdefault((self.model_name, self.adapter, self.dtype, lang), {})
        before = torch.get_num_threads()
        if model.device.type == "cpu":
            torch.set_num_threads(self.cpu_threads())
        try:
            new = greedy_decode(model, ids, max_tokens, set(_stop_ids(tok)), stop.done, allowed,
                                prefix_len=prefix_len, store=store)
        finally:
            torch.set_num_threads(before)
        return tok.decode(new, skip_special_tokens=True).strip()

    def generate(self, prompt: Prompt, question: str, lang: str) -> Generation:
        use = self.answer_prefix if self.answer_prefix is not None else self.adapter is None
        prefix = _answer_label(lang) if use else ""
        text = self._run(masked_messages(prompt), self.max_new_tokens, prefix, line=True, lang=lang)
        meta: dict[str, Any] = {"answer_prefix": prefix} if prefix else {}
        if _restates_question(text, question, lang):  # a small model's favourite non-answer
            return Generation("", None, self.model, meta={**meta, "question_echo": True, "draft": text})
        other = _other_language(text, lang)
        if other:  # answers come in the question's language: a draft in another one is refused
            return Generation("", None, self.model, meta={**meta, "wrong_language": other, "draft": text})
        return Generation(text, None, self.model, meta=meta)


def _restates_question(text: str, question: str, lang: str) -> bool:
    """True when the draft adds no content term to the question (it repeats or rephrases it)."""
    import re

    body = re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", "", text).strip()
    label = prompt_texts(lang).question_label
    if body.startswith(label):
        body = body[len(label):].lstrip(" :：")
    got, asked = set(terms(body, lang)), set(terms(question, lang))
    return not got or got <= asked


def _answer_label(lang: str) -> str:
    """The language profile's answer label (``[prompt] answer_header``), e.g. ``คำตอบ:``."""
    labels = {"th": "คำตอบ:", "ja": "回答:", "en": "Answer:"}
    try:
        from thaija.lang.profiles import get_profile

        got = (getattr(get_profile(lang), "prompt", None) or {}).get("answer_header")
        if isinstance(got, str) and got.strip():
            return got.strip()
    except Exception:
        pass
    return labels.get(lang, "Answer:")


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
    tokenizer: str | None = None  # None: the model's own, looked up by name (thaija.tokenizers.models)
    name: str = "openai"
    prompt_style: str = "tags"

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ThaijaError(f"--base-url must start with http:// or https://, got {self.base_url!r}")
        self.model_name = self.model_name or os.environ.get("OPENAI_MODEL") or "gpt-4o-mini"
        self._counter: Any = None
        self._source: dict[str, Any] | None = None

    @property
    def model(self) -> str:
        return str(self.model_name)

    @property
    def count_source(self) -> dict[str, Any]:
        """Which tokenizer budgets the prompt, and whether that is only an approximation (and why)."""
        if self._source is None:
            self._counter, self._source = _model_counter(self.model, self.tokenizer)
        return self._source

    def count(self, text: str) -> int:
        if self._counter is None:
            self._counter, self._source = _model_counter(self.model, self.tokenizer)
        return self._counter(text)

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
        return Generation(self.complete(masked_messages(prompt)), None, self.model,
                          meta={"token_count": self.count_source})


#: Used for a model whose tokenizer is unknown or cannot load offline (labelled as an approximation).
APPROX_TOKENIZER = "o200k_base"


def _model_counter(model: str, tokenizer: str | None) -> tuple[Any, dict[str, Any]]:
    """A token counter for an HTTP model and its label: ``tokenizer`` when named, else the model
    name's own tokenizer (``thaija.tokenizers.models.lookup_model``), else o200k_base, labelled as
    an approximation with the reason. Never characters/2."""
    from thaija.tokenizers import counter
    from thaija.tokenizers.models import lookup_model

    if tokenizer:
        return counter(tokenizer, fallback=False), {"tokenizer": tokenizer, "approximation": False,
                                                    "reason": "named with --tokenizer"}
    try:
        m = lookup_model(model)
        source = {"tokenizer": m.tokenizer, "approximation": m.approximation, "reason": m.reason}
    except ThaijaError:
        source = {"tokenizer": APPROX_TOKENIZER, "approximation": True,
                  "reason": f"model {model!r} is not in the tokenizer registry: counted with "
                            f"{APPROX_TOKENIZER} (approximation)"}
    try:
        return counter(source["tokenizer"], fallback=False), source
    except (ThaijaError, ImportError) as exc:  # e.g. a hub tokenizer not cached offline
        why = f"{source['tokenizer']} cannot load here ({str(exc).splitlines()[0][:120]}): counted with " \
              f"{APPROX_TOKENIZER} (approximation)"
        return counter(APPROX_TOKENIZER, fallback=False), {"tokenizer": APPROX_TOKENIZER,
                                                           "approximation": True, "reason": why}


def make_generator(name: str = "extractive", *, model: str | None = None, adapter: str | None = None,
                   base_url: str | None = None, context_tokens: int | None = None,
                   tokenizer: str | None = None) -> Generator:
    """A generator by name: ``extractive`` | ``local`` | ``openai``. ``tokenizer``: a registry
    name that budgets the prompt (default: the model's own tokenizer)."""
    if name == "extractive":
        g: Any = ExtractiveGenerator()
    elif name == "local":
        g = LocalGenerator(model_name=model, adapter=adapter,
                           tokenizer=tokenizer or ("gemma3" if model is None else None))
    elif name == "openai":
        g = OpenAIGenerator(base_url=base_url, model_name=model, tokenizer=tokenizer)
    else:
        raise ThaijaError(f"unknown generator {name!r}: choose one of {', '.join(GENERATORS)}")
    if context_tokens:
        g.context_tokens = int(context_tokens)
    return g
