"""`thaija serve` replies as a user reads them (QA Q12, Q22).

- Q22: `ask --generator openai --base-url <thaija serve>/v1 -m thaija-extractive` gives the same
  answer text (closing » of the cross-language frame, the final 。 after ``です[1]``) and the same
  citations as the extractive `ask` on the same index.
- Q12: one reply carries one prompt-token figure: ``usage`` (named tokenizer), no second
  ``thaija.prompt_tokens`` with another meaning.

The real app over a real socket (uvicorn in a thread) on the project's policy corpus."""
from __future__ import annotations

import pytest

QUESTIONS = [
    "CleanBot R7 ชาร์จแบตเต็มใช้เวลากี่ชั่วโมง",           # th question, ja source: «…。» [1]
    "CleanBot R7の保証期間は何年ですか",                   # ja, same language: …です[1]。
    "休日の残業代は何倍ですか",                             # ja question, th source: 「…」[1]。
    "How long does the CleanBot R7 battery take to charge?",  # en question, ja source: “…” [1]
    "How many days a week can employees work from home?",   # en question, ja source
    # the reader scores with the served index's IDF and embedder, so it picks what ask picks
    # (with IDF over the prompt's blocks alone it quoted the overtime rules for both)
    "ค่าเบี้ยเลี้ยงเดินทางต่างประเทศวันละเท่าไร",
    "社員食堂は何時に開きますか",
]


@pytest.fixture(scope="module")
def server(policy_db, app_server):
    from thaija.rag.pipeline import AskConfig

    with app_server(db=policy_db, ask=AskConfig(review=False)) as base:
        yield base


def test_openai_path_gives_the_extractive_answer_text(server, policy_db, monkeypatch):
    from thaija.rag.pipeline import ask

    monkeypatch.setenv("OPENAI_API_KEY", "x")
    for q in QUESTIONS:
        direct = ask(q, db=policy_db, review=False)
        via = ask(q, db=policy_db, generator="openai", base_url=server + "/v1", model="thaija-extractive",
                  review=False)
        assert not direct["refused"], direct
        assert via["generator"] == "openai" and via["answer"] == direct["answer"], (q, via["answer"], direct["answer"])
        assert [(c["doc_id"], c["start"], c["end"]) for c in via["citations"]] == \
               [(c["doc_id"], c["start"], c["end"]) for c in direct["citations"]]
    # the two forms the old marker handling cut
    assert "»" in ask(QUESTIONS[0], db=policy_db, review=False)["answer"]


def test_one_prompt_token_count_per_reply(server):
    import httpx

    from thaija.rag.chat import count_tokens

    q = "経費精算の申請期限はいつですか"
    r = httpx.post(server + "/v1/chat/completions", timeout=120,
                   json={"model": "thaija-rag", "messages": [{"role": "user", "content": q}]}).json()
    u = r["usage"]
    assert u["tokenizer"] == "o200k_base" and u["prompt_tokens"] > 4 * count_tokens(q)
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert u["completion_tokens"] == count_tokens(r["choices"][0]["message"]["content"])
    assert "prompt_tokens" not in r["thaija"], r["thaija"]      # no second figure with another meaning
    # the reader model's reply names its tokenizer too and counts what it was sent
    msgs = [{"role": "user", "content": '<document n="1" source="s">\n経費の精算は翌月10日までに申請します。\n'
                                        '</document>\n質問: 経費精算の申請期限はいつですか'}]
    r2 = httpx.post(server + "/v1/chat/completions", timeout=120,
                    json={"model": "thaija-extractive", "messages": msgs}).json()
    u2 = r2["usage"]
    assert u2["tokenizer"] == "o200k_base" and u2["prompt_tokens"] == count_tokens(msgs[0]["content"])
    assert u2["completion_tokens"] == count_tokens(r2["choices"][0]["message"]["content"])
    assert "10日" in r2["choices"][0]["message"]["content"]
