"""A three-server Warren ensemble in network namespaces: partition one server by cutting its link, heal, converge.

Each server runs in its own namespace `warren-t-<rand>-N` with one veth end addressed 10.231.R.N/24; the
other end sits in a bridge in the root namespace that carries 10.231.R.254/24, so the test's clients (root
namespace) reach every server. R is picked so that no existing route covers 10.231.R.0/24; every address
used exists only on links this test creates. Cutting a server off is `ip link set <root end> down`.
Namespaces, the bridge and the veths are deleted in teardown, also when the test fails.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from rawzk import four_letter
from servers import warren_binary
from test_ensemble import srvr_mode, wait_one_leader

pytestmark = pytest.mark.only_targets("warren")

TICK_MS = 200
CLIENT_PORT = 12181
QUORUM_PORT = 12888
ELECTION_PORT = 13888


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def tree_of(zk: KazooClient, path: str = "/") -> dict[str, bytes]:
    """Every node's data under `path` (the /zookeeper subtree excluded)."""
    out: dict[str, bytes] = {}
    stack = [path]
    while stack:
        p = stack.pop()
        if p == "/zookeeper":
            continue
        data, _ = zk.get(p)
        out[p] = data
        for child in zk.get_children(p):
            stack.append(("" if p == "/" else p) + "/" + child)
    return out


def trees_by_server(e, ids) -> dict[int, dict[str, bytes]]:
    """Each server's tree, read after a sync through a kazoo client connected to that server alone."""
    trees = {}
    for i in ids:
        only = e.client([i])
        try:
            only.sync("/")
            trees[i] = tree_of(only)
        finally:
            only.stop()
            only.close()
    return trees


def wait_same_hash(hashes_of, timeout_s: float = 15.0) -> dict:
    """Polls `hashes_of()` (server id → `hash` answer or None) until every server answers the same; returns it."""
    deadline = time.monotonic() + timeout_s
    hashes = hashes_of()
    while time.monotonic() < deadline and (None in hashes.values() or len(set(hashes.values())) != 1):
        time.sleep(0.2)
        hashes = hashes_of()
    assert None not in hashes.values() and len(set(hashes.values())) == 1, hashes
    return hashes


