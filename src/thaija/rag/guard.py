"""Deprecated alias of :mod:`thaija.guard.pii` (moved; kept for one release)."""
from thaija._compat import alias

alias(__name__, "thaija.guard.pii")
