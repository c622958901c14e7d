"""Issue 12 (findings 5, 6): every input gets a one-line error.

Regression cases from the adversarial pass (deep nesting, 4,300+ digit integers, lone surrogates,
wrong field types, NaN/Infinity, NUL, empty inputs, a folder named x.txt, damaged TOML) and a
property-based fuzz test (hypothesis) that feeds random bytes and random JSON to every
file-reading command (in-process, the real typer app) and to the server, asserting: no traceback,
exit 0 or 2 (HTTP 200/4xx, never 500), and nothing written when the command fails."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thaija.errors import ThaijaError
from thaija.validate import ValidationError, check_fields, iter_jsonl, iter_tsv, parse_json, parse_number, parse_toml

def FUZZ(n: int) -> settings:
    """Bounded, reproducible fuzzing (CI runs the same examples every time)."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


# ------------------------------------------------------------------ the validation layer itself
@pytest.mark.parametrize("raw, msg", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    ('{"a": ' + "7" * 4301 + "}", "4301 digits"),
    ('{"text": "\\ud800"}', "lone surrogate"),
    ('{"text": "a\\u0000b"}', "NUL"),
    ('{"score": NaN}', "NaN"),
    ('{"score": -Infinity}', "Infinity"),
    ('{"score": 1e400}', "out of range"),
    ("", "empty"),
    ("{oops", "malformed JSON"),
    (b"\xff{}", "UTF-8"),
])
def test_parse_json_refuses_with_one_line(raw, msg):
    with pytest.raises(ValidationError, match=msg) as e:
        parse_json(raw, where="body")
    assert str(e.value).startswith("body: ") and "\n" not in str(e.value)


def test_field_types_are_checked_not_converted():
    spec = {"id": "id", "title": "str", "groups": "groups", "metadata": "object"}
    for rec, msg in (({"groups": 5}, "'groups' must be a list of strings"), ({"groups": {"hr": 1}}, "got an object"),
                     ({"id": ["x"]}, "'id' must be a string, got an array"), ({"title": {"a": 1}}, "'title'"),
                     ({"id": True}, "boolean"), ({"metadata": [1]}, "'metadata' must be an object")):
        with pytest.raises(ValidationError, match=msg):
            check_fields(rec, spec, "d.jsonl:3")
    check_fields({"id": 7, "groups": "hr,legal", "title": None}, spec)  # ints ids, comma groups, null = absent


