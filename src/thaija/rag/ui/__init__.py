"""The browser workbench of ``thaija serve``: a chat page (``/``, ``/ui``) and a review page (``/review``).

Plain HTML, CSS and a little JavaScript shipped as package data: no build step, no CDN, nothing
fetched from outside the server. The pages are empty shells; everything they show comes from JSON
endpoints that go through the same access rules as the API:

- the chat page asks ``POST /v1/chat/completions`` (model ``thaija-rag``) and opens a cited source
  with ``GET /ui/api/doc?id=DOC_ID`` (the document's text, only when the caller's groups may see it);
- ``POST /ui/api/flag`` queues an answer the user reports as wrong (reason ``user_flagged``);
- the review page lists ``GET /ui/api/review?status=&lang=&reason=``, acts with
  ``POST /ui/api/review/{id}`` (``{"action": "approve"|"reject"|"edit"|"flag", "answer", "note"}``)
  and downloads ``GET /ui/api/review/export?lang=`` (tune-stage JSONL).

Access: the pages and their static files hold no data and are added to the server's
``app.state.public_paths`` (a browser cannot send a key with a page load); every ``/ui/api``
endpoint goes through the server's key check like the API and uses ``request.state.groups`` (the
key's groups, capped by ``--groups``), so a key sees in the browser exactly what it sees through
the API. The pages ask for the key once and send it as ``Authorization: Bearer``. With API keys, the
review endpoints need a key with the ``review`` role (403 otherwise; any key may flag). A reviewer sees a queued item only when the asker's groups are within the
reviewer's own (the item's citations and candidates come from documents those groups can read).
"""
# no `from __future__ import annotations`: FastAPI reads the handlers' annotations at run time

import json
import os
import threading
from importlib import resources
from typing import Any, Callable, Sequence

from thaija.errors import ThaijaError

PAGES = {"/": "chat.html", "/ui": "chat.html", "/review": "review.html"}
STATIC = ("style.css", "i18n.js", "common.js", "chat.js", "review.js")
LIST_LIMIT = 300  # items sent to the review page per filter (newest first)
MAX_TEXT = 20_000  # characters accepted in a flagged question/answer or an edit
# fields of a citation sent back with a flag (the API's own citation objects): name -> type
_CITATION_FIELDS = {"n": int, "start": int, "end": int, "doc_id": str, "chunk_id": str, "source": str,
                    "quote": str, "lang": str}
_TYPE_NAMES = {int: "an integer", str: "a string"}
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8"}
# Everything comes from this server; no inline script, no frames, no outside connections.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class NotVisible(LookupError):
    """Unknown, or not visible with the caller's access groups (the same 404 for both)."""


def asset(name: str) -> str:
    """The text of one shipped UI file (``chat.html``, ``style.css`` …)."""
    try:
        return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise ThaijaError(f"UI file {name} is missing from the installed package ({exc})") from None


def visible(item_groups: Sequence[str], caller_groups: Sequence[str] | None) -> bool:
    """A review item is visible when everything its asker could read, the caller can read too."""
    return set(item_groups or ()) <= set(caller_groups or ())


def item_json(item: Any) -> dict[str, Any]:
    """A review item for the page (its JSON form plus what the page needs to explain the export)."""
    d = item.to_dict()
    d["exportable"] = item.exportable
    d["final_answer"] = item.final_answer
    return d


def mask_pii(text: str) -> str:
    """``text`` with each PII finding replaced by as many ``•`` as it has characters (offsets of
    citations into the document stay valid for highlighting)."""
    from thaija.guard.pii import find_pii

    parts, pos = [], 0
    for f in find_pii(text):
        parts += [text[pos:f.start], "•" * (f.end - f.start)]
        pos = f.end
    return "".join(parts) + text[pos:]


