"""Document ids that do not depend on the working folder, the --db default, removal by id / prefix /
path, folder ingest that skips bad files, and the index list/stats tables (real CLI in-process,
real Milvus Lite files)."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app
from thaija.index.documents import common_root, doc_id_for, load_paths

JA = "受付は8時45分に開きます。来客は受付で名前を記入してください。"
TH = "พนักงานทำงานจากที่บ้านได้สัปดาห์ละสองวัน โดยต้องแจ้งหัวหน้างานล่วงหน้า"
LONG = "社内規程集_人事部_在宅勤務とフレックスタイム制度の運用細則_二〇二六年度版_改訂第三版"


def cli(*args: str):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


def cells(line: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


@pytest.fixture()
def ws(tmp_path, monkeypatch) -> Path:
    """tmp/docs/{a.md, hr/remote.txt, <long Japanese name>.txt} and an isolated embedding cache."""
    monkeypatch.setenv("THAIJA_CACHE", str(tmp_path.parent / "cache"))
    monkeypatch.delenv("THAIJA_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    (tmp_path / "docs" / "hr").mkdir(parents=True)
    (tmp_path / "docs" / "a.md").write_text(f"# 受付\n\n{JA}\n", encoding="utf-8")
    (tmp_path / "docs" / "hr" / "remote.txt").write_text(TH, encoding="utf-8")
    (tmp_path / "docs" / f"{LONG}.txt").write_text(JA, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_ids_are_relative_to_the_root_not_the_working_folder(ws, monkeypatch):
    code, out = cli("index", "add", "docs", "--no-progress", "--json")       # creates ./thaija.db
    assert code == 0, out
    assert (ws / "thaija.db.state" / "registry.sqlite").exists()
    monkeypatch.chdir(ws / "docs")
    code, out = cli("index", "add", "hr/remote.txt", "--db", "../thaija.db", "--groups", "hr", "--json")
    assert code == 0, out
    s = json.loads(out.strip().splitlines()[-1])
    assert (s["added"], s["replaced"]) == (0, 1)                              # re-tagged, not copied
    monkeypatch.chdir(ws / "docs" / "hr")                                     # nearest thaija.db, two levels up
    code, out = cli("index", "list", "--json")
    docs = {d["doc_id"]: d for d in map(json.loads, out.strip().splitlines())}
    assert set(docs) == {"a.md", "hr/remote.txt", f"{LONG}.txt"}
    assert docs["hr/remote.txt"]["groups"] == ["hr"] and docs["a.md"]["lang"] == "ja"
    assert docs["hr/remote.txt"]["lang"] == "th"                             # detected, not "auto"
    code, out = cli("search", "ทำงานจากที่บ้าน", "--json")                  # public caller: hr text hidden
    assert code == 0 and "hr/remote.txt" not in out
    code, out = cli("search", "ทำงานจากที่บ้าน", "--groups", "hr", "--json")
    assert "hr/remote.txt" in out


def test_db_default_and_missing_index(ws, monkeypatch, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("empty")
    monkeypatch.chdir(elsewhere)
    for args in (["index", "list"], ["index", "stats"], ["search", "受付"], ["index", "remove", "a.md"]):
        code, out = cli(*args)
        assert code == 2 and "no index found" in out and "--db" in out, (args, out)
    assert list(elsewhere.iterdir()) == []                                   # nothing created
    code, out = cli("index", "list", "--db", str(elsewhere / "x.db"))
    assert code == 2 and "no index at" in out and not (elsewhere / "x.db").exists()
    monkeypatch.chdir(ws)
    assert cli("index", "add", "docs/a.md", "--db", "mine.db", "--no-progress")[0] == 0
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("THAIJA_DB", str(ws / "mine.db"))
    code, out = cli("index", "list")
    assert code == 0 and "a.md" in out


def test_remove_by_id_prefix_and_path(ws):
    assert cli("index", "add", "docs", "--no-progress")[0] == 0
    code, out = cli("index", "remove", "nope")
    assert code == 2 and "unknown document id: nope" in out
    code, out = cli("index", "remove", "docs/hr", "--json")                  # a folder path
    assert code == 0 and json.loads(out)["doc_ids"] == ["hr/remote.txt"]
    assert cli("index", "add", "docs", "--no-progress")[0] == 0
    code, out = cli("index", "remove", "hr", "--json")                       # an id prefix
    assert json.loads(out)["doc_ids"] == ["hr/remote.txt"]
    code, out = cli("index", "remove", "a.md", str(ws / "docs" / f"{LONG}.txt"), "--json")  # id and file path
    assert sorted(json.loads(out)["doc_ids"]) == sorted(["a.md", f"{LONG}.txt"])
    code, out = cli("index", "list")
    assert code == 0 and out.strip() == "no documents"


def test_list_and_stats_tables_fit_80_columns(ws):
    assert cli("index", "add", "docs", "--no-progress")[0] == 0
    code, out = cli("index", "list")
    lines = out.rstrip("\n").split("\n")
    assert code == 0 and lines[0].split() == ["ID", "LANG", "CHUNKS", "CHARS", "GROUPS"]
    assert all(cells(l) <= 80 for l in lines), [cells(l) for l in lines]
    assert any(l.startswith("社内規程集") and "…" in l for l in lines)          # long id cut, not wrapped
    row = next(l for l in lines if l.startswith("a.md")).split()
    assert row[1] == "ja" and row[-1] == "public"
    code, out = cli("index", "stats")
    assert code == 0 and all(cells(l) <= 80 for l in out.splitlines())
    assert "documents    3" in out and "title+heading" in out
    # one BM25 language per line (a long line was cut at the terminal edge: "th: 11 chunks, 1…")
    bm = [l for l in out.splitlines() if l.startswith("bm25") or (l.startswith(" ") and "chunks," in l)]
    assert len(bm) == 2 and not any("…" in l for l in bm), out
    code, out = cli("index", "stats", "--json")
    st = json.loads(out)
    assert st["documents"] == 3 and st["chunks_by_lang"].keys() >= {"ja", "th"}


def test_folder_ingest_skips_bad_files_and_strict_stops(ws):
    bad = ws / "docs" / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("", encoding="utf-8")
    (bad / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (bad / "notes.docx").write_bytes(b"PK\x03\x04")
    (bad / "broken.jsonl").write_text('{"id": "x", "text": "ok"}\n{oops\n', encoding="utf-8")
    code, out = cli("index", "add", "docs", "--strict", "--no-progress")
    assert code == 2 and "bad/broken.jsonl:2" in out
    assert not (ws / "thaija.db.state").exists()                             # strict: stopped, nothing left
    code, out = cli("index", "add", "docs", "--no-progress", "--json")
    assert code == 0
    for name in ("empty.txt", "latin1.txt", "notes.docx", "broken.jsonl:2"):
        assert f"thaija: skipped {Path('docs') / 'bad' / name}" in out, name
    s = json.loads(out.strip().splitlines()[-1])
    assert s["added"] == 4 and len(s["skipped"]) == 4     # the good line of broken.jsonl is indexed (QA F9)


def test_root_option_and_jsonl_ids(ws, monkeypatch):
    (ws / "docs" / "faq.jsonl").write_text(
        json.dumps({"id": "faq-1", "text": JA}, ensure_ascii=False) + "\n"
        + json.dumps({"text": TH}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert cli("index", "add", "docs/faq.jsonl", "--root", ".", "--no-progress")[0] == 0
    monkeypatch.chdir(ws / "docs")
    code, out = cli("index", "add", "faq.jsonl", "--db", "../thaija.db", "--no-progress", "--json")
    s = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and s["unchanged"] == 2 and s["root"] == str(ws)         # the index remembers its root
    code, out = cli("index", "list", "--json")
    assert {json.loads(l)["doc_id"] for l in out.splitlines()} == {"faq-1", "docs/faq.jsonl:2"}
    code, out = cli("index", "add", "faq.jsonl", "--root", "nowhere")
    assert code == 2 and "--root nowhere: no such folder" in out
    # QA session 5 Q17: a --root other than the index root silently replaced another file's document
    code, out = cli("index", "add", "faq.jsonl", "--db", "../thaija.db", "--root", ".", "--no-progress")
    assert code == 0 and "is not the index root" in out and "replace" in out, out
    code, out = cli("index", "add", "faq.jsonl", "--db", "../thaija.db", "--root", "..", "--no-progress")
    assert code == 0 and "is not the index root" not in out, out                 # the index root: no warning


def test_library_ids():
    root = Path("/srv/docs")
    assert doc_id_for(root / "hr" / "x.txt", root) == "hr/x.txt"
    assert doc_id_for(Path("/etc/x.txt"), root) == "../../etc/x.txt"         # outside the root: relative
    assert common_root(["/srv/docs/hr/x.txt", "/srv/docs/it/y.txt"]) == Path("/srv/docs")


def test_load_paths_default_root_is_the_common_folder(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.txt").write_text(JA, encoding="utf-8")
    (tmp_path / "a" / "y.txt").write_text(TH, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert {d.id for d in load_paths([tmp_path / "a"])} == {"b/x.txt", "y.txt"}
    monkeypatch.chdir(tmp_path)
    assert {d.id for d in load_paths(["a"])} == {"b/x.txt", "y.txt"}


def test_progress_only_when_asked_or_on_a_terminal(ws, monkeypatch):
    monkeypatch.setenv("THAIJA_PROGRESS_EVERY", "0")        # redirected stderr: plain lines, no bar (QA F17)
    code, out = cli("index", "add", "docs", "--progress", "--json")
    assert code == 0 and "thaija: indexed: 3 docs, 3 chunks" in out and "\x1b[" not in out
    assert out.count("thaija: indexing: ") >= 2 and "ETA" in out
    (ws / "docs" / "new.txt").write_text(TH + " ใหม่", encoding="utf-8")
    code, out = cli("index", "add", "docs", "--json")                        # not a terminal: no progress
    assert code == 0 and "ETA" not in out and json.loads(out)["added"] == 1


def test_jsonl_with_an_unknown_language_is_skipped_not_the_folder(tmp_path):
    """QA F8: a record with "lang": "xx" names file:line, that file is skipped, the rest is indexed."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    d = tmp_path / "d"
    d.mkdir()
    (d / "l.jsonl").write_text(json.dumps({"id": "ok4", "text": "fine text OK", "lang": "xx"}) + "\n", "utf-8")
    (d / "a.txt").write_text("ลาพักร้อนได้ปีละ 10 วัน\n", "utf-8")
    thaija = str(Path(sys.executable).with_name("thaija"))
    p = subprocess.run([thaija, "index", "add", str(d), "--db", str(tmp_path / "x.db")], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "l.jsonl:1" in p.stdout + p.stderr and "'lang'" in p.stdout + p.stderr
    assert "1 documents" in p.stdout or "1 document" in p.stdout, p.stdout


def test_reingest_without_groups_keeps_them(ws):
    """QA Q14: a routine `index add docs/` without --groups never publishes a document that was
    added with --groups (fail closed, with a warning); --groups '' makes it public on purpose."""
    def groups_of() -> dict[str, list[str]]:
        code, out = cli("index", "list", "--db", "g.db", "--json")
        assert code == 0, out
        return {d["doc_id"]: d["groups"] for d in map(json.loads, out.splitlines())}

    assert cli("index", "add", "docs", "--db", "g.db")[0] == 0
    assert cli("index", "add", "docs/hr/remote.txt", "--db", "g.db", "--groups", "hr")[0] == 0
    assert groups_of()["hr/remote.txt"] == ["hr"]
    (ws / "docs" / "hr" / "remote.txt").write_text(TH + " ต้องแจ้งล่วงหน้าสองวัน", encoding="utf-8")
    code, out = cli("index", "add", "docs", "--db", "g.db")
    assert code == 0, out
    assert groups_of() == {"a.md": [], "hr/remote.txt": ["hr"], f"{LONG}.txt": []}
    assert "kept its access groups hr" in out
    code, out = cli("search", "ทำงานจากที่บ้าน", "--db", "g.db", "--json")
    assert code == 0 and "remote" not in out  # a public search does not see it
    code, out = cli("index", "add", "docs/hr/remote.txt", "--db", "g.db", "--groups", "")
    assert code == 0, out
    assert groups_of()["hr/remote.txt"] == []


def test_eta_is_not_guessed_from_the_first_document(monkeypatch, capsys):
    """QA Q17: the first document's time (with model start-up in it) gave an ETA 45x too high; the
    rate is measured from the first finished document and needs 2 % more work before an ETA shows."""
    import time

    from thaija.index.documents import Document
    from thaija.index.writer import Progress

    monkeypatch.setenv("THAIJA_PROGRESS_EVERY", "0")
    doc = Document(id="d", text="x" * 10)
    with Progress(True, total=1000) as p:
        time.sleep(0.3)                      # start-up: not part of the rate
        p.done_doc(doc, 1, nbytes=10)        # 1 %
        first = capsys.readouterr().err
        time.sleep(0.05)
        p.done_doc(doc, 1, nbytes=490)       # 50 %: rate from the 49 % done since the first document
        later = capsys.readouterr().err
    assert "ETA estimating" in first
    eta = float(later.split("ETA ")[1].split(" s")[0])
    assert eta < 1.0                         # ~0.05 s per 49 % -> ~0.05 s left, not 0.3 s * 99


def test_ids_do_not_depend_on_the_order_of_adds(ws):
    """QA Q10: `add docs/hr` then `add docs` gave `../a.md` ids; now the index root moves up to
    cover every folder added and path ids are re-keyed (groups kept, nothing re-embedded), so both
    orders give the same ids; JSONL record ids never change."""
    (ws / "docs" / "hr" / "faq.jsonl").write_text(
        json.dumps({"id": "faq-1", "text": JA}, ensure_ascii=False) + "\n"
        + json.dumps({"text": TH + " ข้อสอง"}, ensure_ascii=False) + "\n", encoding="utf-8")

    def ids(db: str) -> dict[str, list[str]]:
        code, out = cli("index", "list", "--db", db, "--json")
        assert code == 0, out
        return {d["doc_id"]: d["groups"] for d in map(json.loads, out.splitlines())}

    assert cli("index", "add", "docs/hr", "--db", "child_first.db", "--groups", "hr")[0] == 0
    assert set(ids("child_first.db")) == {"remote.txt", "faq-1", "faq.jsonl:2"}
    code, out = cli("index", "add", "docs", "--db", "child_first.db", "--json")
    assert code == 0, out
    assert "index root moved up" in out
    s = json.loads(out.strip().splitlines()[-1])
    assert s["root"] == str(ws / "docs") and s["added"] == 2 and s["unchanged"] == 3, s
    assert cli("index", "add", "docs", "--db", "parent_first.db")[0] == 0
    assert cli("index", "add", "docs/hr", "--db", "parent_first.db", "--groups", "hr")[0] == 0
    first, second = ids("child_first.db"), ids("parent_first.db")
    assert first == second == {"a.md": [], f"{LONG}.txt": [], "hr/remote.txt": ["hr"], "faq-1": ["hr"],
                               "hr/faq.jsonl:2": ["hr"]}
    assert not any(i.startswith("..") for i in first)
    code, out = cli("search", "ทำงานจากที่บ้าน", "--db", "child_first.db", "--groups", "hr", "--json")
    assert code == 0 and "hr/remote.txt" in out                    # the re-keyed document is searchable
    code, out = cli("search", "ทำงานจากที่บ้าน", "--db", "child_first.db", "--json")
    assert code == 0 and "remote" not in out                       # and still restricted
    code, out = cli("index", "add", "docs", "--db", "child_first.db", "--json")
    assert json.loads(out.strip().splitlines()[-1])["unchanged"] == 5   # settled: nothing moves again


def test_a_second_add_waits_for_a_root_move_in_progress(ws):
    """QA (session 5) Q9: while one `index add` moved the index root, a second one read its move
    record as "interrupted", finished it without the lock, and one of the two failed with "unknown
    document id" (the first lost its whole run). Now a move runs under its own lock: the second add
    waits (here: times out with one line and writes nothing), then finishes the move itself."""
    from thaija.index.registry import Registry
    from thaija.index.store import lock_lite_file

    assert cli("index", "add", "docs/hr/remote.txt", "--db", "m.db")[0] == 0     # root docs/hr: id remote.txt
    state = ws / "m.db.state"
    reg = Registry(state / "registry.sqlite")
    with reg.db:                       # what the first add records before it re-keys
        reg.set_meta("root_move", json.dumps({"from": str(ws / "docs" / "hr"), "to": str(ws / "docs"),
                                              "moves": [["remote.txt", "hr/remote.txt", "hr/remote.txt"]]}))
    reg.db.close()
    held = lock_lite_file(str(state / "root-move"), 0)                          # ... and it is still moving
    try:
        code, out = cli("index", "add", "docs/a.md", "--db", "m.db", "--lock-timeout", "1")
    finally:
        held.close()
    assert code == 2 and "still moving the index root" in out and "Traceback" not in out, out
    assert out.count("\n") <= 3, out
    code, out = cli("index", "list", "--db", "m.db", "--json")
    assert [json.loads(x)["doc_id"] for x in out.splitlines()] == ["remote.txt"]  # nothing written meanwhile
    code, out = cli("index", "add", "docs/a.md", "--db", "m.db", "--json")       # the lock is free: it finishes
    assert code == 0 and "index root moved up" in out, out
    code, out = cli("index", "list", "--db", "m.db", "--json")
    assert sorted(json.loads(x)["doc_id"] for x in out.splitlines()) == ["a.md", "hr/remote.txt"]


def test_an_add_whose_root_moved_meanwhile_writes_nothing(ws, monkeypatch):
    """The other order of the same race: an add resolves its ids against the root, then another add
    moves the root before the first one writes. Its first write sees the move and stops with one
    line (nothing written); a re-run gives the ids under the new root. A handle kept open picks up a
    move made by another handle before resolving its ids."""
    from thaija.index import Index, IndexConfig
    import thaija.index.roots as roots

    cfg = dict(db=str(ws / "r.db"))
    assert cli("index", "add", "docs/hr/remote.txt", "--db", "r.db")[0] == 0      # root docs/hr
    late = Index(IndexConfig(**cfg))                                           # opened before the move
    real = roots.widen_root

    def then_another_add_moves_the_root(index, paths, root=None, on_warn=None):
        out = real(index, paths, root, on_warn)
        if index is late:
            Index(IndexConfig(**cfg)).add_paths([str(ws / "docs" / "a.md")])     # moves the root to docs
        return out

    monkeypatch.setattr(roots, "widen_root", then_another_add_moves_the_root)
    with pytest.raises(Exception, match="moved the index root") as err:
        late.add_paths([str(ws / "docs" / "hr" / "remote.txt")], groups="hr")
    assert "re-run" in str(err.value)
    monkeypatch.setattr(roots, "widen_root", real)
    code, out = cli("index", "list", "--db", "r.db", "--json")
    rows = {json.loads(x)["doc_id"]: json.loads(x)["groups"] for x in out.splitlines()}
    assert rows == {"a.md": [], "hr/remote.txt": []}                             # the failed add wrote nothing
    late.add_paths([str(ws / "docs" / "hr" / "remote.txt")], groups="hr")        # same handle, re-run
    code, out = cli("index", "list", "--db", "r.db", "--json")
    rows = {json.loads(x)["doc_id"]: json.loads(x)["groups"] for x in out.splitlines()}
    assert rows == {"a.md": [], "hr/remote.txt": ["hr"]}


def test_bidi_controls_in_names_are_shown_not_obeyed(ws):
    """QA session 12: a file name holding U+202E (right-to-left override) went straight into `index list`,
    which then displayed the name reversed ("…dm.exe"); the table shows the control as <U+202E>."""
    (ws / "docs" / "report\u202etxt.md").write_text("# 報告\n\n本文です。\n", encoding="utf-8")
    assert cli("index", "add", "docs", "--no-progress")[0] == 0
    code, out = cli("index", "list")
    assert code == 0 and "\u202e" not in out and "<U+202E>" in out, out
