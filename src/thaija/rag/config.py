"""Configs of the rag stage, defined once (light: no generator, no index, no web framework).

:class:`AskConfig` is the one answering config: ``thaija ask`` builds it from its flags,
:class:`QAEvalConfig` (``eval-qa``) and :class:`ServeConfig` (``serve``) embed it instead of copying
its fields. The CLI builds its options from these fields (help and defaults written once).
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from thaija.config import setting
from thaija.errors import ThaijaError
from thaija.retrieve.config import MODES

GENERATORS = ("extractive", "local", "openai")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def _groups(value) -> tuple[str, ...] | None:
    """``"a,b"`` or a sequence -> a tuple of stripped names (None when empty)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    return tuple(g.strip() for g in items if g and g.strip()) or None


#: ``ask`` (library and CLI) cuts a question to this many characters; ``serve`` by default too.
MAX_QUESTION_CHARS = 4000

@dataclass
class AskConfig:
    """Settings of one ask call (validated; every CLI flag maps to one field; the one config that
    ``thaija ask``, ``eval-qa`` (embedded in QAEvalConfig) and ``serve`` (embedded in ServeConfig) share).

    ``min_support``: refuse below this calibrated support (``None``: the per-language thresholds
    fitted by ``benchmarks/refusal_curve.py``, see docs/rag.md); answers between it and the fitted
    review threshold are given but flagged low-confidence and queued for review.
    """

    generator: str = setting("extractive", (
        "extractive (no LLM: best-supported retrieved sentences), local (transformers causal LM, default "
        "offline Gemma-3-270m) or openai (any OpenAI-compatible endpoint; key from OPENAI_API_KEY)."),
        choices=GENERATORS)
    k: int = setting(5, "Chunks retrieved per question.")
    mode: str = setting("hybrid", "Retrieval: hybrid (default), bm25 or dense.", choices=MODES)
    groups: tuple[str, ...] | str | None = setting(None, (
        "Access groups, comma-separated (a,b): documents of other groups are never used."))
    agentic: bool = setting(False, (
        "Split a complex question into sub-questions and retrieve in bounded rounds, re-querying gaps."))
    max_rounds: int = setting(3, "Agentic mode: at most this many retrieval rounds.")
    split: bool = setting(True, (
        "A question that asks two things (two question words, e.g. ลาป่วยได้กี่วัน และลาพักร้อนได้กี่วัน) is "
        "answered part by part in agentic rounds even without --agentic; --no-split: one retrieval round."))
    min_support: float | None = setting(None, (
        "Refuse below this calibrated support in [0, 1] (default: the per-language thresholds fitted on "
        "the dev sets, see docs/rag.md; reason below_min_support when this threshold, not the fitted one, "
        "refused). Even 0 refuses when no retrieved text holds the asked quantity or model name "
        "(reason fact_missing)."))
    citation_support: float = setting(0.5, "An LLM answer sentence's citation must cover this share of its terms.")
    context_tokens: int | None = setting(None, "Prompt budget in the model's tokens (default: the model's).")
    model: str | None = setting(None, (
        "local: model folder/.gguf (default offline Gemma-3-270m); openai: model name (default "
        "$OPENAI_MODEL or gpt-4o-mini)."))
    adapter: str | None = setting(None, "local: a PEFT adapter folder from `thaija tune train`.")
    base_url: str | None = setting(None, (
        "openai: endpoint base URL ending in /v1 (default $OPENAI_BASE_URL or https://api.openai.com/v1)."))
    review: bool = setting(True, "Queue refused and low-confidence answers for human review (beside the index).")
    redact: bool = setting(False, (
        "Replace PII (Thai ID, My Number, phones, e-mail, cards) with [TYPE] in the answer, the quotes, "
        "the echoed question and trace, and what is queued for review."))
    dense_evidence: bool = setting(True, "Score evidence sentences with the index's embedder too.")

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ThaijaError(f"unknown generator {self.generator!r}: choose one of {', '.join(GENERATORS)}")
        if self.mode not in MODES:
            raise ThaijaError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if not 1 <= int(self.k) <= 100:
            raise ThaijaError(f"--k must be between 1 and 100, got {self.k}")
        if not 1 <= int(self.max_rounds) <= 10:
            raise ThaijaError(f"--max-rounds must be between 1 and 10, got {self.max_rounds}")
        if self.min_support is not None and not 0.0 <= float(self.min_support) <= 1.0:
            raise ThaijaError("--min-support must be between 0 and 1")
        if not 0.0 <= float(self.citation_support) <= 1.0:
            raise ThaijaError("citation_support must be between 0 and 1")
        if self.context_tokens is not None and self.context_tokens < 256:
            raise ThaijaError("context_tokens must be at least 256")
        self.groups = _groups(self.groups)
        if self.adapter and self.generator != "local":
            raise ThaijaError("--adapter needs --generator local")
        if self.base_url and self.generator != "openai":
            raise ThaijaError("--base-url needs --generator openai")


