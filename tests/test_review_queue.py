"""Review queue: SQLite round trip, status rules, export to tune-stage JSONL, CLI."""
from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app
from thaija.guard.review import ReviewError, ReviewQueue, review_path, strip_citation_marks

TH_Q = "ภาษีมูลค่าเพิ่มของประเทศไทยในปัจจุบันอยู่ที่ร้อยละเท่าไร"
TH_A = "เอกสารที่ค้นพบไม่มีข้อมูลเรื่องนี้"
JA_Q = "東京タワーの高さは何メートルですか？"
JA_A = "東京タワーの高さは333メートルです [1]。"
JA_CIT = [{"n": 1, "chunk_id": "tokyo#0", "doc_id": "tokyo", "source": "tokyo.txt", "start": 0,
           "end": 16, "quote": "東京タワーの高さは333メートル"}]
runner = CliRunner()


@pytest.fixture()
def queue(tmp_path) -> ReviewQueue:
    q = ReviewQueue.for_index(tmp_path / "thaija.db")
    q.add(TH_Q, TH_A, "th", [], "refused", groups=["finance"])
    q.add(JA_Q, JA_A, "ja", JA_CIT, "low_confidence", score=0.31)
    q.add("ติดต่อคุณสมชายที่ 081-234-5678 ได้ไหม", "ได้ครับ โทร 081-234-5678 [1]", "th", [], "user_flagged")
    return q


def test_path_beside_index(tmp_path):
    assert review_path(tmp_path / "thaija.db") == str(tmp_path / "thaija.db") + ".review.sqlite"
    assert review_path("x.review.sqlite") == "x.review.sqlite"
    ReviewQueue.for_index(tmp_path / "thaija.db")
    assert (tmp_path / "thaija.db.review.sqlite").is_file()


def test_add_get_list(queue):
    items = queue.list()
    assert [i.id for i in items] == [1, 2, 3]
    assert all(i.status == "pending" for i in items)
    ja = queue.get(2)
    assert (ja.question, ja.answer, ja.lang, ja.reason, ja.score) == (JA_Q, JA_A, "ja", "low_confidence", 0.31)
    assert ja.citations == JA_CIT
    assert queue.get(1).groups == ["finance"]
    assert [i.id for i in queue.list(reason="user_flagged")] == [3]
    assert queue.counts() == {"pending": 3, "approved": 0, "rejected": 0}


def test_citation_objects_are_stored_as_json(tmp_path):
    from thaija.rag.citations import Citation as Cite  # the pipeline's own citation objects

    q = ReviewQueue(tmp_path / "q.review.sqlite")
    rid = q.add(JA_Q, JA_A, "ja", [Cite(**JA_CIT[0])], "low_confidence")
    stored = q.get(rid).citations  # every field the object has (later versions may add some)
    assert [{k: c[k] for k in JA_CIT[0]} for c in stored] == JA_CIT
    with pytest.raises(ReviewError, match="citation"):
        q.add(JA_Q, JA_A, "ja", ["[1]"], "low_confidence")


def test_state_survives_reopen(queue, tmp_path):
    queue.approve(2)
    again = ReviewQueue(review_path(tmp_path / "thaija.db"), create=False)
    assert again.get(2).status == "approved"
    with sqlite3.connect(again.path) as con:  # a plain SQLite file anyone can inspect
        assert con.execute("SELECT question FROM items WHERE id = 1").fetchone()[0] == TH_Q
    con.close()


def test_status_rules(queue):
    assert queue.reject(1).status == "rejected"
    assert queue.approve(1).status == "approved"  # a reviewer may change their mind
    item = queue.edit(2, "東京タワーの高さは333メートルです。", approve=False)
    assert item.status == "pending" and item.answer == JA_A  # original kept
    assert item.final_answer == "東京タワーの高さは333メートルです。"
    assert queue.edit(3, "ขออภัย ไม่สามารถเปิดเผยเบอร์โทรได้").status == "approved"  # edit approves


@pytest.mark.parametrize("call", ["get", "approve", "reject", "edit"])
def test_unknown_id(queue, call):
    with pytest.raises(ReviewError, match="no review item with id 42"):
        getattr(queue, call)(*((42, "x") if call == "edit" else (42,)))


