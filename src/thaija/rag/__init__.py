"""rag (floor 5): grounded answers — prompt, generators, evidence and citations, refusal, agentic retrieval, server."""

from thaija.rag.pipeline import AskConfig, Answer, answer, ask, render

__all__ = ["Answer", "AskConfig", "answer", "ask", "render"]