@dataclass
class QAEvalConfig:
    """What ``eval-qa`` evaluates: ``ask`` (the embedded :class:`AskConfig` of every question; review
    off), ``limit`` (first N questions of ``queries.jsonl``) and ``unanswerable`` (a folder whose
    ``queries.jsonl`` questions have no answer in the corpus: their refusal rate is reported)."""

    ask: AskConfig = setting(help="How every question is answered (an AskConfig; no review queue).",
                             factory=lambda: AskConfig(review=False))
    limit: int | None = setting(None, "Evaluate only the first N questions.")
    unanswerable: str | None = setting(None, (
        "A folder whose queries.jsonl questions have no answer in the corpus: reports unanswerable_refusal_rate."))

    def __post_init__(self) -> None:
        if not isinstance(self.ask, AskConfig):
            raise ThaijaError(f"ask must be an AskConfig, not {type(self.ask).__name__}")
        if self.limit is not None and self.limit < 1:
            raise ThaijaError("--limit must be at least 1")
        if self.unanswerable is not None and not Path(self.unanswerable, "queries.jsonl").is_file():
            raise ThaijaError(f"{self.unanswerable}: needs queries.jsonl (the unanswerable questions)")

    @property
    def generator(self) -> str:
        """The embedded AskConfig's generator (what answers)."""
        return self.ask.generator


def is_loopback(host: str) -> bool:
    """True for localhost / 127.0.0.0/8 / ::1."""
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


@dataclass
class ServeConfig:
    """Server settings (validated); ``ask`` (the embedded :class:`AskConfig`) holds the answering
    settings, its groups being the cap of what any key may see."""

    db: str = setting("./thaija.db", (
        "Index path (Milvus Lite file) built with `thaija index add`, or a Milvus URI."))
    host: str = setting("127.0.0.1", "Interface to listen on. A non-loopback address needs --keys (or --insecure).")
    port: int = setting(8000, "TCP port.")
    ask: AskConfig = setting(help="How every question is answered (an AskConfig).", factory=AskConfig)
    keys: str | None = setting(None, (
        "API key file: one `<key or sha256:HEX><TAB><groups>[<TAB><requests/minute>[<TAB><roles>]]` per line "
        "(empty groups = public documents only; role `review`: may read and act on the review queue). Every "
        "request then needs `Authorization: Bearer <key>` and sees only its key's groups. Default $THAIJA_KEYS. "
        "Make keys with `thaija keygen` (`--review` for a reviewer)."))
    insecure: bool = setting(False, (
        "Allow listening on a non-loopback address without --keys (anyone who can reach it gets the "
        "--groups documents)."))
    max_body_bytes: int = setting(1_000_000, "Largest request body in bytes (larger ones get HTTP 413).")
    allowed_hosts: tuple[str, ...] | str | None = setting(None, (
        "Comma-separated Host header names accepted (default: localhost names on a loopback bind, any "
        "name otherwise)."))
    max_question_chars: int = setting(MAX_QUESTION_CHARS, "Questions are cut to this many characters.")

    def __post_init__(self) -> None:
        if not isinstance(self.ask, AskConfig):
            raise ThaijaError(f"ask must be an AskConfig, not {type(self.ask).__name__}")
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ThaijaError(f"--port must be between 0 and 65535, got {self.port}")
        if not self.host:
            raise ThaijaError("--host is empty")
        if not 1024 <= int(self.max_body_bytes) <= 1 << 30:
            raise ThaijaError("--max-body must be between 1 KB and 1 GB")
        if int(self.max_question_chars) < 16:
            raise ThaijaError("max_question_chars must be at least 16")
        if self.keys is None and os.environ.get("THAIJA_KEYS"):
            self.keys = os.environ["THAIJA_KEYS"]
        if not self.keys and not self.insecure and not is_loopback(self.host):
            raise ThaijaError(f"refusing to serve on non-loopback address {self.host} without API keys: "
                              "give --keys FILE (make keys with `thaija keygen`) or --insecure")
        if self.allowed_hosts is not None:
            hosts = self.allowed_hosts.split(",") if isinstance(self.allowed_hosts, str) else self.allowed_hosts
            self.allowed_hosts = tuple(h.strip().lower() for h in hosts if h.strip()) or None

    def ask_config(self) -> AskConfig:
        """The AskConfig of a request without a key (the server's own groups)."""
        return self.ask

    @property
    def redact(self) -> bool:
        """``ask.redact`` (serve --redact): the server then redacts PII in everything it says, stores or
        logs: replies, the review queue, the browser pages (see thaija.rag.serve)."""
        return bool(self.ask.redact)

    def host_names(self) -> tuple[str, ...] | None:
        """Host header names accepted (None = any)."""
        if self.allowed_hosts:
            return self.allowed_hosts
        return _LOOPBACK_NAMES if is_loopback(self.host) else None
