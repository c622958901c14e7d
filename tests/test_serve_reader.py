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


def test_sampling_fields_are_checked_and_max_tokens_is_honoured(server):
    """OpenAI's bounds on ``n``/``temperature``/``top_p``/``max_tokens`` (400 in the API's error
    shape, not silently ignored); a valid temperature changes nothing (the answer is extractive);
    ``max_tokens`` cuts the answer at a word/sentence boundary with ``finish_reason: "length"``,
    usage recounted — in the JSON reply and in the stream."""
    import json

    import httpx

    from thaija.rag.chat import count_tokens

    url = server + "/v1/chat/completions"
    q = [{"role": "user", "content": "CleanBot R7 ชาร์จแบตเต็มใช้เวลากี่ชั่วโมง"}]
    for bad, says in (({"n": 2}, "n=2"), ({"temperature": 99}, "temperature"), ({"top_p": -1}, "top_p"),
                      ({"max_tokens": -1}, "max_tokens"), ({"max_tokens": "x"}, "max_tokens"), ({"n": True}, "'n'"),
                      ({"temperature": "1"}, "must be a number"), ({"stream_options": 5}, "stream_options"),
                      ({"n": 1.5}, "'n'")):
        r = httpx.post(url, timeout=120, json={"model": "thaija-rag", "messages": q, **bad})
        assert r.status_code == 400 and says in r.json()["error"]["message"], (bad, r.text)
    full = httpx.post(url, timeout=120, json={"model": "thaija-rag", "messages": q, "temperature": 1.5, "n": 1.0}).json()
    text = full["choices"][0]["message"]["content"]
    assert full["choices"][0]["finish_reason"] == "stop" and full["usage"]["completion_tokens"] > 12, full
    cut = httpx.post(url, timeout=120, json={"model": "thaija-rag", "messages": q, "max_tokens": 12}).json()
    ctext = cut["choices"][0]["message"]["content"]
    assert cut["choices"][0]["finish_reason"] == "length" and ctext and text.startswith(ctext), (ctext, text)
    assert cut["usage"]["completion_tokens"] == count_tokens(ctext) <= 12
    assert cut["usage"]["total_tokens"] == cut["usage"]["prompt_tokens"] + cut["usage"]["completion_tokens"]
    assert cut["thaija"]["answer"] == ctext and cut["thaija"]["truncated"]   # not the whole answer beside it
    # Thai words and their marks stay whole (QA session 12: 'รถร', 'รถรับส' dropping the tone mark of ส่ง)
    for n in (1, 2, 3, 5):
        t = httpx.post(url, timeout=120, json={"model": "thaija-rag", "messages": q, "max_tokens": n}).json()
        part = t["choices"][0]["message"]["content"]
        assert text.startswith(part) and count_tokens(part) <= n, (n, part)
        nxt = text[len(part):len(part) + 1]
        assert not nxt or __import__("unicodedata").category(nxt) != "Mn", (part, nxt)
    roomy = httpx.post(url, timeout=120, json={"model": "thaija-rag", "messages": q, "max_completion_tokens": 4000}).json()
    assert roomy["choices"][0]["message"]["content"] == text and roomy["choices"][0]["finish_reason"] == "stop"
    with httpx.stream("POST", url, timeout=120,
                      json={"model": "thaija-rag", "messages": q, "max_tokens": 12, "stream": True}) as s:
        events = [json.loads(ln[6:]) for ln in s.iter_lines() if ln.startswith("data: {")]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]) == ctext
    assert events[-1]["choices"][0]["finish_reason"] == "length"
    # the reader model too
    msgs = [{"role": "user", "content": '<document n="1" source="s">\n経費の精算は翌月10日までに申請します。'
                                        '領収書の原本を添付してください。\n</document>\n質問: 経費精算の申請期限はいつですか'}]
    r = httpx.post(url, timeout=120, json={"model": "thaija-extractive", "messages": msgs, "max_tokens": 3}).json()
    assert r["choices"][0]["finish_reason"] == "length" and r["usage"]["completion_tokens"] <= 3, r
