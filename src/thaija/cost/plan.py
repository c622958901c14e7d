"""RAG vs LoRA fine-tuning vs both: the design brief's decision, made explicit and quantified.

Steps (each reported with its finding):
1. budget: monthly training, inference and operations cost of each option, from the price table;
2. data volume: under ``min_examples_lora`` labeled examples -> start with RAG; LoRA needs hundreds
   to thousands of good examples;
3. update frequency: knowledge that changes monthly or more often belongs in RAG; the retraining
   cost × update frequency a fine-tune would need is shown;
4. need: knowledge injection -> RAG, style adaptation -> fine-tune, both -> combined;
5. languages: the measured token premium of each language multiplies inference cost.
Every number comes from the inputs and the (overridable) tables in prices.toml.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from thaija.errors import ThaijaError

__all__ = ["PlanConfig", "plan", "UPDATES_PER_MONTH", "NEEDS"]

UPDATES_PER_MONTH = {"daily": 30.4, "weekly": 4.35, "monthly": 1.0, "quarterly": 1 / 3, "yearly": 1 / 12, "never": 0.0}
NEEDS = ("knowledge", "style", "both")
OPTIONS = ("rag", "fine-tune", "combined")


@dataclass
class PlanConfig:
    """Inputs of ``plan`` (validated)."""

    need: str
    labeled_examples: int
    update_frequency: str
    monthly_budget_usd: float | None = None
    queries_per_month: int | None = None  # None: the table's default
    languages: list[str] = field(default_factory=lambda: ["th", "ja"])
    on_prem: bool = False
    model: str | None = None  # API model from the price table; None: the table's default
    prices: str | None = None  # override TOML

    def __post_init__(self) -> None:
        if self.need not in NEEDS:
            raise ThaijaError(f"need must be one of {', '.join(NEEDS)}, not {self.need!r}")
        if self.update_frequency not in UPDATES_PER_MONTH:
            raise ThaijaError(f"update frequency must be one of {', '.join(UPDATES_PER_MONTH)}, "
                              f"not {self.update_frequency!r}")
        if not isinstance(self.labeled_examples, int) or self.labeled_examples < 0:
            raise ThaijaError(f"labeled examples must be a non-negative integer, got {self.labeled_examples!r}")
        if self.monthly_budget_usd is not None and self.monthly_budget_usd < 0:
            raise ThaijaError("monthly budget must be >= 0")
        if self.queries_per_month is not None and self.queries_per_month <= 0:
            raise ThaijaError("queries per month must be > 0")
        if isinstance(self.languages, str):
            self.languages = [l.strip() for l in self.languages.split(",") if l.strip()]
        self.languages = list(dict.fromkeys(self.languages))
        if not self.languages:
            raise ThaijaError("give at least one language (e.g. th,ja)")


def _usd(x: float) -> str:
    return f"${x:,.2f}"


def plan(cfg: PlanConfig | None = None, **kwargs) -> dict:
    """Recommend rag / fine-tune / combined with the steps, per-option monthly costs and notes."""
    from thaija.cost.estimate import load_prices, measured_premiums

    cfg = cfg or PlanConfig(**kwargs)
    table = load_prices(cfg.prices)
    P, T, O, OP = (table.get(k, {}) for k in ("plan", "training", "operations", "on_prem"))
    models = table.get("models", {})
    queries = cfg.queries_per_month or int(P["default_queries_per_month"])
    model = None if cfg.on_prem else (cfg.model or P["default_model"])
    if model is not None and model not in models:
        raise ThaijaError(f"no price for model '{model}'; priced models: {', '.join(models)}")
    tokenizer = OP["tokenizer"] if cfg.on_prem else models[model]["tokenizer"]
    premiums = measured_premiums(tokenizer, cfg.languages)
    share = 1 / len(cfg.languages)
    avg_premium = sum(premiums.values()) * share
    upm = UPDATES_PER_MONTH[cfg.update_frequency]
    amort = float(P["amortize_months"])
    eng_rate = float(T["engineer_hour_usd"])

    # ---- tokens per query (English-equivalent sizes × premium; system prompt as is)
    sys_t, q_en, a_en = P["system_tokens"], P["query_tokens_en"], P["answer_tokens_en"]
    ctx_en = P["k"] * P["chunk_tokens"]
    per_query = {
        "rag": (sys_t + (q_en + ctx_en) * avg_premium, a_en * avg_premium),
        "fine-tune": (sys_t + q_en * avg_premium, a_en * avg_premium),
    }
    per_query["combined"] = per_query["rag"]

    def inference(opt: str) -> tuple[float, dict]:
        t_in, t_out = per_query[opt]
        m_in, m_out = queries * t_in, queries * t_out
        if cfg.on_prem:
            hours = (m_in / OP["prefill_tokens_per_second"] + m_out / OP["serve_tokens_per_second"]) / 3600
            power = hours * OP["gpu_watts"] / 1000 * OP["power_usd_per_kwh"]
            usd = OP["gpu_month_usd"] + power
            return usd, {"tokens_in_month": round(m_in), "tokens_out_month": round(m_out),
                         "gpu_busy_hours": round(hours, 2), "power_usd": round(power, 2),
                         "hardware_usd": OP["gpu_month_usd"]}
        factor = T["finetuned_price_factor"] if opt != "rag" else 1.0
        usd = (m_in * models[model]["input"] + m_out * models[model]["output"]) / 1e6 * factor
        # the same traffic in English only: what the language premium adds
        base_in = sys_t + (q_en + (ctx_en if opt != "fine-tune" else 0))
        usd_en = queries * (base_in * models[model]["input"] + a_en * models[model]["output"]) / 1e6 * factor
        return usd, {"tokens_in_month": round(m_in), "tokens_out_month": round(m_out),
                     "price_factor": factor, "same_traffic_in_english_usd": round(usd_en, 2)}

    # ---- one LoRA training run
    n = cfg.labeled_examples
    train_tokens = n * T["example_tokens_en"] * avg_premium * T["epochs"]
    gpu_hours = train_tokens / T["lora_tokens_per_second"] / 3600
    if cfg.on_prem:
        gpu_cost = gpu_hours * OP["gpu_watts"] / 1000 * OP["power_usd_per_kwh"]
    else:
        gpu_cost = gpu_hours * T["gpu_hour_usd"]
    run_cost = gpu_cost + T["engineer_hours_per_training"] * eng_rate
    retrains = upm if cfg.need in ("knowledge", "both") else 0.0  # a fine-tune must retrain to learn new facts

    # ---- RAG operations
    corpus = O["corpus_tokens_en"] * avg_premium
    index_once = corpus * O["embedding_usd_per_mtok"] / 1e6
    per_update = corpus * O["changed_fraction_per_update"] * O["embedding_usd_per_mtok"] / 1e6 \
        + O["engineer_hours_per_rag_update"] * eng_rate
    rag_ops = O["vector_db_month_usd"] + O["monitoring_month_usd"] + index_once / amort + upm * per_update

    costs: dict = {}
    for opt in OPTIONS:
        inf, inf_detail = inference(opt)
        if opt == "rag":
            training, ops, one_off = 0.0, rag_ops, index_once
            t_detail = {}
        elif opt == "fine-tune":
            training = run_cost / amort + run_cost * retrains
            ops, one_off = O["monitoring_month_usd"], run_cost
            t_detail = {"retrains_per_month": round(retrains, 3)}
        else:
            training = run_cost / amort  # style is trained once; knowledge changes go to the index
            ops, one_off = rag_ops, run_cost + index_once
            t_detail = {"retrains_per_month": 0.0}
        total = training + inf + ops
        costs[opt] = {
            "training_usd_month": round(training, 2),
            "inference_usd_month": round(inf, 2),
            "operations_usd_month": round(ops, 2),
            "total_usd_month": round(total, 2),
            "one_off_usd": round(one_off, 2),
            "input_tokens_per_query": round(per_query[opt][0], 1),
            "output_tokens_per_query": round(per_query[opt][1], 1),
            **inf_detail, **t_detail,
        }

    steps: list[dict] = []
    notes: list[str] = []

    # step 1: budget
    fits = [o for o in OPTIONS if cfg.monthly_budget_usd is None or costs[o]["total_usd_month"] <= cfg.monthly_budget_usd]
    totals = ", ".join(f"{o} {_usd(costs[o]['total_usd_month'])}" for o in OPTIONS)
    where = "on-prem (GPU power + amortized hardware)" if cfg.on_prem else f"{model} API prices"
    if cfg.monthly_budget_usd is None:
        budget_finding = f"monthly totals with {where}: {totals} (no budget given)"
    else:
        budget_finding = (f"monthly totals with {where}: {totals}; within {_usd(cfg.monthly_budget_usd)}: "
                          + (", ".join(fits) if fits else "none"))
    steps.append({"name": "budget", "finding": budget_finding})

    # step 2: data volume
    lo, good = int(P["min_examples_lora"]), int(P["good_examples_lora"])
    if n < lo:
        data_ok, data_finding = False, (f"{n} labeled examples < {lo}: too few for LoRA; start with RAG "
                                        f"(few-shot examples in the prompt) and collect data")
    elif n < good:
        data_ok, data_finding = True, (f"{n} labeled examples: enough to try LoRA for style (>= {lo}), "
                                       f"reliable from about {good}")
    else:
        data_ok, data_finding = True, f"{n} labeled examples >= {good}: enough for LoRA fine-tuning"
    steps.append({"name": "data volume", "finding": data_finding + f"; one LoRA run ≈ {gpu_hours:.2f} GPU-h, "
                  f"{_usd(run_cost)} incl. {T['engineer_hours_per_training']} engineer-hours"})

    # step 3: update frequency
    frequent = upm >= 1.0
    ft_retrain = run_cost * upm
    if frequent:
        upd = (f"{cfg.update_frequency} updates ({upm:g}/month): knowledge changes faster than retraining pays; "
               f"RAG carries it ({_usd(per_update)} per index update vs {_usd(run_cost)} per retrain = "
               f"{_usd(ft_retrain)}/month if a fine-tune had to follow)")
    elif upm > 0:
        upd = (f"{cfg.update_frequency} updates ({upm:.3g}/month): retraining would cost {_usd(ft_retrain)}/month; "
               f"RAG updates {_usd(per_update * upm)}/month")
    else:
        upd = "no updates: nothing to re-index or retrain after the first build"
    steps.append({"name": "update frequency", "finding": upd})

    # step 4: need
    by_need = {"knowledge": "rag", "style": "fine-tune", "both": "combined"}[cfg.need]
    need_text = {"knowledge": "knowledge injection -> RAG (grounded, citable, updatable)",
                 "style": "style adaptation -> LoRA fine-tune (tone, format, terminology)",
                 "both": "knowledge + style -> combined (LoRA for style, RAG for facts)"}[cfg.need]
    steps.append({"name": "need", "finding": need_text})

    # step 5: languages
    lang_txt = ", ".join(f"{l} ×{p:.2f}" for l, p in premiums.items())
    steps.append({"name": "languages", "finding": f"token premium vs English on {tokenizer} ({lang_txt}; mean "
                  f"×{avg_premium:.2f}) multiplies query, context and answer tokens"})

    recommendation = by_need
    if recommendation in ("fine-tune", "combined") and not data_ok:
        notes.append(f"'{recommendation}' needs >= {lo} labeled examples; recommending rag until then")
        recommendation = "rag"
    if cfg.monthly_budget_usd is not None and recommendation not in fits:
        if recommendation == "combined" and "rag" in fits:
            notes.append(f"combined ({_usd(costs['combined']['total_usd_month'])}) exceeds the budget; rag fits: "
                         "carry style with prompt examples until the budget allows a LoRA run")
            recommendation = "rag"
        else:
            cheapest = min(OPTIONS, key=lambda o: costs[o]["total_usd_month"])
            notes.append(f"{recommendation} ({_usd(costs[recommendation]['total_usd_month'])}) exceeds the budget "
                         f"{_usd(cfg.monthly_budget_usd)}; cheapest option: {cheapest} "
                         f"({_usd(costs[cheapest]['total_usd_month'])})")
    if cfg.need == "knowledge" and upm == 0 and n >= good:
        notes.append("static knowledge with many examples: a fine-tune could absorb it, but RAG keeps answers citable")
    if cfg.need == "style" and frequent:
        notes.append("style does not change with content updates: the LoRA adapter is trained once, not per update")
    if not cfg.on_prem:
        m = models[model]
        notes.append(f"prices: {model} input ${m['input']}/M, output ${m['output']}/M tokens "
                     f"({m.get('source', 'no source')}, {m.get('date', 'undated')})")
    notes.append("language premiums: per-line token sums on corpora/parallel (FLORES-200 dev, 200 lines) vs en")
    assumed = (f"GPU ${T['gpu_hour_usd']}/h, LoRA {T['lora_tokens_per_second']} tokens/s × {T['epochs']} epochs, "
               f"engineer ${eng_rate:g}/h, vector store ${O['vector_db_month_usd']}/month, "
               f"corpus {O['corpus_tokens_en']:,} English-equivalent tokens")
    if cfg.on_prem:
        assumed += (f", local GPU ${OP['gpu_month_usd']}/month + {OP['gpu_watts']} W at ${OP['power_usd_per_kwh']}/kWh, "
                    f"{OP['serve_tokens_per_second']} generated tokens/s")
    notes.append(f"planning assumptions (prices.toml [training]/[operations]/[on_prem], override with --prices): {assumed}")

    return {
        "recommendation": recommendation,
        "steps": steps,
        "costs": costs,
        "notes": notes,
        "inputs": {"need": cfg.need, "labeled_examples": n, "update_frequency": cfg.update_frequency,
                   "monthly_budget_usd": cfg.monthly_budget_usd, "queries_per_month": queries,
                   "languages": cfg.languages, "on_prem": cfg.on_prem, "model": model, "tokenizer": tokenizer,
                   "premiums": {l: round(p, 4) for l, p in premiums.items()}},
    }
