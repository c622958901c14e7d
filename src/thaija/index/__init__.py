"""Index stage: load documents, chunk, embed, store (Milvus + per-language BM25 + registry).

>>> from thaija.index import Index, Document
>>> Index("./thaija.db").add_paths(["corpora/news"])   # doctest: +SKIP
"""
from thaija.index.documents import Document, load_path, load_paths
from thaija.index.ingest import Index, IndexConfig

__all__ = ["Document", "Index", "IndexConfig", "load_path", "load_paths"]
