"""Where the review queue lives: beside a Milvus Lite file; in the state folder of a server index
(never under the current folder), an existing queue at the old `<URI>.review.sqlite` kept."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from thaija.guard.review import ReviewQueue, review_path
from thaija.index.store import state_dir_for

URI = "http://127.0.0.1:19530"


def test_lite_queue_beside_the_file(tmp_path):
    db = str(tmp_path / "t.db")
    assert review_path(db) == db + ".review.sqlite"
    assert review_path(db + ".review.sqlite") == db + ".review.sqlite"


@pytest.mark.parametrize("env", [{"THAIJA_STATE": "STATE"}, {"XDG_STATE_HOME": "XDG"}, {}])
def test_server_queue_in_the_index_state_folder(tmp_path, monkeypatch, env):
    monkeypatch.chdir(tmp_path)
    for name in ("THAIJA_STATE", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name, value in env.items():
        monkeypatch.setenv(name, str(tmp_path / value))
    for uri in (URI, "https://milvus.example.com:443/db", "tcp://10.0.0.5:19530"):
        path = review_path(uri)
        assert Path(path) == state_dir_for(uri) / "review.sqlite"  # the same folder the index uses
        assert Path(path).is_absolute()
    q = ReviewQueue.for_index(URI)
    q.add("Where is the canteen?", "I don't know.", "en", [], "refused")
    assert os.path.isfile(state_dir_for(URI) / "review.sqlite")
    assert not any(p.name.endswith(".review.sqlite") for p in tmp_path.rglob("*"))


def test_an_existing_old_queue_stays_in_use(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THAIJA_STATE", str(tmp_path / "state"))
    old = URI + ".review.sqlite"  # relative to the working folder, as earlier versions wrote it
    os.makedirs(os.path.dirname(old), exist_ok=True)
    ReviewQueue(old).add("q", "a", "en", [], "refused")
    assert review_path(URI) == old
    assert [i.question for i in ReviewQueue.for_index(URI).list()] == ["q"]