def mount_ui(app: Any, config: Any) -> None:
    """Add the workbench pages and their JSON endpoints to the FastAPI ``app`` of ``thaija serve``.

    ``config`` is the server's ``ServeConfig`` (its ``db``; its ``ask.groups`` when a request carries
    no ``request.state.groups`` from the server's key check).
    """
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    db = str(config.db)
    redacting = bool(getattr(config, "redact", False))  # serve --redact: nothing raw in or out

    def clean(value: Any) -> Any:
        if not redacting:
            return value
        from thaija.rag.serve import redact_json

        return redact_json(value)
    ask = config.ask_config() if hasattr(config, "ask_config") else None
    default_groups = tuple(getattr(ask, "groups", None) or ())
    # the shared index handle is read under the server's retrieval lock (one SQLite connection)
    index_lock = getattr(getattr(app.state, "answerer", None), "search_lock", None) or threading.Lock()
    public = getattr(app.state, "public_paths", None)
    if public is not None:  # page shells and static files only: no data, no key needed
        public.update(PAGES)
        public.update(f"/ui/static/{name}" for name in STATIC)

    def page(name: str) -> Callable[[], Response]:
        def handler() -> Response:
            return Response(asset(name), media_type=_TYPES[".html"], headers=_HEADERS)
        return handler

    for path, name in PAGES.items():
        app.get(path, include_in_schema=False)(page(name))

    @app.get("/ui/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            return error(404, f"no UI file {name!r}")
        return Response(asset(name), media_type=_TYPES[name[name.rfind("."):]], headers=_HEADERS)

    def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)

    def caller(request: Any) -> tuple[str, ...]:
        """The caller's access groups: set by the server's key check, else the server's own groups."""
        if hasattr(request.state, "groups"):
            return tuple(request.state.groups or ())
        return default_groups

    def may_review(request: Any) -> bool:
        """Without API keys (a local server) anyone may review; with keys only a key with the review role."""
        if getattr(app.state, "keyring", None) is None:
            return True
        return bool(getattr(getattr(request.state, "key", None), "review", False))

    def not_a_reviewer() -> JSONResponse:
        return error(403, "this API key may not use the review queue: give it the review role "
                          "(`thaija keygen --review`)", "permission_error")

    def reviewer(fn: Callable[..., Any]) -> Callable[..., Any]:
        """Only keys with the review role (403 otherwise): the queue holds other users' questions and
        its edits become tune data (`review export`)."""
        import functools

        @functools.wraps(fn)
        def run(request: Request, *args: Any, **kwargs: Any) -> Any:
            return fn(request, *args, **kwargs) if may_review(request) else not_a_reviewer()
        return run

    def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
        """Run ``fn(groups, ...)`` with the caller's groups; library errors become JSON errors."""
        import functools
        import inspect

        @functools.wraps(fn)
        def run(request: Request, *args: Any, **kwargs: Any) -> Any:
            groups = caller(request)
            try:
                return fn(groups, *args, **kwargs)
            except NotVisible as exc:
                return error(404, str(exc), "not_found_error")
            except ThaijaError as exc:
                return error(400, str(exc))

        params = list(inspect.signature(fn).parameters.values())[1:]
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)] + params)
        return run

    def queue(create: bool = False) -> Any:
        from thaija.guard.review import ReviewQueue, review_path

        path = review_path(db)
        if not create and not os.path.exists(path):
            return None
        return ReviewQueue(path, create=create)

    def visible_item(q: Any, item_id: int, groups: tuple[str, ...]) -> Any:
        from thaija.guard.review import ReviewError

        try:
            item = q.get(item_id) if q is not None else None
        except ReviewError:
            item = None
        if item is None or not visible(item.groups, groups):
            raise NotVisible(f"no review item {item_id} visible with your access")
        return item

    async def body_of(request: Any) -> dict[str, Any]:
        from thaija.rag.serve import read_json  # the server's size limit and validation

        body = await read_json(request)
        if not isinstance(body, dict):
            raise ThaijaError("the request body must be a JSON object")
        return body

    def text_field(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
        value = body.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise ThaijaError(f"'{key}' must be a non-empty string")
        if len(value) > MAX_TEXT:
            raise ThaijaError(f"'{key}' is longer than {MAX_TEXT} characters")
        return value

    # ------------------------------------------------------------------ documents (citations)
    @guarded
    def doc(groups: tuple[str, ...], id: str) -> dict[str, Any]:
        from thaija.index.handles import open_index
        from thaija.index.store import allowed

        try:
            with index_lock:
                d = open_index(db).document(id)
        except ThaijaError:
            d = None
        if d is None or not allowed(d.get("groups") or (), groups):
            raise NotVisible(f"no document {id!r} visible with your access")
        out = {"doc_id": d["doc_id"], "title": d.get("title") or "", "source": d.get("source") or "",
               "text": d["text"]}
        if redacting:  # same length, so the citation offsets still point at the quoted span
            out = {**clean({k: v for k, v in out.items() if k != "text"}), "text": mask_pii(out["text"])}
        return out

    app.get("/ui/api/doc", include_in_schema=False)(doc)

    # ------------------------------------------------------------------ review queue
    @guarded
    def review_list(groups: tuple[str, ...], status: str = "", lang: str = "", reason: str = "") -> dict[str, Any]:
        lang = lang_filter(lang)
        if status not in ("", "pending", "approved", "rejected", "flagged"):
            raise ThaijaError("'status' must be pending, approved, rejected or flagged (or absent)")
        q = queue()
        flagged = True if status == "flagged" else None
        items = [] if q is None else q.list(None if status in ("", "flagged") else status,
                                            reason=reason or None, lang=lang or None, flagged=flagged)
        items = [i for i in items if visible(i.groups, groups)]
        everything = [] if q is None else [i for i in q.list() if visible(i.groups, groups)]
        counts = {s: sum(1 for i in everything if i.status == s) for s in ("pending", "approved", "rejected")}
        counts["flagged"] = sum(1 for i in everything if i.flagged)
        shown = items[-LIST_LIMIT:]  # newest first, at most LIST_LIMIT
        return {"items": [clean(item_json(i)) for i in reversed(shown)], "matching": len(items), "counts": counts,
                "unexported_refusals": sum(1 for i in everything if i.status == "approved" and not i.exportable)}

    app.get("/ui/api/review", include_in_schema=False)(reviewer(review_list))

    async def review_act(request: Request, item_id: int) -> Any:
        if not may_review(request):
            return not_a_reviewer()
        return act(request, item_id, await body_of(request))  # bad bodies: the server's 400 / 413

    @guarded
    def act(groups: tuple[str, ...], item_id: int, body: dict[str, Any]) -> dict[str, Any]:
        q = queue()
        visible_item(q, item_id, groups)
        action = body.get("action")
        note = clean(text_field(body, "note", required=False))
        if action == "approve":
            item = q.approve(item_id, note=note)
        elif action == "reject":
            item = q.reject(item_id, note=note)
        elif action == "flag":
            item = q.flag(item_id, note=note)
        elif action == "edit":
            item = q.edit(item_id, clean(text_field(body, "answer")), note=note)
        else:
            raise ThaijaError("'action' must be one of approve, reject, edit, flag")
        return clean(item_json(item))

    app.post("/ui/api/review/{item_id}", include_in_schema=False)(review_act)

    def lang_filter(lang: str) -> str:
        if lang not in ("", "th", "ja", "en"):   # it names the download: never free text in a header
            raise ThaijaError("'lang' must be th, ja or en (or absent)")
        return lang

    @guarded
    def export(groups: tuple[str, ...], lang: str = "") -> Response:
        lang = lang_filter(lang)
        q = queue()
        records = [] if q is None else list(q.training_records(
            lang=lang or None, visible=lambda i: visible(i.groups, groups)))
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        name = f"review-{lang or 'all'}.jsonl"
        return Response(text, media_type="application/x-ndjson; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "X-Thaija-Exported": str(len(records)), **_HEADERS})

    app.get("/ui/api/review/export", include_in_schema=False)(reviewer(export))

    # ------------------------------------------------------------------ flag from the chat page
    async def flag(request: Request) -> Any:
        return add_flag(request, await body_of(request))

    @guarded
    def add_flag(groups: tuple[str, ...], body: dict[str, Any]) -> dict[str, Any]:
        from thaija.lang import detect

        question = text_field(body, "question")
        answer = clean(text_field(body, "answer"))
        note = clean(text_field(body, "note", required=False))
        lang = detect(question).lang
        citations = body.get("citations") or []
        if not isinstance(citations, list) or not all(isinstance(c, dict) for c in citations):
            raise ThaijaError("'citations' must be a list of objects")
        kept = []
        for k, c in enumerate(citations[:50]):  # the shape the server's own answers give (chat page)
            for key, typ in _CITATION_FIELDS.items():
                if c.get(key) is not None and (not isinstance(c[key], typ) or isinstance(c[key], bool)):
                    raise ThaijaError(f"citations[{k}].{key} must be {_TYPE_NAMES[typ]}")
                if isinstance(c.get(key), str) and len(c[key]) > (MAX_TEXT if key == "quote" else 500):
                    raise ThaijaError(f"citations[{k}].{key} is too long")
            # only the known fields are stored (a 900 KB unknown field was kept and listed to reviewers)
            kept.append({key: c[key] for key in _CITATION_FIELDS if c.get(key) is not None})
        rid = queue(create=True).add(clean(question), answer, lang if lang in ("th", "ja", "en") else "en",
                                     clean(kept), "user_flagged", groups=list(groups), note=note)
        return {"id": rid}

    app.post("/ui/api/flag", include_in_schema=False)(flag)
