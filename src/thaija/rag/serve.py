"""An OpenAI-compatible server: ``/v1/models`` and ``/v1/chat/completions`` answered by the RAG pipeline.

Two models are listed:
- ``thaija-rag`` (default): the last user message is the question; the server retrieves from its
  index, answers with the configured generator and returns ``citations`` alongside the message
  (plus a ``thaija`` object: lang, refused, review_id, trace).
- ``thaija-extractive``: a reader without retrieval. It answers from the ``<document n="…">``
  blocks of a grounded prompt (as built by :mod:`thaija.rag.prompt`) with ``[n]`` markers, so any
  OpenAI client, including thaija's own ``openai`` generator, can use it as a chat model.
Access groups are fixed per server (``--groups``); clients cannot widen them.
"""
from __future__ import annotations  # noqa: F401 (FastAPI handlers below use real annotations)

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from thaija.errors import ThaijaError

RAG_MODEL = "thaija-rag"
READER_MODEL = "thaija-extractive"


@dataclass
class ServeConfig:
    """Server settings (validated)."""

    db: str = "./thaija.db"
    host: str = "127.0.0.1"
    port: int = 8000
    generator: str = "extractive"
    k: int = 5
    groups: tuple[str, ...] | None = None
    agentic: bool = False
    model: str | None = None
    adapter: str | None = None
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= int(self.port) <= 65535:
            raise ThaijaError(f"--port must be between 0 and 65535, got {self.port}")
        if not self.host:
            raise ThaijaError("--host is empty")

    def ask_config(self):
        from thaija.rag.pipeline import AskConfig

        return AskConfig(generator=self.generator, k=self.k, groups=self.groups, agentic=self.agentic,
                         model=self.model, adapter=self.adapter, base_url=self.base_url)


def _text(content: Any) -> str:
    """Message content as text (a string, or OpenAI's list of {"type": "text", "text": …} parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def read_answer(messages: list[dict[str, Any]]) -> tuple[str, str]:
    """The ``thaija-extractive`` reader: (answer with [n] markers, lang) from a grounded prompt."""
    from thaija.rag.generators import ExtractiveGenerator
    from thaija.rag.pipeline import detect_lang
    from thaija.rag.prompt import parse_prompt, prompt_texts
    from thaija.retrieve.search import Hit

    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    docs, question = parse_prompt(user)
    lang = detect_lang(question or user or "?")
    # the prompt's document blocks, shaped as retrieval hits (offsets into each block)
    hits = [Hit(0, 0.0, f"doc{n}", f"doc{n}", detect_lang(t[:200]), 0, len(t), t, "") for n, t in sorted(docs.items())]
    numbers = sorted(docs)
    ranked = ExtractiveGenerator().select(question, hits, lang) if hits and question else []
    if not ranked:
        return prompt_texts(lang).refusal, lang
    _, ev = ranked[0]
    return f"{ev.text} [{numbers[ev.hit]}]", lang


def _count(text: str) -> int:
    """Tokens in o200k_base (the usage block of the reply); characters/2 if it is unavailable."""
    try:
        from thaija.cost.tokenizers import get_tokenizer

        return get_tokenizer("o200k_base").count(text)
    except Exception:
        return (len(text) + 1) // 2


def create_app(config: ServeConfig | None = None):
    """The FastAPI application (``uvicorn`` runs it in :func:`serve`)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    cfg = config or ServeConfig()
    ask_cfg = cfg.ask_config()
    lock = threading.Lock()  # the pipeline (index handles, a loaded model) serves one request at a time
    app = FastAPI(title="thaija", description="Grounded Thai–Japanese answers (OpenAI-compatible)")
    created = int(time.time())

    def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": m, "object": "model", "created": created, "owned_by": "thaija"} for m in (RAG_MODEL, READER_MODEL)]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    async def chat(request) -> Any:
        try:
            body = await request.json()
        except Exception:
            return error(400, "the request body is not valid JSON")
        if not isinstance(body, dict):
            return error(400, "the request body must be a JSON object")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return error(400, "'messages' must be a non-empty list of {role, content} objects")
        if body.get("stream"):
            return error(400, "stream=true is not supported by this server")
        model = body.get("model") or RAG_MODEL
        if model not in (RAG_MODEL, READER_MODEL):
            return error(404, f"unknown model {model!r}: use {RAG_MODEL} or {READER_MODEL}", "not_found_error")
        question = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "").strip()
        if not question:
            return error(400, "no user message with text content")
        extra: dict[str, Any] = {}
        try:
            if model == READER_MODEL:
                import anyio

                content, _lang = await anyio.to_thread.run_sync(read_answer, messages)
            else:
                from thaija.rag.pipeline import answer

                def run():
                    with lock:
                        return answer(question, db=cfg.db, config=ask_cfg)

                import anyio

                res = await anyio.to_thread.run_sync(run)
                content = res.answer
                extra = {"citations": res.citations,
                         "thaija": {"lang": res.lang, "refused": res.refused, "review_id": res.review_id,
                                    "reason": res.reason, "trace": res.trace, "prompt_tokens": res.prompt_tokens}}
        except ThaijaError as exc:
            return error(400, str(exc))
        prompt_tokens = _count("\n".join(_text(m.get("content")) for m in messages))
        completion_tokens = _count(content)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
            **extra,
        }

    chat.__annotations__["request"] = Request  # a real class: FastAPI injects the request
    app.post("/v1/chat/completions")(chat)
    return app


def serve(config: ServeConfig | None = None) -> None:
    """Run the server until interrupted."""
    from thaija.errors import require

    require("uvicorn", "uvicorn", "thaija serve")
    import uvicorn

    cfg = config or ServeConfig()
    uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, log_level="warning")
