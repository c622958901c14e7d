"""The shipped support model (support.json): which coefficient set and threshold read an answer."""
from thaija.rag import support as S


def _feats(**kw):
    base = {"lex": 0.0, "dense": 0.8, "cover": 0.0, "miss": 0.0, "ce": 0.5, "cos": 0.88, "cross": True,
            "qlang": "en", "rel": 0.6}
    base.update(kw)
    return base


def test_english_cross_language_evidence_reads_its_own_set_and_threshold():
    p = S.params()
    assert "en" in p["cross_by_lang"] and "rel" in p["cross_by_lang"]["en"]
    f = _feats()
    assert S.coefficients(f, p, "en") is p["cross_by_lang"]["en"]
    assert S.coefficients(_feats(qlang="th"), p, "th") is p["cross"]       # th / ja questions: the shared cross set
    assert S.thresholds("en", p, cross=True) == (p["thresholds_cross"]["en"]["refuse_below"],
                                                 p["thresholds_cross"]["en"]["review_below"])


def test_chunk_relevance_raises_cross_language_support_and_its_absence_reads_the_set_without_it():
    """rel (the chunk's cosine over its language's mean) separates a topical sentence of an unrelated
    document (ลาคลอด → the remote-work rule: rel 0) from the answer's chunk; without a dense relevance
    (a Milvus server index, --mode bm25) support reads ``without_rel``, fitted without it."""
    p = S.params()
    lo, hi = S.support(_feats(rel=0.0, qlang="th"), p), S.support(_feats(rel=0.8, qlang="th"), p)
    assert hi > lo + 0.1
    none = S.support(_feats(rel=None, qlang="th"), p)
    assert none == S.support(_feats(rel=None, qlang="th"), p["without_rel"])
    assert "rel" not in p["without_rel"]["cross"]
    assert S.thresholds("th", p, cross=True, rel=False) == (p["without_rel"]["thresholds_cross"]["th"]["refuse_below"],
                                                            p["without_rel"]["thresholds_cross"]["th"]["review_below"])
    # without the cross-encoder too: the fallback's own set without rel
    assert S.support(_feats(rel=None, ce=None, qlang="th"), p) == S.support(
        _feats(rel=None, ce=None, qlang="th"), p["without_ce"]["without_rel"])


def test_same_language_support_does_not_read_rel():
    p = S.params()
    f = _feats(cross=False, qlang="th", lex=0.8, cover=0.8)
    assert S.support({**f, "rel": 0.0}, p) == S.support({**f, "rel": 1.0}, p)
