"""guard: PII detection/redaction with offset maps, and the human review queue.

Floor 3: used by index (`index add --redact`), rag, serve and tune; imports only lang and below.
"""
from __future__ import annotations

__all__ = ["pii", "review"]
