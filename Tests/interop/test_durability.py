"""Durability: acknowledged writes survive `kill -9`, multis are all-or-nothing across a crash, a torn
log tail is truncated on restart, and (Warren only) a corrupted log refuses to start.

Transaction logs are found as `log.<hex zxid>` files anywhere under dataDir/dataLogDir, which is
ZooKeeper's layout (`<dataLogDir>/version-2/log.<zxid>`) and Warren's."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from servers import warren_binary

LOAD_SECONDS = 2.0
OP_TIMEOUT_S = 5.0


def kazoo(server) -> KazooClient:
    c = KazooClient(hosts=server.hosts, timeout=10.0, connection_retry={"max_tries": 3, "delay": 0.1})
    c.start(timeout=15)
    return c


class Writer(threading.Thread):
    """Sequential writes, one at a time, recording which were acknowledged.

    Each step is one of: create /dur/n<i> with data d<i>; set /dur/counter to <i>; a multi creating
    /dur/m<i>a and /dur/m<i>b. `acked` holds (kind, i) of acknowledged steps in order; `attempted`
    every step sent, acknowledged or not."""

    def __init__(self, client: KazooClient):
        super().__init__(daemon=True)
        self.client = client
        self.stop = threading.Event()
        self.acked: list[tuple[str, int]] = []
        self.attempted: list[tuple[str, int]] = []
        self.error: Exception | None = None

    def step(self, i: int) -> tuple[str, object]:
        c = self.client
        if i % 7 == 3:
            t = c.transaction()
            t.create(f"/dur/m{i}a", f"a{i}".encode())
            t.create(f"/dur/m{i}b", f"b{i}".encode())
            return "multi", t.commit_async()
        if i % 5 == 1:
            return "set", c.set_async("/dur/counter", str(i).encode())
        return "create", c.create_async(f"/dur/n{i}", f"d{i}".encode())

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            kind, result = self.step(i)
            self.attempted.append((kind, i))
            try:
                value = result.get(timeout=OP_TIMEOUT_S)
            except (KazooException, Exception) as e:  # noqa: BLE001 - the crash shows up here
                self.error = e
                return
            if kind == "multi" and not all(isinstance(r, str) for r in value):
                self.error = AssertionError(f"multi {i} failed before the crash: {value}")
                return
            self.acked.append((kind, i))
            i += 1


def check_recovered(client: KazooClient, writer: Writer) -> None:
    acked = set(writer.acked)
    sets_acked = [i for kind, i in writer.acked if kind == "set"]
    sets_attempted = [i for kind, i in writer.attempted if kind == "set"]
    for kind, i in writer.attempted:
        if kind == "create":
            stat = client.exists(f"/dur/n{i}")
            if (kind, i) in acked:
                assert stat is not None, f"acknowledged create n{i} lost"
            if stat is not None:
                assert client.get(f"/dur/n{i}")[0] == f"d{i}".encode(), f"n{i} half-applied"
        elif kind == "multi":
            a = client.exists(f"/dur/m{i}a") is not None
            b = client.exists(f"/dur/m{i}b") is not None
            assert a == b, f"multi {i} half-applied: a={a} b={b}"
            if (kind, i) in acked:
                assert a, f"acknowledged multi {i} lost"
            if a:
                assert client.get(f"/dur/m{i}a")[0] == f"a{i}".encode()
                assert client.get(f"/dur/m{i}b")[0] == f"b{i}".encode()
    counter = int(client.get("/dur/counter")[0])
    if sets_acked:
        assert counter >= sets_acked[-1], "an acknowledged set was lost"
        assert counter in sets_attempted
    # Writes are sequential, so what survived is a prefix of what was attempted: nothing after a hole.
    present = []
    for kind, i in writer.attempted:
        if kind == "create":
            present.append(client.exists(f"/dur/n{i}") is not None)
        elif kind == "multi":
            present.append(client.exists(f"/dur/m{i}a") is not None)
    assert present == sorted(present, reverse=True), "a later write survived an earlier lost one"


def run_load_and_kill(server) -> Writer:
    client = kazoo(server)
    client.create("/dur")
    client.create("/dur/counter", b"-1")
    writer = Writer(client)
    writer.start()
    time.sleep(LOAD_SECONDS)
    assert writer.is_alive(), f"writer stopped before the crash: {writer.error!r}"
    assert len(writer.acked) > 20, "the server acknowledged too few writes to test anything"
    server.kill9()
    writer.stop.set()
    writer.join(OP_TIMEOUT_S * 3)
    client.stop()
    client.close()
    return writer


def test_acknowledged_writes_survive_kill_9(server_factory, target):
    # A small snapCount makes snapshots happen during the load, so recovery uses snapshot + log.
    server = server_factory.start(target, snapCount=100)
    writer = run_load_and_kill(server)
    print(f"{len(writer.acked)} writes acknowledged before kill -9; last attempted {writer.attempted[-1]}")
    server.start()
    client = kazoo(server)
    try:
        check_recovered(client, writer)
        # The recovered server takes new writes after the old ones.
        _, stat = client.create("/dur/after", include_data=True)
        assert stat.czxid > client.exists("/dur").czxid
    finally:
        client.stop()
        client.close()


def data_end(path: Path) -> int:
    """Offset just past the last non-zero byte: log files may be preallocated with zeros."""
    data = path.read_bytes()
    return len(data.rstrip(b"\x00"))


def newest_log(server) -> Path:
    logs = server.txn_log_files()
    assert logs, f"no log.* files under {server.data_dir} or {server.data_log_dir}"
    return logs[-1]


def write_numbered(server, count: int) -> None:
    client = kazoo(server)
    try:
        client.create("/torn")
        for i in range(count):
            client.create(f"/torn/n{i:04d}", b"payload-%d" % i)
    finally:
        client.stop()
        client.close()


def test_torn_log_tail_is_truncated_on_restart(server_factory, target):
    server = server_factory.start(target)
    write_numbered(server, 50)
    server.kill9()
    log = newest_log(server)
    end = data_end(log)
    # Cut into the last record, as a crash in the middle of an append would.
    with open(log, "r+b") as f:
        f.truncate(end - 5)
    server.start()
    client = kazoo(server)
    try:
        present = [client.exists(f"/torn/n{i:04d}") is not None for i in range(50)]
        # Only the torn final transaction (the close of the writer's session, or its last create)
        # may be missing.
        assert all(present[:49]), f"records before the torn one were lost: {present}"
        for i in range(49):
            assert client.get(f"/torn/n{i:04d}")[0] == b"payload-%d" % i
        client.create("/torn/after")
        assert client.exists("/torn/after") is not None
    finally:
        client.stop()
        client.close()
    # The repaired log stays readable across a further restart.
    server.restart()
    client = kazoo(server)
    try:
        assert client.exists("/torn/after") is not None
    finally:
        client.stop()
        client.close()


@pytest.mark.only_targets("warren")
def test_corrupted_log_refuses_to_start(server_factory, target):
    # Warren only: ZooKeeper's reaction to a flipped byte depends on where it lands and is not what
    # this suite specifies.
    server = server_factory.start(target)
    write_numbered(server, 200)
    server.kill9()
    log = newest_log(server)
    end = data_end(log)
    assert end > 1000, f"{log} holds too little data to corrupt its middle"
    pos = end // 3
    data = bytearray(log.read_bytes())
    data[pos] ^= 0xFF
    log.write_bytes(bytes(data))
    code, output = server.run_expecting_exit(timeout=30)
    assert code is not None, "Warren kept running on a corrupted log"
    assert code != 0
    assert "corrupt" in output.lower(), f"the error does not say the log is corrupt:\n{output[-2000:]}"
    assert log.name in output or str(log) in output, "the error names the corrupted file"


@pytest.mark.only_targets("warren")
def test_without_purge_interval_old_snapshots_and_logs_are_purged_after_each_snapshot(server_factory, target):
    # Warren's default (no autopurge.purgeInterval in zoo.cfg): purge after every snapshot, keeping
    # snapRetainCount (3) snapshots and the logs they need. ZooKeeper keeps everything unless told otherwise.
    server = server_factory.start(target, snapCount=50, **{"autopurge.purgeInterval": None})
    client = kazoo(server)
    try:
        client.create("/purge")
        for i in range(600):
            client.create(f"/purge/n{i:04d}", b"v%d" % i)
    finally:
        client.stop()
        client.close()
    deadline = time.monotonic() + 10
    while True:
        snaps = sorted(p.name for p in server.data_dir.rglob("snapshot.*") if p.is_file())
        if len(snaps) <= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert 1 <= len(snaps) <= 3, f"expected at most 3 snapshots after ~12 of them were taken, found {snaps}"
    assert len(server.txn_log_files()) <= 4, f"old logs kept: {[p.name for p in server.txn_log_files()]}"
    server.stop()
    server.start()
    client = kazoo(server)
    try:
        assert len(client.get_children("/purge")) == 600
        assert client.get("/purge/n0599")[0] == b"v599"
    finally:
        client.stop()
        client.close()


@pytest.mark.only_targets("warren")
def test_clean_stop_after_many_writes_leaves_a_snapshot_at_the_last_zxid(server_factory, target):
    # More than ServerCore.shutdownSnapshotRecordsMin (10,000) records since the last snapshot: SIGTERM writes one
    # more snapshot, so the next start reads it instead of replaying the log.
    server = server_factory.start(target, snapCount=1_000_000)
    keys = 12_000
    subprocess.run([str(warren_binary()), "bench", "--hosts", server.hosts, "--workload", "read", "--keys",
                    str(keys), "--value-bytes", "10", "--duration", "0", "--no-cleanup"],
                   check=True, capture_output=True, timeout=120)
    client = kazoo(server)
    try:
        # The last transaction: the key created last (setup creates keys in order, pipelined).
        last_zxid = max(client.exists(f"/warren-bench/keys/k{i}").czxid for i in range(keys - 64, keys))
    finally:
        client.stop()
        client.close()
    server.stop(grace=30)
    snaps = {int(p.name.split(".")[1], 16) for p in server.data_dir.rglob("snapshot.*") if p.suffix != ".tmp"}
    assert snaps and max(snaps) >= last_zxid, \
        f"no snapshot at or after 0x{last_zxid:x} after a clean stop: {sorted(map(hex, snaps))}"
    server.start()
    assert "replayed=0" in server.log_tail(80), server.log_tail(20)
    client = kazoo(server)
    try:
        assert len(client.get_children("/warren-bench/keys")) == keys
    finally:
        client.stop()
        client.close()
