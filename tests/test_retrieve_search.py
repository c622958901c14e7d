"""Search on a real Milvus Lite index: modes, cross-lingual dense, offsets, access control, CLI JSON."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.errors import ThaijaError
from thaija.index import Document, Index, IndexConfig
from thaija.retrieve import Hit, search

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT / "corpora" / "news"
STORIES = ["rt.com.91337", "upi.176266", "bbc.381790"]
WIKI_JA = [json.loads(l) for l in (ROOT / "corpora/wiki_ja/corpus.jsonl").read_text(encoding="utf-8").splitlines()]


def _news(lang: str, story: str) -> str:
    return (NEWS / lang / f"{story}.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    """Public: 3 Japanese news stories + 4 Japanese wiki paragraphs. hr-only: one wiki paragraph.
    finance-only: the English version of one story."""
    d = tmp_path_factory.mktemp("idx")
    path = str(d / "t.db")
    docs = [Document(id=f"ja/{s}", text=_news("ja", s), source=f"news/ja/{s}.txt") for s in STORIES]
    docs += [Document(id=r["id"], text=r["text"], title=r["title"], lang="ja") for r in WIKI_JA[:4]]
    docs.append(Document(id="secret", text=WIKI_JA[5]["text"], lang="ja", groups=["hr"]))
    docs.append(Document(id="en/upi", text=_news("en", "upi.176266"), groups=["finance"]))
    idx = Index(IndexConfig(db=path, cache_path=str(d / "emb.sqlite")))
    idx.add_documents(docs, progress=False)
    idx.close()
    return path


MODES = ["bm25", "dense", "hybrid"]


@pytest.mark.parametrize("mode", MODES)
def test_acl_hides_group_documents_in_every_mode(db, mode):
    secret_text = WIKI_JA[5]["text"]
    for q in (secret_text[:50], secret_text, "secret hr " + secret_text[:30]):
        hits = search(q, db=db, mode=mode, k=50)
        assert all(h.doc_id not in ("secret", "en/upi") for h in hits)
        hits = search(q, db=db, mode=mode, k=50, groups=["sales", "finance"])
        assert all(h.doc_id != "secret" for h in hits)
    hits = search(secret_text[:50], db=db, mode=mode, k=5, groups=["hr"])
    assert hits[0].doc_id == "secret"


@pytest.mark.parametrize("bad", ['hr"]) or public == false or array_contains_any(groups, ["hr', "hr,x y", "*"])
def test_group_names_cannot_inject_filters(db, bad):
    with pytest.raises(ThaijaError, match="invalid access group"):
        search(WIKI_JA[5]["text"][:50], db=db, mode="dense", groups=[bad])


def test_cross_lingual_thai_query_finds_japanese_story(db):
    # the first Thai sentence of each story; only the Japanese versions (and a hidden English one) are indexed
    for story in STORIES:
        q = _news("th", story).split("\n")[0][:200]
        for mode in ("dense", "hybrid"):
            hits = search(q, db=db, mode=mode, k=3)
            # the right story first, or tied with the first within 0.002: rt.com's Macedonian renaming
            # headline and a chunk of bbc's Welsh renaming story score 0.8189 both (which one sorts
            # first differs between CPUs: AVX2-only vs AVX-512); an unrelated story never comes close
            mine = [h.score for h in hits if h.doc_id == f"ja/{story}"]
            assert mine and mine[0] >= hits[0].score - 0.002, (mode, story, [(h.doc_id, h.score) for h in hits])
        assert search(q, db=db, mode="bm25", k=3) == []      # BM25 stays inside the query's language
    # with the finance group the English version is visible and found too
    hits = search(_news("th", "upi.176266").split("\n")[0], db=db, mode="dense", k=3, groups=["finance"])
    assert {"en/upi", "ja/upi.176266"} <= {h.doc_id for h in hits}


def test_hits_point_into_original_text(db):
    idx = Index(db)
    for mode in MODES:
        hits = search(WIKI_JA[2]["text"][:40], db=db, mode=mode, k=8)
        assert hits and [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        for h in hits:
            assert isinstance(h, Hit) and idx.document_text(h.doc_id)[h.start:h.end] == h.text
    assert search(WIKI_JA[2]["text"][:40], db=db, mode="bm25", k=1)[0].doc_id == WIKI_JA[2]["id"]
    hits = search("梅雨", db=db, mode="hybrid", k=20, lang="en", groups=["finance"])
    assert all(h.lang == "en" for h in hits)
    idx.close()
    from thaija.retrieve import close_index

    before = [h.chunk_id for h in search("梅雨", db=db, k=3)]
    close_index(db)                                         # the cached handle is reopened on demand
    assert [h.chunk_id for h in search("梅雨", db=db, k=3)] == before


def test_bad_queries(db, tmp_path):
    for q in ("", "   \n"):
        with pytest.raises(ThaijaError, match="empty query"):
            search(q, db=db)
    with pytest.raises(ThaijaError, match="unknown mode"):
        search("梅雨", db=db, mode="sparse")
    with pytest.raises(ThaijaError, match="no index"):
        search("梅雨", db=str(tmp_path / "none.db"))


def test_cli_search_json_contract(db):
    from thaija.cli.main import app

    r = CliRunner().invoke(app, ["search", WIKI_JA[5]["text"][:50], "--db", db, "--mode", "bm25", "--groups", "hr",
                                 "--k", "3", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["query"] == WIKI_JA[5]["text"][:50] and out["mode"] == "bm25"
    h = out["results"][0]
    assert list(h) == ["rank", "score", "chunk_id", "doc_id", "lang", "start", "end", "text", "source", "relevance"]
    assert 0.0 <= h["relevance"] <= 1.0 and out["min_score"] == 0.0
    assert h["doc_id"] == "secret" and h["rank"] == 1
    r = CliRunner().invoke(app, ["search", "", "--db", db])
    assert r.exit_code == 2 and "empty query" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["index", "remove", "nope", "--db", db])
    assert r.exit_code == 2 and "unknown document id" in r.output
    r = CliRunner().invoke(app, ["index", "list", "--db", db, "--json"])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 9


def test_concurrent_searches_from_threads(db):
    """A server calls search() from worker threads: same answers as sequential calls."""
    from concurrent.futures import ThreadPoolExecutor

    queries = [r["text"][:40] for r in WIKI_JA[:4]] * 2
    want = [[h.chunk_id for h in search(q, db=db, mode="hybrid", k=3)] for q in queries]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda q: [h.chunk_id for h in search(q, db=db, mode="hybrid", k=3)], queries))
    assert got == want


def test_milvus_search_path_applies_the_same_acl(db):
    """The server code path (Milvus `search` with the ACL filter expression), run on the Lite file."""
    from thaija.index import IndexConfig
    from thaija.retrieve.search import SearchConfig, hits_from_rows, search_rows

    idx = Index(IndexConfig(db=db, dense_backend="milvus"))
    try:
        q = WIKI_JA[5]["text"][:50]
        cfg = SearchConfig(k=5, mode="dense")
        public = hits_from_rows(idx, search_rows(idx, q, cfg))
        assert public and all(h.doc_id not in ("secret", "en/upi") for h in public)
        hr = hits_from_rows(idx, search_rows(idx, q, cfg, groups=["hr"]))
        assert hr[0].doc_id == "secret"
        numpy_path = [h.doc_id for h in search(q, db=db, mode="dense", k=5)]
        assert [h.doc_id for h in public][:3] == numpy_path[:3]
    finally:
        idx.close()


def test_relevance_means_the_same_across_queries(db):
    """The fused score of any query's first hit is ~1 (min-max per query); relevance is calibrated:
    a query that names a stored story scores high, unrelated queries stay low, --min-score drops them."""
    from thaija.cli.main import app

    related = search("マケドニアの国名変更の国民投票", db=db, k=3)    # rt.com story
    assert related[0].doc_id == "ja/rt.com.91337" and related[0].relevance >= 0.5
    assert search("サメに襲われた少年", db=db, k=1, min_score=0.2)[0].doc_id == "ja/upi.176266"
    for q in ("ลาป่วยได้กี่วัน", "how to bake sourdough bread", "สูตรต้มยำกุ้ง"):
        weak = search(q, db=db, k=3)
        assert weak[0].score > 0.5                        # the ranking score alone looks confident
        assert max(h.relevance for h in weak) < 0.2, (q, [h.relevance for h in weak])
        assert search(q, db=db, k=3, min_score=0.2) == []
    r = CliRunner().invoke(app, ["search", "how to bake sourdough bread", "--db", db, "--min-score", "0.2"])
    assert r.exit_code == 0 and "no results with relevance >= 0.2" in r.output
    r = CliRunner().invoke(app, ["search", "x", "--db", db, "--min-score", "1.5"])
    assert r.exit_code == 2 and "min_score" in r.output


CODE_DOCS = {
    "th_router": "เราเตอร์รุ่น AX3000 รองรับ Wi-Fi 6 และมีพอร์ตแลนสี่พอร์ต หากไฟสถานะกะพริบสีแดง ให้รีสตาร์ทอุปกรณ์"
                 "แล้วตรวจสอบสายเคเบิล รหัสข้อผิดพลาด E1042 หมายถึงการเชื่อมต่ออินเทอร์เน็ตล้มเหลว",
    "ja_router": "ルーターR7は社内の会議室に設置されています。エラーコードE2051が表示された場合は、電源を切ってから"
                 "三十秒待ち、再度電源を入れてください。保証期間は購入日から二年間です。",
    "en_office": "The office printer is on the third floor. Toner cartridges are stored in the supply room next to "
                 "the kitchen. Contact the facilities team for repairs.",
    "th_secret": "รหัสผ่านชั่วคราวของเครื่อง ZQ9 อยู่ในตู้เซฟของฝ่ายบุคคล",
}


@pytest.fixture(scope="module")
def code_db(tmp_path_factory) -> str:
    """A Thai and a Japanese document carrying Latin product/error codes, an English one without
    them, and an hr-only Thai document with its own code (QA Q14)."""
    d = tmp_path_factory.mktemp("codes")
    path = str(d / "c.db")
    idx = Index(IndexConfig(db=path, cache_path=str(d / "emb.sqlite")))
    idx.add_documents([Document(id=k, text=v, groups=["hr"] if "secret" in k else None)
                       for k, v in CODE_DOCS.items()], progress=False)
    idx.close()
    return path


@pytest.mark.parametrize("code,doc", [("AX3000", "th_router"), ("E1042", "th_router"), ("ax3000", "th_router"),
                                      ("R7", "ja_router"), ("E2051", "ja_router"),
                                      ("error code E2051", "ja_router")])
def test_latin_code_query_finds_thai_and_japanese_documents(code_db, code, doc):
    """An ASCII-only query is English to the detector, but codes live in documents of every
    language: BM25 looks them up in each language's index (cut as that index cut its text)."""
    for mode in ("bm25", "hybrid"):
        hits = search(code, db=code_db, mode=mode, k=3)
        assert hits and hits[0].doc_id == doc, (mode, [(h.doc_id, h.score) for h in hits])
    assert search(code, db=code_db, mode="bm25", k=3, lang=doc[:2])[0].doc_id == doc


