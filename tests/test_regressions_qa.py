"""Regressions found by a QA pass over the CLI (each was a real bug)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from thaija.errors import ThaijaError
from thaija.lang import segment, sentences

ROOT = Path(__file__).resolve().parents[1]
THAIJA = str(Path(sys.executable).parent / "thaija")


def run(*args):
    return subprocess.run([THAIJA, *args], capture_output=True, text=True, timeout=600)


def test_unknown_or_missing_engines_are_one_line_errors():
    for args in (["segment", "ไปกินข้าว", "--lang", "th", "--engine", "bogus"],
                 ["segment", "ไปกินข้าว", "--lang", "th", "--engine", "attacut"],
                 ["sentences", "ทดสอบ ประโยค", "--engine", "bogus"]):
        r = run(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("thaija: error:"), args
    with pytest.raises(ThaijaError):
        sentences("ทดสอบ ประโยค", engine="bogus")


def test_engine_with_auto_applies_to_its_language_only():
    toks = [t.text for t in segment("ไปกินข้าวที่ร้าน 東京タワー", engine="mm")]
    assert toks == ["ไป", "กินข้าวที่", "ร้าน", "東京", "タワー"]


def test_english_regex_keeps_thai_combining_marks():
    assert [t.text for t in segment("ไปกินข้าว", "en")] == ["ไปกินข้าว"]


def test_crlf_document_offsets_index_the_original_file(tmp_path):
    from thaija.index import Index
    from thaija.retrieve import search

    src = (ROOT / "corpora" / "news" / "ja" / "upi.176266.txt").read_text(encoding="utf-8")
    path = tmp_path / "crlf.txt"
    path.write_bytes(src.replace("\n", "\r\n").encode("utf-8"))
    db = str(tmp_path / "c.db")
    with Index(db) as idx:
        idx.add_paths([str(path)], progress=False)
    raw = path.read_bytes().decode("utf-8")
    hits = search("ロブスター", db=db, k=3, mode="bm25")
    assert hits and all(raw[h.start:h.end] == h.text for h in hits)


def test_empty_documents_are_rejected(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "e.jsonl").write_text('{"id": "ok1", "text": ""}\n', encoding="utf-8")
    for p in ("empty.txt", "e.jsonl"):
        r = run("index", "add", str(tmp_path / p), "--db", str(tmp_path / "x.db"))
        assert r.returncode == 2 and "empty" in r.stderr and p in r.stderr


def test_zero_width_query_is_empty(tmp_path):
    from thaija.index import Document, Index
    from thaija.retrieve import search

    db = str(tmp_path / "z.db")
    with Index(db) as idx:
        idx.add_documents([Document(id="d", text="東京タワーは東京都港区にある電波塔です。")], progress=False)
    with pytest.raises(ThaijaError, match="empty query"):
        search("\u200b\u200b", db=db)


def test_eval_refuses_a_db_holding_other_documents(tmp_path):
    from thaija.index import Document, Index

    db = str(tmp_path / "user.db")
    with Index(db) as idx:
        idx.add_documents([Document(id="secret", text="人事部の規則です。", groups=["hr"])], progress=False)
    r = run("eval", str(ROOT / "corpora" / "wiki_ja"), "--mode", "dense", "--db", db)
    assert r.returncode == 2 and "already holds" in r.stderr
    with Index(db) as idx:
        assert [(d["doc_id"], d["groups"]) for d in idx.list()] == [("secret", ["hr"])]


def test_eval_qa_rejects_answers_that_are_not_lists(tmp_path):
    d = tmp_path / "qa"
    shutil.copytree(ROOT / "corpora" / "wiki_th", d)
    recs = [json.loads(l) for l in (d / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    (d / "answers.jsonl").write_text("".join(json.dumps({"query-id": r["query-id"], "answers": "ZZZ"}) + "\n"
                                             for r in recs), encoding="utf-8")
    r = run("eval-qa", str(d))
    assert r.returncode == 2 and "answers.jsonl:1" in r.stderr


def test_stdin_and_stdout_dashes():
    data = '\ufeff{"lang": "ja", "text": "こんにちは"}\n{"lang": "th", "text": "สวัสดี"}\n'
    r = subprocess.run([THAIJA, "tune", "mix", "-", "--json"], input=data, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["counts"] == {"ja": 1, "th": 1}
    r = run("cost", "compare", "--tokenizers", "cl100k_base", "--json", "-")
    assert r.returncode == 0 and json.loads(r.stdout)["reference"] == "en"
