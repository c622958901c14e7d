"""Monthly cost of a multilingual bot from token sizes, measured language premiums and a price table.

Sizes of the question, the retrieved context (``k`` chunks × ``chunk_tokens``) and the answer are
given in English-equivalent tokens and multiplied by the premium of each language, measured with the
model's own tokenizer on the shipped parallel sample (corpora/parallel, FLORES-200 dev): the same
content costs ``premium`` times more tokens in Thai or Japanese. The system prompt (instructions,
usually English) is counted in model tokens as given.

With the user's own texts (``from_texts`` folder or ``db`` index, and ``queries`` file) the premium is
calibrated on them: FLORES premium × (tokens per character of the user's text in that language ÷
tokens per character of the FLORES sample), the language mix comes from the queries (else the
documents), and question sizes are the measured mean of the user's queries.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

from thaija.config import setting
from thaija.errors import ThaijaError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["EstimateConfig", "load_prices", "measured_premiums", "estimate", "parse_mix", "estimate_records"]


def _merge(base: dict, over: Mapping) -> dict:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


@lru_cache(maxsize=1)
def _default_prices() -> dict:
    text = resources.files("thaija.cost").joinpath("prices.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_prices(path: str | Path | None = None) -> dict:
    """The package price table, with ``path`` (a TOML file of the same layout) merged over it."""
    table = copy.deepcopy(_default_prices())
    if path is None:
        return _with_tokenizers(table)
    p = Path(path)
    from thaija.validate import load_toml

    if not p.exists():
        raise ThaijaError(f"{p}: no such price file")
    over = load_toml(p)  # depth/NUL/surrogate limits: one-line errors (thaija.validate)
    _check_keys(p, over, table)
    table = _merge(table, over)
    for name, m in table.get("models", {}).items():
        for key in ("input", "output"):
            if key not in m:
                raise ThaijaError(f"{p}: model '{name}' lacks '{key}'")
        if not isinstance(m["input"], (int, float)) or not isinstance(m["output"], (int, float)) \
                or m["input"] < 0 or m["output"] < 0:
            raise ThaijaError(f"{p}: model '{name}' needs non-negative numeric input/output prices")
    return _with_tokenizers(table)


#: keys a price-table model entry may carry (input/output are required after the merge)
_MODEL_KEYS = ("input", "output", "source", "date", "note", "tokenizer")


def _unknown(p: Path, key: str, known) -> ThaijaError:
    import difflib

    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(known))})"
    return ThaijaError(f"{p}: unknown key '{key}'{hint}: a typo would be ignored silently, so it is refused")


def _check_keys(p: Path, over: dict, base: dict) -> None:
    """An override may only name sections and keys the packaged table has (any model name under
    ``[models]``), with values of the same kind: a misspelt key is an error naming it, never ignored."""
    for section, value in over.items():
        if section not in base:
            raise _unknown(p, section, base)
        if not isinstance(value, dict):
            raise ThaijaError(f"{p}: '{section}' must be a table ([{section}])")
        if section == "models":
            for name, entry in value.items():
                if not isinstance(entry, dict):
                    raise ThaijaError(f'{p}: models."{name}" must be a table with input/output prices')
                for key in entry:
                    if key not in _MODEL_KEYS:
                        raise _unknown(p, f'models."{name}".{key}', _MODEL_KEYS)
                if "tokenizer" in entry and not isinstance(entry["tokenizer"], str):
                    raise ThaijaError(f'{p}: models."{name}".tokenizer must be a string')
            continue
        for key, v in value.items():
            if key not in base[section]:
                raise _unknown(p, f"{section}.{key}", base[section])
            want = base[section][key]
            number = isinstance(want, (int, float)) and not isinstance(want, bool)
            if number and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ThaijaError(f"{p}: {section}.{key} must be a number, got {type(v).__name__}")
            if isinstance(want, str) and not isinstance(v, str):
                raise ThaijaError(f"{p}: {section}.{key} must be a string, got {type(v).__name__}")


def _with_tokenizers(table: dict) -> dict:
    """Fill each model's ``tokenizer`` (model-name lookup unless given) and its approximation label."""
    from thaija.tokenizers import lookup_model

    for name, m in table.get("models", {}).items():
        if "tokenizer" in m:
            m.setdefault("approximation", False)
            m.setdefault("approximation_reason", "tokenizer given in the price table")
            continue
        match = lookup_model(name)
        m["tokenizer"] = match.tokenizer
        m["approximation"], m["approximation_reason"] = match.approximation, match.reason
    return table


