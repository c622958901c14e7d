"""Tokenizer premiums on line-aligned parallel text: tokens(lang) / tokens(reference lang).

Two counting methods (results differ by 1–1.6 % on FLORES; every result says which it used):
- ``"lines"`` (default, the CLI contract): each line encoded alone, counts summed;
- ``"joined"``: all lines joined with one space and encoded once (Petrov et al. 2023, the method
  behind the published premium tables).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Mapping, Sequence

from thaija.errors import ThaijaError

__all__ = ["compare", "load_parallel", "default_parallel_paths", "premium_records", "write_csv", "plot_premiums"]

_SAMPLE_FILES = {"th": "tha.txt", "ja": "jpn.txt", "en": "eng.txt"}


def repo_root() -> Path | None:
    """The source checkout holding corpora/ (None when thaija is installed without it)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "corpora" / "parallel").is_dir() else None


def default_parallel_paths() -> dict[str, Path]:
    """The shipped th/ja/en sample: corpora/parallel/{tha,jpn,eng}.txt (FLORES-200 dev, CC BY-SA 4.0)."""
    root = repo_root()
    if root is None:
        raise ThaijaError("the shipped parallel sample (corpora/parallel) is not found; pass --text LANG=PATH")
    return {lang: root / "corpora" / "parallel" / fn for lang, fn in _SAMPLE_FILES.items()}


