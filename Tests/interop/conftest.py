"""Fixtures for the real-client acceptance suite.

Every test that uses the `target` fixture (directly or through `server`, `zk`, ...) runs once per
target: Apache ZooKeeper and Warren, with the same expectations. Choose targets with
`INTEROP_TARGETS=zookeeper,warren` or `--targets=zookeeper`; the default is both. A Warren binary that
is missing or does not start makes its tests fail with the reason, never skip.

Marks:
  @pytest.mark.only_targets("warren")  the test is meaningful for the listed targets only.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kazoo.client import KazooClient  # noqa: E402

import rawzk  # noqa: E402
from servers import TARGETS_ALL, ServerProcess, ServerStartError  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--targets",
        default=None,
        help="comma-separated servers to test: zookeeper,warren (default: $INTEROP_TARGETS or both)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "only_targets(*names): run this test against these targets only")


def selected_targets(config) -> list[str]:
    raw = config.getoption("--targets") or os.environ.get("INTEROP_TARGETS") or ",".join(TARGETS_ALL)
    names = [t.strip() for t in raw.split(",") if t.strip()]
    unknown = [t for t in names if t not in TARGETS_ALL]
    if unknown:
        raise pytest.UsageError(f"unknown interop targets {unknown}; known: {list(TARGETS_ALL)}")
    return names


def pytest_generate_tests(metafunc):
    if "target" not in metafunc.fixturenames:
        return
    targets = selected_targets(metafunc.config)
    mark = metafunc.definition.get_closest_marker("only_targets")
    if mark is not None:
        targets = [t for t in targets if t in mark.args]
    metafunc.parametrize("target", targets, scope="module")


class Servers:
    """Starts servers on demand and guarantees they are killed when the owning fixture ends."""

    def __init__(self, tmp_factory):
        self.tmp_factory = tmp_factory
        self.started: list[ServerProcess] = []

    def start(self, kind: str, env: dict | None = None, launcher: list[str] | None = None, **overrides) -> ServerProcess:
        s = self.create(kind, env, launcher, **overrides)
        try:
            return s.start()
        except ServerStartError as e:
            pytest.fail(str(e), pytrace=False)

    def create(self, kind: str, env: dict | None = None, launcher: list[str] | None = None,
               **overrides) -> ServerProcess:
        """A configured but not yet started server (for tests that start it themselves); `env` is added to its
        environment, `launcher` prefixed to its command."""
        s = ServerProcess(kind, self.tmp_factory.mktemp(kind), overrides, env, launcher)
        self.started.append(s)
        return s

    def close(self) -> None:
        for s in self.started:
            s.kill9()
        self.started.clear()


@pytest.fixture(scope="module")
def server(target, tmp_path_factory):
    """A server of the current target shared by all tests of one module."""
    servers = Servers(tmp_path_factory)
    try:
        yield servers.start(target)
    finally:
        servers.close()


@pytest.fixture
def server_factory(tmp_path_factory):
    """For tests needing their own server(s): `server_factory.start(kind, **zoo_cfg_overrides)`."""
    servers = Servers(tmp_path_factory)
    yield servers
    servers.close()


@pytest.fixture
def kazoo_factory(server):
    """Makes started kazoo clients for the module's server; all are stopped at the end of the test."""
    clients: list[KazooClient] = []

    def make(hosts: str | None = None, start: bool = True, **kw) -> KazooClient:
        kw.setdefault("timeout", 10.0)
        c = KazooClient(hosts=hosts or server.hosts, **kw)
        clients.append(c)
        if start:
            c.start(timeout=15)
        return c

    yield make
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


@pytest.fixture
def zk(kazoo_factory):
    """A started kazoo client on the module's server."""
    return kazoo_factory()


@pytest.fixture
def raw_factory(server):
    """Makes raw Jute connections (handshake done unless handshake=False); closed at the end."""
    conns: list[rawzk.RawZK] = []

    def make(handshake: bool = True, hosts: str | None = None, **kw) -> rawzk.RawZK:
        host, port = (hosts or server.hosts).rsplit(":", 1)
        c = rawzk.RawZK(host, int(port))
        conns.append(c)
        if handshake:
            c.handshake(**kw)
        return c

    yield make
    for c in conns:
        c.close()


@pytest.fixture
def raw(raw_factory):
    return raw_factory()


@pytest.fixture
def base(zk, request):
    """A fresh persistent node unique to this test, under which the test works."""
    name = request.node.originalname.replace("[", "_").replace("]", "")
    path = f"/{name}-{uuid.uuid4().hex[:8]}"
    zk.create(path)
    return path
