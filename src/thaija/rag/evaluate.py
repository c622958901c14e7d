"""QA evaluation of the ask pipeline on a BEIR folder with ``answers.jsonl``.

Metrics (``thaija eval-qa``):
- answer_recall: share of questions whose gold answer string appears in the answer or in one of
  its cited quotes (a refusal counts as a miss);
- citation_support: share of answered questions where a cited quote contains a gold answer
  (the citation really supports the right answer);
- refusal_rate: share of questions refused;
- answer_only_recall: the gold answer string in the answer text itself (cited quotes not counted);
- mean_answer_chars: mean length of the answers given (refusals excluded);
- unanswerable_refusal_rate: with ``--unanswerable FOLDER``, the share of its questions refused;
- generated_by: what actually produced the answers (the extractive reader is no LLM);
plus citation_exact (share of citations whose quote equals the document text at [start, end)),
evidence_hit (a cited chunk comes from the gold paragraph of qrels.tsv) and latency p50/p95.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from thaija.errors import ThaijaError
from thaija.rag.config import QAEvalConfig  # noqa: F401 (defined in rag/config.py)



def generator_label(cfg: Any) -> str:
    """What actually generated the answers (reported with every result)."""
    if cfg.generator == "extractive":
        return "extractive reader (no LLM: retrieved sentences quoted as they are)"
    if cfg.generator == "local":
        return f"local causal LM {cfg.model or 'gemma-3-270m'}" + (f" + adapter {cfg.adapter}" if cfg.adapter else "")
    url = cfg.base_url or "$OPENAI_BASE_URL"
    local = any(h in str(url) for h in ("127.0.0.1", "localhost", "[::1]"))
    note = (" (a local endpoint: if it is `thaija serve`, its extractive reader answered — this measures "
            "the HTTP plumbing, not an LLM)") if local else ""
    return f"openai-compatible endpoint {url} model {cfg.model or '$OPENAI_MODEL'}{note}"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ThaijaError(f"{path}: missing (a BEIR folder needs corpus.jsonl, queries.jsonl, answers.jsonl)")
    from thaija.validate import iter_jsonl

    return [rec for _, rec in iter_jsonl(path)]  # strict JSON objects, file:line errors


def _answers(path: Path) -> dict[str, list[str]]:
    """``answers.jsonl``: each line ``{"query-id": str, "answers": [str, ...]}``, checked line by line
    (a string instead of a list would otherwise be matched one character at a time)."""
    from thaija.index.documents import iter_beir_jsonl

    if not path.is_file():
        raise ThaijaError(f"{path}: missing (a BEIR folder needs corpus.jsonl, queries.jsonl, answers.jsonl)")
    out: dict[str, list[str]] = {}
    for n, rec in iter_beir_jsonl(path):
        qid, ans = rec.get("query-id"), rec.get("answers")
        if not isinstance(qid, str) or not qid:
            raise ThaijaError(f"{path}:{n}: 'query-id' must be a non-empty string")
        if not isinstance(ans, list) or not all(isinstance(a, str) for a in ans):
            raise ThaijaError(f"{path}:{n}: 'answers' must be a list of strings")
        more = [a for a in ans if a.strip()]
        out[qid] = list(dict.fromkeys(out.get(qid, []) + more))  # a repeated query-id adds its answers
    return out


def load_qa(folder: str | Path) -> tuple[list[dict], list[dict], dict[str, list[str]], dict[str, set[str]]]:
    """(corpus, queries with answers, answers by query id, gold doc ids by query id)."""
    d = Path(folder)
    if not d.is_dir():
        raise ThaijaError(f"{folder}: not a folder (expected a BEIR folder with answers.jsonl)")
    try:
        corpus = _jsonl(d / "corpus.jsonl")
        queries = _jsonl(d / "queries.jsonl")
        answers = _answers(d / "answers.jsonl")
    except UnicodeDecodeError as exc:
        raise ThaijaError(f"{folder}: not valid UTF-8 ({exc.reason})") from None
    except (KeyError, TypeError) as exc:
        raise ThaijaError(f"{d / 'answers.jsonl'}: each line needs 'query-id' and 'answers' ({exc})") from None
    qrels: dict[str, set[str]] = {}
    if (d / "qrels.tsv").is_file():
        from thaija.validate import ValidationError, iter_tsv, parse_number

        where = d / "qrels.tsv"
        try:
            # UTF-8, NUL and column count checked; a corpus-id outside a sliced corpus.jsonl just never matches
            for n, parts in iter_tsv(where, header="query-id"):
                if len(parts) > 2 and parse_number(parts[2], f"{where}:{n}", "score") <= 0:
                    continue   # BEIR: score 0 = not relevant
                qrels.setdefault(parts[0], set()).add(parts[1])
        except ValidationError as exc:
            raise ThaijaError(str(exc)) from None
    queries = [q for q in queries if answers.get(str(q.get("id")))]
    for q in queries:   # before anything is indexed: one line naming the query
        if not isinstance(q.get("text"), str) or not q["text"].strip():
            raise ThaijaError(f"{d / 'queries.jsonl'}: query {str(q.get('id'))[:60]!r} has no text")
    if not queries:
        raise ThaijaError(f"{folder}: no query of queries.jsonl has an answer in answers.jsonl")
    return corpus, queries, answers, qrels


def build_index(folder: str | Path, db: str, *, progress: bool = True) -> dict[str, Any]:
    """Index ``folder/corpus.jsonl`` into ``db``."""
    from thaija.index import Index

    ix = Index(db)
    try:
        return ix.add_paths([str(Path(folder) / "corpus.jsonl")], progress=progress)
    finally:
        ix.close()


def _release(db: str) -> None:
    """Close the retrieval stage's cached handle on a temporary index before deleting it."""
    from thaija.retrieve import close_index

    close_index(db)