class NetnsEnsemble:
    def __init__(self, base: Path, size: int = 3):
        self.base = base
        self.ids = list(range(1, size + 1))
        self.tag = f"{random.randrange(16 ** 4):04x}"
        used = ip("-4", "route", "show").stdout + ip("-4", "addr", "show").stdout
        candidates = [r for r in range(1, 255) if f"10.231.{r}." not in used]
        self.net = random.choice(candidates)
        self.bridge = f"wt{self.tag}br"
        self.procs: dict[int, subprocess.Popen] = {}
        self.created_ns: list[str] = []
        self.created_links: list[str] = []

    def ns(self, i: int) -> str:
        return f"warren-t-{self.tag}-{i}"

    def host_end(self, i: int) -> str:
        return f"wt{self.tag}h{i}"

    def addr(self, i: int) -> str:
        return f"10.231.{self.net}.{i}"

    def set_up_network(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.created_links.append(self.bridge)
        ip("addr", "add", f"10.231.{self.net}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i in self.ids:
            ns, host, inner = self.ns(i), self.host_end(i), f"wt{self.tag}n{i}"
            ip("netns", "add", ns)
            self.created_ns.append(ns)
            ip("link", "add", host, "type", "veth", "peer", "name", inner)
            self.created_links.append(host)
            ip("link", "set", inner, "netns", ns)
            ip("link", "set", host, "master", self.bridge)
            ip("link", "set", host, "up")
            ip("-n", ns, "addr", "add", f"{self.addr(i)}/24", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def write_configs(self) -> None:
        servers = "\n".join(f"server.{i}={self.addr(i)}:{QUORUM_PORT}:{ELECTION_PORT}" for i in self.ids)
        for i in self.ids:
            d = self.base / f"s{i}"
            (d / "data").mkdir(parents=True)
            (d / "data" / "myid").write_text(f"{i}\n")
            (d / "zoo.cfg").write_text(
                f"tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={d / 'data'}\n"
                f"clientPort={CLIENT_PORT}\nclientPortAddress={self.addr(i)}\n"
                f"4lw.commands.whitelist=*\n{servers}\n")

    def start(self, i: int) -> None:
        d = self.base / f"s{i}"
        log = open(d / "server.log", "ab")
        self.procs[i] = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(i), str(warren_binary()), "server", "--config", str(d / "zoo.cfg")],
            stdout=log, stderr=log)

    def teardown(self) -> None:
        for p in self.procs.values():
            p.kill()
            p.wait()
        self.procs.clear()
        for link in reversed(self.created_links):
            ip("link", "del", link, check=False)
        for ns in self.created_ns:
            ip("netns", "del", ns, check=False)

    def four(self, i: int, cmd: str) -> str | None:
        try:
            return four_letter(self.addr(i), CLIENT_PORT, cmd, timeout=2.0)
        except OSError:
            return None

    def mode(self, i: int) -> str | None:
        return srvr_mode(self.four(i, "srvr"))

    def wait_serving(self, ids, timeout_s: float = 25.0) -> dict[int, str]:
        return wait_one_leader(self.mode, ids, timeout_s)

    def client(self, ids) -> KazooClient:
        zk = KazooClient(hosts=",".join(f"{self.addr(i)}:{CLIENT_PORT}" for i in ids), timeout=4.0)
        zk.start(timeout=10)
        return zk

    def hashes(self) -> dict[int, str | None]:
        return {i: (self.four(i, "hash") or "").strip() or None for i in self.ids}


@pytest.fixture
def netns_ensemble(tmp_path, target):
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    probe = f"warren-t-probe{random.randrange(10 ** 6)}"
    if ip("netns", "add", probe, check=False).returncode != 0:
        pytest.skip("`ip netns add` is not permitted here")
    ip("netns", "del", probe, check=False)
    e = NetnsEnsemble(tmp_path)
    try:
        e.set_up_network()
        e.write_configs()
        for i in e.ids:
            e.start(i)
        yield e
    finally:
        e.teardown()


def test_partitioned_server_misses_writes_then_converges_after_heal(netns_ensemble):
    e = netns_ensemble
    modes = e.wait_serving(e.ids)
    follower = next(i for i, m in modes.items() if m == "follower")
    majority = [i for i in e.ids if i != follower]
    zk = e.client(majority)
    try:
        zk.ensure_path("/part")
        for n in range(20):
            zk.create(f"/part/before{n}", str(n).encode())

        ip("link", "set", e.host_end(follower), "down")
        # The other two still form a quorum and commit.
        for n in range(30):
            zk.create(f"/part/during{n}", str(n).encode())
        zk.set("/part", b"during")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and e.mode(follower) is not None:
            time.sleep(0.2)  # the root end is down, so the cut-off server is unreachable from here
        assert e.mode(follower) is None

        ip("link", "set", e.host_end(follower), "up")
        e.wait_serving(e.ids)
        zk.create("/part/after", b"healed")

        # Convergence: every server reports the same digest at the same zxid...
        hashes = wait_same_hash(e.hashes)
        zxid, digest = next(iter(hashes.values())).split(": ")
        assert int(zxid) > 0 and digest

        # ...and every server's whole tree, read through kazoo, is the same and holds all the writes.
        trees = trees_by_server(e, e.ids)
        first = trees[e.ids[0]]
        for i in e.ids[1:]:
            assert trees[i] == first, f"server {i} differs from server {e.ids[0]}"
        assert first["/part"] == b"during" and first["/part/after"] == b"healed"
        assert all(f"/part/during{n}" in first for n in range(30))
        assert all(f"/part/before{n}" in first for n in range(20))
    finally:
        zk.stop()
        zk.close()


CHILD_WRITER = """
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=4.0)
zk.start(timeout=10)
zk.ensure_path('/trunc')
print('ready', flush=True)
sys.stdin.readline()
zk.create_async('/trunc/uncommitted', b'never acked')
print('sent', flush=True)
sys.stdin.readline()
"""


def test_old_leader_uncommitted_tail_is_truncated_when_it_rejoins(netns_ensemble):
    e = netns_ensemble
    modes = e.wait_serving(e.ids)
    leader = next(i for i, m in modes.items() if m == "leader")
    others = [i for i in e.ids if i != leader]
    # A client inside the leader's namespace still reaches it after the leader's link is cut (local address).
    child = subprocess.Popen(
        ["ip", "netns", "exec", e.ns(leader), "python3", "-c", CHILD_WRITER, f"{e.addr(leader)}:{CLIENT_PORT}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    zk = None
    try:
        assert child.stdout.readline().strip() == "ready"
        ip("link", "set", e.host_end(leader), "down")
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "sent"
        # The leader logs the proposal before it can notice that no follower hears it; then it dies.
        data_dir = e.base / f"s{leader}" / "data"
        deadline = time.monotonic() + 5
        logged = False
        while time.monotonic() < deadline and not logged:
            logged = any(b"/trunc/uncommitted" in p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
            time.sleep(0.05)
        assert logged, "the partitioned leader never logged the proposal"
        e.procs.pop(leader).kill()
        child.kill()
        child.wait()

        e.wait_serving(others)
        zk = e.client(others)
        zk.ensure_path("/trunc")
        for n in range(10):
            zk.create(f"/trunc/committed{n}", b"c")
        ip("link", "set", e.host_end(leader), "up")
        e.start(leader)
        e.wait_serving(e.ids)
        zk.create("/trunc/after-rejoin", b"x")

        hashes = wait_same_hash(e.hashes)
        log = (e.base / f"s{leader}" / "server.log").read_text(errors="replace")
        assert "log truncated: " in log, "the rejoining old leader was not sent TRUNC"

        trees = trees_by_server(e, e.ids)
        assert trees[leader] == trees[others[0]] == trees[others[1]]
        assert "/trunc/uncommitted" not in trees[leader]
        assert all(f"/trunc/committed{n}" in trees[leader] for n in range(10))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if zk is not None:
            zk.stop()
            zk.close()
