"""Real command-line clients run one-shot against each server: Debian's zkCli.sh (the Java client) and
cli_mt (the C client from zookeeper-bin). Their output is what an operator sees, so it is checked
line by line."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from servers import CLI_MT, ZKCLI

CLI_TIMEOUT_S = 60


def run(cmd: list[str], timeout: float = CLI_TIMEOUT_S) -> tuple[int, str]:
    env = dict(os.environ)
    # Quicker JVM start for a short-lived client.
    env["CLIENT_JVMFLAGS"] = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
    out = (p.stdout + p.stderr).decode(errors="replace")
    # zkCli.sh's logging backend is absent; drop SLF4J's complaint about it.
    out = "\n".join(line for line in out.splitlines() if not line.startswith("SLF4J:"))
    return p.returncode, out


def stat_block(out: str) -> dict[str, str]:
    """zkCli.sh prints a Stat as `name = value` lines."""
    return dict(m.groups() for m in re.finditer(r"^(\w+) = (.*)$", out, re.M))


# -- zkCli.sh ------------------------------------------------------------------------------------------


@pytest.fixture
def zkcli(server):
    if not ZKCLI.exists():
        pytest.fail(f"{ZKCLI} missing: install Debian's zookeeper package (.ci/install)")

    def call(*args: str) -> tuple[int, str]:
        return run([str(ZKCLI), "-server", server.hosts, *args])

    return call


def test_zkcli_create_get_set_ls_delete(zkcli, zk, base):
    rc, out = zkcli("create", f"{base}/a", "hello")
    assert rc == 0, out
    assert f"Created {base}/a" in out
    assert zk.get(f"{base}/a")[0] == b"hello"

    rc, out = zkcli("get", "-s", f"{base}/a")
    assert rc == 0, out
    assert "\nhello\n" in f"\n{out}\n"
    st = stat_block(out)
    real = zk.exists(f"{base}/a")
    assert st["cZxid"] == f"0x{real.czxid:x}"
    assert st["dataVersion"] == "0"
    assert st["dataLength"] == "5"
    assert st["numChildren"] == "0"
    assert st["ephemeralOwner"] == "0x0"

    rc, out = zkcli("set", "-v", "0", f"{base}/a", "world")
    assert rc == 0, out
    assert zk.get(f"{base}/a") [0] == b"world"
    rc, out = zkcli("set", "-v", "0", f"{base}/a", "stale")
    assert "version No is not valid" in out
    assert zk.get(f"{base}/a")[0] == b"world"

    zk.create(f"{base}/b")
    rc, out = zkcli("ls", base)
    assert rc == 0, out
    assert "[a, b]" in out

    rc, out = zkcli("delete", f"{base}/a")
    assert rc == 0, out
    assert zk.exists(f"{base}/a") is None


def test_zkcli_ephemeral_sequential_and_stat(zkcli, zk, base):
    rc, out = zkcli("create", "-s", f"{base}/job-", "x")
    assert rc == 0, out
    assert f"Created {base}/job-0000000000" in out

    rc, out = zkcli("create", "-e", "-s", f"{base}/eph-", "x")
    assert rc == 0, out
    m = re.search(rf"Created ({re.escape(base)}/eph-\d{{10}})", out)
    assert m, out
    # zkCli.sh exits without closing its session, so the ephemeral lives on until that session
    # expires; it belongs to zkCli.sh's session, not ours.
    owner = zk.exists(m.group(1)).ephemeralOwner
    assert owner not in (0, zk.client_id[0])

    rc, out = zkcli("stat", f"{base}/job-0000000000")
    assert rc == 0, out
    st = stat_block(out)
    real = zk.exists(f"{base}/job-0000000000")
    assert st["mZxid"] == f"0x{real.mzxid:x}"
    assert st["pZxid"] == f"0x{real.pzxid:x}"
    assert st["cversion"] == "0"
    assert st["aclVersion"] == "0"

    rc, out = zkcli("stat", f"{base}/missing")
    assert rc != 0
    assert f"Node does not exist: {base}/missing" in out


def test_zkcli_errors_and_recursive_delete(zkcli, zk, base):
    zk.create(f"{base}/p/q/r", makepath=True)
    rc, out = zkcli("create", f"{base}/p", "again")
    assert "Node already exists" in out
    rc, out = zkcli("delete", f"{base}/p")
    assert "Node not empty" in out
    rc, out = zkcli("deleteall", f"{base}/p")
    assert rc == 0, out
    assert zk.exists(f"{base}/p") is None


def test_zkcli_container_ttl_and_acl(zkcli, zk, base):
    rc, out = zkcli("create", "-c", f"{base}/cont")
    assert rc == 0, out
    assert f"Created {base}/cont" in out
    rc, out = zkcli("create", "-t", "600000", f"{base}/ttl", "t")
    assert rc == 0, out
    assert zk.get(f"{base}/ttl")[0] == b"t"
    rc, out = zkcli("setAcl", f"{base}/ttl", "world:anyone:r")
    assert rc == 0, out
    rc, out = zkcli("getAcl", f"{base}/ttl")
    assert "'world,'anyone\n: r" in out


# -- cli_mt --------------------------------------------------------------------------------------------


@pytest.fixture
def cli_mt(server):
    if not CLI_MT.exists():
        pytest.fail(f"{CLI_MT} missing: install Debian's zookeeper-bin package (.ci/install)")

    def call(command: str) -> str:
        # Batch mode (-c) runs one command once connected, then exits. Its create always stores "new".
        rc, out = run([str(CLI_MT), "-h", server.hosts, "-c", command], timeout=30)
        assert rc == 0, out
        assert "state = CONNECTED_STATE" in out
        return out

    return call


def test_cli_mt_create_get_set_ls_delete(cli_mt, zk, base):
    out = cli_mt(f"create {base}/m")
    assert f"[{base}/m]: rc = 0" in out
    assert f"name = {base}/m" in out
    assert zk.get(f"{base}/m")[0] == b"new"

    out = cli_mt(f"get {base}/m")
    assert f"{base}/m: rc = 0" in out
    assert "value_len = 3\nnew\n" in out
    real = zk.exists(f"{base}/m")
    assert f"czxid={real.czxid:x}" in out

    out = cli_mt(f"set {base}/m changed")
    assert f"{base}/m: rc = 0" in out
    assert "version=1" in out
    assert zk.get(f"{base}/m")[0] == b"changed"

    zk.create(f"{base}/n")
    out = cli_mt(f"ls {base}")
    assert f"{base}: rc = 0" in out
    assert sorted(re.findall(r"^\t(\w+)$", out, re.M)) == ["m", "n"]

    out = cli_mt(f"ls2 {base}")
    assert f"{base}: rc = 0" in out

    out = cli_mt(f"delete {base}/m")
    assert f"{base}/m: rc = 0" in out
    assert zk.exists(f"{base}/m") is None

    out = cli_mt(f"get {base}/m")
    assert f"{base}/m: rc = -101" in out


def test_cli_mt_ephemeral_sequential_container(cli_mt, zk, base):
    out = cli_mt(f"create +s {base}/s-")
    assert f"name = {base}/s-0000000000" in out
    out = cli_mt(f"create2 +s {base}/s-")
    assert f"name = {base}/s-0000000001" in out
    assert re.search(r"czxid=[0-9a-f]+", out), "create2 prints the new node's Stat"

    out = cli_mt(f"create +e {base}/e")
    assert f"[{base}/e]: rc = 0" in out
    # cli_mt closes its session on exit, so its ephemeral is gone.
    assert zk.exists(f"{base}/e") is None

    out = cli_mt(f"create +c {base}/c")
    assert f"[{base}/c]: rc = 0" in out
    assert zk.exists(f"{base}/c") is not None

    out = cli_mt(f"create {base}/missing/child")
    assert f"[{base}/missing/child]: rc = -101" in out

    out = cli_mt(f"sync {base}")
    assert f"[{base}]: rc = 0" in out


def test_zkcli_quota_tracks_usage(zkcli, zk, base):
    # setquota/listquota are client-side writes under /zookeeper/quota, but the "Output stat" line
    # is the server's own bookkeeping in .../zookeeper_stats, kept up to date on every change below
    # the quota root.
    q = f"{base}/q"
    zk.create(q)
    rc, out = zkcli("setquota", "-n", "2", q)
    assert rc == 0, out
    zk.create(f"{q}/a", b"1234")
    zk.create(f"{q}/b")
    rc, out = zkcli("listquota", q)
    assert rc == 0, out
    assert f"Output quota for {q} count=2,bytes=-1" in out
    assert f"Output stat for {q} count=3,bytes=4" in out
    assert sorted(zk.get_children(f"/zookeeper/quota{q}")) == ["zookeeper_limits", "zookeeper_stats"]
    zk.delete(f"{q}/a")
    rc, out = zkcli("listquota", q)
    assert f"Output stat for {q} count=2,bytes=0" in out
    rc, out = zkcli("delquota", q)
    assert rc == 0, out
