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


def test_cli_second_add_waits_then_adds_and_times_out_clearly(tmp_path):
    """`thaija index add` while another process writes the index: it says it waits, goes on when the
    other writer is done (both documents indexed); with --lock-timeout 1 it stops with one line."""
    env = {**ENV, "THAIJA_CACHE": str(tmp_path / "cache")}
    env.pop("THAIJA_LOCK_TIMEOUT", None)
    db = str(tmp_path / "c.db")
    (tmp_path / "a.txt").write_text("社員食堂は11時に開きます。", encoding="utf-8")
    (tmp_path / "b.txt").write_text("ลาพักร้อนได้ปีละ 10 วันทำงาน", encoding="utf-8")
    first = subprocess.run([THAIJA, "index", "add", str(tmp_path / "a.txt"), "--db", db], capture_output=True,
                           text=True, timeout=600, env=env)
    assert first.returncode == 0, first.stderr[-500:]
    other = _holder(db, 600)
    try:
        add = subprocess.Popen([THAIJA, "index", "add", str(tmp_path / "b.txt"), "--db", db, "--lock-timeout", "300"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = add.stderr.readline()
        while line and "waiting for another writer" not in line:
            line = add.stderr.readline()
        assert "waiting for another writer" in line and "--lock-timeout" in line, line
        assert add.poll() is None                          # still waiting, not failed
        _stop(other)                                       # the other writer finishes
        out, err = add.communicate(timeout=300)
        assert add.returncode == 0, err[-500:]
        assert "1 documents: 1 added" in out
    finally:
        _stop(other)
    listed = subprocess.run([THAIJA, "index", "list", "--db", db, "--json"], capture_output=True, text=True,
                            timeout=300, env=env)
    assert len(listed.stdout.strip().splitlines()) == 2    # both writers' documents
    other = _holder(db, 600)
    try:
        (tmp_path / "b.txt").write_text("ลาพักร้อนได้ปีละ 12 วันทำงาน", encoding="utf-8")
        p = subprocess.run([THAIJA, "index", "add", str(tmp_path / "b.txt"), "--db", db, "--lock-timeout", "1"],
                           capture_output=True, text=True, timeout=600, env=env)
        r = subprocess.run([THAIJA, "index", "remove", "a.txt", "--db", db, "--lock-timeout", "0"],
                           capture_output=True, text=True, timeout=600, env=env)
        # --lock-timeout 0 fails at once: before reading, loading a model or embedding (QA session 5 Q11:
        # it failed only at the first write, after ~57 s); an empty cache stays untouched
        fresh = tmp_path / "fresh-cache"
        z = subprocess.run([THAIJA, "index", "add", str(tmp_path / "b.txt"), "--db", db, "--lock-timeout", "0"],
                           capture_output=True, text=True, timeout=600, env={**env, "THAIJA_CACHE": str(fresh)})
    finally:
        _stop(other)
    assert not fresh.exists() or not any(fresh.rglob("*")), sorted(fresh.rglob("*"))[:5]
    for proc in (p, r, z):
        assert proc.returncode == 2, proc.stderr[-500:]
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1]
        assert last.startswith("thaija: error:") and "in use by another process" in last, last
        assert "damaged" not in proc.stderr and "Traceback" not in proc.stderr
