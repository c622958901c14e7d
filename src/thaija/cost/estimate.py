"""Monthly cost of a multilingual bot from token sizes, measured language premiums and a price table.

Sizes of the question, the retrieved context (``k`` chunks × ``chunk_tokens``) and the answer are
given in English-equivalent tokens and multiplied by the premium of each language, measured with the
model's own tokenizer on the shipped parallel sample (corpora/parallel, FLORES-200 dev): the same
content costs ``premium`` times more tokens in Thai or Japanese. The system prompt (instructions,
usually English) is counted in model tokens as given.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

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
        return table
    p = Path(path)
    try:
        over = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThaijaError(f"{p}: no such price file") from None
    except UnicodeDecodeError:
        raise ThaijaError(f"{p}: not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThaijaError(f"{p}: not valid TOML ({exc})") from None
    table = _merge(table, over)
    for name, m in table.get("models", {}).items():
        for key in ("tokenizer", "input", "output"):
            if key not in m:
                raise ThaijaError(f"{p}: model '{name}' lacks '{key}'")
        if not isinstance(m["input"], (int, float)) or not isinstance(m["output"], (int, float)) \
                or m["input"] < 0 or m["output"] < 0:
            raise ThaijaError(f"{p}: model '{name}' needs non-negative numeric input/output prices")
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
def _premiums_cached(tokenizer: str, langs: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    from thaija.cost.compare import compare, default_parallel_paths, load_parallel, repo_root

    if repo_root() is None:  # installed without corpora/: use the table measured on the same sample
        table = _shipped_premiums().get("premiums", {})
        if tokenizer not in table:
            raise ThaijaError(f"no premium for tokenizer '{tokenizer}': corpora/parallel is not available to "
                              "measure it (run from a source checkout)")
        missing = [l for l in langs if l not in table[tokenizer]]
        if missing:
            raise ThaijaError(f"no shipped premium for {', '.join(missing)} (have th, ja, en)")
        return tuple((l, float(table[tokenizer][l])) for l in langs)
    paths = default_parallel_paths()
    missing = [l for l in langs if l not in paths]
    if missing:
        raise ThaijaError(f"no shipped parallel text for {', '.join(missing)} (have {', '.join(paths)})")
    texts = load_parallel({l: paths[l] for l in set(langs) | {"en"}})
    res = compare(texts, reference="en", tokenizers=[tokenizer])
    prem = next(iter(res["tokenizers"].values()))["premium"]
    return tuple((l, float(prem[l])) for l in langs)


def measured_premiums(tokenizer: str, langs: Sequence[str]) -> dict[str, float]:
    """Premium vs English of each language for ``tokenizer``, measured on corpora/parallel (per-line sums).

    Installed without the source checkout, the same measurement shipped in ``premiums.toml`` is used.
    """
    return dict(_premiums_cached(tokenizer, tuple(langs)))


def write_premium_table(path: str | Path) -> Path:
    """Measure every available model tokenizer on corpora/parallel and write ``premiums.toml``."""
    from thaija.cost.compare import compare
    from thaija.cost.tokenizers import list_tokenizers

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
    p = Path(path)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@dataclass
class EstimateConfig:
    """Inputs of ``estimate``; sizes of query/answer in English-equivalent tokens."""

    queries_per_month: int = 10000
    mix: dict[str, float] = field(default_factory=lambda: {"th": 0.5, "ja": 0.5})
    system_tokens: int = 200
    query_tokens_en: int = 30
    k: int = 5
    chunk_tokens: int = 256  # English-equivalent tokens of one retrieved chunk
    answer_tokens_en: int = 250
    models: list[str] | None = None  # None = every model in the price table
    prices: str | None = None  # override TOML path

    def __post_init__(self) -> None:
        self.mix = parse_mix(self.mix)
        for name in ("queries_per_month", "system_tokens", "query_tokens_en", "k", "chunk_tokens", "answer_tokens_en"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ThaijaError(f"{name} must be a non-negative integer, got {v!r}")
        if self.queries_per_month == 0:
            raise ThaijaError("queries_per_month must be > 0")


def _per_query(cfg: EstimateConfig, premium: float) -> tuple[float, float]:
    tokens_in = cfg.system_tokens + (cfg.query_tokens_en + cfg.k * cfg.chunk_tokens) * premium
    tokens_out = cfg.answer_tokens_en * premium
    return tokens_in, tokens_out


def estimate(cfg: EstimateConfig | None = None, **kwargs) -> dict:
    """Monthly token use and cost per model and language.

    Returns ``{"inputs": {...}, "price_table_date", "models": [{"model", "tokenizer", "price_source",
    "price_date", "input_usd_per_mtok", "output_usd_per_mtok", "languages": {lang: {"premium",
    "input_tokens_per_query", "output_tokens_per_query", "monthly_usd"}}, "monthly_tokens_in",
    "monthly_tokens_out", "monthly_usd"}]}``, models sorted by monthly cost.
    """
    cfg = cfg or EstimateConfig(**kwargs)
    table = load_prices(cfg.prices)
    models = table.get("models", {})
    names = cfg.models or list(models)
    unknown = [m for m in names if m not in models]
    if unknown:
        raise ThaijaError(f"no price for model(s) {', '.join(unknown)}; priced models: {', '.join(models)}")
    out = []
    for name in names:
        m = models[name]
        prem = measured_premiums(m["tokenizer"], list(cfg.mix))
        langs, t_in, t_out, usd = {}, 0.0, 0.0, 0.0
        for lang, share in cfg.mix.items():
            q_in, q_out = _per_query(cfg, prem[lang])
            n = cfg.queries_per_month * share
            cost = n * (q_in * m["input"] + q_out * m["output"]) / 1e6
            langs[lang] = {"share": share, "premium": round(prem[lang], 4),
                           "input_tokens_per_query": round(q_in, 1), "output_tokens_per_query": round(q_out, 1),
                           "monthly_usd": round(cost, 4)}
            t_in += n * q_in
            t_out += n * q_out
            usd += cost
        out.append({"model": name, "tokenizer": m["tokenizer"], "price_source": m.get("source", ""),
                    "price_date": m.get("date", ""), "input_usd_per_mtok": m["input"],
                    "output_usd_per_mtok": m["output"], "languages": langs,
                    "monthly_tokens_in": round(t_in), "monthly_tokens_out": round(t_out),
                    "monthly_usd": round(usd, 4)})
    out.sort(key=lambda r: r["monthly_usd"])
    inputs = {k: getattr(cfg, k) for k in ("queries_per_month", "mix", "system_tokens", "query_tokens_en", "k",
                                           "chunk_tokens", "answer_tokens_en")}
    return {"inputs": inputs, "price_table_date": table.get("meta", {}).get("table_date", ""),
            "premium_method": "per-line sums on corpora/parallel (FLORES-200 dev, 200 lines), vs en",
            "models": out}


def estimate_records(result: Mapping) -> list[dict]:
    """Flatten ``estimate`` to one row per model and language (pandas-friendly)."""
    return [{"model": m["model"], "tokenizer": m["tokenizer"], "lang": lang, **v}
            for m in result["models"] for lang, v in m["languages"].items()]
