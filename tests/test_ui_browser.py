"""The browser workbench in a real browser: Chromium from the Debian package (``apt-get install
chromium``; never downloaded) driven by Playwright, against the real server app on a real index (the
config the ``thaija serve`` command line builds, served on a real socket: conftest ``serve_cli`` and
``app_server``).

Asks in Japanese, Thai and English, clicks a citation (the highlighted span is the quote), sees a
refusal, reviews it on /review (candidates shown, approve without an edit is not exported, edit is),
exports the JSONL, filters the queue, works at 375 px, and with API keys the pages ask for a key and
the browser sees exactly the key's documents.

Set THAIJA_SCREENSHOTS=DIR to also save the README screenshots (chat.png, review.png) there.
Without /usr/bin/chromium these tests are skipped, unless THAIJA_REQUIRE_BROWSER=1 (``.ci/run``).
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "workbench" / "docs.jsonl"
THAIJA = str(Path(sys.executable).with_name("thaija"))
CHROMIUM = os.environ.get("THAIJA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = os.environ.get("THAIJA_SCREENSHOTS")
TIMEOUT_MS = 120_000  # the first answer loads the embedder on a busy 2-core machine

if not os.path.exists(CHROMIUM):
    if os.environ.get("THAIJA_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")


@contextlib.contextmanager
def _served(serve_cli, app_server, db: str, *extra: str):
    """What `thaija serve --db DB EXTRA` builds (without $THAIJA_KEYS), served by the real app on a
    real socket (conftest ``serve_cli`` and ``app_server``); yields the base URL."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("THAIJA_KEYS", raising=False)
        kw, res = serve_cli("--db", db, *extra)
    assert res.exit_code == 0, res.output
    with app_server(**kw) as base:
        yield base


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("workbench")
    db = str(d / "wb.db")
    p = subprocess.run([THAIJA, "index", "add", str(DATA), "--db", db], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert p.returncode == 0, p.stderr
    return db


@pytest.fixture(scope="module")
def server(db, serve_cli, app_server):
    with _served(serve_cli, app_server, db) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, errors  # no JavaScript error on any page


def ask(page, question: str) -> dict:
    """Type a question, press Enter, return the /v1/chat/completions JSON the page received."""
    n = page.locator("article.msg.answer").count()
    page.fill("#question", question)
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as resp:
        page.press("#question", "Enter")
    data = resp.value.json()
    page.locator("article.msg.answer").nth(n).wait_for()
    return data


def queue(db: str):
    from thaija.guard.review import ReviewQueue

    return ReviewQueue.for_index(db)


# ---------------------------------------------------------------------------------- chat
def test_chat_answer_citation_opens_highlighted_quote(page, server, db):
    """A cited answer's [n] opens its source with exactly the quoted span highlighted.

    Nothing here depends on where the calibrated bands sit: the question has one clearly supported
    answer (support about 0.84 against the Japanese refusal threshold of 0.17), and the report
    step follows the outcome: a confident answer has the report button, a low-confidence one is
    already queued and says so instead (the button would duplicate the queue item)."""
    question = "入社から6か月勤務すると年次有給休暇は何日付与されますか"
    page.goto(server + "/")
    data = ask(page, question)
    info = data["thaija"]
    assert info["refused"] is False, {k: info.get(k) for k in ("reason", "support", "answer")}
    cite = data["citations"][0]
    card = page.locator("article.msg.answer").nth(0)  # the first answer, also after more questions
    assert "10日" in card.locator(".text").inner_text()
    card.locator(f'.text button.cite[data-n="{cite["n"]}"]').click()
    mark = page.locator("#viewer #highlight")
    mark.wait_for()
    assert mark.inner_text() == cite["quote"]  # the highlighted span is exactly the quoted text
    assert "10日" in cite["quote"]
    from thaija.index.handles import close_index, open_index

    text = open_index(db).document_text(cite["doc_id"])
    close_index(db)
    assert text[cite["start"]:cite["end"]] == cite["quote"]
    assert page.locator("#viewer-text").inner_text() == text  # the whole source, the span marked in place
    assert page.locator("#viewer-title").inner_text().startswith(f"[{cite['n']}]")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        ask(page, "ทำงานจากที่บ้านได้กี่วันต่อสัปดาห์")
        page.locator("article.msg.answer").last.locator(".text button.cite").first.click()
        page.locator("#viewer #highlight").wait_for()
        page.screenshot(path=str(Path(SHOTS) / "chat.png"))
    page.keyboard.press("Escape")
    assert page.locator("#viewer").is_hidden()

    if info["review_id"] is None:
        # a confident answer: a user reports it, it reaches the review queue as user_flagged
        card.locator("button.report").click()
        card.locator(".badge.flagged").wait_for()
        flagged = queue(db).list(reason="user_flagged")
        assert flagged and flagged[-1].question == question
        assert flagged[-1].citations[0]["doc_id"] == cite["doc_id"]
    else:
        # low confidence: already queued, the card says under which number, no second report
        assert info["reason"] == "low_confidence" and card.locator("button.report").count() == 0
        assert f"#{info['review_id']}" in card.locator("p.status").inner_text()
        assert queue(db).get(info["review_id"]).question == question

    # English works the same way (a citation into the English manual)
    data = ask(page, "CleanBot R7 battery: how many hours to charge fully?")
    card = page.locator("article.msg.answer").last
    assert not data["thaija"]["refused"] and "4 hours" in card.locator(".text").inner_text(), \
        {k: data["thaija"].get(k) for k in ("reason", "support", "evidence", "answer")}
    assert data["citations"][0]["doc_id"] == "manual/cleanbot_en"
    card.locator(".text button.cite").first.click()
    assert page.locator("#viewer #highlight").inner_text() == data["citations"][0]["quote"]


def test_chat_thai_at_375px_and_refusal(browser, server, db):
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(server + "/ui")
        data = ask(page, "ทำงานจากที่บ้านได้กี่วันต่อสัปดาห์")
        card = page.locator("article.msg.answer").last
        assert not data["thaija"]["refused"] and "2 วัน" in card.inner_text()
        assert card.locator(".text").get_attribute("lang") == "th"
        # nothing wider than the phone's screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        card.locator(".text button.cite").first.click()
        page.locator("#viewer #highlight").wait_for()
        box = page.locator("#viewer").bounding_box()
        assert box["x"] >= 0 and box["width"] <= 375

        page.locator("#viewer-close").click()
        data = ask(page, "ภูเขาไฟฟูจิสูงกี่เมตร")  # nothing in the documents answers this
        card = page.locator("article.msg.answer").last
        assert data["thaija"]["refused"] is True
        assert card.get_attribute("data-refused") == "true"
        status = card.locator(".status.refused").inner_text()
        assert "No answer" in status and f"#{data['thaija']['review_id']}" in status
        assert page.evaluate("document.documentElement.scrollWidth") <= 375

        # the page states the server's verdict, whatever it is: answered, low confidence or refused
        data = ask(page, "本社の駐車場は何台分ありますか")  # only loosely related text exists
        card = page.locator("article.msg.answer").last
        if data["thaija"]["refused"]:
            assert card.locator(".status.refused").count() == 1
        elif data["thaija"]["reason"] == "low_confidence":
            assert "Low confidence" in card.locator(".status.low").inner_text()
        else:
            assert card.locator(".status").count() == 0 and card.locator(".badge.ok").count() == 1

        page.goto(server + "/review")  # the review page fits the phone too
        page.locator("#items button").first.wait_for()
        page.locator("#items button").first.click()
        page.locator("#detail #approve").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        ctx.close()


def test_page_language_follows_the_browser_and_the_menu(browser, server):
    ctx = browser.new_context(viewport={"width": 800, "height": 700}, locale="th-TH")
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(server + "/")
        assert page.locator("html").get_attribute("lang") == "th"
        assert page.locator("#ask").inner_text() == "ถาม"
        ask(page, "ภูเขาไฟฟูจิสูงกี่เมตร")
        assert page.locator("article.msg.answer").last.locator(".status.refused").inner_text().startswith("ไม่มีคำตอบ")
        page.select_option("#ui-lang", "ja")  # the menu overrides the browser, and is remembered
        page.wait_for_load_state()
        page.locator("#ask").filter(has_text="質問する").wait_for()
        page.goto(server + "/review")
        assert page.locator("#export").inner_text() == "承認済みを書き出す (JSONL)"
        page.locator("#counts").filter(has_text="未対応").wait_for()
    finally:
        ctx.close()


# ---------------------------------------------------------------------------------- review
def test_review_refused_item_approve_edit_export(page, server, db):
    page.goto(server + "/")
    question = "富士山の高さは何メートルですか"
    data = ask(page, question)
    assert data["thaija"]["refused"] is True
    rid = data["thaija"]["review_id"]

    page.goto(server + "/review")
    row = page.locator(f'#items button[data-id="{rid}"]')
    row.wait_for()  # a question refused over the API appears in the queue
    assert question in row.inner_text() and "refused" in row.inner_text()
    row.click()
    detail = page.locator("#detail")
    assert detail.locator("#d-question").inner_text() == question
    assert detail.locator(".notice").count() == 1  # refused: says approving as is is not exported
    cands = detail.locator("ol.candidates > li")
    assert cands.count() == len(queue(db).get(rid).candidates) > 0  # what the index offered
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "review.png"))

    # approve the refusal as it is: approved, but not a training target
    page.click("#approve")
    page.locator("#message").filter(has_text="not exported").wait_for()
    assert queue(db).get(rid).status == "approved"
    records = export(page)
    assert all(r["messages"][0]["content"] != question for r in records)

    # the reviewer writes the right answer: now it is exported
    page.select_option("#f-status", "approved")
    page.locator(f'#items button[data-id="{rid}"]').click()
    page.fill("#edit-answer", "標高3776メートルです。")
    page.fill("#note", "総務に確認済み")
    page.click("#save-edit")
    page.locator("#message").filter(has_text=f"#{rid}: approved").wait_for()
    item = queue(db).get(rid)
    assert (item.edited_answer, item.reviewer_note, item.exportable) == ("標高3776メートルです。", "総務に確認済み", True)
    records = export(page)
    mine = [r for r in records if r["messages"][0]["content"] == question]
    assert mine == [{"messages": [{"role": "user", "content": question},
                                  {"role": "assistant", "content": "標高3776メートルです。"}],
                     "lang": "ja", "source": "review"}]