def parse_mix(spec: str | Mapping[str, float] | Sequence[str]) -> dict[str, float]:
    """``"th=0.6,ja=0.4"`` / ``"th,ja"`` (equal shares) / mapping -> shares summing to 1."""
    if isinstance(spec, Mapping):
        items = dict(spec)
    else:
        parts = [p.strip() for p in (spec.split(",") if isinstance(spec, str) else spec) if p.strip()]
        if not parts:
            raise ThaijaError("language mix is empty: give e.g. th=0.6,ja=0.4 or th,ja")
        items = {}
        for p in parts:
            lang, sep, w = p.partition("=")
            try:
                items[lang.strip()] = float(w) if sep else 1.0
            except ValueError:
                raise ThaijaError(f"bad language share {p!r}: want LANG=NUMBER") from None
    if any(v < 0 for v in items.values()) or sum(items.values()) <= 0:
        raise ThaijaError("language shares must be non-negative and not all zero")
    total = sum(items.values())
    return {k: v / total for k, v in items.items()}


@lru_cache(maxsize=1)
def _shipped_premiums() -> dict:
    text = resources.files("thaija.cost").joinpath("premiums.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=64)
def _flores_cached(tokenizer: str, langs: tuple[str, ...]) -> tuple[tuple[str, float, float], ...]:
    """((lang, premium vs en, tokens per character), ...) on the FLORES sample."""
    from thaija.cost.compare import compare, default_parallel_paths, load_parallel, repo_root

    if repo_root() is None:  # installed without corpora/: use the table measured on the same sample
        shipped = _shipped_premiums()
        table, tpc = shipped.get("premiums", {}), shipped.get("tokens_per_char", {})
        if tokenizer not in table:
            raise ThaijaError(f"no premium for tokenizer '{tokenizer}': corpora/parallel is not available to "
                              "measure it (run from a source checkout)")
        missing = [l for l in langs if l not in table[tokenizer]]
        if missing:
            raise ThaijaError(f"no shipped premium for {', '.join(missing)} (have th, ja, en)")
        return tuple((l, float(table[tokenizer][l]), float(tpc.get(tokenizer, {}).get(l, 0.0))) for l in langs)
    paths = default_parallel_paths()
    missing = [l for l in langs if l not in paths]
    if missing:
        raise ThaijaError(f"no shipped parallel text for {', '.join(missing)} (have {', '.join(paths)})")
    texts = load_parallel({l: paths[l] for l in set(langs) | {"en"}})
    res = compare(texts, reference="en", tokenizers=[tokenizer])
    v = next(iter(res["tokenizers"].values()))
    chars = {l: sum(len(t) for t in texts[l]) for l in texts}
    return tuple((l, float(v["premium"][l]), v["tokens"][l] / chars[l]) for l in langs)


def _premiums_cached(tokenizer: str, langs: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    return tuple((l, p) for l, p, _ in _flores_cached(tokenizer, langs))


_premiums_cached.cache_clear = _flores_cached.cache_clear  # type: ignore[attr-defined]


def measured_premiums(tokenizer: str, langs: Sequence[str]) -> dict[str, float]:
    """Premium vs English of each language for ``tokenizer``, measured on corpora/parallel (per-line sums).

    Installed without the source checkout, the same measurement shipped in ``premiums.toml`` is used.
    """
    return dict(_premiums_cached(tokenizer, tuple(langs)))


def flores_tokens_per_char(tokenizer: str, langs: Sequence[str]) -> dict[str, float]:
    """Tokens per character of each language's FLORES sample in ``tokenizer``."""
    return {l: t for l, _, t in _flores_cached(tokenizer, tuple(langs))}


def calibrated_premiums(tokenizer: str, measured: Mapping[str, Mapping], langs: Sequence[str],
                        min_chars: int = 200) -> dict[str, tuple[float, str]]:
    """``{lang: (premium, source)}``: FLORES premium × (user's tokens/char ÷ FLORES tokens/char).

    ``measured`` is one tokenizer's entry of :func:`thaija.cost.corpus.measure`; a language with fewer
    than ``min_chars`` characters in the user's texts keeps the FLORES premium.
    """
    base = {l: (p, t) for l, p, t in _flores_cached(tokenizer, tuple(langs))}
    out = {}
    for lang in langs:
        p, tpc = base[lang]
        m = measured.get(lang)
        if m and m["characters"] >= min_chars and tpc > 0:
            out[lang] = (p * m["tokens_per_char"] / tpc, "your texts")
        else:
            out[lang] = (p, "FLORES-200 sample")
    return out


def write_premium_table(path: str | Path) -> Path:
    """Measure every available model tokenizer on corpora/parallel and write ``premiums.toml``."""
    from thaija.cost.compare import compare
    from thaija.tokenizers import list_tokenizers

    names = [r["name"] for r in list_tokenizers() if r["available"] and r["kind"] != "baseline"]
    res = compare(None, reference="en", tokenizers=names)
    lines = ["# Premiums vs English measured on corpora/parallel (FLORES-200 dev, first 200 lines), per-line sums.",
             "# Used only when thaija runs without its source checkout; regenerate with",
             "#   python -c \"from thaija.cost.estimate import write_premium_table as w; "
             "w('src/thaija/cost/premiums.toml')\"",
             f"lines = {res['lines']}", "", "[premiums]"]
    for name, v in res["tokenizers"].items():
        vals = ", ".join(f"{lang} = {p:.6f}" for lang, p in v["premium"].items())
        lines.append(f'"{name}" = {{ {vals} }}')
    from thaija.cost.compare import default_parallel_paths, load_parallel

    texts = load_parallel(default_parallel_paths())
    chars = {lang: sum(len(t) for t in ts) for lang, ts in texts.items()}
    lines += ["", "# tokens per character of each language's sample (calibrates premiums on the user's own texts)",
              "[tokens_per_char]"]
    for name, v in res["tokenizers"].items():
        vals = ", ".join(f"{lang} = {n / chars[lang]:.6f}" for lang, n in v["tokens"].items())
        lines.append(f'"{name}" = {{ {vals} }}')
    p = Path(path)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@dataclass
class EstimateConfig:
    """Inputs of ``estimate``; sizes of query/answer in English-equivalent tokens unless measured."""

    queries_per_month: int = setting(10000, "Questions per month.")
    mix: dict[str, float] | str | None = setting(None, (
        "Language shares, e.g. th=0.6,ja=0.3,en=0.1 (or th,ja for equal shares). "
        "Default: measured from --queries, else --from-texts/--db, else th/ja 50/50."))
    system_tokens: int = setting(200, "System prompt size in model tokens (counted as is).")
    query_tokens_en: int = setting(30, "Question size in English-equivalent tokens (without --queries).")
    k: int = setting(5, "Retrieved chunks per question.")
    chunk_tokens: int = setting(256, "Chunk size in English-equivalent tokens.")
    answer_tokens_en: int = setting(250, "Answer size in English-equivalent tokens.")
    models: list[str] | str | None = setting(None, (
        "Comma-separated model names from the price table, or 'all' (the default: every priced model)."))
    prices: str | None = setting(None, "TOML price table merged over the packaged one (same layout).")
    from_texts: str | None = setting(None, (
        "Measure your own documents (any format `index add` reads): premiums calibrated on them, "
        "language mix, corpus tokens per model."))
    db: str | None = setting(None, "Measure the documents of this index instead.")
    queries: str | None = setting(None, "Your questions, one per line: their measured size and language mix.")

    def __post_init__(self) -> None:
        if self.mix is not None:
            self.mix = parse_mix(self.mix)
        if isinstance(self.models, str):  # "all" or "a,b" (the CLI's form)
            self.models = (None if self.models.strip() == "all"
                           else [m.strip() for m in self.models.split(",") if m.strip()])
        for name in ("queries_per_month", "system_tokens", "query_tokens_en", "k", "chunk_tokens", "answer_tokens_en"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ThaijaError(f"{name} must be a non-negative integer, got {v!r}")
        if self.queries_per_month == 0:
            raise ThaijaError("queries_per_month must be > 0")
        if self.from_texts is not None and self.db is not None:
            raise ThaijaError("give --from-texts DIR or --db DB, not both")


def _per_query(cfg: EstimateConfig, premium: float, query_tokens: float | None = None) -> tuple[float, float]:
    q = query_tokens if query_tokens is not None else cfg.query_tokens_en * premium
    tokens_in = cfg.system_tokens + q + cfg.k * cfg.chunk_tokens * premium
    tokens_out = cfg.answer_tokens_en * premium
    return tokens_in, tokens_out


def _queries_by_lang(queries: list[str]) -> dict[str, list[str]]:
    from thaija.lang import detect

    out: dict[str, list[str]] = {}
    for q in queries:
        out.setdefault(detect(q).lang, []).append(q)
    return out


def estimate(cfg: EstimateConfig | None = None, progress: bool = False, **kwargs) -> dict:
    """Monthly token use and cost per model and language.

    Returns ``{"inputs": {...}, "price_table_date", "models": [{"model", "tokenizer", "approximation",
    "approximation_reason", "price_source", "price_date", "input_usd_per_mtok", "output_usd_per_mtok",
    "languages": {lang: {"premium", "premium_source", "input_tokens_per_query", "output_tokens_per_query",
    "monthly_usd"}}, "monthly_tokens_in", "monthly_tokens_out", "monthly_usd"}], "measured"?}``,
    models sorted by monthly cost. ``measured`` (with --from-texts/--db/--queries) holds the documents,
    characters per language and, per model, the tokens of the corpus.
    """
    cfg = cfg or EstimateConfig(**kwargs)
    table = load_prices(cfg.prices)
    models = table.get("models", {})
    names = cfg.models or list(models)
    unknown = [m for m in names if m not in models]
    if unknown:
        raise ThaijaError(f"no price for model(s) {', '.join(unknown)}; priced models: {', '.join(models)}")
    corpus = measured = None
    if cfg.from_texts is not None or cfg.db is not None:
        from thaija.cost.corpus import load_corpus, measure

        corpus = load_corpus(cfg.from_texts, cfg.db)
        measured = measure(corpus, sorted({models[n]["tokenizer"] for n in names}), progress=progress)
    q_by_lang: dict[str, list[str]] = {}
    if cfg.queries is not None:
        from thaija.cost.corpus import read_queries

        q_by_lang = {l: qs for l, qs in _queries_by_lang(read_queries(cfg.queries)).items() if l in ("th", "ja", "en")}
        if not q_by_lang:
            raise ThaijaError(f"{cfg.queries}: no Thai, Japanese or English question found")
    if cfg.mix is not None:
        mix, mix_source = dict(cfg.mix), "given"
    elif q_by_lang:
        mix, mix_source = parse_mix({l: len(v) for l, v in q_by_lang.items()}), "your queries"
    elif corpus is not None and corpus.shares():
        mix, mix_source = parse_mix(corpus.shares()), "your documents (character shares)"
    else:
        mix, mix_source = {"th": 0.5, "ja": 0.5}, "default"
    out = []
    for name in names:
        m = models[name]
        tok = m["tokenizer"]
        if measured is not None:
            prem = calibrated_premiums(tok, measured[tok], list(mix))
        else:
            prem = {l: (p, "FLORES-200 sample") for l, p in measured_premiums(tok, list(mix)).items()}
        q_tokens = {}
        if q_by_lang:
            from thaija.cost.corpus import mean_tokens

            q_tokens = mean_tokens(q_by_lang, tok)
        langs, t_in, t_out, usd = {}, 0.0, 0.0, 0.0
        for lang, share in mix.items():
            premium, source = prem[lang]
            q_in, q_out = _per_query(cfg, premium, q_tokens.get(lang))
            n = cfg.queries_per_month * share
            cost = n * (q_in * m["input"] + q_out * m["output"]) / 1e6
            langs[lang] = {"share": share, "premium": round(premium, 4), "premium_source": source,
                           "query_tokens_source": "your queries" if lang in q_tokens else "English-equivalent × premium",
                           "input_tokens_per_query": round(q_in, 1), "output_tokens_per_query": round(q_out, 1),
                           "monthly_usd": round(cost, 4)}
            t_in += n * q_in
            t_out += n * q_out
            usd += cost
        rec = {"model": name, "tokenizer": tok, "approximation": bool(m.get("approximation")),
               "approximation_reason": m.get("approximation_reason", ""),
               "price_source": m.get("source", ""), "price_date": m.get("date", ""),
               "price_note": m.get("note", ""), "input_usd_per_mtok": m["input"],
               "output_usd_per_mtok": m["output"], "languages": langs,
               "monthly_tokens_in": round(t_in), "monthly_tokens_out": round(t_out),
               "monthly_usd": round(usd, 4)}
        if measured is not None:
            rec["corpus_tokens"] = {l: v["tokens"] for l, v in measured[tok].items()}
        out.append(rec)
    out.sort(key=lambda r: r["monthly_usd"])
    inputs = {k: getattr(cfg, k) for k in ("queries_per_month", "system_tokens", "query_tokens_en", "k",
                                           "chunk_tokens", "answer_tokens_en")}
    inputs["mix"], inputs["mix_source"] = mix, mix_source
    result = {"inputs": inputs, "price_table_date": table.get("meta", {}).get("table_date", ""),
              "price_note": table.get("meta", {}).get("note", ""),
              "premium_method": "per-line sums on corpora/parallel (FLORES-200 dev, 200 lines), vs en"
              + ("; calibrated on your texts: × (your tokens per character ÷ FLORES tokens per character)"
                 if measured is not None else ""),
              "models": out}
    if corpus is not None or q_by_lang:
        result["measured"] = {
            "source": corpus.source if corpus else None,
            "documents": corpus.documents if corpus else 0,
            "characters": corpus.characters() if corpus else {},
            "skipped": corpus.skipped if corpus else {},
            "queries": {l: len(v) for l, v in q_by_lang.items()},
        }
    return result


def estimate_records(result: Mapping) -> list[dict]:
    """Flatten ``estimate`` to one row per model and language (pandas-friendly)."""
    return [{"model": m["model"], "tokenizer": m["tokenizer"], "lang": lang, **v}
            for m in result["models"] for lang, v in m["languages"].items()]
