"""An OpenAI-compatible server: ``/v1/models`` and ``/v1/chat/completions`` answered by the RAG pipeline.

Two models are listed:
- ``thaija-rag`` (default): the last user message is the question; the server retrieves from its
  index, answers with the configured generator and returns ``citations`` alongside the message
  (plus a ``thaija`` object: lang, refused, review_id, trace).
- ``thaija-extractive``: a reader without retrieval. It answers from the document blocks of a
  grounded prompt (as built by :mod:`thaija.rag.prompt`) with ``[n]`` markers, so any OpenAI
  client, including thaija's own ``openai`` generator, can use it as a chat model.

Security (see docs/security.md): with a key file (``--keys`` / ``$THAIJA_KEYS``) every request but
``/health`` needs ``Authorization: Bearer <key>`` (401 otherwise) and sees the key's access groups
only (capped by ``--groups`` when both are given); without keys the server refuses a non-loopback
address unless ``insecure``. Every request passes a Host check (loopback names only on a loopback
bind, unless ``allowed_hosts``), POST bodies must be ``application/json`` (415) and at most
``max_body_bytes`` (413), bodies go through :mod:`thaija.validate` (400 with a JSON error, never 500).
With ``redact`` (``--redact``) no raw PII leaves or stays: replies (answers, quotes, the echoed
question) and the review queue are redacted, as are the browser pages' flags, edits and source view.
Requests run concurrently in worker threads: only retrieval (the shared index handle) and a loaded
local model are serialised, each under its own narrow lock; questions are cut to the embedder's
and the generator's token limits.
"""
from __future__ import annotations  # noqa: F401 (FastAPI handlers below use real annotations)

import re
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

from thaija.errors import ThaijaError
from thaija.rag.config import _LOOPBACK_NAMES, ServeConfig, is_loopback  # noqa: F401 (defined in rag/config.py)

RAG_MODEL = "thaija-rag"
READER_MODEL = "thaija-extractive"
PUBLIC_PATHS = {"/health"}

