"""Two writers of one Milvus Lite index (QA Q4/Q4b): the second waits for the first's lock, with a
timeout and a progress line, then fails with a clear one-line error that never says "damaged"
while a live process holds the lock. Every case runs two real processes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thaija.errors import ThaijaError

THAIJA = str(Path(sys.executable).parent / "thaija")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _holder(db: str, seconds: float, milvus: bool = False) -> subprocess.Popen:
    """Another process that holds the index's writer lock for ``seconds``: thaija's own lock (what
    `index add` takes) or Milvus Lite running on the file (a legacy index with rows)."""
    if milvus:
        take = f"import pymilvus\nc = pymilvus.MilvusClient({db!r})\n"
    else:
        take = f"from thaija.index.store import lock_lite_file\nf = lock_lite_file({db!r}, 0)\n"
    code = take + f"import time\nprint('locked', flush=True)\ntime.sleep({seconds})\n"
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=ENV)
    line = p.stdout.readline()
    assert line.strip() == "locked", p.stderr.read()[-500:]
    return p


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.kill()
    p.wait(timeout=30)


def test_writer_waits_for_the_lock_then_takes_it(tmp_path):
    from thaija.index.store import lock_lite_file

    db = str(tmp_path / "w.db")
    waits: list[float] = []
    other = _holder(db, 2.0)
    try:
        t0 = time.monotonic()
        f = lock_lite_file(db, 60, on_wait=lambda d, waited, timeout: waits.append(waited))
        took = time.monotonic() - t0
        f.close()
    finally:
        _stop(other)
    assert waits == [0.0], waits                   # one "waiting for another writer" line at the start
    assert 1.0 <= took < 30, took                  # it waited for the other process, then went on


def test_timeout_gives_a_clear_error_not_damaged(tmp_path):
    from thaija.index.store import lock_lite_file

    db = str(tmp_path / "t.db")
    other = _holder(db, 120)
    try:
        t0 = time.monotonic()
        with pytest.raises(ThaijaError) as e:
            lock_lite_file(db, 1.0, on_wait=None)
        assert 0.9 <= time.monotonic() - t0 < 20
        msg = str(e.value)
        assert "in use by another process" in msg and "--lock-timeout" in msg and "damaged" not in msg
        with pytest.raises(ThaijaError, match="in use by another process"):
            lock_lite_file(db, 0, on_wait=None)    # 0: fail at once
    finally:
        _stop(other)


def test_milvus_lite_holder_is_in_use_not_damaged(tmp_path):
    """The store's own open path (pymilvus/Milvus Lite) while Milvus Lite runs in another process."""
    pytest.importorskip("milvus_lite")
    from thaija.index.store import MilvusStore, StoreConfig

    db = str(tmp_path / "m.db")
    other = _holder(db, 120, milvus=True)
    try:
        with pytest.raises(ThaijaError) as e:
            MilvusStore(db, 4, StoreConfig(lock_timeout=1.0)).client
        assert "in use by another process" in str(e.value) and "damaged" not in str(e.value)
    finally:
        _stop(other)
    other = _holder(db, 2.0, milvus=True)   # released while we wait: the open succeeds
    try:
        store = MilvusStore(db, 4, StoreConfig(lock_timeout=60))
        assert store.count() == 0
        store.close()
    finally:
        _stop(other)
