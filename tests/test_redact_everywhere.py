"""Issue 12, finding 2: with `--redact` no raw PII reaches the disk or the output.

Planted values (a Thai national ID, a phone, an e-mail, a My Number, a payment card) sit in document
text, a Markdown `# heading` title, a file name (-> document id), JSONL ids, titles and metadata.
After `index add --redact`, `search`, `index list --json` and `ask --redact`, every file under the
Milvus Lite folder, its state folder, the review database and the embedding cache is grepped byte by
byte (SQLite, .npy and JSON alike), together with every command's stdout and stderr. A control store
built from the same files WITHOUT `--redact` must show the values (so the grep can fail).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thaija.guard.pii import my_number_check_digit, thai_id_check_digit

THAIJA = str(Path(sys.executable).parent / "thaija")
pytestmark = pytest.mark.slow

_TH12 = "310170023070"
THAI_ID = _TH12 + str(thai_id_check_digit(_TH12))
_MY11 = "48213579246"
MY_NUMBER = _MY11 + str(my_number_check_digit(_MY11))
PHONE = "0812345678"
EMAIL = "kanokwan.s@example.co.th"
CARD = "4111111111111111"  # the Visa test number (Luhn-valid)

# every form written into the files, and what must not appear anywhere afterwards
NEEDLES = [THAI_ID, "-".join((THAI_ID[0], THAI_ID[1:5], THAI_ID[5:10], THAI_ID[10:12], THAI_ID[12])),
           MY_NUMBER, " ".join((MY_NUMBER[:4], MY_NUMBER[4:8], MY_NUMBER[8:])),
           PHONE, "081-234-5678", EMAIL, "kanokwan.s", CARD, "4111 1111 1111 1111",
           "098-765-4321", "suda.p@example.jp"]  # the last two only in a question to `ask`


def _plant(folder: Path) -> None:
    folder.mkdir()
    th_dashed = NEEDLES[1]
    (folder / f"contact_{PHONE}.md").write_text(
        f"# ติดต่อคุณกนกวรรณ 081-234-5678\n\n"
        f"ฝ่ายบุคคลรับเรื่องลาพักร้อนทุกวันทำการ เลขประจำตัวประชาชน {th_dashed} "
        f"อีเมล {EMAIL} บัตรเครดิต 4111 1111 1111 1111\n", encoding="utf-8")
    (folder / "staff.jsonl").write_text(json.dumps({
        "id": EMAIL, "title": f"社員 {NEEDLES[3]}",
        "text": f"人事部への連絡は {EMAIL} または 081-234-5678 まで。マイナンバー {MY_NUMBER} は金庫に保管します。",
        "metadata": {"owner": EMAIL, "card": CARD, "nested": {"phone": "081-234-5678", "id": f"บัตรประชาชน {THAI_ID}"}},
    }, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "policy.txt").write_text(
        "Annual leave requests are approved by the team lead within three working days.\n", encoding="utf-8")


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _run(args: list[str], env: dict, cwd: Path, outputs: list[str], ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([THAIJA, *args], capture_output=True, text=True, timeout=900, env=env, cwd=cwd)
    outputs.append(r.stdout + r.stderr)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def _build(tmp: Path, name: str, redact: bool) -> tuple[list[Path], list[str]]:
    """Index the planted folder into tmp/name.db, search, list, ask; return (roots, outputs)."""
    work = tmp / name
    work.mkdir()
    _plant(work / "docs")
    env = {**os.environ, "THAIJA_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
    db = str(work / "t.db")
    flag = ["--redact"] if redact else []
    outs: list[str] = []
    _run(["index", "add", "docs", "--db", db, "--json", *flag], env, work, outs)
    _run(["search", "ฝ่ายบุคคล ลาพักร้อน", "--db", db, "--json"], env, work, outs)
    _run(["search", "人事部 連絡", "--db", db, "--json"], env, work, outs)
    listed = _run(["index", "list", "--db", db, "--json"], env, work, outs)
    assert len(_jsonl(listed.stdout)) == 3
    # a question with PII the documents do not answer: refused or low confidence, so it is queued
    asked = _run(["ask", "Which planet has the most moons? Reply to suda.p@example.jp or 098-765-4321",
                  "--db", db, "--json", *flag], env, work, outs)
    assert json.loads(asked.stdout)["review_id"] is not None
    review_files = list(work.glob("t.db.review.sqlite*"))
    assert review_files, "ask queued nothing: the review database was not written"
    from thaija.index.ingest import IndexConfig

    state = Path(IndexConfig(db=db).state_path)
    assert state.is_dir(), state
    # everything the commands wrote: the whole work folder except the planted input files
    roots = [Path(db), state, work / "cache", *review_files,
             *[p for p in work.iterdir() if p.name != "docs"]]
    return roots, outs


def _hits(roots: list[Path], outputs: list[str]) -> dict[str, list[str]]:
    """{needle: [where it was found]} over every byte of every file under roots and every output."""
    found: dict[str, list[str]] = {}
    files = sorted({f for r in roots for f in ([r] if r.is_file() else r.rglob("*")) if f.is_file()})
    assert files
    for f in files:
        data = f.read_bytes()
        for n in NEEDLES:
            if n.encode("utf-8") in data or n.encode("utf-16-le") in data:
                found.setdefault(n, []).append(str(f))
    for i, out in enumerate(outputs):
        for n in NEEDLES:
            if n in out:
                found.setdefault(n, []).append(f"output of command {i}")
    return found


def test_redacted_store_state_queue_and_outputs_hold_no_raw_pii(tmp_path):
    control_roots, control_outs = _build(tmp_path, "control", redact=False)
    control = _hits(control_roots, control_outs)
    # the grep works: without --redact every planted value is on disk
    assert set(control) == set(NEEDLES), sorted(set(NEEDLES) - set(control))

    roots, outs = _build(tmp_path, "redacted", redact=True)
    assert _hits(roots, outs) == {}

    # ids derived from PII are hashed, titles and metadata redacted, the store still works
    env = {**os.environ, "THAIJA_CACHE": str(tmp_path / "redacted" / "cache")}
    listed = _jsonl(subprocess.run([THAIJA, "index", "list", "--db", str(roots[0]), "--json"],
                                   capture_output=True, text=True, env=env, timeout=600).stdout)
    ids = sorted(d["doc_id"] for d in listed)
    assert any(i.startswith("[EMAIL]~") for i in ids), ids
    assert any(i.startswith("contact_[PHONE]~") and i.endswith(".md") for i in ids), ids
    titles = " ".join(d.get("title", "") for d in listed)
    assert "[PHONE]" in titles and "[JP_MY_NUMBER]" in titles, titles


def test_ask_redact_queues_the_redacted_question(tmp_path):
    """Library path: the review queue stores the redacted question, the raw one is nowhere."""
    from thaija.guard.review import ReviewQueue, review_path
    from thaija.rag.pipeline import ask

    db = str(tmp_path / "empty.db")
    q = f"เบอร์ {PHONE} และอีเมล {EMAIL} เป็นของใคร"
    r = ask(q, db=db, redact=True, search=lambda query, k: [])
    assert r["refused"] and PHONE not in json.dumps(r, ensure_ascii=False) and EMAIL not in r["question"]
    items = ReviewQueue(review_path(db)).list()
    assert [i.question for i in items] == [f"เบอร์ [PHONE] และอีเมล [EMAIL] เป็นของใคร"]
    for f in tmp_path.iterdir():
        if f.is_file():
            assert PHONE.encode() not in f.read_bytes() and EMAIL.encode() not in f.read_bytes(), f


def test_review_export_keeps_access_groups_and_loads_in_tune(tmp_path):
    """Finding 7 (second half): an approved answer from restricted documents keeps its label."""
    from thaija.guard.review import ReviewQueue
    from thaija.tune.data import load_records, parse_record

    q = ReviewQueue.for_index(tmp_path / "thaija.db")
    hr = q.add("นโยบายลาพักร้อนของฝ่ายบุคคลเป็นอย่างไร", "ลาได้ปีละ 10 วัน [1]", "th", [], "low_confidence",
               groups=["hr", "managers"])
    pub = q.add("東京タワーの高さは？", "333メートルです [1]。", "ja", [], "low_confidence")
    q.approve(hr)
    q.approve(pub)
    out = tmp_path / "review.jsonl"
    assert q.export(out) == 2
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("groups") for r in recs] == [["hr", "managers"], None]
    assert len(load_records(out, detect_missing=False)) == 2  # the tune stage accepts the label
    assert parse_record({"text": "x", "groups": "hr"})[1] == "'groups' must be a list of strings"


def test_strict_error_and_skip_report_carry_no_raw_file_name(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / f"empty_{PHONE}.txt").write_text("", encoding="utf-8")
    (docs / "ok.txt").write_text("Annual leave is approved by the team lead.\n", encoding="utf-8")
    env = {**os.environ, "THAIJA_CACHE": str(tmp_path / "cache")}
    base = [THAIJA, "index", "add", str(docs), "--redact"]
    r = subprocess.run([*base, "--db", str(tmp_path / "a.db"), "--strict"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 2 and "empty_[PHONE]" in r.stderr and PHONE not in r.stderr + r.stdout, r.stderr
    r = subprocess.run([*base, "--db", str(tmp_path / "b.db"), "--json"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["skipped"][0]["path"].endswith("empty_[PHONE].txt")
    assert PHONE not in r.stderr + r.stdout
