"""models: loading causal LMs (tune and the RAG local generator) and the offline default model.

Floor 2: imports nothing above thaija.errors / thaija.config.
"""
from __future__ import annotations

__all__ = ["causal_lm"]