def export(page) -> list[dict]:
    """Click Export and read the downloaded JSONL."""
    with page.expect_download() as dl:
        page.click("#export")
    path = dl.value.path()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_review_filters_reject_and_flag(page, server, db):
    q = queue(db)
    th = q.add("ค่าล่วงเวลาวันหยุดกี่เท่า", "3 เท่า [1]", "th", [], "low_confidence")
    en = q.add("How long does the battery last?", "About 120 minutes [1]", "en", [], "low_confidence")
    page.goto(server + "/review")
    page.locator(f'#items button[data-id="{en}"]').wait_for()
    page.select_option("#f-lang", "th")
    page.locator(f'#items button[data-id="{en}"]').wait_for(state="detached")
    ids = [int(x) for x in page.locator("#items button").evaluate_all("bs => bs.map(b => b.dataset.id)")]
    assert th in ids and all(q.get(i).lang == "th" for i in ids)
    page.select_option("#f-reason", "low_confidence")
    page.locator(f'#items button[data-id="{th}"]').click()
    assert page.locator("#d-question").get_attribute("lang") == "th"
    page.click("#flag")
    page.locator("#message").filter(has_text="flagged").wait_for()
    assert q.get(th).flagged and q.get(th).status == "pending"
    page.select_option("#f-status", "flagged")
    page.locator(f'#items button[data-id="{th}"]').click()
    page.click("#reject")
    page.locator("#message").filter(has_text=f"#{th}: rejected").wait_for()
    assert q.get(th).status == "rejected" and not q.get(th).flagged
    page.locator(f'#items button[data-id="{th}"]').wait_for(state="detached")  # no longer flagged


