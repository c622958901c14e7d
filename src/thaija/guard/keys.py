"""API keys for ``thaija serve``: a key file, hashed storage, constant-time checks, rate limits.

Key file (``--keys FILE`` or ``$THAIJA_KEYS``), one key per line, ``#`` comments and blank lines
ignored::

    sha256:<64 hex digits>\\t<comma-separated access groups>[\\t<requests per minute>]
    <plain key>\\t<groups>                      (accepted, hashed on load; a warning says so)

Empty groups = public documents only. ``thaija keygen --groups hr`` prints a new key and its line
in the hashed form; only the hash needs to be stored. A presented key is hashed (SHA-256) and
compared with every stored hash with :func:`hmac.compare_digest`, so neither the comparison time
nor the file reveal a key.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from thaija.errors import ThaijaError

ENV = "THAIJA_KEYS"
PREFIX = "sha256:"
_HEX = re.compile(r"^[0-9a-f]{64}$")
_GROUP = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_KEY = re.compile(r"^[\x21-\x7e]{8,256}$")  # printable ASCII, no spaces: it travels in a header


def hash_key(key: str) -> str:
    """``sha256:<hex>`` of a key (what the key file stores)."""
    return PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_groups(text: str, where: str = "") -> tuple[str, ...]:
    """``"hr,legal"`` -> ``("hr", "legal")`` (validated, sorted, unique)."""
    out = set()
    for g in text.split(","):
        g = g.strip()
        if not g:
            continue
        if not _GROUP.match(g):
            raise ThaijaError(f"{where}invalid access group {g[:40]!r}: use letters, digits and _ . : @ - (max 128)")
        out.add(g)
    return tuple(sorted(out))


@dataclass(frozen=True)
class Key:
    """One stored key: its hash, access groups (empty = public only) and optional rate limit."""

    digest: str  # 64 hex digits (no prefix)
    groups: tuple[str, ...] = ()
    per_minute: int | None = None
    line: int = 0
    review: bool = False  # the ``review`` role: may read and act on the review queue


ROLES = ("review",)


def new_key(groups: str | None = "", per_minute: int | None = None, review: bool = False) -> tuple[str, str]:
    """(a new random key, its key-file line in the hashed form; ``review``: the review role)."""
    g = ",".join(parse_groups(groups or ""))
    if per_minute is not None and per_minute < 1:
        raise ThaijaError("--rate must be at least 1 request per minute")
    key = "tj-" + secrets.token_urlsafe(32)
    line = f"{hash_key(key)}\t{g}" + (f"\t{per_minute}" if per_minute else ("\t" if review else ""))
    return key, line + ("\treview" if review else "")


@dataclass
class KeyRing:
    """The keys a server accepts (see the module docstring for the file format)."""

    keys: list[Key] = field(default_factory=list)
    plaintext: int = 0  # lines that stored a key in clear text
    _hits: dict[str, deque] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def parse(cls, text: str, where: str = "keys") -> "KeyRing":
        """Parse key-file text; every bad line is a one-line error naming ``where:line``."""
        ring = cls()
        seen: set[str] = set()
        for n, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            at = f"{where}:{n}: "
            cols = line.split("\t")
            if len(cols) > 4:
                raise ThaijaError(f"{at}expected <key or sha256:HEX><TAB><groups>[<TAB><requests per minute>"
                                  "[<TAB><roles>]]")
            secret = cols[0].strip()
            if secret.startswith(PREFIX):
                digest = secret[len(PREFIX):].lower()
                if not _HEX.match(digest):
                    raise ThaijaError(f"{at}sha256: must be followed by 64 hexadecimal digits")
            else:
                if not _KEY.match(secret):
                    raise ThaijaError(f"{at}a key must be 8-256 printable ASCII characters without spaces "
                                      "(or sha256:HEX; make one with `thaija keygen`)")
                digest = hash_key(secret)[len(PREFIX):]
                ring.plaintext += 1
            if digest in seen:
                raise ThaijaError(f"{at}the same key appears twice")
            seen.add(digest)
            groups = parse_groups(cols[1], at) if len(cols) > 1 else ()
            rate = None
            if len(cols) > 2 and cols[2].strip():
                try:
                    rate = int(cols[2].strip())
                except ValueError:
                    raise ThaijaError(f"{at}rate limit {cols[2].strip()[:20]!r} is not a whole number") from None
                if rate < 1:
                    raise ThaijaError(f"{at}rate limit must be at least 1 request per minute")
            roles = {r.strip() for r in cols[3].split(",") if r.strip()} if len(cols) > 3 else set()
            if roles - set(ROLES):
                raise ThaijaError(f"{at}unknown role {sorted(roles - set(ROLES))[0][:20]!r}: the roles are "
                                  f"{', '.join(ROLES)}")
            ring.keys.append(Key(digest, groups, rate, n, review="review" in roles))
        if not ring.keys:
            raise ThaijaError(f"{where}: no keys (add one with `thaija keygen --groups GROUPS >> {where}`)")
        return ring

    @classmethod
    def load(cls, path: str | os.PathLike) -> "KeyRing":
        """Read a key file (one-line errors for a missing, unreadable or malformed file)."""
        p = Path(path)
        if not p.is_file():
            raise ThaijaError(f"{p}: no such key file" if not p.exists() else f"{p}: is not a file")
        try:
            text = p.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ThaijaError(f"{p}: not valid UTF-8 (byte {exc.start})") from None
        except OSError as exc:
            raise ThaijaError(f"{p}: cannot read ({exc.strerror})") from None
        return cls.parse(text, str(p))

    def lookup(self, presented: str | None) -> Key | None:
        """The stored key matching ``presented`` (constant time over all keys), else None."""
        if not presented or len(presented) > 512:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest().encode()
        found = None
        for k in self.keys:  # no early exit: every stored key is compared
            if hmac.compare_digest(digest, k.digest.encode()):
                found = k
        return found

    def allow(self, key: Key, now: float | None = None) -> bool:
        """Count one request for ``key``; False when it is over its per-minute limit."""
        if not key.per_minute:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._hits.setdefault(key.digest, deque())
            while q and now - q[0] >= 60.0:
                q.popleft()
            if len(q) >= key.per_minute:
                return False
            q.append(now)
            return True
