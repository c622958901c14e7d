"""A question without a letter or digit (only zero-width characters, combining marks, spaces or
punctuation) is an input error, in the library, the CLI and the server, never a quoted answer
queued for review (QA session 5 Q19: "\\u200b\\u200b\\u0301" got an English answer quoting a
Japanese policy sentence)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app
from thaija.errors import ThaijaError
from thaija.rag.pipeline import answer

NO_WORDS = ["\u200b\u200b\u0301", "\u200d\ufeff", " ？ ", "\u0e31\u0e48"]   # ZW chars, BOM, a lone "?", Thai marks


@pytest.mark.parametrize("q", NO_WORDS)
def test_library_refuses_a_question_without_words(q, tmp_path):
    with pytest.raises(ThaijaError, match="no words"):
        answer(q, db=str(tmp_path / "none.db"))


def test_cli_and_server_say_so_in_one_line(policy_db):
    r = CliRunner().invoke(app, ["ask", "\u200b\u200b\u0301", "--db", policy_db])
    assert r.exit_code == 2 and "no words" in r.output and "Traceback" not in r.output, r.output
    r = CliRunner().invoke(app, ["ask", "โรงอาหาร\u200bเปิดกี่โมง", "--db", policy_db, "--json"])
    assert r.exit_code == 0, r.output                      # a zero-width character inside words is fine
    from fastapi.testclient import TestClient

    from thaija.rag.serve import ServeConfig, create_app

    client = TestClient(create_app(ServeConfig(db=policy_db)), base_url="http://127.0.0.1")
    res = client.post("/v1/chat/completions", json={"model": "thaija-rag",
                                                    "messages": [{"role": "user", "content": "\u200b\u200b\u0301"}]})
    assert res.status_code == 400 and "no words" in res.text, res.text