# ---------------------------------------------------------------------------------- keys
def test_pages_with_api_keys(browser, db, tmp_path, serve_cli, app_server):
    import httpx

    keys = tmp_path / "keys.tsv"
    keys.write_text("k-hr-reviewer\thr\t\treview\nk-public\t\nk-public-reviewer\t\t\treview\n", encoding="utf-8")
    with _served(serve_cli, app_server, db, "--keys", str(keys)) as base:
        assert httpx.get(base + "/review").status_code == 200  # the page shell holds no data
        assert httpx.get(base + "/ui/api/review").status_code == 401
        assert httpx.get(base + "/ui/api/doc", params={"id": "hr/salary_ja"}).status_code == 401
        pub = {"Authorization": "Bearer k-public"}
        hr = {"Authorization": "Bearer k-hr-reviewer"}
        assert httpx.get(base + "/ui/api/doc", params={"id": "hr/salary_ja"}, headers=pub).status_code == 404
        assert httpx.get(base + "/ui/api/doc", params={"id": "hr/salary_ja"}, headers=hr).json()["title"]

        ctx = browser.new_context(viewport={"width": 1000, "height": 800})
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(base + "/")
        page.fill("#question", "新卒の初任給はいくらですか")
        page.press("#question", "Enter")
        page.locator("#keybar").wait_for()  # 401: the page asks for a key
        page.fill("#api-key", "k-hr-reviewer")
        page.click("#key-save")
        data = ask(page, "新卒の初任給はいくらですか")
        assert not data["thaija"]["refused"] and data["citations"][0]["doc_id"] == "hr/salary_ja"
        page.locator("article.msg.answer").last.locator(".text button.cite").first.click()
        assert page.locator("#viewer #highlight").inner_text() == data["citations"][0]["quote"]

        # an item asked with the hr key is reviewable with that key, invisible to the public one
        rid = queue(db).add("賞与は年何回ですか", "年2回です。", "ja", [], "low_confidence", groups=["hr"])
        # a key without the review role may not read or act on the queue (others' questions; edits become
        # tune data), nor export it; it may still flag an answer
        for r in (httpx.get(base + "/ui/api/review?status=", headers=pub),
                  httpx.post(base + f"/ui/api/review/{rid}", json={"action": "edit", "answer": "x"}, headers=pub),
                  httpx.get(base + "/ui/api/review/export", headers=pub)):
            assert r.status_code == 403 and "review role" in r.json()["error"]["message"]
        assert httpx.post(base + "/ui/api/flag", json={"question": "q", "answer": "a"}, headers=pub).status_code == 200
        assert queue(db).get(rid).status == "pending"
        pubrev = {"Authorization": "Bearer k-public-reviewer"}   # a reviewer of public items only
        assert all(i["id"] != rid for i in httpx.get(base + "/ui/api/review?status=", headers=pubrev).json()["items"])
        assert httpx.post(base + f"/ui/api/review/{rid}", json={"action": "approve"}, headers=pubrev).status_code == 404
        page.goto(base + "/review")  # the key is kept for the session
        page.locator(f'#items button[data-id="{rid}"]').click()
        page.click("#approve")
        page.locator("#message").filter(has_text=f"#{rid}: approved").wait_for()
        assert queue(db).get(rid).status == "approved"
        ctx.close()


