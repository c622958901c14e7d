"""rag (floor 5): grounded answers — prompt, generators, evidence and citations, refusal, agentic retrieval, server."""

from typing import TYPE_CHECKING

from thaija.config import lazy_stage

__all__ = ["Answer", "AskConfig", "answer", "ask", "render"]

if TYPE_CHECKING:  # pragma: no cover
    from thaija.rag.config import AskConfig
    from thaija.rag.pipeline import Answer, answer, ask, render

# names resolve on first use: thaija.rag.config (read by the CLI) loads no generator or index
lazy_stage(__name__, {"AskConfig": "config", "Answer": "pipeline", "answer": "pipeline", "ask": "pipeline",
                      "render": "pipeline"})
