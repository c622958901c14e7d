"""The local generator's own greedy loop (KV cache, last-position head, prompt-restricted output
vocabulary), checked against transformers' ``generate`` on a tiny real-tokenizer model."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("สุวัฒน์ วรรณศิริกุล เกิดวันที่ 1 พฤศจิกายน พ.ศ. 2476 อดีตสมาชิกสภาผู้แทนราษฎร "
        "東京タワーの高さは333メートルです。")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "examples"))
    from tiny_model import make_tiny_model

    from thaija.models.causal_lm import load_causal_lm

    path = make_tiny_model(tmp_path_factory.mktemp("tiny") / "m", arch="llama", seed=3)
    model, tok = load_causal_lm(str(path), device="cpu")
    ids = tok(TEXT, return_tensors="pt", add_special_tokens=False)["input_ids"]
    return model, tok, ids


def _reference(model, ids, n):
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                             min_new_tokens=n, do_sample=False, use_cache=True)
    return out[0, ids.shape[1]:].tolist()


def test_own_greedy_loop_matches_transformers_generate(tiny):
    from thaija.rag.generators import greedy_decode

    model, _, ids = tiny
    got = greedy_decode(model, ids, 16, set(), lambda new: False)
    assert got == _reference(model, ids, 16) and len(got) == 16


def test_restricted_vocabulary_keeps_in_set_answers_and_never_leaves_the_set(tiny):
    from thaija.rag.generators import greedy_decode

    model, _, ids = tiny
    full = _reference(model, ids, 12)
    vocab = model.config.vocab_size
    # the full-vocabulary answer's tokens are allowed (plus others): the same answer
    allowed = torch.tensor(sorted(set(full) | set(range(0, vocab, 997))))
    assert greedy_decode(model, ids, 12, set(), lambda new: False, allowed) == full
    # the answer's first token is not allowed: another answer, every token inside the set
    narrow = torch.tensor(sorted(set(ids[0].tolist()) - {full[0]}))
    got = greedy_decode(model, ids, 12, set(), lambda new: False, narrow)
    assert got and got != full and set(got) <= set(narrow.tolist())


def test_stop_tokens_and_early_stop_end_decoding(tiny):
    from thaija.rag.generators import greedy_decode

    model, _, ids = tiny
    full = _reference(model, ids, 8)
    assert greedy_decode(model, ids, 8, {full[3]}, lambda new: False) == full[:full.index(full[3])]
    assert greedy_decode(model, ids, 8, set(), lambda new: len(new) >= 2) == full[:2]


def test_answer_vocabulary_is_the_prompt_plus_refusal_digits_and_punctuation(tiny):
    from thaija.rag.generators import _answer_vocabulary, _stop_ids
    from thaija.rag.prompt import prompt_texts

    _, tok, ids = tiny
    allowed = set(_answer_vocabulary(tok, ids[0], "th").tolist())
    assert set(ids[0].tolist()) <= allowed
    assert set(tok(prompt_texts("th").refusal, add_special_tokens=False)["input_ids"]) <= allowed
    for ch in "0123456789[]。":
        assert set(tok(ch, add_special_tokens=False)["input_ids"]) <= allowed
    assert set(_stop_ids(tok)) <= allowed
    assert len(allowed) < len(tok) // 10   # a small slice of the vocabulary


def test_a_token_stuck_in_a_loop_ends_the_answer(tiny):
    from thaija.rag.generators import _EarlyStop

    _, tok, _ = tiny
    zero = tok("0", add_special_tokens=False)["input_ids"]
    stop = _EarlyStop(tok, 0, "rules", line=True)
    assert not stop.done(tok("12 2476", add_special_tokens=False)["input_ids"] + zero * 7)
    assert stop.done(zero * 8)


def test_cached_rules_prefix_gives_the_same_answers(tiny):
    from thaija.rag.generators import greedy_decode

    model, tok, ids = tiny
    other = tok(TEXT[:30] + " ราคา iPhone 15 は 12万円 ครับ", return_tensors="pt",
                add_special_tokens=False)["input_ids"]
    store: dict = {}
    for x in (ids, other, ids):  # miss, hit (same first 6 tokens), hit
        plain = greedy_decode(model, x, 10, set(), lambda new: False)
        assert greedy_decode(model, x, 10, set(), lambda new: False, prefix_len=6, store=store) == plain
        assert len(store) == 1
    assert list(store)[0] == tuple(ids[0, :6].tolist())


def test_thread_choice_does_not_count_its_own_work_as_load():
    """The 1-minute load average includes this process's previous answers: the thread choice takes
    them out (else an idle machine answering one question after another always reads as busy)."""
    import time

    from thaija.rag import generators as g

    g._own_load()
    c0 = time.process_time()
    while time.process_time() - c0 < 1.0:   # one CPU-second of our own work
        sum(i * i for i in range(1000))
    own = g._own_load()
    assert 0.05 < own <= (os.cpu_count() or 1) + 0.1
    gen = g.LocalGenerator(threads=None)
    assert 1 <= gen.cpu_threads() <= (os.cpu_count() or 1)
    assert g.LocalGenerator(threads=1).cpu_threads() == 1
