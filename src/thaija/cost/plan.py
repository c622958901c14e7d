"""RAG vs LoRA fine-tuning vs both: the guide's decision, made explicit and costed.

The verdict follows the guide's three steps in order, then the multilingual considerations; each
step reports its reason and its number:

1. budget: monthly training, inference and operations cost of each option (price table, query volume,
   corpus measured from ``--db``/``--from-texts`` or the table's assumption); with a budget the verdict
   fits it whenever any option does, and when none does it is the cheapest option, said plainly;
2. data volume and quality: under ``min_examples_lora`` labeled examples LoRA is not worth trying;
3. update frequency: knowledge that changes monthly or more often is never served by fine-tuning alone;
4. multilingual: the tokenizer premium of the candidate models and the language balance of the
   labeled data (and of the corpus).

The need (knowledge / style / both) picks the starting option; costs can move it: at high query
volumes with static knowledge, fine-tuning's shorter prompts (no retrieved context) can make it the
cheaper way to serve the same traffic (``switch_saving`` in prices.toml ``[plan]``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from thaija.config import setting
from thaija.errors import ThaijaError

__all__ = ["PlanConfig", "plan", "UPDATES_PER_MONTH", "NEEDS", "OPTIONS"]

UPDATES_PER_MONTH = {"daily": 30.4, "weekly": 4.35, "monthly": 1.0, "quarterly": 1 / 3, "yearly": 1 / 12, "never": 0.0}
NEEDS = ("knowledge", "style", "both")
OPTIONS = ("rag", "fine-tune", "combined")
_PREFERENCE = {"knowledge": ("rag", "combined", "fine-tune"), "style": ("fine-tune", "combined", "rag"),
               "both": ("combined", "rag", "fine-tune")}


@dataclass
class PlanConfig:
    """Inputs of :func:`plan` (validated)."""

    need: str = setting(help="knowledge (facts the model must know), style (tone/format), or both.", choices=NEEDS)
    labeled_examples: int | None = setting(None, (
        "Good labeled examples you have (for LoRA); default: counted from --labeled-data, else 0."))
    update_frequency: str = setting("monthly", (
        "How often the knowledge changes: " + "|".join(UPDATES_PER_MONTH) + "."), choices=tuple(UPDATES_PER_MONTH))
    monthly_budget_usd: float | None = setting(None, "Monthly budget in USD.")
    queries_per_month: int | None = setting(None, "Questions per month (default 10,000).")
    languages: list[str] | str | None = setting(None, (
        "Languages served, equal shares (e.g. th,ja,en); default: the measured corpus' languages, else th,ja."))
    on_prem: bool = setting(False, "Local model: GPU power + amortized hardware instead of API fees.")
    model: str | None = setting(None, "API model from the price table (default gpt-4o-mini).")
    prices: str | None = setting(None, "TOML table merged over the packaged prices/assumptions.")
    db: str | None = setting(None, "Measure the corpus of this index (documents, tokens per language).")
    from_texts: str | None = setting(None, "Measure a folder of documents instead of an index.")
    labeled_data: str | None = setting(None, "Your labeled examples (tune JSONL): counted per language.")

    def __post_init__(self) -> None:
        if self.need not in NEEDS:
            raise ThaijaError(f"need must be one of {', '.join(NEEDS)}, not {self.need!r}")
        if self.update_frequency not in UPDATES_PER_MONTH:
            raise ThaijaError(f"update frequency must be one of {', '.join(UPDATES_PER_MONTH)}, "
                              f"not {self.update_frequency!r}")
        if self.labeled_examples is not None and (not isinstance(self.labeled_examples, int)
                                                  or self.labeled_examples < 0):
            raise ThaijaError(f"labeled examples must be a non-negative integer, got {self.labeled_examples!r}")
        if self.monthly_budget_usd is not None and self.monthly_budget_usd < 0:
            raise ThaijaError("monthly budget must be >= 0")
        if self.queries_per_month is not None and self.queries_per_month <= 0:
            raise ThaijaError("queries per month must be > 0")
        if isinstance(self.languages, str):
            self.languages = [l.strip() for l in self.languages.split(",") if l.strip()]
        if self.languages is not None:
            self.languages = list(dict.fromkeys(self.languages))
            if not self.languages:
                raise ThaijaError("give at least one language (e.g. th,ja)")
        if self.db is not None and self.from_texts is not None:
            raise ThaijaError("give --db DB or --from-texts DIR, not both")


def _usd(x: float) -> str:
    return f"${x:,.2f}"


def labeled_languages(path: str) -> dict[str, int]:
    """Examples per language of a tune JSONL file (``lang`` key, else detected on the target text)."""
    from pathlib import Path

    from thaija.lang import detect

    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ThaijaError(f"{p}: no such file") from None
    except UnicodeDecodeError:
        raise ThaijaError(f"{p}: not valid UTF-8") from None
    counts: dict[str, int] = {}
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ThaijaError(f"{p}: line {i}: not JSON ({exc.msg})") from None
        lang = rec.get("lang") if isinstance(rec, dict) else None
        if not lang and isinstance(rec, dict):
            target = rec.get("completion") or rec.get("text") or " ".join(
                m.get("content", "") for m in rec.get("messages", []) if m.get("role") == "assistant")
            lang = detect(str(target)).lang if str(target).strip() else "other"
        counts[lang or "other"] = counts.get(lang or "other", 0) + 1
    if not counts:
        raise ThaijaError(f"{p}: no examples")
    return counts


def plan(cfg: PlanConfig | None = None, **kwargs) -> dict:
    """Recommend rag / fine-tune / combined with the steps, per-option monthly costs and notes."""
    from thaija.cost.estimate import calibrated_premiums, load_prices, measured_premiums

    cfg = cfg or PlanConfig(**kwargs)
    table = load_prices(cfg.prices)
    P, T, O, OP = (table.get(k, {}) for k in ("plan", "training", "operations", "on_prem"))
    models = table.get("models", {})
    queries = cfg.queries_per_month or int(P["default_queries_per_month"])
    model = None if cfg.on_prem else (cfg.model or P["default_model"])
    if model is not None and model not in models:
        import difflib

        close = difflib.get_close_matches(model, list(models), n=4, cutoff=0.5)
        raise ThaijaError(f"no price for model '{model}'; " + (f"close matches: {', '.join(close)}; " if close else "")
                          + f"priced models: {', '.join(models)} (add a [models.\"{model}\"] row with --prices FILE)")
    tokenizer = OP["tokenizer"] if cfg.on_prem else models[model]["tokenizer"]

    # ---- the user's corpus and labeled data, measured when given
    corpus = measured = None
    if cfg.db is not None or cfg.from_texts is not None:
        from thaija.cost.corpus import load_corpus, measure

        corpus = load_corpus(cfg.from_texts, cfg.db)
        measured = measure(corpus, [tokenizer])[tokenizer]
    labeled_langs = labeled_languages(cfg.labeled_data) if cfg.labeled_data else None
    n = cfg.labeled_examples if cfg.labeled_examples is not None else sum((labeled_langs or {}).values())
    languages = cfg.languages
    if languages is None:
        shares = corpus.shares() if corpus is not None else {}
        languages = [l for l, s in sorted(shares.items(), key=lambda x: -x[1]) if s >= 0.05] or ["th", "ja"]
    if measured is not None:
        prem_src = calibrated_premiums(tokenizer, measured, languages)
        premiums = {l: p for l, (p, _) in prem_src.items()}
    else:
        premiums = measured_premiums(tokenizer, languages)
    share = 1 / len(languages)
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
        base_in = sys_t + (q_en + (ctx_en if opt != "fine-tune" else 0))
        usd_en = queries * (base_in * models[model]["input"] + a_en * models[model]["output"]) / 1e6 * factor
        return usd, {"tokens_in_month": round(m_in), "tokens_out_month": round(m_out),
                     "price_factor": factor, "same_traffic_in_english_usd": round(usd_en, 2)}

    # ---- one LoRA training run
    train_tokens = n * T["example_tokens_en"] * avg_premium * T["epochs"]
    gpu_hours = train_tokens / T["lora_tokens_per_second"] / 3600
    gpu_cost = gpu_hours * (OP["gpu_watts"] / 1000 * OP["power_usd_per_kwh"] if cfg.on_prem else T["gpu_hour_usd"])
    run_cost = gpu_cost + T["engineer_hours_per_training"] * eng_rate
    retrains = upm if cfg.need in ("knowledge", "both") else 0.0  # a fine-tune must retrain to learn new facts

    # ---- RAG operations (corpus measured, else the table's assumption)
    if measured is not None:
        corpus_tokens = float(sum(v["tokens"] for v in measured.values()))
        corpus_src = f"measured: {corpus.documents} documents in {corpus.source}, {corpus_tokens:,.0f} {tokenizer} tokens"
    else:
        corpus_tokens = O["corpus_tokens_en"] * avg_premium
        corpus_src = f"assumed: {O['corpus_tokens_en']:,} English-equivalent tokens × premium (give --db to measure)"
    index_once = corpus_tokens * O["embedding_usd_per_mtok"] / 1e6
    per_update = corpus_tokens * O["changed_fraction_per_update"] * O["embedding_usd_per_mtok"] / 1e6 \
        + O["engineer_hours_per_rag_update"] * eng_rate
    rag_ops = O["vector_db_month_usd"] + O["monitoring_month_usd"] + index_once / amort + upm * per_update

    costs: dict = {}
    for opt in OPTIONS:
        inf, inf_detail = inference(opt)
        if opt == "rag":
            training, ops, one_off, t_detail = 0.0, rag_ops, index_once, {}
        elif opt == "fine-tune":
            training = run_cost / amort + run_cost * retrains
            ops, one_off = O["monitoring_month_usd"], run_cost
            t_detail = {"retrains_per_month": round(retrains, 3)}
        else:
            training = run_cost / amort  # style is trained once; knowledge changes go to the index
            ops, one_off = rag_ops, run_cost + index_once
            t_detail = {"retrains_per_month": 0.0}
        costs[opt] = {
            "training_usd_month": round(training, 2), "inference_usd_month": round(inf, 2),
            "operations_usd_month": round(ops, 2), "total_usd_month": round(training + inf + ops, 2),
            "one_off_usd": round(one_off, 2),
            "input_tokens_per_query": round(per_query[opt][0], 1),
            "output_tokens_per_query": round(per_query[opt][1], 1),
            **inf_detail, **t_detail,
        }
    total = {o: costs[o]["total_usd_month"] for o in OPTIONS}

    steps: list[dict] = []
    notes: list[str] = []
    allowed = {o: "" for o in OPTIONS}  # option -> reason it is ruled out ("" = allowed)

    # step 1: budget
    fits = [o for o in OPTIONS if cfg.monthly_budget_usd is None or total[o] <= cfg.monthly_budget_usd]
    totals = ", ".join(f"{o} {_usd(total[o])}" for o in OPTIONS)
    where = "on-prem (GPU power + amortized hardware)" if cfg.on_prem else f"{model} API prices"
    finding = f"{queries:,} questions/month with {where}: {totals}; corpus {corpus_src}"
    if cfg.monthly_budget_usd is not None:
        finding += f"; within {_usd(cfg.monthly_budget_usd)}: " + (", ".join(fits) if fits else "none")
    steps.append({"name": "budget", "finding": finding})

    # step 2: data volume and quality
    lo, good = int(P["min_examples_lora"]), int(P["good_examples_lora"])
    if n < lo:
        data_ok = False
        data_finding = (f"{n} labeled examples < {lo}: too few for LoRA; start with RAG "
                        f"(few-shot examples in the prompt) and collect data")
        for o in ("fine-tune", "combined"):
            allowed[o] = f"needs >= {lo} labeled examples (have {n})"
    elif n < good:
        data_ok, data_finding = True, (f"{n} labeled examples: enough to try LoRA (>= {lo}), "
                                       f"reliable from about {good}; check their quality before training")
    else:
        data_ok, data_finding = True, f"{n} labeled examples >= {good}: enough for LoRA fine-tuning"
    steps.append({"name": "data volume", "finding": data_finding + f"; one LoRA run ≈ {gpu_hours:.2f} GPU-h, "
                  f"{_usd(run_cost)} incl. {T['engineer_hours_per_training']} engineer-hours"})

    # step 3: update frequency
    ft_retrain = run_cost * upm
    if upm >= 1.0:
        upd = (f"{cfg.update_frequency} updates ({upm:g}/month): knowledge changes faster than retraining pays; "
               f"RAG carries it ({_usd(per_update)} per index update vs {_usd(run_cost)} per retrain = "
               f"{_usd(ft_retrain)}/month if a fine-tune had to follow)")
        if cfg.need in ("knowledge", "both"):
            allowed["fine-tune"] = allowed["fine-tune"] or (
                f"{cfg.update_frequency} knowledge updates are never served by fine-tuning alone")
            upd += "; fine-tuning alone is ruled out (monthly or more frequent knowledge updates)"
    elif upm > 0:
        upd = (f"{cfg.update_frequency} updates ({upm:.3g}/month): retraining would cost {_usd(ft_retrain)}/month; "
               f"RAG updates {_usd(per_update * upm)}/month")
    else:
        upd = (f"no updates (0/month): nothing to re-index or retrain after the first build "
               f"({_usd(run_cost)} once for a LoRA run, {_usd(index_once)} once to index)")
    steps.append({"name": "update frequency", "finding": upd})

    # need: the starting option
    need_text = {"knowledge": "knowledge injection -> RAG (grounded, citable, updatable)",
                 "style": "style adaptation -> LoRA fine-tune (tone, format, terminology)",
                 "both": "knowledge + style -> combined (LoRA for style, RAG for facts)"}[cfg.need]
    steps.append({"name": "need", "finding": need_text})

    # step 4: multilingual considerations
    lang_txt = ", ".join(f"{l} ×{p:.2f}" for l, p in premiums.items())
    how = "calibrated on your texts" if measured is not None else "FLORES-200 sample"
    ml = f"token premium vs English on {tokenizer} ({lang_txt}; mean ×{avg_premium:.2f}, {how})"
    if not cfg.on_prem:
        cands = {}
        for name, m in models.items():
            if m["tokenizer"] not in cands:
                try:
                    cands[m["tokenizer"]] = sum(measured_premiums(m["tokenizer"], languages).values()) * share
                except ThaijaError:
                    continue
        best = sorted(cands.items(), key=lambda x: x[1])[:3]
        ml += "; lowest mean premium among priced models' tokenizers: " + ", ".join(f"{t} ×{p:.2f}" for t, p in best)
    if corpus is not None:
        ml += "; corpus balance " + ", ".join(f"{l} {s:.0%}" for l, s in sorted(corpus.shares().items()))
    if labeled_langs:
        tot = sum(labeled_langs.values())
        bal = ", ".join(f"{l} {c} ({c / tot:.0%})" for l, c in sorted(labeled_langs.items()))
        ml += f"; labeled data {bal}"
        thin = [l for l in languages if labeled_langs.get(l, 0) < max(lo, 0.2 * tot / max(1, len(languages)))]
        if thin and data_ok:
            notes.append(f"labeled data is thin for {', '.join(thin)}: balance the languages (thaija tune mix) "
                         "or the adapter will favour the majority language")
    steps.append({"name": "languages", "finding": ml})

    # ---- verdict: need -> preference order; constraints; cost; budget
    prefs = [o for o in _PREFERENCE[cfg.need] if not allowed[o]] or ["rag"]
    choice = prefs[0]
    why = f"the need ({cfg.need}) and the constraints above"
    for o in _PREFERENCE[cfg.need]:
        if allowed[o] and o != choice and _PREFERENCE[cfg.need][0] == o:
            notes.append(f"'{o}' ruled out: {allowed[o]}; recommending {choice}")
    switch = float(P.get("switch_saving", 0.4))
    if (cfg.need in ("knowledge", "both") and choice != "fine-tune" and not allowed["fine-tune"]
            and total["fine-tune"] <= (1 - switch) * total[choice]):
        notes.append(f"at {queries:,} questions/month with static knowledge, fine-tuning serves the same traffic for "
                     f"{_usd(total['fine-tune'])} vs {choice} {_usd(total[choice])} (prompts without retrieved "
                     f"context); answers lose citations, so keep an index for audits")
        choice, why = "fine-tune", f"static knowledge at {queries:,} questions/month: cheapest to serve"
    if cfg.monthly_budget_usd is not None and choice not in fits:
        fitting = [o for o in _PREFERENCE[cfg.need] if o in fits and not allowed[o]] or \
                  [o for o in _PREFERENCE[cfg.need] if o in fits]
        if fitting:
            new = fitting[0]
            notes.append(f"{choice} ({_usd(total[choice])}) exceeds the budget {_usd(cfg.monthly_budget_usd)}; "
                         f"{new} ({_usd(total[new])}) fits" + (f" (trade-off: {allowed[new]})" if allowed[new] else "")
                         + ("; carry style with prompt examples until the budget allows a LoRA run"
                            if new == "rag" and cfg.need != "knowledge" else ""))
            choice, why = new, f"the best option that fits {_usd(cfg.monthly_budget_usd)}"
        else:
            cheapest = min(OPTIONS, key=lambda o: total[o])
            notes.append(f"no option fits the budget {_usd(cfg.monthly_budget_usd)}: the cheapest is {cheapest} "
                         f"({_usd(total[cheapest])}/month). Start phased: RAG first as a PoC on part of the traffic, "
                         "then add LoRA when the budget allows")
            choice, why = cheapest, (f"nothing fits {_usd(cfg.monthly_budget_usd)}: the cheapest option, "
                                     "a phased start with RAG first")
    steps.append({"name": "verdict", "finding": f"{choice} at {_usd(total[choice])}/month: {why}"})

    if cfg.need == "knowledge" and upm == 0 and n >= good and choice == "rag":
        notes.append("static knowledge with many examples: a fine-tune could absorb it, but RAG keeps answers citable")
    if cfg.need == "style" and upm >= 1.0:
        notes.append("style does not change with content updates: the LoRA adapter is trained once, not per update")
    if not cfg.on_prem:
        m = models[model]
        notes.append(f"prices: {model} input ${m['input']}/M, output ${m['output']}/M tokens "
                     f"({m.get('source', 'no source')}, {m.get('note') or m.get('date', 'undated')})")
        if m.get("approximation"):
            notes.append(f"token counts for {model} are an approximation: {m['approximation_reason']}")
    notes.append(f"language premiums: per-line token sums on corpora/parallel (FLORES-200 dev, 200 lines) vs en"
                 + ("; calibrated on your documents' tokens per character" if measured is not None else ""))
    assumed = (f"GPU ${T['gpu_hour_usd']}/h, LoRA {T['lora_tokens_per_second']} tokens/s × {T['epochs']} epochs, "
               f"engineer ${eng_rate:g}/h, vector store ${O['vector_db_month_usd']}/month")
    if measured is None:
        assumed += f", corpus {O['corpus_tokens_en']:,} English-equivalent tokens"
    if cfg.on_prem:
        assumed += (f", local GPU ${OP['gpu_month_usd']}/month + {OP['gpu_watts']} W at ${OP['power_usd_per_kwh']}/kWh, "
                    f"{OP['serve_tokens_per_second']} generated tokens/s")
    notes.append(f"planning assumptions (prices.toml [training]/[operations]/[on_prem], override with --prices): {assumed}")

    result = {
        "recommendation": choice,
        "steps": steps,
        "costs": costs,
        "notes": notes,
        "inputs": {"need": cfg.need, "labeled_examples": n, "update_frequency": cfg.update_frequency,
                   "monthly_budget_usd": cfg.monthly_budget_usd, "queries_per_month": queries,
                   "languages": languages, "on_prem": cfg.on_prem, "model": model, "tokenizer": tokenizer,
                   "premiums": {l: round(p, 4) for l, p in premiums.items()}},
    }
    if corpus is not None:
        result["corpus"] = {"source": corpus.source, "documents": corpus.documents, "tokenizer": tokenizer,
                            "tokens": {l: v["tokens"] for l, v in measured.items()},
                            "characters": corpus.characters(), "skipped": corpus.skipped}
    if labeled_langs:
        result["labeled_languages"] = labeled_langs
    return result