def test_review_api_errors(server, db):
    import httpx

    r = httpx.post(server + "/ui/api/review/1", json={"action": "burn"})
    assert r.status_code in (400, 404) and "error" in r.json()
    r = httpx.post(server + "/ui/api/review/99999", json={"action": "approve"})
    assert r.status_code == 404
    listing = httpx.get(server + "/ui/api/review", params={"status": ""}).json()
    public = [i for i in queue(db).list() if not i.groups]  # this server has no keys: public items only
    assert listing["matching"] == len(listing["items"]) == len(public)
    ids = [i["id"] for i in listing["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    rid = queue(db).add("x?", "y", "en", [], "low_confidence")
    r = httpx.post(server + f"/ui/api/review/{rid}", json={"action": "edit", "answer": "  "})
    assert r.status_code == 400 and "answer" in r.json()["error"]["message"]
    r = httpx.post(server + f"/ui/api/review/{rid}", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert httpx.get(server + "/ui/static/../serve.py").status_code == 404
    assert httpx.get(server + "/ui/static/nope.js").status_code == 404
    page = httpx.get(server + "/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN, nothing from outside


def test_review_filters_and_flags_are_checked(server, db):
    """QA session 12: the export's ``lang`` went unescaped into Content-Disposition (日本 → 500;
    ``x"; filename="evil.sh`` → a second file name); a flag stored a 900 KB unknown citation field
    that every reviewer's list then carried."""
    import httpx

    for bad in ("日本", 'x"; filename="evil.sh', "../../etc/passwd", "a\r\nSet-Cookie: x=1"):
        for path in ("/ui/api/review/export", "/ui/api/review"):
            r = httpx.get(server + path, params={"lang": bad, "status": ""})
            assert r.status_code == 400 and "lang" in r.json()["error"]["message"], (path, bad, r.text)
    assert httpx.get(server + "/ui/api/review", params={"status": "burnt"}).status_code == 400
    ok = httpx.get(server + "/ui/api/review/export", params={"lang": "ja"})
    assert ok.status_code == 200 and ok.headers["content-disposition"] == 'attachment; filename="review-ja.jsonl"'
    r = httpx.post(server + "/ui/api/flag", json={"question": "q?", "answer": "a", "citations": [
        {"n": 1, "doc_id": "d", "quote": "฿", "x": "y" * 900_000}]})
    assert r.status_code == 200
    assert queue(db).get(r.json()["id"]).citations == [{"n": 1, "doc_id": "d", "quote": "฿"}]
    r = httpx.post(server + "/ui/api/flag", json={"question": "q?", "answer": "a", "citations": [{"doc_id": "d" * 5000}]})
    assert r.status_code == 400 and "too long" in r.json()["error"]["message"]
