"""`thaija serve --min-support` (as `ask` and `eval-qa` have it): the same AskConfig field with the
same meaning, for every thaija-rag request of the server. Not a request field: the chat body keeps
OpenAI's fields only (model, messages, stream), as for k, groups and the generator.

The real command line builds the server's config (conftest ``serve_cli``), and that config runs the
real app over a real socket (conftest ``app_server``) on the policy corpus."""
from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

QUESTION = "社員食堂は何時に開きますか"


def _ask(base: str, **extra) -> dict:
    r = httpx.post(base + "/v1/chat/completions", timeout=300,
                   json={"model": "thaija-rag", "messages": [{"role": "user", "content": QUESTION}], **extra})
    assert r.status_code == 200, r.text
    return r.json()["thaija"]


def _served(serve_cli, app_server, *args: str):
    kw, res = serve_cli(*args)
    assert res.exit_code == 0, res.output
    kw["ask"] = replace(kw["ask"], review=False)
    return kw["ask"].min_support, app_server(**kw)


def test_min_support_refuses_below_it_through_the_server(policy_db, app_server, serve_cli):
    ms, server = _served(serve_cli, app_server, "--db", policy_db)
    assert ms is None
    with server as base:
        plain = _ask(base)
    assert not plain["refused"] and 0.0 < plain["support"] < 1.0, plain

    above = min(1.0, plain["support"] + 0.05)
    ms, server = _served(serve_cli, app_server, "--db", policy_db, "--min-support", str(above))
    assert ms == pytest.approx(above)
    with server as base:
        strict = _ask(base)
        assert _ask(base, min_support=0.0)["refused"] is True   # not a request field: ignored
    assert strict["refused"] is True and strict["support"] == pytest.approx(plain["support"]), strict

    below = max(0.0, plain["support"] - 0.05)
    _, server = _served(serve_cli, app_server, "--db", policy_db, "--min-support", str(below))
    with server as base:
        assert _ask(base)["refused"] is False


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "nan"])
def test_min_support_out_of_range_is_a_one_line_error(policy_db, serve_cli, bad):
    kw, res = serve_cli("--db", policy_db, "--min-support", bad)
    assert kw is None and res.exit_code == 2, res.output
    assert "min-support must be between 0 and 1" in res.output and "Traceback" not in res.output
