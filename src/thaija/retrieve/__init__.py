"""Retrieve stage: hybrid search (BM25 in the query's language + dense across languages) and evaluation.

>>> from thaija.retrieve import search
>>> search("ใครเป็นผู้ก่อตั้ง", db="./thaija.db", k=5, groups=["hr"])   # doctest: +SKIP
"""
from thaija.retrieve.search import Hit, SearchConfig, close_index, open_index, search

__all__ = ["Hit", "SearchConfig", "close_index", "open_index", "search"]
