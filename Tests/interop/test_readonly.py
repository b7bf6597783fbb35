"""Read-only mode (`readonlymode.enabled`) against a real three-server ensemble of each target.

The isolated server is server 3 of the ensemble; the other two are SIGKILLed, so it has lost its quorum (the
simplest partition that works on loopback), then restarted on the same data to heal it. Both targets get the
setting the way ZooKeeper's scripts pass it: `SERVER_JVMFLAGS=-Dreadonlymode.enabled=true` (Warren reads that
variable too; it also takes `readonlymode.enabled=true` in zoo.cfg).

Expectations, the same for Apache ZooKeeper 3.8 and Warren: after ZooKeeper's grace period (max(2 s, tickTime))
the isolated server accepts clients that allow read-only sessions, serves reads of data written before the
partition, answers every write (and sync) with NotReadOnly, says `ro` to `isro` and `Mode: read-only` to `srvr`,
refuses clients that do not allow read-only sessions (kazoo and the Java client, zkCli.sh -r, are served); once its quorum is back it closes its read-only clients,
and a kazoo client with read_only=True ends up connected read-write (CONNECTED) and writes.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState, KeeperState

from quorum import Quorum
from servers import ZKCLI

ISOLATED = 3
RO_FLAGS = {"SERVER_JVMFLAGS": "-Dreadonlymode.enabled=true"}
# ZooKeeper 3.8's read-only server refuses to create a session that is not local (ReadOnlyRequestProcessor answers
# the createSession with NotReadOnly, which the client cannot even parse as a ConnectResponse), so read-only clients
# can only connect with local sessions on. Warren's read-only sessions are always local; it ignores the key.
RO_CFG = {"localSessionsEnabled": "true"}


@pytest.fixture(scope="module")
def quorum(target, tmp_path_factory):
    q = Quorum(target, tmp_path_factory.mktemp(f"ro-{target}"), voters=3, env=RO_FLAGS, cfg=RO_CFG)
    try:
        q.start()
        yield q
    finally:
        q.close()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_read_only_while_cut_off_then_back_to_read_write(quorum):
    assert quorum.four(ISOLATED, "isro") == "rw"
    writer = KazooClient(hosts=quorum.hosts(), timeout=10.0)
    writer.start(timeout=20)
    try:
        writer.create("/ro/data", b"before the partition", makepath=True)
        writer.create("/ro/data/child", b"c")
        writer.sync("/ro")
    finally:
        writer.stop()
        writer.close()
    # Server 3 has every write: a sync through it (or any server) orders it after them.
    probe = KazooClient(hosts=quorum.servers[ISOLATED].hosts, timeout=10.0)
    probe.start(timeout=20)
    probe.sync("/ro")
    assert probe.get("/ro/data")[0] == b"before the partition"
    probe.stop()
    probe.close()

    for i in (1, 2):
        quorum.kill(i)
    wait_for(lambda: quorum.four(ISOLATED, "isro") == "ro", 30, "the isolated server to go read-only")
    assert quorum.servers[ISOLATED].mode() == "read-only"

    # A client that does not allow read-only sessions is refused.
    plain = KazooClient(hosts=quorum.servers[ISOLATED].hosts, timeout=4.0, connection_retry={"max_tries": 2})
    with pytest.raises(KazooTimeoutError):
        plain.start(timeout=4)
    plain.stop()
    plain.close()

    ro = KazooClient(hosts=quorum.hosts(), timeout=10.0, read_only=True)
    states = []
    ro.add_listener(lambda s: states.append(s))
    try:
        ro.start(timeout=20)
        assert ro.client_state == KeeperState.CONNECTED_RO
        data, stat = ro.get("/ro/data")
        assert data == b"before the partition"
        assert stat.numChildren == 1
        assert ro.get_children("/ro/data") == ["child"]
        assert ro.exists("/ro/missing") is None
        with pytest.raises(NotReadOnlyCallError):
            ro.create("/ro/new", b"x")
        with pytest.raises(NotReadOnlyCallError):
            ro.set("/ro/data", b"changed")
        with pytest.raises(NotReadOnlyCallError):
            ro.delete("/ro/data/child")
        with pytest.raises(NotReadOnlyCallError):
            ro.sync("/ro")
        t = ro.transaction()
        t.create("/ro/in-txn", b"")
        with pytest.raises(NotReadOnlyCallError):
            t.commit()
        # The Java client (zkCli.sh -r: canBeReadOnly) gets a read-only session and NotReadOnly for a write.
        env = dict(os.environ, CLIENT_JVMFLAGS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        cli = subprocess.run([str(ZKCLI), "-r", "-server", quorum.servers[ISOLATED].hosts, "create", "/ro/cli", "x"],
                             capture_output=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
        out = (cli.stdout + cli.stderr).decode(errors="replace")
        assert "state:ConnectedReadOnly" in out, out
        assert "Not a read-only call: /ro/cli" in out, out
        # Nothing changed, and the server still serves reads after the refusals.
        assert ro.get("/ro/data")[0] == b"before the partition"
        assert ro.exists("/ro/new") is None
        assert ro.exists("/ro/cli") is None

        # Heal: the two others come back on their data; the isolated server rejoins and closes read-only clients.
        for i in (1, 2):
            quorum.servers[i].spawn()
        quorum.wait_serving(quorum.ids)
        wait_for(lambda: quorum.four(ISOLATED, "isro") == "rw", 30, "the rejoined server to answer isro with rw")

        def back_read_write():
            if ro.client_state != KeeperState.CONNECTED:
                return False
            try:
                ro.create("/ro/after", b"healed")
                return True
            except NotReadOnlyCallError:
                return False

        wait_for(back_read_write, 60, "the read-only client to move to a read-write server and write")
        # Its read-only session was local to the isolated server: a read-write server does not know it.
        assert KazooState.LOST in states, states
        assert ro.get("/ro/after")[0] == b"healed"
        assert ro.get("/ro/data")[0] == b"before the partition"
    finally:
        ro.stop()
        ro.close()


# -- a real partition: network namespaces --------------------------------------------------------------------------

def test_partitioned_member_serves_read_only_while_the_majority_writes(target, tmp_path):
    """Each server in its own network namespace (test_ensemble_netns.py's bridge and veths); server 3's link is cut
    while servers 1 and 2 go on committing. A read-only client inside server 3's namespace (`ro_client.py`, given
    every server) is served by it; once the link is back, server 3 catches up, closes its read-only clients, and
    the client moves to read-write and sees what the majority wrote during the partition."""
    import json
    import random
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from test_ensemble_netns import NetnsEnsemble, ip

    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    probe = f"warren-t-probe{random.randrange(10 ** 6)}"
    if ip("netns", "add", probe, check=False).returncode != 0:
        pytest.skip("`ip netns add` is not permitted here")
    ip("netns", "del", probe, check=False)
    net = NetnsEnsemble(tmp_path / "net")
    q = None
    helper = None
    try:
        net.set_up_network()
        q = Quorum(target, tmp_path, voters=3, env=RO_FLAGS, cfg=RO_CFG, host_of=net.addr,
                   launcher_of=lambda i: ["ip", "netns", "exec", net.ns(i)])
        q.start()
        zk = KazooClient(hosts=q.hosts(), timeout=10.0)
        zk.start(timeout=20)
        zk.create("/ro/data", b"before the partition", makepath=True)
        iso = q.servers[ISOLATED]
        # Server 3 has it before the cut: its own client's sync orders the read after the write.
        probe_client = KazooClient(hosts=iso.hosts, timeout=10.0)
        probe_client.start(timeout=20)
        probe_client.sync("/ro")
        assert probe_client.get("/ro/data")[0] == b"before the partition"
        probe_client.stop()
        probe_client.close()
        zk.stop()
        zk.close()

        ip("link", "set", net.host_end(ISOLATED), "down")
        majority = KazooClient(hosts=q.hosts([1, 2]), timeout=10.0)
        majority.start(timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                majority.create("/ro/during", b"written by the majority")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        interop = Path(__file__).resolve().parent
        helper = subprocess.Popen(
            ["ip", "netns", "exec", net.ns(ISOLATED), sys.executable, str(interop / "ro_client.py"), iso.hosts,
             q.hosts()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(tmp_path / "ro_client.log", "w"),
            text=True, cwd=interop)
        line = helper.stdout.readline()
        assert line, f"ro_client.py said nothing: {(tmp_path / 'ro_client.log').read_text()[-3000:]}"
        ro = json.loads(line)
        assert ro["isro"] == "ro"
        assert "Mode: read-only" in ro["srvr"]
        assert ro["plain"] == "refused"
        assert ro["client_state"] == "CONNECTED_RO"
        assert ro["data"] == "before the partition"
        assert [ro["create"], ro["set"], ro["delete"], ro["sync"]] == ["NotReadOnlyCallError"] * 4
        assert ro["new_exists"] is False

        ip("link", "set", net.host_end(ISOLATED), "up")
        helper.stdin.write("heal\n")
        helper.stdin.flush()
        line = helper.stdout.readline()
        assert line, f"ro_client.py said nothing: {(tmp_path / 'ro_client.log').read_text()[-3000:]}"
        rw = json.loads(line)
        assert rw["moved"], rw
        assert rw["during"] == "written by the majority"
        assert "LOST" in rw["states"], rw
        majority.sync("/ro")
        assert majority.get("/ro/after")[0] == b"healed"
        majority.stop()
        majority.close()
    finally:
        if helper is not None:
            helper.kill()
            helper.wait()
        if q is not None:
            q.close()
        net.teardown()
