"""Index stage: load documents, chunk, embed, store (Milvus + per-language BM25 + registry).

>>> from thaija.index import Index, Document
>>> Index("./thaija.db").add_paths(["corpora/news"])   # doctest: +SKIP
"""
from typing import TYPE_CHECKING

from thaija.config import lazy_stage

__all__ = ["Document", "Index", "IndexConfig", "load_path", "load_paths"]

if TYPE_CHECKING:  # pragma: no cover
    from thaija.index.config import IndexConfig
    from thaija.index.documents import Document, load_path, load_paths
    from thaija.index.ingest import Index

# names resolve on first use: thaija.index.config (read by the CLI) loads no numpy or Milvus
lazy_stage(__name__, {"Document": "documents", "load_path": "documents", "load_paths": "documents",
                      "Index": "ingest", "IndexConfig": "config"})
