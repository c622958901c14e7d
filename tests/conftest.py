"""Shared fixtures: real text slices from tests/data (NTREX-128 and FLORES-200 dev, CC BY-SA 4.0)."""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def read_lines(name: str) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").rstrip("\n").split("\n")


@pytest.fixture(scope="session")
def th_lines() -> list[str]:
    return read_lines("ntrex_tha.txt") + read_lines("flores_tha.txt")


@pytest.fixture(scope="session")
def ja_lines() -> list[str]:
    return read_lines("ntrex_jpn.txt") + read_lines("flores_jpn.txt")


@pytest.fixture(scope="session")
def en_lines() -> list[str]:
    return read_lines("ntrex_eng.txt") + read_lines("flores_eng.txt")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_milvus(base: Path, timeout: float = 150.0):
    """Start the `milvus` package's standalone server in `base` with its embedded etcd on free
    ports (the package pins etcd to 2379/2380, so a second server on the machine would hang)."""
    import time
    import urllib.request

    from milvus import MilvusServer, MilvusServerConfig

    class Config(MilvusServerConfig):
        def parse_template(self) -> None:
            # Milvus' internal ports (proxy 19530, data coord 13333, …) start their free-port search
            # at one random base per server: two test sessions on one machine (or another Milvus
            # already running) never race for the same default port.
            super().parse_template()
            import random

            base = random.Random().randrange(20000, 55000, 100)
            for n, (key, item) in enumerate(sorted(self.configurable_items.items())):
                if key.endswith("_port") and isinstance(item[1], int):
                    item[1] = base + n

        def write_config(self) -> None:
            super().write_config()
            conf = Path(self.base_data_dir) / "configs"
            client, peer = _free_port(), _free_port()
            (conf / "etcd.yaml").write_text(
                f"name: default\nlisten-client-urls: http://127.0.0.1:{client}\n"
                f"advertise-client-urls: http://127.0.0.1:{client}\nlisten-peer-urls: http://127.0.0.1:{peer}\n"
                f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
                f"initial-cluster: default=http://127.0.0.1:{peer}\n", encoding="utf-8")
            y = (conf / "milvus.yaml").read_text(encoding="utf-8")
            y = re.sub(r"(?m)^(etcd:\n  endpoints: )\S+", rf"\g<1>127.0.0.1:{client}", y, count=1)
            y = y.replace("  use:\n    embed: true", f"  config:\n    path: {conf / 'etcd.yaml'}\n"
                          f"  use:\n    embed: true", 1)
            (conf / "milvus.yaml").write_text(y, encoding="utf-8")

    server = MilvusServer(Config(), wait_for_started=False)
    server.set_base_dir(str(base))
    server.start()
    health = f"http://127.0.0.1:{server.webservice_port}/healthz"
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if server.server_proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(health, timeout=2) as r:
                if b"OK" in r.read():
                    time.sleep(1)
                    return server
        except OSError:
            time.sleep(0.2)
    log = (base / "logs" / "milvus-stdout.log")
    errors = [l for l in log.read_text(errors="replace").splitlines() if "[ERROR]" in l or "[FATAL]" in l] \
        if log.exists() else []
    server.stop()
    raise RuntimeError(f"not healthy after {time.monotonic() - t0:.0f} s; last error in {log}: "
                       f"{errors[-1][:300] if errors else 'none logged'}")


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """A real Milvus 2.3.5 standalone server (the `milvus` PyPI package, a [dev] dependency) in a
    temp folder, one per test session; yields its URI ``http://127.0.0.1:PORT``.

    If it cannot start, the tests that use it FAIL with the reason (never a silent skip)."""
    try:
        import milvus  # noqa: F401
    except ImportError as exc:  # the [dev] extra was not installed
        pytest.fail(f"Milvus server tests need the `milvus` package: pip install -e '.[dev]' ({exc})")
    try:
        server = _start_milvus(tmp_path_factory.mktemp("milvus_server"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"the Milvus test server did not start: {type(exc).__name__}: {exc}")
    try:
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def policy_db(tmp_path_factory):
    """The project's own bilingual policy corpus (tests/data/policy) in a real index, built once per
    session (Milvus Lite in a tmp dir, the default embedder, real segmenters)."""
    from thaija.index import Index
    from thaija.retrieve import close_index

    path = str(tmp_path_factory.mktemp("policy") / "p.db")
    ix = Index(path)
    ix.add_paths([str(ROOT / "tests" / "data" / "policy" / "docs.jsonl")], progress=False)
    ix.close()
    yield path
    close_index(path)


@contextlib.contextmanager
def _app_in_thread(**serve_config):
    """``create_app(ServeConfig(**serve_config))`` served by uvicorn in a thread on a free loopback
    port, ready (``/health`` answers) when the block starts; yields the base URL."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from thaija.rag.serve import UVICORN_OPTIONS, ServeConfig, create_app, head_timeout_protocol

    s = socket.socket()
    s.bind(("127.0.0.1", 0))             # kept open and handed to uvicorn: no other process can take the port
    port = s.getsockname()[1]
    head = serve_config.pop("_head_timeout", None)   # seconds for a request head (serve: 10)
    app = create_app(ServeConfig(port=port, **serve_config))
    # the options `thaija serve` runs uvicorn with (connection limits, the request-head deadline)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **UVICORN_OPTIONS,
                                           http=head_timeout_protocol(head or 10.0)))
    t = threading.Thread(target=server.run, kwargs={"sockets": [s]}, daemon=True)
    t.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the serve app did not answer {base}/health within 30 s")
        yield base
    finally:
        server.should_exit = True
        t.join(timeout=30)
        s.close()


@pytest.fixture(scope="session")
def app_server():
    """A factory: ``with app_server(db=..., ask=...) as base:`` runs the real serve app in a thread
    over a real socket for the block (ServeConfig fields as keywords; the port is chosen)."""
    return _app_in_thread


def _serve_cli_config(*args: str):
    """What ``thaija serve ARGS`` would run, without running it: (the ServeConfig fields it built,
    minus the port, as keywords for ``app_server``; or None when the command failed) and the
    CliRunner result. Only the final ``thaija.rag.serve.serve(cfg)`` call is replaced; option
    parsing, validation and the key file check run as for a user. ``--port 0`` unless given."""
    from dataclasses import fields
    from unittest import mock

    from typer.testing import CliRunner

    import thaija.rag.serve as serve_mod
    from thaija.cli.main import app

    got: dict = {}
    argv = ["serve", *args] if "--port" in args else ["serve", "--port", "0", *args]
    with mock.patch.object(serve_mod, "serve", lambda cfg: got.setdefault("cfg", cfg)):
        res = CliRunner().invoke(app, argv)
    cfg = got.get("cfg")
    kw = None if cfg is None else {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "port"}
    return kw, res


@pytest.fixture(scope="session")
def serve_cli():
    """``serve_cli("--db", db, "--redact")`` -> (ServeConfig keywords or None, CliRunner result):
    the config the real ``thaija serve`` command line builds, for ``app_server(**keywords)``."""
    return _serve_cli_config
