"""`thaija serve --min-support` (as `ask` and `eval-qa` have it): the same AskConfig field with the
same meaning, for every thaija-rag request of the server. Not a request field: the chat body keeps
OpenAI's fields only (model, messages, stream), as for k, groups and the generator.

The CLI builds the server's config (``serve`` itself replaced so the test holds the port), and that
config runs the real app over a real socket (conftest ``app_server``) on the policy corpus."""
from __future__ import annotations

import socket

import httpx
import pytest
from typer.testing import CliRunner

QUESTION = "社員食堂は何時に開きますか"


def _serve_config(monkeypatch, *args: str):
    """The ServeConfig `thaija serve ARGS` would run (None when the command failed) and its result."""
    import thaija.rag.serve as serve_mod
    from thaija.cli.main import app

    got = {}
    monkeypatch.setattr(serve_mod, "serve", lambda cfg: got.setdefault("cfg", cfg))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = CliRunner().invoke(app, ["serve", "--port", str(port), *args])
    return got.get("cfg"), res


def _ask(base: str) -> dict:
    r = httpx.post(base + "/v1/chat/completions", timeout=300,
                   json={"model": "thaija-rag", "messages": [{"role": "user", "content": QUESTION}]})
    assert r.status_code == 200, r.text
    return r.json()["thaija"]


def test_min_support_refuses_below_it_through_the_server(policy_db, app_server, monkeypatch):
    from dataclasses import replace

    cfg, res = _serve_config(monkeypatch, "--db", policy_db)
    assert res.exit_code == 0, res.output
    assert cfg.ask.min_support is None
    with app_server(db=cfg.db, ask=replace(cfg.ask, review=False)) as base:
        plain = _ask(base)
    assert not plain["refused"] and 0.0 < plain["support"] < 1.0, plain

    above = min(1.0, plain["support"] + 0.05)
    cfg, res = _serve_config(monkeypatch, "--db", policy_db, "--min-support", str(above))
    assert res.exit_code == 0, res.output
    assert cfg.ask.min_support == pytest.approx(above)
    with app_server(db=cfg.db, ask=replace(cfg.ask, review=False)) as base:
        strict = _ask(base)
        # not a request field: an extra body field changes nothing
        r = httpx.post(base + "/v1/chat/completions", timeout=300,
                       json={"model": "thaija-rag", "min_support": 0.0,
                             "messages": [{"role": "user", "content": QUESTION}]})
        assert r.json()["thaija"]["refused"] is True
    assert strict["refused"] is True and strict["support"] == pytest.approx(plain["support"]), strict

    below = max(0.0, plain["support"] - 0.05)
    cfg, res = _serve_config(monkeypatch, "--db", policy_db, "--min-support", str(below))
    with app_server(db=cfg.db, ask=replace(cfg.ask, review=False)) as base:
        assert _ask(base)["refused"] is False


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "nan"])
def test_min_support_out_of_range_is_a_one_line_error(policy_db, monkeypatch, bad):
    cfg, res = _serve_config(monkeypatch, "--db", policy_db, "--min-support", bad)
    assert cfg is None and res.exit_code == 2, res.output
    assert "min-support" in res.output and "Traceback" not in res.output
