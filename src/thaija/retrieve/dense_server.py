"""Dense retrieval in a Milvus server (server mode): the vectors never come to this process.

The in-process path (:func:`thaija.retrieve.search._dense_rows`) centres similarities per language:
each language's mean similarity to the query (over the public chunks, whatever the caller may see) is moved to the
overall mean. The mean similarity of a set equals the query's dot product with the set's mean
vector, so the registry's per-(language, access key) vector sums give the same offsets here; the
server is then searched once per language (language as a filter expression, ACL too) and the
offset of each language is added before merging -- the same ranking as the in-process path.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

MIN_ROWS = 3   # as search._center_languages: a language with fewer visible chunks is not moved


def center_offsets(snap, qv: np.ndarray, groups: Sequence[str] | None, lang: str | None) -> dict[str, float]:
    """Per-language score offsets for this query and caller ({} when nothing is centred)."""
    from thaija.index.store import allowed

    sums = getattr(snap, "group_sums", None)
    if not sums:
        return {}
    per_lang: dict[str, list] = {}
    for (lg, acl), (n, vec) in sums.items():
        if n > 0 and allowed([g for g in acl.split(",") if g], groups):
            d = per_lang.setdefault(lg, [0, 0.0])
            d[0] += n
            d[1] = d[1] + vec
    if len(per_lang) < 2:
        return {}
    q = np.asarray(qv, np.float64)
    total_n = sum(n for n, _ in per_lang.values())
    overall = float(q @ (sum(v for _, v in per_lang.values()) / total_n))
    return {lg: overall - float(q @ (v / n)) for lg, (n, v) in per_lang.items() if n >= MIN_ROWS}


def milvus_dense_rows(index, snap, qv: np.ndarray, depth: int, mask: np.ndarray, groups: Sequence[str] | None,
                      lang: str | None) -> list[tuple[int, float]]:
    """(global row, score) best first from the Milvus server, ACL and language inside the filter."""
    # as the in-process path: statistics over the public chunks (the shift must not depend on the
    # caller's groups), applied whatever the language filter
    offsets = center_offsets(snap, qv, None, None)
    langs = sorted({snap.lang_names[i] for i in np.unique(snap.langs[mask])}) if offsets else [lang]
    hits: list[tuple[str, float]] = []
    for lg in langs:   # one search per language when offsets apply (each gets its own top `depth`)
        off = offsets.get(lg, 0.0) if lg else 0.0
        hits += [(c, s + off) for c, s in index.milvus.search(qv, depth, groups, lg)]
    row_of = index.registry.rows_of([c for c, _ in hits])   # only the hits: no per-chunk dict
    pos = snap.position()
    out = []
    for c, s in hits:
        i = pos.get(row_of.get(c, -1), -1)
        if i >= 0 and mask[i]:              # the registry's ACL must agree too
            out.append((int(snap.rows[i]), float(s)))
    out.sort(key=lambda rs: (-rs[1], rs[0]))
    return out[:depth]
