"""The policy corpus's BEIR folder (what `thaija tune qa-data` / `eval-qa` read) matches its source."""
from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).parent / "data" / "policy"


def test_beir_folder_is_up_to_date_and_loads():
    spec = importlib.util.spec_from_file_location("make_beir", HERE / "make_beir.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, text in mod.beir_files().items():
        assert (HERE / "beir" / name).read_text("utf-8") == text, f"re-run make_beir.py: {name} is stale"
    from thaija.rag.evaluate import load_qa

    corpus, queries, answers, qrels = load_qa(HERE / "beir")
    assert len(corpus) == 13 and queries and all(qrels[q["id"]] for q in queries)
    assert {q["lang"] for q in queries} >= {"th", "ja"}
