"""`thaija serve --redact` (issue 12, "Redaction everywhere"): a serving process carries no raw PII.

A real index whose documents hold PII (indexed WITHOUT --redact); the config the real `thaija serve`
command line builds, served by the real app on a real socket (conftest ``serve_cli`` and
``app_server``). Questions with planted values, an answer that quotes a document sentence holding a phone
number and an e-mail, a flag and an edit from the browser endpoints, the source view: afterwards the
replies, the review database and the server's log (everything written to stdout and stderr, at the
file descriptors, while it runs) are grepped for the planted values. A control server without --redact shows them (so the grep can fail).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from thaija.guard.pii import thai_id_check_digit

pytestmark = pytest.mark.slow
_TH12 = "310170023070"
THAI_ID = _TH12 + str(thai_id_check_digit(_TH12))
DOC_PHONE, DOC_EMAIL = "081-234-5678", "kanokwan.s@example.co.th"
Q_PHONE, Q_EMAIL = "098-765-4321", "suda.p@example.jp"
NEEDLES = [DOC_PHONE, "0812345678", DOC_EMAIL, "kanokwan.s", THAI_ID, Q_PHONE, "0987654321", Q_EMAIL]
Q_CONTACT = "How do I contact the HR department about annual leave?"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from thaija.index import Document, Index
    from thaija.index.handles import close_index

    path = str(tmp_path_factory.mktemp("serve-redact") / "t.db")
    idx = Index(path)
    idx.add_documents([
        Document("hr-contact", f"Contact the HR department about annual leave at {DOC_PHONE} or {DOC_EMAIL}. "
                 f"Staff ID card for the HR officer: {THAI_ID}.", title="HR contact"),
        Document("canteen", "社員食堂は11時に開きます。昼食は一食400円です。", title="食堂"),
    ])
    idx.close()
    close_index(path)
    return path


def _post(base: str, path: str, body: dict) -> tuple[int, str]:
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _get(base: str, path: str) -> str:
    with urllib.request.urlopen(base + path, timeout=300) as r:
        return r.read().decode()


def _session(db: str, log: Path, redact: bool, serve_cli, app_server, capfd) -> list[str]:
    """Serve what `thaija serve --db DB [--redact]` builds; ask, flag, edit, view the source; return
    every reply body (the server's stdout + stderr meanwhile go to ``log``)."""
    kw, res = serve_cli("--db", db, *(["--redact"] if redact else []))
    assert res.exit_code == 0, res.output
    capfd.readouterr()
    try:
        with app_server(**kw) as base:
            return _exchange(base)
    finally:
        out, err = capfd.readouterr()
        log.write_text(res.output + out + err, encoding="utf-8")


def _exchange(base: str) -> list[str]:
    """Ask, flag, edit, view the source on the server at ``base``; every reply body."""
    replies = []

    def chat(question: str, model: str = "thaija-rag") -> dict:
        status, text = _post(base, "/v1/chat/completions",
                             {"model": model, "messages": [{"role": "user", "content": question}]})
        assert status == 200, text
        replies.append(text)
        return json.loads(text)

    contact = chat(Q_CONTACT)
    assert not contact["thaija"]["refused"], contact  # answered from the HR document
    # PII in the question, nothing in the index answers it: refused and queued for review
    refused = chat(f"Which planet has the most moons? Reply to {Q_EMAIL} or {Q_PHONE}")
    assert refused["thaija"]["review_id"] is not None
    # the reader model quotes the document block it is given
    chat(f"Documents:\n[1] HR: call {DOC_PHONE} or write to {DOC_EMAIL}.\n\nQuestion: How do I reach HR?",
         "thaija-extractive")
    status, text = _post(base, "/ui/api/flag", {
        "question": f"Is {Q_PHONE} the HR phone?", "answer": contact["choices"][0]["message"]["content"],
        "note": f"user wrote from {Q_EMAIL}", "citations": contact["citations"]})
    assert status == 200, text
    item = json.loads(text)["id"]
    status, text = _post(base, f"/ui/api/review/{item}", {"action": "edit", "answer": f"Call {DOC_PHONE}."})
    assert status == 200, text
    replies.append(text)
    replies.append(_get(base, "/ui/api/review"))
    doc = _get(base, "/ui/api/doc?id=hr-contact")
    replies.append(doc)
    cited = contact["citations"][0]
    assert len(json.loads(doc)["text"]) >= cited["end"]  # the source view keeps the citation offsets
    return replies


def _found(texts: list[str]) -> set[str]:
    return {n for n in NEEDLES for t in texts if n in t}


def test_serve_redact_leaves_no_raw_pii_in_replies_queue_or_log(db, tmp_path, serve_cli, app_server, capfd):
    from thaija.guard.review import review_path

    control_log = tmp_path / "control.log"
    control = _session(db, control_log, False, serve_cli, app_server, capfd)
    assert {DOC_PHONE, DOC_EMAIL, Q_PHONE} <= _found(control)  # the grep can fail
    queue = Path(review_path(db))
    assert Q_EMAIL.encode() in queue.read_bytes()
    queue.unlink()  # the redacting server starts from an empty queue

    log = tmp_path / "server.log"
    replies = _session(db, log, True, serve_cli, app_server, capfd)
    assert _found(replies) == set(), _found(replies)
    files = [f for f in queue.parent.iterdir() if f.name.startswith(queue.name)]
    assert files
    for f in files + [log]:
        data = f.read_bytes()
        assert not [n for n in NEEDLES if n.encode() in data], f
    assert "[PHONE]" in "".join(replies) and "[EMAIL]" in "".join(replies)
    from thaija.guard.review import ReviewQueue

    questions = [i.question for i in ReviewQueue(queue).list()]
    assert any("[EMAIL]" in q and "[PHONE]" in q for q in questions), questions