def test_latin_code_cli_and_acl(code_db):
    from thaija.cli.main import app

    res = CliRunner().invoke(app, ["search", "AX3000", "--mode", "bm25", "--db", code_db, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["results"][0]["doc_id"] == "th_router"
    # English words still rank the English document first; a code search applies access control
    assert search("printer", db=code_db, mode="bm25", k=3)[0].doc_id == "en_office"
    assert search("the kitchen", db=code_db, mode="bm25", k=3)[0].doc_id == "en_office"
    assert search("ZQ9", db=code_db, mode="bm25") == []
    assert search("ZQ9", db=code_db, mode="bm25", groups=["hr"])[0].doc_id == "th_secret"
    # the code matched in a Thai chunk scores as a one-term match does in the English index
    th = search("AX3000", db=code_db, mode="bm25")[0].score
    en = search("printer", db=code_db, mode="bm25")[0].score
    assert 0.5 < th / en < 2.0, (th, en)


def test_latin_code_full_width_and_whole_code_only(code_db):
    """QA Q1-1: ＡＸ３０００ (full-width) is AX3000; Q1-2: a document holding only a piece of a code (the
    letter prefix ax of AX5400, the e of another E-code) does not match it."""
    assert [h.doc_id for h in search("ＡＸ３０００", db=code_db, mode="bm25", k=3)] == ["th_router"]
    assert search("AX5400", db=code_db, mode="bm25") == []          # ax matches, 5400 does not
    assert [h.doc_id for h in search("E2051", db=code_db, mode="bm25", k=3)] == ["ja_router"]
    assert [h.doc_id for h in search("E1042", db=code_db, mode="bm25", k=3)] == ["th_router"]


def test_bare_numbers_are_not_looked_up_across_languages(code_db):
    """A number alone (a year, an amount) occurs in documents of every language: only words with a
    Latin letter go to the other languages' BM25 indexes."""
    from thaija.retrieve.search import _latin_words

    assert _latin_words("ปี 2019 มีการประชุม") == []
    assert _latin_words("ราคา AX3000 ปี 2019") == ["AX3000"]
    assert _latin_words("型番ＡＸ３０００の") == ["AX3000"]