def test_files_empty_folder_array_lines_and_tsv(tmp_path):
    (tmp_path / "e.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="empty"):
        list(iter_jsonl(tmp_path / "e.jsonl"))
    (tmp_path / "x.jsonl").mkdir()
    with pytest.raises(ValidationError, match="is a folder"):
        list(iter_jsonl(tmp_path / "x.jsonl"))
    (tmp_path / "q.jsonl").write_text('{"id": 1}\n["an", "array"]\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"q.jsonl:2: each line must be a JSON object, got an array"):
        list(iter_jsonl(tmp_path / "q.jsonl"))
    (tmp_path / "r.tsv").write_text("q1\td1\t1\nq2\td2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="r.tsv:2: expected 3 columns"):
        list(iter_tsv(tmp_path / "r.tsv", min_columns=3))
    with pytest.raises(ValidationError, match="finite"):
        parse_number("inf", "qrels.tsv:4", "score")
    with pytest.raises(ValidationError, match="nested deeper"):
        parse_toml("a = " + "[" * 3000 + "]" * 3000, where="prices.toml")
    with pytest.raises(ValidationError, match="not valid TOML"):
        parse_toml("[[[", where="prices.toml")


# ------------------------------------------------------------------ regression cases through the CLI
def _cli(args, cwd=None):
    from typer.testing import CliRunner

    from thaija.cli.main import app

    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        r = CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)
    out = r.output or ""  # stdout and stderr together
    assert r.exception is None or isinstance(r.exception, SystemExit), (args, repr(r.exception))
    assert "Traceback" not in out, out[-500:]
    assert r.exit_code in (0, 2), (args, r.exit_code, out[-300:])
    return r.exit_code, out


def _beir(folder: Path, corpus: str, queries: str, qrels: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (folder / "queries.jsonl").write_text(queries, encoding="utf-8")
    (folder / "qrels.tsv").write_text(qrels, encoding="utf-8")
    return folder


OK_CORPUS = '{"id": "d1", "text": "社員食堂は11時に開きます。"}\n'
OK_QUERIES = '{"id": "q1", "text": "食堂は何時に開きますか"}\n'


@pytest.mark.parametrize("case", ["groups5", "groups_dict", "id_list", "title_dict", "nan", "deep", "bigint",
                                  "surrogate", "nul", "empty", "folder_txt"])
def test_index_add_bad_documents_exit_2_and_write_nothing(tmp_path, case):
    bad = {"groups5": '{"id": "a", "text": "x", "groups": 5}', "groups_dict": '{"id": "a", "text": "x", "groups": {"hr": 1}}',
           "id_list": '{"id": ["x"], "text": "x"}', "title_dict": '{"id": "a", "text": "x", "title": {"t": 1}}',
           "nan": '{"id": "a", "text": "x", "metadata": {"score": NaN}}', "deep": '{"text": ' + "[" * 20000 + "]" * 20000 + "}",
           "bigint": '{"id": ' + "9" * 5000 + ', "text": "x"}', "surrogate": '{"id": "a", "text": "\\udc80"}',
           "nul": '{"id": "a", "text": "a\\u0000b"}', "empty": "\n"}
    if case == "folder_txt":
        src = tmp_path / "x.txt"
        src.mkdir()
    else:
        src = tmp_path / "d.jsonl"
        src.write_text(bad[case] + "\n", encoding="utf-8")
    code, out = _cli(["index", "add", src, "--db", tmp_path / "t.db"])
    assert code == 2 and "error" in out
    if case not in ("empty", "folder_txt"):
        assert "d.jsonl:1" in out  # file:line
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]  # nothing written


@pytest.mark.parametrize("queries, qrels, msg", [
    ('["an array"]\n', "q1\td1\t1\n", "queries.jsonl:1"),
    ('{"id": "q1", "text": 5}\n', "q1\td1\t1\n", "queries.jsonl:1"),
    (OK_QUERIES, "q1\td1\tinf\n", "qrels.tsv:1"),
    (OK_QUERIES, "q1\td1\tNaN\n", "qrels.tsv:1"),
])
def test_eval_bad_inputs_name_file_and_line(tmp_path, queries, qrels, msg):
    folder = _beir(tmp_path / "b", OK_CORPUS, queries, qrels)
    code, out = _cli(["eval", folder])
    assert code == 2 and msg in out


def test_eval_non_utf8_qrels(tmp_path):
    folder = _beir(tmp_path / "b", OK_CORPUS, OK_QUERIES, "")
    (folder / "qrels.tsv").write_bytes(b"q1\td1\t1\n\xff\xfe\n")
    code, out = _cli(["eval", folder])
    assert code == 2 and "UTF-8" in out


def test_prices_toml_and_keys_file_errors(tmp_path, small_db):
    deep = tmp_path / "p.toml"
    deep.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    code, out = _cli(["cost", "estimate", "--prices", deep])
    assert code == 2 and "nested deeper" in out and len(out.strip().splitlines()) == 1
    keys = tmp_path / "k.tsv"
    keys.write_text("k-1234567\thr\nsha256:nothex\t\n", encoding="utf-8")
    code, out = _cli(["serve", "--keys", keys, "--db", small_db])
    assert code == 2 and "k.tsv:2" in out


def test_nul_bytes_are_refused_by_text_commands(tmp_path):
    f = tmp_path / "n.txt"
    f.write_bytes("สวัสดี\nこんにちは\x00\n".encode())
    for cmd in (["detect"], ["segment"], ["sentences"], ["normalize"], ["chunk"], ["redact"], ["cost", "count"]):
        code, out = _cli([*cmd, "--file", f])
        assert code == 2 and "n.txt:2" in out and "NUL" in out, (cmd, out)


@pytest.mark.parametrize("damaged", ["registry.sqlite", "bm25.json", "bm25/langs.json", "bm25/ja/tf.npy",
                                     "bm25/ja/vocab.json", "bm25/ja/state.json", "bm25/ja/doc_ids.json", "bm25/ja/rows.npy"])
def test_damaged_state_files_give_one_line_or_are_rebuilt(tmp_path, small_db, damaged):
    import shutil

    from thaija.index.handles import close_index

    src = Path(small_db)
    db = tmp_path / src.name
    shutil.copytree(src, db) if src.is_dir() else shutil.copy(src, db)
    shutil.copytree(src.parent / (src.name + ".state"), tmp_path / (src.name + ".state"))
    target = tmp_path / (src.name + ".state") / damaged
    assert target.exists(), target
    target.write_bytes(b"garbage\x00\xff")
    doc = tmp_path / "d.jsonl"
    doc.write_text('{"id": "c", "text": "社員食堂は11時に開きます。"}\n', encoding="utf-8")
    try:
        for args in (["search", "食堂", "--db", db], ["index", "add", doc, "--db", db]):
            code, out = _cli(args)  # asserts: no traceback, exit 0 or 2
            if code == 2:
                assert len(out.strip().splitlines()) == 1 and damaged.split("/")[-1] in out or "damaged" in out
    finally:
        close_index(str(db))


# ------------------------------------------------------------------ property-based fuzzing
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8)
SPECIAL = st.sampled_from([
    '{"text": "\\ud800"}', "[" * 3000, '{"id": ' + "1" * 5000 + "}", '{"text": "a\\u0000b"}', "[1, 2]", "{",
    '{"id": "x", "text": "ok", "groups": 5}', '{"id": "x", "text": "ok", "title": {"a": 1}}', "NaN", '"str"',
])
RECORD = st.fixed_dictionaries({}, optional={
    "id": st.text(max_size=6) | JSON, "text": st.text(max_size=40) | JSON, "title": JSON, "groups": JSON,
    "lang": st.sampled_from(["th", "ja", "en", "xx"]) | JSON, "metadata": JSON, "query-id": JSON,
    "answers": JSON, "prompt": JSON, "completion": JSON, "messages": JSON})


def _line(v) -> str:
    try:
        return json.dumps(v, ensure_ascii=False)
    except (ValueError, TypeError):
        return "null"


JSONL = st.lists(st.one_of(RECORD.map(_line), JSON.map(_line), SPECIAL, st.just("")), min_size=0, max_size=4) \
    .map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass"))
BYTES = st.one_of(st.binary(max_size=200), st.text(max_size=120).map(lambda s: s.encode("utf-8")), JSONL)


_MADE: list[Path] = []


def _fresh() -> Path:
    """A new folder per example (hypothesis runs many per test; function fixtures are shared)."""
    d = Path(tempfile.mkdtemp(prefix="thaija-fuzz-"))
    _MADE.append(d)
    return d


@pytest.fixture(autouse=True, scope="module")
def _remove_fuzz_folders():
    """The fuzz folders go when the module ends (81 of them were left in /tmp by every run)."""
    yield
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)


