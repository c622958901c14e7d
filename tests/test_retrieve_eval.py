"""`thaija eval` on the shipped BEIR slices (corpora/wiki_th, wiki_ja), fusion helpers, bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thaija.errors import ThaijaError
from thaija.retrieve.evaluate import EvalConfig, evaluate, load_beir
from thaija.retrieve.fusion import fuse, minmax, rrf, weighted

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wiki_th", "wiki_ja"])
def test_segmented_bm25_beats_whitespace(name):
    folder = ROOT / "corpora" / name
    seg = evaluate(folder, EvalConfig(mode="bm25"), progress=False)
    ws = evaluate(folder, EvalConfig(mode="bm25-whitespace"), progress=False)
    corpus, queries, qrels = load_beir(folder)
    assert seg["queries"] == ws["queries"] == len([q for q in queries if q["id"] in qrels])
    for r in (seg, ws):
        assert set(r) >= {"dataset", "mode", "queries", "ndcg@10", "recall@10", "recall@100", "mrr@10", "seconds"}
        assert all(0.0 <= r[m] <= 1.0 for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10"))
        assert r["recall@10"] <= r["recall@100"]
    assert seg["ndcg@10"] > 0.8 and seg["ndcg@10"] > ws["ndcg@10"] + 0.05


@pytest.mark.slow
def test_dense_and_hybrid_on_japanese_slice(tmp_path):
    folder = ROOT / "corpora" / "wiki_ja"
    cache = str(tmp_path / "emb.sqlite")
    dense = evaluate(folder, EvalConfig(mode="dense", cache_path=cache), progress=False)
    hyb = evaluate(folder, EvalConfig(mode="hybrid", cache_path=cache, db=str(tmp_path / "kept.db")), progress=False)
    bm = evaluate(folder, EvalConfig(mode="bm25"), progress=False)
    assert dense["ndcg@10"] > 0.6
    assert hyb["ndcg@10"] >= max(bm["ndcg@10"], dense["ndcg@10"]) - 0.02
    assert (tmp_path / "kept.db.state" / "registry.sqlite").exists()   # --db keeps the index
    # the second run reuses every cached embedding: indexing is fast
    again = evaluate(folder, EvalConfig(mode="dense", cache_path=cache), progress=False)
    assert again["ndcg@10"] == dense["ndcg@10"]


def test_bad_beir_input(tmp_path):
    d = tmp_path / "b"
    shutil.copytree(ROOT / "corpora" / "wiki_ja", d)
    with open(d / "corpus.jsonl", "a", encoding="utf-8") as f:
        f.write('{"id": "x", "text": \n')
    with pytest.raises(ThaijaError, match=r"corpus\.jsonl:31"):
        evaluate(d, EvalConfig(mode="bm25"), progress=False)
    (d / "qrels.tsv").unlink()
    with pytest.raises(ThaijaError, match="qrels.tsv: missing"):
        load_beir(d)
    with pytest.raises(ThaijaError, match="unknown mode"):
        EvalConfig(mode="splade")
    from thaija.cli.main import app

    r = CliRunner().invoke(app, ["eval", str(d), "--mode", "bm25"])
    assert r.exit_code == 2 and "qrels.tsv" in r.output and "Traceback" not in r.output


def test_cli_eval_writes_json(tmp_path):
    from thaija.cli.main import app

    out = tmp_path / "r.json"
    r = CliRunner().invoke(app, ["eval", str(ROOT / "corpora" / "wiki_th"), "--mode", "bm25-whitespace",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["mode"] == "bm25-whitespace" and rec["dataset"] == "wiki_th" and rec["queries"] > 0


def test_fusion():
    a = [("x", 10.0), ("y", 5.0), ("z", 0.0)]
    b = [("y", 0.9), ("w", 0.8)]
    assert minmax(a) == {"x": 1.0, "y": 0.5, "z": 0.0}
    w = dict(weighted([a, b], [0.5, 0.5]))
    assert w["y"] == pytest.approx(0.75) and w["x"] == pytest.approx(0.5) and w["w"] == pytest.approx(0.0)
    r = rrf([a, b], k=60)
    assert r[0][0] == "y" and r[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert fuse([a, b], "rrf") == r
    with pytest.raises(ValueError):
        fuse([a], "max")
