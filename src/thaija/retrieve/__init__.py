"""Retrieve stage: hybrid search (BM25 in the query's language + dense across languages) and evaluation.

>>> from thaija.retrieve import search
>>> search("ใครเป็นผู้ก่อตั้ง", db="./thaija.db", k=5, groups=["hr"])   # doctest: +SKIP

Names resolve on first use (:func:`thaija.config.lazy_stage`): ``thaija.retrieve.config`` (the
configs, read by the CLI) loads without numpy or the index.
"""
from typing import TYPE_CHECKING

from thaija.config import lazy_stage

__all__ = ["Hit", "SearchConfig", "close_index", "open_index", "search"]

if TYPE_CHECKING:  # pragma: no cover
    from thaija.retrieve.search import Hit, SearchConfig, close_index, open_index, search

lazy_stage(__name__, {"Hit": "search", "SearchConfig": "config", "close_index": "search",
                      "open_index": "search", "search": "search"})
