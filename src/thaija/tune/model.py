"""Deprecated alias of :mod:`thaija.models.causal_lm` (moved; kept for one release)."""
from thaija._compat import alias

alias(__name__, "thaija.models.causal_lm")
