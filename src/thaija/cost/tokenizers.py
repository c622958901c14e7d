"""Deprecated alias of :mod:`thaija.tokenizers` (moved; kept for one release)."""
from thaija._compat import alias

alias(__name__, "thaija.tokenizers")