def test_bad_values(queue, tmp_path):
    with pytest.raises(ReviewError, match="reason"):
        queue.add(TH_Q, TH_A, "th", [], "bored")
    with pytest.raises(ReviewError, match="status"):
        queue.list("done")
    with pytest.raises(ReviewError, match="empty"):
        queue.edit(1, "   ")
    with pytest.raises(ReviewError, match="no review queue"):
        ReviewQueue(tmp_path / "other.review.sqlite", create=False)
    (tmp_path / "junk.review.sqlite").write_text("not sqlite " * 100, encoding="utf-8")
    with pytest.raises(ReviewError, match="not a review queue"):
        ReviewQueue(tmp_path / "junk.review.sqlite")


def test_export_round_trip(queue, tmp_path):
    queue.approve(2)
    queue.edit(1, "ร้อยละ 7 [1]")
    queue.edit(3, "ติดต่อได้ที่ 081-234-5678 ครับ")
    out = tmp_path / "review.jsonl"
    assert queue.export(out) == 3
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert recs[0] == {"messages": [{"role": "user", "content": TH_Q},
                                    {"role": "assistant", "content": "ร้อยละ 7"}],
                       "lang": "th", "source": "review", "groups": ["finance"]}  # access label kept
    assert recs[1]["messages"][1]["content"] == "東京タワーの高さは333メートルです。"
    assert recs[1]["lang"] == "ja"
    # PII never leaves through the training file
    assert recs[2]["messages"][0]["content"] == "ติดต่อคุณสมชายที่ [PHONE] ได้ไหม"
    assert recs[2]["messages"][1]["content"] == "ติดต่อได้ที่ [PHONE] ครับ"
    # rejected and pending items are not exported
    queue.reject(3)
    assert queue.export(out, lang="th") == 1
    raw = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["lang"] for r in raw] == ["th"]
    assert queue.export(out, keep_citations=True, redact_pii=False) == 2
    assert "[1]" in out.read_text(encoding="utf-8")


def test_strip_citation_marks():
    assert strip_citation_marks("ร้อยละ 7 [1][2]") == "ร้อยละ 7"
    assert strip_citation_marks("333メートルです[1, 2]。高さは[3]") == "333メートルです。高さは"


# ---------------------------------------------------------------------------------------- CLI
def test_cli_round_trip(queue, tmp_path):
    db = str(tmp_path / "thaija.db")
    r = runner.invoke(app, ["review", "list", "--db", db, "--status", "pending"])
    assert r.exit_code == 0, r.output
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["1", "2", "3"]
    assert JA_Q in r.stdout

    r = runner.invoke(app, ["review", "show", "2", "--db", db, "--json"])
    assert json.loads(r.stdout)["citations"] == JA_CIT

    assert runner.invoke(app, ["review", "approve", "2", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["review", "reject", "3", "--db", db]).exit_code == 0
    r = runner.invoke(app, ["review", "edit", "1", "--answer", "ร้อยละ 7", "--db", db])
    assert r.exit_code == 0 and "approved" in r.stdout

    r = runner.invoke(app, ["review", "list", "--db", db, "--json"])
    assert [(i["id"], i["status"]) for i in json.loads(r.stdout)] == [(1, "approved"), (2, "approved"),
                                                                        (3, "rejected")]
    out = tmp_path / "tune.jsonl"
    r = runner.invoke(app, ["review", "export", str(out), "--db", db])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(x["lang"], x["source"], x["messages"][1]["content"]) for x in recs] == [
        ("th", "review", "ร้อยละ 7"), ("ja", "review", "東京タワーの高さは333メートルです。")]