def _text(content: Any) -> str:
    """Message content as text (a string, or OpenAI's list of {"type": "text", "text": …} parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def check_chat_body(body: Any) -> tuple[str, list[dict[str, Any]], bool]:
    """Validate a chat-completions body: (model, messages, stream) or a ValidationError."""
    from thaija.validate import ValidationError, check_fields

    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    for key in ("n", "max_tokens", "max_completion_tokens"):   # JSON clients may send 1.0 for 1
        v = body.get(key)
        if isinstance(v, float) and v.is_integer():
            body[key] = int(v)
    check_fields(body, {"model": "str", "stream": "bool", "messages": "array", "n": "int", "temperature": "number",
                        "top_p": "number", "max_tokens": "int", "max_completion_tokens": "int",
                        "stream_options": "object"}, "request")
    # sampling fields as the OpenAI API bounds them; the answer is extractive and deterministic, so a
    # valid temperature / top_p changes nothing, and several choices (n > 1) would be one answer repeated
    for key, lo, hi in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0)):
        v = body.get(key)
        if v is not None and not lo <= v <= hi:
            raise ValidationError(f"request: field {key!r} must be between {lo:g} and {hi:g}, got {v}")
    for key in ("max_tokens", "max_completion_tokens"):
        if body.get(key) is not None and body[key] < 1:
            raise ValidationError(f"request: field {key!r} must be at least 1, got {body[key]}")
    if body.get("n") is not None and body["n"] != 1:
        raise ValidationError(f"request: n={body['n']} is not supported: the answer is deterministic (one choice, n=1)")
    messages = body.get("messages")
    if not messages:
        raise ValidationError("'messages' must be a non-empty list of {role, content} objects")
    if len(messages) > 256:
        raise ValidationError("too many messages (at most 256)")
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ValidationError(f"{where} must be an object with role and content")
        check_fields(m, {"role": "str"}, where, required=("role",))
        c = m.get("content")
        if c is None or isinstance(c, str):
            continue
        if not isinstance(c, list):
            raise ValidationError(f"{where}.content must be a string or a list of parts")
        for j, part in enumerate(c):
            pw = f"{where}.content[{j}]"
            if not isinstance(part, dict):
                raise ValidationError(f"{pw} must be an object")
            check_fields(part, {"type": "str"}, pw, required=("type",))
            if part["type"] == "text":
                check_fields(part, {"text": "str"}, pw, required=("text",))
    return body.get("model") or RAG_MODEL, messages, bool(body.get("stream"))


def read_answer(messages: list[dict[str, Any]], context: Any = None) -> tuple[str, str]:
    """The ``thaija-extractive`` reader: (answer with [n] markers, lang) from a grounded prompt.

    It selects evidence like ``thaija ask`` does (:func:`thaija.rag.pipeline.gather_evidence`:
    sentence units, IDF coverage, dense similarity, the answerability cross-encoder when it can
    run, the documents' order as their rank) and writes the chosen sentences with the prompt's own
    document numbers, in :func:`thaija.rag.compose.compose`'s form (the same text as ``ask``).
    ``context``: an :class:`~thaija.rag.pipeline.EvidenceContext` (the server passes its index's
    IDF and embedder); without one, IDF over the prompt's documents and no dense signal."""
    from thaija.rag.compose import compose
    from thaija.rag.pipeline import EvidenceContext, _spans, cross_encoder, detect_lang, gather_evidence
    from thaija.rag.prompt import parse_prompt, prompt_texts
    from thaija.retrieve.query import analyse
    from thaija.retrieve.search import Hit

    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    docs, question = parse_prompt(user)
    lang = detect_lang(question or user or "?")
    # the prompt's document blocks, shaped as retrieval hits (offsets into each block)
    hits = [Hit(i + 1, 0.0, f"doc{n}", f"doc{n}", detect_lang(t[:200]), 0, len(t), t, "")
            for i, (n, t) in enumerate(sorted(docs.items()))]
    numbers = sorted(docs)
    if not hits or not question:
        return prompt_texts(lang).refusal, lang
    ctx = context if context is not None else EvidenceContext(rerank=cross_encoder())
    # the prompt's blocks are not the index's documents: no title look-up by their ids
    ctx = EvidenceContext(None, ctx.idf, ctx.embed, ctx.embedder, ctx.rerank)
    ev = gather_evidence(analyse(question, lang), hits, ctx)
    spans = _spans(ev)
    if not spans:
        return prompt_texts(lang).refusal, lang
    num = {id(h): n for h, n in zip(hits, numbers)}
    parts = [(display, ulang, num[id(h)]) for h, _, _, display, ulang in spans]
    return compose(parts, lang), lang


def redact_json(value: Any) -> Any:
    """``value`` with PII redacted in every string it holds (dict keys kept), for ``--redact``."""
    from thaija.guard.pii import redact

    if isinstance(value, str):
        return redact(value)[0] if value else value
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_json(v) for k, v in value.items()}
    return value


def redact_reply(reply: dict[str, Any]) -> dict[str, Any]:
    """A chat-completion reply with PII redacted in what it says (message, citations, the ``thaija``
    object with the echoed and resolved question); ids, model names and usage stay as they are."""
    out = dict(reply)
    for key in ("choices", "citations", "thaija"):
        if key in out:
            out[key] = redact_json(out[key])
    return out


def cut_to_tokens(text: str, count, limit: int) -> str:
    """``text`` cut (at a character boundary) so that ``count(text) <= limit``."""
    for _ in range(8):
        n = count(text)
        if n <= limit or len(text) <= 1:
            return text
        text = text[: max(1, int(len(text) * limit / n * 0.95))]
    return text


class _Serialized:
    """A generator whose model calls run one at a time (a loaded local model is not re-entrant)."""

    def __init__(self, gen: Any) -> None:
        self._gen, self._lock = gen, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gen, name)

    def generate(self, *a: Any, **kw: Any) -> Any:
        with self._lock:
            return self._gen.generate(*a, **kw)

    def complete(self, *a: Any, **kw: Any) -> Any:
        with self._lock:
            return self._gen.complete(*a, **kw)


