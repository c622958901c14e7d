"""The balance experiment's plain verdicts (benchmarks/tune_balance.py): a difference counts only
when it is more than two standard deviations of its noise (seed noise for held-out loss,
question sampling for RAG answers), and lower loss / higher recall is "helped"."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def tb():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("tune_balance")
    finally:
        sys.path.remove(str(BENCH))


def _run(th: list[float], ja: list[float], share: float) -> dict:
    """A run record as train_run returns it: held-out loss at steps 0, 6, 12."""
    return {"shares": {"th": share, "ja": 1 - share}, "eval_before": {"th": 1.6, "ja": 1.4},
            "eval_after": {"th": th[-1], "ja": ja[-1]},
            "history": [{"step": 6, "th": th[0], "ja": ja[0]}, {"step": 12, "th": th[1], "ja": ja[1]}]}


def _rows(correct: list[bool], refused: list[bool] | None = None) -> list[dict]:
    refused = refused or [False] * len(correct)
    return [{"id": f"q{i}", "answer_recall": c, "citation_valid": c, "refused": r}
            for i, (c, r) in enumerate(zip(correct, refused))]


def _ev(rows: list[dict]) -> dict:
    answered = [r for r in rows if not r["refused"]]
    return {"questions": len(rows), "rows": rows,
            "answer_recall": sum(r["answer_recall"] for r in rows) / len(rows),
            "citation_validity": sum(r["citation_valid"] for r in answered) / len(answered),
            "refusal_rate": sum(r["refused"] for r in rows) / len(rows), "answer_in_language": 1.0}


def test_heldout_verdicts_follow_two_seed_std(tb):
    runs = {}
    for seed, (p_th, t_th, u_th) in enumerate([(0.72, 0.60, 0.70), (0.75, 0.62, 0.76), (0.69, 0.61, 0.73)]):
        runs[f"proportional-s{seed}"] = _run([0.8, p_th], [0.45, 0.35 + seed * 0.01], 0.09)
        runs[f"temperature-s{seed}"] = _run([0.7, t_th], [0.45, 0.36 - seed * 0.01], 0.33)
        runs[f"unimax-s{seed}"] = _run([0.7, u_th], [0.50, 0.50 + seed * 0.01], 0.5)
    summary = tb.summarize(runs, {})
    assert summary["temperature"]["heldout_loss_th"]["n"] == 3
    curve = summary["proportional"]["heldout_curve_th"]
    assert [c["step"] for c in curve] == [0, 6, 12] and curve[0]["std"] == 0.0
    v = tb.verdicts(summary, {})["heldout_loss"]
    assert v["temperature"]["th"]["verdict"] == "helped"      # 0.61 vs 0.72, stds ~0.01-0.03
    assert v["unimax"]["th"]["verdict"] == "no clear effect"  # 0.73 vs 0.72
    assert v["unimax"]["ja"]["verdict"] == "hurt"             # 0.51 vs 0.36
    assert v["temperature"]["ja"]["verdict"] == "no clear effect"


def test_rag_verdicts_are_paired_on_the_same_questions(tb):
    base = _ev(_rows([i % 5 == 0 for i in range(50)]))           # recall 0.2
    good = _ev(_rows([i % 5 != 4 for i in range(50)]))           # recall 0.8
    same = _ev(_rows([i % 5 == 1 for i in range(50)]))           # recall 0.2, other questions
    rag = {"base": {"th": base, "ja": base}, "proportional-s0": {"th": same, "ja": same},
           "temperature-s0": {"th": good, "ja": same}}
    summary = {"proportional": {"rag_adapters": ["proportional-s0"], "seeds": 1},
               "temperature": {"rag_adapters": ["temperature-s0"], "seeds": 1}}
    v = tb.verdicts(summary, rag)
    th = v["rag_vs_proportional"]["temperature-s0 vs proportional-s0"]["th"]["answer_recall"]
    assert th["questions"] == 50 and th["diff"] == pytest.approx(0.6) and th["verdict"] == "helped"
    ja = v["rag_vs_proportional"]["temperature-s0 vs proportional-s0"]["ja"]["answer_recall"]
    assert ja["diff"] == 0.0 and ja["verdict"] == "no clear effect"
    assert v["rag_vs_base"]["proportional-s0 vs base"]["th"]["answer_recall"]["verdict"] == "no clear effect"
    # a check of another seed on one language only is compared on that language only
    rag["unimax-s1"] = {"ja": same}
    summary["unimax"] = {"rag_adapters": ["unimax-s1"], "seeds": 1}
    one = tb.verdicts(summary, rag)["rag_vs_proportional"]["unimax-s1 vs proportional-s0"]
    assert set(one) == {"ja"} and one["ja"]["answer_recall"]["diff"] == 0.0


def test_flatten_rule_uses_the_last_interval_share_of_the_whole_drop(tb):
    # th: 1.6 -> 0.70 -> 0.60: the last interval is 0.10 of a 1.00 drop (10 %): not flat;
    # ja: 1.4 -> 0.405 -> 0.40: 0.005 of 1.00 (0.5 %): flat
    runs = {"proportional-s0": _run([0.70, 0.60], [0.405, 0.40], 0.09)}
    f = tb.flatten(runs, 0.02)
    th, ja = f["runs"]["proportional-s0"]["th"], f["runs"]["proportional-s0"]["ja"]
    assert th["share_of_total_drop"] == pytest.approx(0.10) and not th["flat"]
    assert ja["share_of_total_drop"] == pytest.approx(0.005) and ja["flat"]
    assert f["not_flat"] == ["proportional-s0 th"] and not f["all_flat"] and f["rose"] == []
    # the same run with a looser threshold is flat; a rise (over-fitting) is a plateau, listed
    assert tb.flatten(runs, 0.2)["all_flat"]
    rising = tb.flatten({"unimax-s1": _run([0.55, 0.58], [0.41, 0.40], 0.5)}, 0.02)
    assert rising["all_flat"] and rising["rose"] == ["unimax-s1 th"]
    assert rising["runs"]["unimax-s1"]["th"]["share_of_total_drop"] < 0