@pytest.mark.parametrize("args", [
    ["review", "show", "99"], ["review", "approve", "99"], ["review", "reject", "99"],
    ["review", "edit", "99", "--answer", "x"], ["review", "list", "--status", "done"],
    ["review", "list", "--lang", "xx"], ["review", "export", "-", "--lang", "日本"],   # not a silent empty list
])
def test_cli_errors(queue, tmp_path, args):
    r = runner.invoke(app, [*args, "--db", str(tmp_path / "thaija.db")])
    assert r.exit_code == 2, r.output
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_cli_missing_queue(tmp_path):
    r = runner.invoke(app, ["review", "list", "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 2
    assert "none.db.review.sqlite" in r.stderr


def test_cli_flag_detects_language(tmp_path):
    db = str(tmp_path / "fresh.db")  # flag creates the queue when it does not exist yet
    r = runner.invoke(app, ["review", "flag", JA_Q, "--answer", "100メートルです", "--note", "高さが違う",
                            "--db", db])
    assert r.exit_code == 0, r.output
    item = ReviewQueue(review_path(db), create=False).get(int(r.stdout))
    assert (item.lang, item.reason, item.status, item.note) == ("ja", "user_flagged", "pending", "高さが違う")
    r = runner.invoke(app, ["review", "flag", TH_Q, "--answer", "ร้อยละ 10", "--db", db])
    assert ReviewQueue(review_path(db)).get(int(r.stdout)).lang == "th"
    r = runner.invoke(app, ["review", "flag", TH_Q, "--answer", "x", "--lang", "fr", "--db", db])
    assert r.exit_code == 2


def test_export_loads_in_the_tune_stage(queue, tmp_path):
    data = pytest.importorskip("thaija.tune.data")
    queue.approve(2)
    queue.edit(1, "ร้อยละ 7")
    out = tmp_path / "review.jsonl"
    assert queue.export(out) == 2
    recs = data.load_records(out, detect_missing=False)
    assert [(r.kind, r.lang, r.source) for r in recs] == [("messages", "th", "review"),
                                                          ("messages", "ja", "review")]
    assert recs[1].messages == (("user", JA_Q), ("assistant", "東京タワーの高さは333メートルです。"))


def test_concurrent_adds_from_threads(tmp_path):
    # The server adds from several threads at once: every add gets its own id, none is lost.
    from concurrent.futures import ThreadPoolExecutor

    q = ReviewQueue(tmp_path / "q.review.sqlite")
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(lambda i: q.add(f"{JA_Q} ({i})", JA_A, "ja", JA_CIT, "low_confidence"), range(60)))
    assert sorted(ids) == list(range(1, 61))
    assert q.counts()["pending"] == 60


# ------------------------------------------------------------- candidates, refusals, flags, filters
def test_refused_item_keeps_candidates_and_is_not_exported_unedited(tmp_path):
    from thaija.retrieve.search import Hit

    q = ReviewQueue(tmp_path / "q.review.sqlite")
    hits = [Hit(1, 0.42, "hr#0", "hr/leave_ja.md", "ja", 0, 15, "年次有給休暇は入社6か月後に10日付与されます。", "hr/leave_ja.md"),
            Hit(2, 0.1, "hr#1", "hr/remote_th.md", "th", 20, 30000, "ก" * 3000, "hr/remote_th.md")]
    rid = q.add(JA_Q, "資料からは答えが見つかりませんでした。", "ja", [], "refused", candidates=hits)
    item = q.get(rid)
    assert [c["chunk_id"] for c in item.candidates] == ["hr#0", "hr#1"]
    assert item.candidates[0]["text"] == hits[0].text and item.candidates[0]["score"] == 0.42
    assert item.candidates[1]["truncated"] and len(item.candidates[1]["text"]) < 3000
    assert q.approve(rid).exportable is False  # the refusal text is no training target
    out = tmp_path / "t.jsonl"
    assert q.export(out) == 0 and out.read_text(encoding="utf-8") == ""
    assert q.unexported_refusals() == 1
    q.edit(rid, "333メートルです。")  # once a reviewer writes the answer, it is exported
    assert q.export(out) == 1 and q.unexported_refusals() == 0


def test_flag_and_filters(queue):
    queue.approve(2)
    item = queue.flag(2, note="法務に確認")
    assert (item.status, item.flagged, item.reviewer_note) == ("pending", True, "法務に確認")
    assert [i.id for i in queue.list(flagged=True)] == [2]
    assert [i.id for i in queue.list(lang="th")] == [1, 3]
    assert [i.id for i in queue.list("pending", lang="th", reason="refused")] == [1]
    assert queue.approve(2).flagged is False  # a decision clears the flag


def test_version1_queue_is_upgraded(tmp_path):
    path = tmp_path / "old.review.sqlite"
    with sqlite3.connect(path) as con:  # the schema as version 1 wrote it
        con.executescript("""CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, question TEXT NOT NULL, lang TEXT NOT NULL, answer TEXT NOT NULL,
            citations TEXT NOT NULL DEFAULT '[]', reason TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            edited_answer TEXT, groups TEXT NOT NULL DEFAULT '[]', score REAL, note TEXT);
            INSERT INTO items (created_at, updated_at, question, lang, answer, reason)
            VALUES ('2026-01-01', '2026-01-01', 'q', 'en', 'a', 'low_confidence');
            PRAGMA user_version = 1;""")
    con.close()
    item = ReviewQueue(path).get(1)
    assert (item.question, item.candidates, item.flagged) == ("q", [], False)


def test_cli_filters_flag_and_show(queue, tmp_path):
    db = str(tmp_path / "thaija.db")
    r = runner.invoke(app, ["review", "list", "--db", db, "--lang", "ja"])
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["2"]
    r = runner.invoke(app, ["review", "flag", "--id", "1", "--note", "ask finance", "--db", db])
    assert r.exit_code == 0 and "flagged" in r.stdout
    r = runner.invoke(app, ["review", "list", "--db", db, "--flagged"])
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["1"]
    r = runner.invoke(app, ["review", "approve", "1", "--db", db])
    assert r.exit_code == 0 and "not exported" in r.stderr
    r = runner.invoke(app, ["review", "export", str(tmp_path / "o.jsonl"), "--db", db])
    assert r.exit_code == 0 and "1 refusal" in r.stderr
    assert runner.invoke(app, ["review", "flag", "--id", "1", "q", "--db", db]).exit_code == 2


def test_review_finds_the_nearest_index_like_every_other_command(tmp_path, monkeypatch):
    """`thaija review list` from a subfolder reads the queue of the nearest thaija.db (QA F14), not ./thaija.db."""
    from typer.testing import CliRunner

    from thaija.cli.main import app
    from thaija.guard.review import ReviewQueue, review_path

    db = tmp_path / "thaija.db"
    (tmp_path / "thaija.db.state").mkdir()
    (tmp_path / "thaija.db.state" / "registry.sqlite").write_bytes(b"")
    q = ReviewQueue(review_path(str(db)), create=True)
    q.add("ลาพักร้อนได้กี่วัน", "", "th", [], "refused")
    sub = tmp_path / "docs" / "hr"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("THAIJA_DB", raising=False)
    r = CliRunner().invoke(app, ["review", "list", "--json"])
    assert r.exit_code == 0, r.output
    assert "ลาพักร้อนได้กี่วัน" in r.output
    assert not (sub / "thaija.db.review.sqlite").exists()


def test_list_shows_a_refusals_cause_and_folds_repeated_questions(queue, tmp_path):
    """QA session 13: `review list` said only "refused" (weak evidence? a missing fact?) and showed
    the same question once per asking. The cause (the item's note) is in brackets; --unique shows
    each question once, the newest item, with how many times it was asked (spacing, width, case aside)."""
    db = str(tmp_path / "thaija.db")
    queue.add("ลาคลอดได้กี่วัน", "ขออภัย", "th", [], "refused", note="weak_evidence")
    queue.add("ลาคลอด ได้กี่วัน ", "ขออภัย", "th", [], "refused", note="weak_evidence")
    queue.add("Ｌａｐｔｏｐ policy?", "Sorry", "en", [], "refused", note="fact_missing")
    queue.add("laptop  POLICY?", "Sorry", "en", [], "refused", note="fact_missing")
    r = runner.invoke(app, ["review", "list", "--db", db])
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [x[0] for x in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert rows[3][2] == "refused (weak_evidence)" and rows[5][2] == "refused (fact_missing)"
    assert rows[0][2] == "refused" and rows[1][2] == "low_confidence"   # no note: as before
    r = runner.invoke(app, ["review", "list", "--db", db, "--unique"])
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [x[0] for x in rows] == ["1", "2", "3", "5", "7"]
    assert rows[3][5].endswith("(asked 2×)") and rows[4][5].endswith("(asked 2×)") and "asked" not in rows[0][5]
    r = runner.invoke(app, ["review", "list", "--db", db, "--unique", "--json"])
    got = {i["id"]: i["repeats"] for i in json.loads(r.stdout)}
    assert got == {1: [1], 2: [2], 3: [3], 5: [4, 5], 7: [6, 7]}
    r = runner.invoke(app, ["review", "show", "7", "--db", db])
    assert "fact_missing (the asked quantity, model or brand is in no retrieved document" in r.stdout