class Answerer:
    """Answers questions for the server: shared generator, narrow locks, cut questions."""

    def __init__(self, cfg: ServeConfig) -> None:
        from thaija.rag.pipeline import get_generator

        self.cfg = cfg
        gen = get_generator(cfg.ask)
        self.gen = gen if cfg.ask.generator == "extractive" else _Serialized(gen)
        self.search_lock = threading.Lock()  # the shared index handle: retrieval only

    def _embedder(self):
        from thaija.index.handles import open_index

        return open_index(self.cfg.db).embedder

    def warm(self) -> None:
        """Load what the first answer needs (index, embedder, cross-encoder, answer verifier) before
        serving, so the first user does not wait for it; failures are left for the request to report."""
        try:
            from thaija.rag.pipeline import answer_verifier, cross_encoder

            self._embedder().query(["warm-up"])
            ce = cross_encoder()
            if ce is not None:
                ce("warm-up", ["warm-up"])
            verify, _ = answer_verifier()
            if verify is not None:
                verify("warm-up", "warm-up", "en", ("qlm",))
        except Exception:  # noqa: BLE001 - no index yet, no model: the first request says why
            pass

    def reader_context(self) -> Any:
        """What ``thaija-extractive`` scores evidence with: the served index's IDF and embedder (the
        reader then picks what ``thaija ask`` picks; QA Q22), or None without an index."""
        from thaija.rag.pipeline import evidence_context

        ctx = evidence_context(self.cfg.db)
        return ctx if ctx.index is not None else None

    def cut(self, question: str) -> tuple[str, bool]:
        """The question cut to max_question_chars, the embedder's and the generator's limits."""
        q = question[: self.cfg.max_question_chars]
        try:
            emb = self._embedder()
            limit = int(emb.max_tokens)
            q = cut_to_tokens(q, emb.count_tokens, max(16, limit - 8))
        except Exception:  # no embedder reachable: the character cut stands
            pass
        q = cut_to_tokens(q, self.gen.count, max(16, int(self.gen.context_tokens) // 4))
        return q, len(q) < len(question)

    def _search(self, ask: Any):
        from thaija.rag.pipeline import default_search

        base = default_search(self.cfg.db, ask.mode, ask.groups)

        def search(query: str, k: int):
            with self.search_lock:
                return base(query, k)

        return search

    def answer(self, question: str, groups: tuple[str, ...] | None):
        """The pipeline's Answer for one question with the caller's groups."""
        from thaija.rag.pipeline import answer

        ask = replace(self.cfg.ask, groups=groups)
        return answer(question, db=self.cfg.db, config=ask, search=self._search(ask), generator=self.gen)

    def chat(self, messages: list[dict[str, Any]], groups: tuple[str, ...] | None) -> dict[str, Any]:
        """The chat-completion reply (:func:`thaija.rag.chat.chat_completion`: follow-ups resolved
        against earlier turns) with the last user turn cut to the model limits."""
        from thaija.rag.chat import chat_completion

        last = max(i for i, m in enumerate(messages) if m.get("role") == "user")
        question, was_cut = self.cut(_text(messages[last].get("content")).strip())
        msgs = [dict(m) for m in messages]
        msgs[last]["content"] = question
        ask = replace(self.cfg.ask, groups=groups)
        reply = chat_completion(msgs, db=self.cfg.db, config=ask, search=self._search(ask), generator=self.gen)
        reply["thaija"]["question_truncated"] = was_cut
        return redact_reply(reply) if self.cfg.redact else reply


def effective_groups(cfg: ServeConfig, key: Any) -> tuple[str, ...] | None:
    """Groups a request may see: the key's (capped by the server's ``--groups`` if given)."""
    server = tuple(cfg.ask.groups or ())
    if key is None:
        return server or None
    groups = tuple(key.groups)
    if server:
        groups = tuple(g for g in groups if g in server)
    return groups or None


def _host_name(header: str) -> str:
    """The name part of a Host header (``[::1]:8000`` -> ``::1``), lowercased."""
    h = header.strip().lower()
    if h.startswith("["):   # [::1] or [::1]:8000; anything else after "]" ("[::1]evil") is no name
        end = h.find("]")
        rest = h[end + 1:] if end > 0 else "x"
        return h[1:end] if end > 0 and (not rest or re.fullmatch(r":\d{1,5}", rest)) else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


class BodyTooLarge(ThaijaError):
    """A request body over ``max_body_bytes`` (HTTP 413)."""


async def read_json(request: Any) -> Any:
    """The request's JSON body, read with the size limit and checked by :mod:`thaija.validate`
    (for every JSON endpoint, the UI's too): BodyTooLarge or ValidationError on bad input."""
    from thaija.validate import parse_json

    limit = request.app.state.config.max_body_bytes
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise BodyTooLarge(f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return parse_json(b"".join(chunks), where="request body")


def create_app(config: ServeConfig | None = None):
    """The FastAPI application (``uvicorn`` runs it in :func:`serve`).

    ``app.state``: ``config``, ``keyring`` (None without keys), ``public_paths`` (no key needed),
    ``form_paths`` (POST without application/json). Each request carries ``request.state.key``
    and ``request.state.groups`` (the access groups it may see); UI routes use the same.
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from thaija.guard.keys import KeyRing

    cfg = config or ServeConfig()
    ring = KeyRing.load(cfg.keys) if cfg.keys else None
    answerer = Answerer(cfg)
    app = FastAPI(title="thaija", description="Grounded Thai–Japanese answers (OpenAI-compatible)",
                  docs_url=None if ring else "/docs", redoc_url=None, openapi_url=None if ring else "/openapi.json")
    app.state.config, app.state.keyring, app.state.answerer = cfg, ring, answerer
    app.state.public_paths, app.state.form_paths = set(PUBLIC_PATHS), set()
    created = int(time.time())
    names = cfg.host_names()

    def error(status: int, message: str, kind: str = "invalid_request_error", headers=None) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status,
                            headers=headers)

    @app.middleware("http")
    async def guard(request: Request, call_next):  # Host, key, rate, Content-Type, Content-Length
        if names is not None and _host_name(request.headers.get("host", "")) not in names:
            return error(400, "Host header not allowed (set --allowed-hosts to serve other names)")
        key = None
        if ring is not None and request.url.path not in app.state.public_paths:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            key = ring.lookup(token.strip()) if scheme.lower() == "bearer" else None
            if key is None:
                return error(401, "missing or invalid API key: send Authorization: Bearer <key>",
                             "authentication_error", {"WWW-Authenticate": "Bearer"})
            if not ring.allow(key):
                return error(429, "rate limit exceeded for this key", "rate_limit_error", {"Retry-After": "60"})
        request.state.key = key
        request.state.groups = effective_groups(cfg, key)
        if request.method in ("POST", "PUT", "PATCH"):
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json" and request.url.path not in app.state.form_paths:
                return error(415, "Content-Type must be application/json")
            length = request.headers.get("content-length")
            if length is not None:
                if not length.isdigit():
                    return error(400, "invalid Content-Length")
                if int(length) > cfg.max_body_bytes:
                    return error(413, f"request body larger than {cfg.max_body_bytes} bytes")
        return await call_next(request)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge):
        return error(413, str(exc))

    @app.exception_handler(ThaijaError)
    async def _bad_input(request: Request, exc: ThaijaError):
        return error(400, str(exc))

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        """Unknown paths (404) and methods (405) in the API's own error shape, not {"detail": …}."""
        kind = {404: "not_found_error", 405: "invalid_request_error"}.get(exc.status_code, "invalid_request_error")
        msg = {404: f"no such endpoint: {request.url.path[:200]}",
               405: f"method {request.method} not allowed on {request.url.path[:200]}"}.get(exc.status_code, str(exc.detail))
        return error(exc.status_code, msg, kind, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        return error(400, f"invalid request: {first.get('msg', 'bad input')} at {'.'.join(map(str, first.get('loc', ())))}")

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": m, "object": "model", "created": created, "owned_by": "thaija"} for m in (RAG_MODEL, READER_MODEL)]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    async def chat(request) -> Any:
        import anyio

        from thaija.rag.chat import limit_tokens

        body = await read_json(request)
        model, messages, stream = check_chat_body(body)
        if model not in (RAG_MODEL, READER_MODEL):
            return error(404, f"unknown model {model[:80]!r}: use {RAG_MODEL} or {READER_MODEL}", "not_found_error")
        question = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "").strip()
        if not question:
            return error(400, "no user message with text content")
        if stream and model == READER_MODEL:
            return error(400, f"stream=true is supported for {RAG_MODEL} only")
        if model == RAG_MODEL:  # follow-ups resolved, OpenAI shape, usage, SSE (thaija.rag.chat)
            groups = request.state.groups
            reply = await anyio.to_thread.run_sync(answerer.chat, messages, groups)
            reply = limit_tokens(reply, body.get("max_completion_tokens") or body.get("max_tokens"))
            if stream:
                from fastapi.responses import StreamingResponse

                from thaija.rag.chat import stream_chunks

                opts = body.get("stream_options")
                include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
                return StreamingResponse(stream_chunks(reply, include_usage), media_type="text/event-stream")
            return reply
        content, _lang = await anyio.to_thread.run_sync(lambda: read_answer(messages, answerer.reader_context()))
        if cfg.redact:
            content = redact_json(content)
        from thaija.rag.chat import usage

        # the same usage block as thaija-rag: the messages as sent and the answer, in o200k_base
        counted = usage(["\n".join(_text(m.get("content")) for m in messages)[:200_000]], content)
        return limit_tokens({
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": counted,
        }, body.get("max_completion_tokens") or body.get("max_tokens"))

    chat.__annotations__["request"] = Request  # a real class: FastAPI injects the request
    app.post("/v1/chat/completions")(chat)
    from thaija.rag.ui import mount_ui  # the browser workbench: /, /ui, /review and /ui/api (thaija.rag.ui)
    mount_ui(app, cfg)
    return app


def serve(config: ServeConfig | None = None) -> None:
    """Run the server until interrupted."""
    from thaija.errors import require

    require("uvicorn", "uvicorn", "thaija serve")
    import uvicorn

    import sys

    cfg = config or ServeConfig()
    app = create_app(cfg)
    t0 = time.monotonic()
    print("thaija: serve: loading the index and models…", file=sys.stderr, flush=True)
    app.state.answerer.warm()
    print(f"thaija: serve: ready in {time.monotonic() - t0:.0f} s on http://{cfg.host}:{cfg.port}",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning", **UVICORN_OPTIONS, http=head_timeout_protocol())


#: how the server runs uvicorn (tests run the app with the same options)
UVICORN_OPTIONS: dict[str, Any] = {"server_header": False, "limit_concurrency": 256, "timeout_keep_alive": 10,
                                   "h11_max_incomplete_event_size": 64 * 1024}
#: seconds a connection has to send a whole request head (method, path, headers)
HEAD_TIMEOUT_S = 10.0


def head_timeout_protocol(timeout: float = HEAD_TIMEOUT_S) -> type:
    """uvicorn's h11 protocol with a deadline for the first request head: a connection that has not
    sent one within ``timeout`` seconds is closed. Without it, 300 connections that each sent one
    byte were held forever and every client, /health included, got 503 (``limit_concurrency``);
    between requests uvicorn's keep-alive timeout closes idle connections."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutH11(H11Protocol):
        _head_timer: Any = None

        def connection_made(self, transport) -> None:  # noqa: D102
            super().connection_made(transport)
            self._head_timer = self.loop.call_later(timeout, self._head_late)

        def _head_late(self) -> None:
            self._head_timer = None
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

        def handle_events(self) -> None:  # noqa: D102
            super().handle_events()
            if self.cycle is not None and self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def connection_lost(self, exc) -> None:  # noqa: D102
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().connection_lost(exc)

    return HeadTimeoutH11
