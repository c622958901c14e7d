"""Old import paths kept as thin aliases for one release (each warns once when imported)."""
from __future__ import annotations

import importlib
import sys
import warnings


def alias(old: str, new: str) -> None:
    """Make module ``old`` the same object as ``new`` and warn that it moved."""
    warnings.warn(f"{old} moved to {new}; the old path goes away in the next release",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