@pytest.mark.slow
@FUZZ(20)
@given(data=BYTES, cmd=st.sampled_from([["detect"], ["segment"], ["sentences"], ["normalize"], ["chunk"],
                                         ["redact"], ["cost", "count"], ["cost", "estimate", "--queries"]]))
def test_fuzz_text_commands(data, cmd):
    d = _fresh()
    f = d / "in.txt"
    f.write_bytes(data)
    flag = [] if cmd[-1] == "--queries" else ["--file"]
    _cli([*cmd, *flag, f])
    assert sorted(p.name for p in d.iterdir()) == ["in.txt"]


@pytest.mark.slow
@FUZZ(16)
@given(data=JSONL, suffix=st.sampled_from([".jsonl", ".jsonl", ".txt", ".md"]))
def test_fuzz_index_add(data, suffix):
    from thaija.index.handles import close_index

    d = _fresh()
    f = d / f"in{suffix}"
    f.write_bytes(data)
    db = d / "t.db"
    code, _ = _cli(["index", "add", f, "--db", db])
    close_index(str(db))
    if code == 2:
        assert sorted(p.name for p in d.iterdir()) == [f.name]  # a failed add leaves nothing behind


@pytest.mark.slow
@FUZZ(15)
@given(corpus=JSONL, queries=JSONL, qrels=st.one_of(st.binary(max_size=80), st.text(max_size=60).map(str.encode)),
       which=st.sampled_from(["corpus", "queries", "qrels"]))
