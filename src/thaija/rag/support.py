"""Calibrated support in [0, 1] and the three outcomes: answer, low-confidence (review), refuse.

Support is a logistic model over evidence signals (:func:`features`): the best sentence's
IDF-weighted lexical coverage, its dense similarity to the question, and the coverage of the whole
chosen answer. Two coefficient sets: ``same`` (evidence in the question's language) and ``cross``
(evidence in another language, where lexical coverage is near 0 and the dense signal carries it).
A language may have its own same-language set, ``same_by_lang[lang]`` (its own features too): the
signals behave differently per language (Japanese support separates far better than Thai), and a
language without one (English, or every language in an older ``support.json``) reads ``same``.
Likewise ``cross_by_lang[lang]`` for cross-language evidence (English questions over Thai and
Japanese documents: the cross-encoder was trained on Thai/Japanese questions only).
Coefficients and per-language thresholds live in ``support.json`` beside this module, written by
``benchmarks/refusal_curve.py`` (fitted on iapp valid / JSQuAD valid with unanswerable variants
made by removing each question's gold paragraph and keeping the rest of the article; cross on
FLORES dev articles). The file records the script and its arguments.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

PARAMS_FILE = Path(__file__).with_name("support.json")
#: Signals the logistic support model can read (the fitted ones are those with a coefficient in
#: ``support.json``; ``type_miss`` / ``kind_miss`` / ``margin`` are recorded too; a type mismatch
#: makes an answer low-confidence by rule, see ``rag.pipeline``). ``cos_c``: the best raw cosine
#: question ↔ sentence, centred and scaled, ``(cos - 0.8) * 10`` — unclipped, unlike ``dense``
#: (derived from ``cos`` by :func:`value`). ``spec`` / ``spec_miss``: the contrastive coverage of
#: :func:`thaija.rag.evidence.specific_coverage` (recorded; not in the shipped fit: no AUC gain).
#: ``rel``: the retrieval relevance (``thaija search``'s calibrated score) of the chosen sentences'
#: chunks, set by ``rag.pipeline``; None when it is not the dense one (a Milvus server index, --mode
#: bm25, hits from a prompt): :func:`support` then reads ``without_rel``, fitted without it.
#: ``qlm`` / ``judge``: the answer verifier's question likelihood (PMI) and yes/no log-odds
#: (:mod:`thaija.models.verifier`), computed only where the fitted set reads them (see :func:`wanted`);
#: None when the verifier cannot run: :func:`support` then reads ``without_qlm``, fitted without them.
FEATURES = ("lex", "dense", "cover", "miss", "ce", "cos_c", "spec", "spec_miss", "rel", "qlm", "judge")
#: Signals that come from the answer verifier.
VERIFIER_FEATURES = ("qlm", "judge")
#: Without the cross-encoder (torch missing, ``THAIJA_RERANK=0``): ``params()["without_ce"]``.
FEATURES_NO_CE = ("lex", "dense", "cover", "miss")

#: Used only when support.json is missing (a hand-set starting point, not fitted).
DEFAULT_PARAMS: dict[str, Any] = {
    "same": {"bias": -4.0, "lex": 5.0, "dense": 3.0, "cover": 1.0},
    "cross": {"bias": -3.0, "lex": 1.0, "dense": 5.0, "cover": 0.0},
    "thresholds": {lang: {"refuse_below": 0.35, "review_below": 0.5} for lang in ("th", "ja", "en")},
    "fitted_by": None,
}
OUTCOMES = ("answer", "low_confidence", "refuse")
_REF = re.compile(r"\[\d{1,3}\]")


@lru_cache(maxsize=1)
def params() -> dict[str, Any]:
    """The fitted coefficients and thresholds (``support.json``), else :data:`DEFAULT_PARAMS`."""
    try:
        return json.loads(PARAMS_FILE.read_text("utf-8"))
    except (OSError, ValueError):
        return DEFAULT_PARAMS


def features(scored: Sequence[Any], chosen: Sequence[Any], qlang: str, cover: float, cfg: Any = None,
             query: Any = None, idf: Any = None) -> dict[str, Any]:
    """Evidence signals of an answer: ``lex`` (best unit's weighted coverage), ``dense`` (best
    scaled dense similarity among the scored units), ``cover`` (coverage of the chosen units
    together), ``cross`` (the best unit is in another language than the question); with the
    analysed ``query``: ``type_miss`` (1 when the question asks for a number or a date and the
    answer holds none), ``kind_miss`` (the same for a place or a person: location words, titles,
    name-like spans — a weaker check), ``miss`` (weight share of the heaviest question term the answer lacks,
    relative to the heaviest term: an unanswerable variant shares the topic but misses the
    specific word), ``margin`` (score of the best unit minus the best unit outside the chosen ones),
    ``qlang`` (the question's language: :func:`support` reads that language's coefficients)."""
    from thaija.rag.evidence import EvidenceConfig, dense_scale

    cfg = cfg or EvidenceConfig()
    if not scored or not chosen:
        return {"lex": 0.0, "dense": 0.0, "cover": 0.0, "cross": False, "cos": None, "type_miss": 0.0,
                "kind_miss": 0.0, "miss": 1.0, "margin": 0.0, "spec": 0.0, "spec_miss": 1.0, "qlang": qlang}
    best = max(chosen, key=lambda r: r.score)
    coss = [r.dense for r in scored if r.dense is not None]
    cos = max(coss) if coss else None
    cross = best.unit.lang in ("th", "ja", "en") and qlang in ("th", "ja", "en") and best.unit.lang != qlang
    out = {"lex": round(best.lex, 4), "dense": round(dense_scale(cos, cfg), 4), "cover": round(cover, 4),
           "cross": bool(cross), "cos": None if cos is None else round(cos, 4), "qlang": qlang}
    ids = {id(r) for r in chosen}
    rest = [r.score for r in scored if id(r) not in ids]
    out["margin"] = round(best.score - max(rest), 4) if rest else round(best.score, 4)
    ces = [r.ce for r in chosen if r.ce is not None]
    out["ce"] = round(max(ces), 4) if ces else None   # cross-encoder P(answers) of the chosen sentences
    out["ce_max"] = round(max((r.ce for r in scored if r.ce is not None), default=0.0), 4) if ces else None
    out["type_miss"], out["kind_miss"], out["miss"], out["spec"], out["spec_miss"] = 0.0, 0.0, 0.0, 0.0, 0.0
    if query is not None:
        from thaija.retrieve.query import answer_type, has_type

        text = _REF.sub(" ", " ".join(r.unit.display for r in chosen))  # wiki reference marks [1] are no numbers
        kind = answer_type(query.text, qlang)
        lacks = has_type(text, kind, query.text) is False
        out["type_miss"] = 1.0 if lacks and kind in ("number", "date") else 0.0
        out["kind_miss"] = 1.0 if lacks and kind in ("place", "person") else 0.0
        if idf is not None and not cross:
            from thaija.rag.evidence import question_weights

            w = question_weights(query, idf)
            topic = set().union(*(r.topic for r in chosen))
            got = set().union(*(r.covered for r in chosen))
            asked = {t: v for t, v in w.items() if t not in topic}
            top = max(asked.values(), default=0.0)
            lack = [v for t, v in asked.items() if t not in got]
            out["miss"] = round(max(lack) / top, 4) if lack and top > 0 else 0.0
            from thaija.rag.evidence import specific_coverage

            out["spec"], out["spec_miss"] = specific_coverage(scored, chosen, query, idf)
    return out


def candidate_rows(scored: Sequence[Any], chosen: Sequence[Any], n: int = 12) -> list[dict[str, Any]]:
    """The best ``n`` scored sentences as light rows (``score``, ``lex``, ``cos``, ``ce``, ``rank``,
    ``hit``, ``lang``, ``chosen``): what :func:`list_features` reads. ``benchmarks/refusal_curve.py``
    records them per question, so list features can be studied and recomputed from the records."""
    ids = {id(r) for r in chosen}
    return [{"score": round(r.score, 4), "lex": round(r.lex, 4), "cos": None if r.dense is None else round(r.dense, 4),
             "ce": None if r.ce is None else round(r.ce, 4), "rank": r.rank, "hit": r.unit.hit, "lang": r.unit.lang,
             "chosen": id(r) in ids} for r in list(scored)[:n]]


def value(feats: dict[str, Any], name: str) -> float:
    """Feature ``name`` of an evidence record as a number (``cos_c`` derived from ``cos``; missing: 0)."""
    if name == "cos_c":
        cos = feats.get("cos")
        return 0.0 if cos is None else (float(cos) - 0.8) * 10.0
    return float(feats.get(name, 0.0) or 0.0)


def coefficients(feats: dict[str, Any], p: dict[str, Any], lang: str | None = None) -> dict[str, float]:
    """The coefficient set that scores ``feats``: for evidence in another language the question
    language's own cross set (``cross_by_lang``: English questions over Thai/Japanese documents) or
    ``cross``; else the question language's own set (``same_by_lang``; ``lang`` or
    ``feats["qlang"]``), else ``same``."""
    lang = lang or feats.get("qlang")
    if feats.get("cross"):
        return (p.get("cross_by_lang") or {}).get(lang) or p["cross"]
    own = p.get("same_by_lang") or {}
    if lang in own:
        return own[lang]
    return p["same"]


def wanted(feats: dict[str, Any], p: dict[str, Any] | None = None, lang: str | None = None) -> tuple[str, ...]:
    """The verifier signals (``qlm``/``judge``) the coefficient set that scores ``feats`` reads."""
    w = coefficients(feats, p or params(), lang)
    return tuple(f for f in VERIFIER_FEATURES if f in w)


def verified(feats: dict[str, Any], p: dict[str, Any] | None = None, lang: str | None = None) -> bool:
    """False when the set that scores ``feats`` reads the verifier but it did not run (its support then
    comes from ``without_qlm``)."""
    return all(feats.get(f) is not None for f in wanted(feats, p, lang))


def read_from(feats: dict[str, Any], p: dict[str, Any] | None = None, lang: str | None = None) -> dict[str, bool]:
    """Which fitted set an answer's support came from, as :func:`thresholds` / :func:`outcome`
    keywords: ``ce`` / ``rel`` / ``qlm`` False when the signal was missing and its fallback was read,
    ``cross`` when the evidence is in another language than the question."""
    return {"ce": feats.get("ce") is not None, "cross": bool(feats.get("cross")),
            "rel": feats.get("rel") is not None, "qlm": verified(feats, p, lang)}


def support(feats: dict[str, Any], p: dict[str, Any] | None = None, lang: str | None = None) -> float:
    """Calibrated probability that the answer built on this evidence is right (``lang``: the
    question's language, default ``feats["qlang"]``; it picks a per-language coefficient set)."""
    p = p or params()
    if "without_qlm" in p and not verified(feats, p, lang):
        p = p["without_qlm"]
    if feats.get("ce") is None and "without_ce" in p:
        p = p["without_ce"]
    if feats.get("rel") is None and "without_rel" in p:
        p = p["without_rel"]
    w = coefficients(feats, p, lang)
    z = w.get("bias", 0.0) + sum(v * value(feats, f) for f, v in w.items() if f != "bias")
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def thresholds(lang: str, p: dict[str, Any] | None = None, ce: bool = True, cross: bool = False,
               rel: bool = True, qlm: bool = True) -> tuple[float, float]:
    """(refuse_below, review_below) for answers to questions in ``lang`` (``ce``: the support came from
    the cross-encoder model; False: from the ``without_ce`` fallback; ``rel``: False when the support
    came from the ``without_rel`` one; ``qlm``: False when it came from ``without_qlm``; ``cross``: the
    evidence is in another language — ``thresholds_cross`` when fitted, else the language's own;
    :func:`read_from` gives all four from an answer's features)."""
    p = p or params()
    if not qlm and "without_qlm" in p:
        p = p["without_qlm"]
    if not ce and "without_ce" in p:
        p = p["without_ce"]
    if not rel and "without_rel" in p:
        p = p["without_rel"]
    t = (p.get("thresholds_cross", {}).get(lang) if cross else None) or p.get("thresholds", {}).get(lang) \
        or p.get("thresholds", {}).get("en") or {"refuse_below": 0.35, "review_below": 0.5}
    return float(t["refuse_below"]), float(t["review_below"])


def outcome(value: float, lang: str, min_support: float | None = None, p: dict[str, Any] | None = None,
            ce: bool = True, cross: bool = False, rel: bool = True, qlm: bool = True) -> str:
    """``answer`` | ``low_confidence`` | ``refuse``. ``min_support`` replaces the fitted refusal
    threshold (the low-confidence band then starts there and ends at the fitted review threshold,
    or is empty when ``min_support`` is above it). ``cross``: the evidence is in another language."""
    refuse_below, review_below = thresholds(lang, p, ce, cross, rel, qlm)
    if min_support is not None:
        refuse_below = float(min_support)
        review_below = max(review_below, refuse_below)
    if value < refuse_below:
        return "refuse"
    if value < review_below:
        return "low_confidence"
    return "answer"


def fit(X: Sequence[Sequence[float]], y: Sequence[int], *, l2: float = 1e-3, steps: int = 3000,
        lr: float = 0.5, names: Sequence[str] = FEATURES) -> dict[str, float]:
    """Logistic regression (numpy gradient descent) over the ``names`` columns of ``X``."""
    import numpy as np

    x = np.asarray(X, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        pr = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        g = xb.T @ (pr - t) / len(t) + l2 * np.r_[0.0, w[1:]]
        w -= lr * g
    return {"bias": float(w[0]), **{f: float(v) for f, v in zip(names, w[1:])}}
