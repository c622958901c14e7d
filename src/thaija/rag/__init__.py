"""Grounded answers: prompt, generators, citations, agentic retrieval, PII guardrails, human review, server."""

from thaija.rag.pipeline import AskConfig, Answer, answer, ask, render

__all__ = ["Answer", "AskConfig", "answer", "ask", "render"]