def test_fuzz_eval_folder(corpus, queries, qrels, which):
    d = _fresh()
    files = {"corpus": OK_CORPUS.encode(), "queries": OK_QUERIES.encode(), "qrels": b"q1\td1\t1\n"}
    files[which] = {"corpus": corpus, "queries": queries, "qrels": qrels}[which]
    for name, data in files.items():
        (d / ("qrels.tsv" if name == "qrels" else f"{name}.jsonl")).write_bytes(data)
    out = d / "out.json"
    code, _ = _cli(["eval", d, "--json", out])
    if code == 2:
        assert not out.exists()


@pytest.mark.slow
@FUZZ(30)
@given(data=st.one_of(JSONL, st.binary(max_size=100)),
       cmd=st.sampled_from([["tune", "mix"], ["cost", "estimate", "--prices"], ["keys"]]))
def test_fuzz_structured_file_commands(data, cmd):
    from thaija.guard.keys import KeyRing

    d = _fresh()
    f = d / ("in.toml" if "--prices" in cmd else "in.tsv" if cmd == ["keys"] else "in.jsonl")
    if "--prices" in cmd and data[:1] not in (b"[", b"{"):
        data = b"[models.x]\ntokenizer = " + data[:60]  # TOML-shaped garbage too
    f.write_bytes(data)
    if cmd == ["keys"]:  # `serve --keys` parses the file with KeyRing.load before binding (a valid file would serve)
        try:
            KeyRing.load(f)
        except ThaijaError as exc:
            assert "\n" not in str(exc)
    else:
        _cli([*cmd, f], cwd=d)
    assert sorted(p.name for p in d.iterdir()) == [f.name]


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    from thaija.index import Document, Index

    db = str(tmp_path_factory.mktemp("fuzzserve") / "s.db")
    idx = Index(db)
    idx.add_documents([Document("c", "社員食堂は11時に開きます。", title="食堂")])
    idx.close()
    return db


@pytest.fixture(scope="module")
def app_client(small_db):
    from fastapi.testclient import TestClient

    from thaija.rag.pipeline import AskConfig
    from thaija.rag.serve import ServeConfig, create_app

    return TestClient(create_app(ServeConfig(db=small_db, ask=AskConfig(review=False))), base_url="http://localhost")


MESSAGES = st.lists(st.fixed_dictionaries({}, optional={"role": st.sampled_from(["user", "system", "assistant"]) | JSON,
                                                        "content": st.text(max_size=30) | JSON}), max_size=3)
BODY = st.one_of(
    st.binary(max_size=120),
    st.fixed_dictionaries({"messages": MESSAGES | JSON}, optional={"model": st.sampled_from(["thaija-rag", "thaija-extractive"]) | JSON,
                                                                  "stream": JSON}).map(_line).map(str.encode),
    JSON.map(_line).map(str.encode), SPECIAL.map(str.encode))


@pytest.mark.slow
@FUZZ(120)
@given(body=BODY)
def test_fuzz_server_bodies(app_client, body):
    r = app_client.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400, 404), (r.status_code, r.text[:200])
    assert "error" in r.json() or "choices" in r.json()


def test_library_errors_are_thaija_errors():
    assert issubclass(ValidationError, ThaijaError)


@pytest.mark.parametrize("qrels, msg", [
    ("query-id\tcorpus-id\tscore\ngarbage\n", "qrels.tsv:2"),
    ("q1\td1\tmany\n", "qrels.tsv:1"),
    ("q1\td1\t1\nq1\x00\td1\t1\n", "qrels.tsv:2"),
])
def test_eval_qa_bad_qrels_name_file_and_line(tmp_path, qrels, msg):
    """Adversarial pass, session 11: eval-qa read a garbage qrels.tsv silently (evidence_hit 0.0, exit 0)."""
    folder = _beir(tmp_path / "b", OK_CORPUS, OK_QUERIES, qrels)
    (folder / "answers.jsonl").write_text('{"query-id": "q1", "answers": ["x"]}\n', encoding="utf-8")
    code, out = _cli(["eval-qa", folder])
    assert code == 2 and msg in out, out
    assert sorted(p.name for p in folder.iterdir()) == ["answers.jsonl", "corpus.jsonl", "qrels.tsv", "queries.jsonl"]