def load_parallel(paths: Mapping[str, str | Path]) -> dict[str, list[str]]:
    """Read line-aligned files ``{lang: path}``; error when any file is empty or the line counts differ."""
    from thaija.cost.count import read_lines

    if not paths:
        raise ThaijaError("no parallel files given")
    texts = {lang: read_lines(p) for lang, p in paths.items()}
    counts = {lang: len(v) for lang, v in texts.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{lang} {paths[lang]} has {n} lines" for lang, n in counts.items())
        raise ThaijaError(f"parallel files are not line-aligned: {detail}")
    return texts


def _resolve_names(tokenizers: str | Sequence[str]) -> tuple[list[str], dict[str, str]]:
    from thaija.tokenizers import list_tokenizers

    skipped: dict[str, str] = {}
    if isinstance(tokenizers, str):
        if tokenizers.strip() == "all":
            names = []
            for rec in list_tokenizers():
                if rec["available"]:
                    names.append(rec["name"])
                else:
                    skipped[rec["name"]] = rec["reason"]
            return names, skipped
        tokenizers = [t.strip() for t in tokenizers.split(",") if t.strip()]
    names = list(dict.fromkeys(tokenizers))
    if not names:
        raise ThaijaError("no tokenizers given")
    return names, skipped


def _model_match(name: str):
    """The model-name match of ``name``, or None for a registry name, a path or an unknown name."""
    import os

    from thaija.tokenizers import REGISTRY
    from thaija.tokenizers.models import lookup_model

    if name in REGISTRY or os.path.exists(os.path.expanduser(name)):
        return None
    try:
        return lookup_model(name)
    except ThaijaError:
        return None


def compare(
    texts: Mapping[str, Sequence[str]] | None = None,
    reference: str = "en",
    tokenizers: str | Sequence[str] = "all",
    method: str = "lines",
    on_progress: Callable[[str], None] | None = None,
) -> dict:
    """Token counts and premiums of parallel texts ``{lang: lines}`` for each tokenizer.

    ``texts=None`` uses the shipped th/ja/en sample. ``tokenizers="all"`` runs every available
    registry entry (unavailable ones are listed under ``"skipped"`` with the reason).
    Returns ``{"reference", "lines", "method", "tokenizers": {name: {"tokens": {lang: int},
    "premium": {lang: float}}}, "skipped": {name: reason}}``.
    """
    from thaija.tokenizers import get_tokenizer

    if method not in ("lines", "joined"):
        raise ThaijaError(f"method must be 'lines' or 'joined', not {method!r}")
    if texts is None:
        texts = load_parallel(default_parallel_paths())
    texts = {lang: list(v) for lang, v in texts.items()}
    if reference not in texts:
        raise ThaijaError(f"reference language '{reference}' has no text; languages given: {', '.join(texts)}")
    sizes = {lang: len(v) for lang, v in texts.items()}
    if len(set(sizes.values())) > 1:
        raise ThaijaError("parallel texts are not line-aligned: "
                          + ", ".join(f"{lang} has {n} lines" for lang, n in sizes.items()))
    names, skipped = _resolve_names(tokenizers)
    result: dict = {"reference": reference, "lines": sizes[reference], "method": method, "tokenizers": {}}
    for name in names:
        match = _model_match(name)
        tok = get_tokenizer(match.tokenizer if match else name)  # unknown names raise with the list of names
        counts: dict[str, int] = {}
        try:
            for lang, lines in texts.items():
                if method == "lines":
                    counts[lang] = int(sum(tok.count_batch(lines)))
                else:
                    counts[lang] = int(tok.count(" ".join(lines)))
        except (ImportError, ThaijaError) as exc:
            if tokenizers == "all":  # a baseline whose language layer is missing: skip, say why
                skipped[name] = str(exc)
                continue
            raise
        ref = counts[reference]
        if ref == 0:
            raise ThaijaError(f"{name}: the reference text has 0 tokens")
        entry = {"tokens": counts, "premium": {lang: n / ref for lang, n in counts.items()}}
        if match is not None:  # a model name: say which tokenizer counted it and whether that is exact
            entry.update({"tokenizer": match.tokenizer, "approximation": match.approximation,
                          "approximation_reason": match.reason})
        result["tokenizers"][name if match else tok.name] = entry
        if on_progress:
            on_progress(name)
    result["skipped"] = skipped
    return result


def premium_records(result: Mapping) -> list[dict]:
    """Flatten a ``compare`` result to rows ``{tokenizer, lang, tokens, premium}`` (pandas-friendly)."""
    return [
        {"tokenizer": name, "lang": lang, "tokens": v["tokens"][lang], "premium": round(v["premium"][lang], 6)}
        for name, v in result["tokenizers"].items()
        for lang in v["tokens"]
    ]


def write_csv(result: Mapping, path: str | Path) -> Path:
    """Write ``premium_records`` as CSV (header: tokenizer,lang,tokens,premium)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["tokenizer", "lang", "tokens", "premium"])
        w.writeheader()
        w.writerows(premium_records(result))
    return path


def plot_premiums(result: Mapping, path: str | Path, title: str | None = None) -> Path:
    """Grouped bar chart of premiums (one group per tokenizer, one bar per non-reference language) as PNG.

    Labels are ASCII (language codes, tokenizer names) so no Thai/Japanese font is needed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from thaija.errors import MissingDependency

        raise MissingDependency("matplotlib", "--plot") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(result["tokenizers"])
    if not names:
        raise ThaijaError("nothing to plot: no tokenizer results")
    langs = [l for l in next(iter(result["tokenizers"].values()))["premium"] if l != result["reference"]]
    langs = langs or [result["reference"]]
    width = 0.8 / max(1, len(langs))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(names) + 2), 4.5), dpi=120)
    for i, lang in enumerate(langs):
        xs = [j + (i - (len(langs) - 1) / 2) * width for j in range(len(names))]
        ys = [result["tokenizers"][n]["premium"][lang] for n in names]
        bars = ax.bar(xs, ys, width=width, label=lang)
        if len(names) * len(langs) <= 60:
            few = len(names) * len(langs) <= 12
            ax.bar_label(bars, labels=[f"{y:.2f}" for y in ys], fontsize=8 if few else 6, padding=1,
                         rotation=0 if few else 90)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--", label=f"{result['reference']} = 1")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"tokens / tokens({result['reference']})")
    ax.set_title(title or f"Tokenizer premium vs {result['reference']} ({result['lines']} parallel lines, "
                 f"method: {result.get('method', 'lines')})", fontsize=9)
    ax.legend(title="lang", fontsize=8)
    ax.margins(y=0.12)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