def evaluate_qa(folder: str | Path, *, db: str | None = None, config: QAEvalConfig | None = None,
                progress: bool = True, on_result: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Ask every question of the BEIR folder and score the answers (see the module doc).

    ``db``: an index already holding the corpus; None builds a temporary one.
    """
    from thaija.rag.pipeline import answer

    cfg = config or QAEvalConfig()
    corpus, queries, answers, qrels = load_qa(folder)
    if cfg.limit:
        queries = queries[:cfg.limit]
    ask_cfg = cfg.ask
    texts = {str(x["id"]): x.get("text", "") for x in corpus}
    tmp = None
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="thaija-evalqa-")
        db = str(Path(tmp.name) / "qa.db")
        build_index(folder, db, progress=progress)
    t0 = time.perf_counter()
    hits = supported = refused = answered = exact = n_cites = evid = only = chars = 0
    una_refused = una_n = 0
    lat: list[float] = []
    try:
        bar = None
        if progress:
            from rich.progress import Progress

            bar = Progress(transient=True)
            bar.start()
            task = bar.add_task(f"eval-qa ({cfg.generator})", total=len(queries))
        for q in queries:
            qid = str(q["id"])
            r = answer(q["text"], db=db, config=ask_cfg)
            gold = answers[qid]
            lat.append(r.seconds)
            quotes = [c["quote"] for c in r.citations]
            ok = not r.refused and any(g in r.answer or any(g in qt for qt in quotes) for g in gold)
            hits += ok
            refused += r.refused
            if not r.refused:
                only += any(g in r.answer for g in gold)
                chars += len(r.answer)
                answered += 1
                supported += any(g in qt for g in gold for qt in quotes)
                evid += any(c["doc_id"] in qrels.get(qid, ()) for c in r.citations)
            for c in r.citations:
                n_cites += 1
                exact += texts.get(c["doc_id"], "")[c["start"]:c["end"]] == c["quote"]
            if on_result:
                on_result({"query-id": qid, "question": q["text"], "correct": ok, **r.to_dict()})
            if bar:
                bar.advance(task)
        if cfg.unanswerable:
            for q in _jsonl(Path(cfg.unanswerable) / "queries.jsonl")[:cfg.limit or None]:
                r = answer(str(q.get("text", "")), db=db, config=ask_cfg)
                una_n += 1
                una_refused += r.refused
                if on_result:
                    on_result({"query-id": str(q.get("id")), "question": q.get("text"), "unanswerable": True,
                               **r.to_dict()})
        if bar:
            bar.stop()
    finally:
        if tmp is not None:
            _release(db)
            tmp.cleanup()
    n = len(queries)
    lat_sorted = sorted(lat)
    return {
        "dataset": Path(folder).name,
        "generator": cfg.generator,
        "generated_by": generator_label(ask_cfg),
        "mode": ask_cfg.mode,
        "k": ask_cfg.k,
        "queries": n,
        "answer_recall": round(hits / n, 4),
        "citation_support": round(supported / answered, 4) if answered else 0.0,
        "refusal_rate": round(refused / n, 4),
        "answer_only_recall": round(only / n, 4),
        "mean_answer_chars": round(chars / answered, 1) if answered else 0.0,
        **({"unanswerable_queries": una_n, "unanswerable_refusal_rate": round(una_refused / una_n, 4) if una_n else 0.0}
           if cfg.unanswerable else {}),
        "citation_exact": round(exact / n_cites, 4) if n_cites else 1.0,
        "evidence_hit": round(evid / answered, 4) if answered else 0.0,
        "latency_p50_s": round(statistics.median(lat_sorted), 4) if lat else 0.0,
        "latency_p95_s": round(lat_sorted[min(len(lat) - 1, int(0.95 * len(lat)))], 4) if lat else 0.0,
        "seconds": round(time.perf_counter() - t0, 3),
    }
