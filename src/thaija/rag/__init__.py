"""Grounded answers: prompt, generators, citations, agentic retrieval, PII guardrails, human review, server."""
