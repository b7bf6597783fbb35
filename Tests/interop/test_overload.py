"""Overload, bounded (issue 14, item 5): many sessions held, request floods past globalOutstandingLimit, a disk
that fills and empties again. Against Apache ZooKeeper too where it has the feature; differences are documented
in Docs/reliability.md ("Overload").

Default run: 2,000 idle sessions per target, floods of 4 x 3,000 pipelined requests, the full-disk cycle (Warren;
needs root for a tmpfs mount, skipped otherwise). `OVERLOAD_HEAVY=1` holds 10,000 sessions instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError, ThrottledOpError, ZookeeperError

import rawzk
from overload_clients import Flooder, IdleSessions, four_letter, rss_bytes

HEAVY = os.environ.get("OVERLOAD_HEAVY") == "1"
IDLE_SESSIONS = 10_000 if HEAVY else 2_000
ZTHROTTLEDOP = -127


def kazoo(server, **kw) -> KazooClient:
    c = KazooClient(hosts=server.hosts, timeout=10.0, **kw)
    c.start(timeout=15)
    return c


def srvr_field(server, name: str) -> int:
    for line in four_letter(server.port, "srvr").splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1].strip())
    raise AssertionError(f"srvr has no {name}")


# ---------------------------------------------------------------------------------------------------------
# Many sessions held


def test_many_idle_sessions_held(target, server_factory):
    """IDLE_SESSIONS sessions from one address (maxClientCnxns=0), all answered pings, the server still serves a
    new client, and every session is still open after a ping round."""
    server = server_factory.start(target, maxClientCnxns=0, maxSessionTimeout=60000)
    sessions = IdleSessions("127.0.0.1", server.port, IDLE_SESSIONS, timeout_ms=60000)
    try:
        assert len(set(sessions.session_ids)) == IDLE_SESSIONS
        assert srvr_field(server, "Connections") >= IDLE_SESSIONS
        zk = kazoo(server)
        try:
            path = f"/held-{uuid.uuid4().hex[:6]}"
            zk.create(path, b"x")
            assert zk.get(path)[0] == b"x"
        finally:
            zk.stop()
            zk.close()
        assert sessions.ping_all() == IDLE_SESSIONS
    finally:
        sessions.close()


def test_max_client_cnxns_per_address(target, server_factory):
    """maxClientCnxns counts connections per client address, as ZooKeeper does: the 6th from 127.0.0.1 is
    refused while one from 127.0.0.2 is accepted."""
    server = server_factory.start(target, maxClientCnxns=5, clientPortAddress="0.0.0.0")
    held = []
    try:
        for _ in range(5):
            c = rawzk.RawZK("127.0.0.1", server.port)
            c.handshake()
            held.append(c)
        # Refused: ZooKeeper may close it before connect() returns (a broken pipe or reset there), Warren after
        # accepting it; either way no session.
        with pytest.raises((rawzk.ConnectionClosed, TimeoutError, ConnectionError)):
            extra = rawzk.RawZK("127.0.0.1", server.port)
            held.append(extra)
            extra.handshake()
        other = socket_from("127.0.0.2", server.port)
        held.append(other)
        other.handshake()
        assert other.session.session_id != 0
    finally:
        for c in held:
            c.close()


def socket_from(source_ip: str, port: int) -> rawzk.RawZK:
    import socket

    c = rawzk.RawZK.__new__(rawzk.RawZK)
    c.host, c.port, c.io_timeout = "127.0.0.1", port, 5.0
    from collections import deque

    c.events, c.arrivals, c.last_zxid, c.session, c._xid, c._rbuf = deque(), [], 0, None, 0, bytearray()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source_ip, 0))
    s.settimeout(5.0)
    s.connect(("127.0.0.1", port))
    c.sock = s
    return c


# ---------------------------------------------------------------------------------------------------------
# Floods past globalOutstandingLimit

FLOODERS = 4
FLOOD_REQUESTS = 3_000
LIMIT = 100


def set_data_body(path: str, size: int):
    data = b"v" * size

    def make(_i: int):
        return rawzk.OP_SET_DATA, rawzk.Writer().string(path).buffer(data).int(-1).bytes()

    return make


def test_flood_past_global_outstanding_limit(target, server_factory):
    """Four sessions pipeline 3,000 setData each against globalOutstandingLimit=100: every request is answered,
    in order, ok; no flooder is disconnected; a light client keeps getting answers during the flood; requests in
    the server stay near the limit; (Warren) resident memory grows by little."""
    server = server_factory.start(target, globalOutstandingLimit=LIMIT, maxClientCnxns=0)
    zk = kazoo(server)
    base = f"/flood-{uuid.uuid4().hex[:6]}"
    zk.create(base, b"")
    for i in range(FLOODERS):
        zk.create(f"{base}/n{i}", b"")
    rss_before = rss_bytes(server.proc.pid) if target == "warren" else 0
    flooders = [
        Flooder("127.0.0.1", server.port, FLOOD_REQUESTS, set_data_body(f"{base}/n{i}", 512)) for i in range(FLOODERS)
    ]
    outstanding_seen: list[int] = []
    light_ok = 0
    try:
        for f in flooders:
            f.start()
        # The light client: one request at a time, while the flood runs.
        while not all(f.done.is_set() for f in flooders):
            zk.set(f"{base}", b"light")
            assert zk.get(f"{base}")[0] == b"light"
            light_ok += 1
            outstanding_seen.append(srvr_field(server, "Outstanding"))
            if light_ok > 10_000:
                break
        for f in flooders:
            assert f.wait(120), "flood not answered within 120 s"
    finally:
        for f in flooders:
            f.close()
        zk.stop()
        zk.close()
    for f in flooders:
        assert f.error is None, f.error
        assert not f.closed, "a flooder was disconnected"
        assert [x for x, _ in f.replies] == list(range(1, FLOOD_REQUESTS + 1)), "replies in request order"
        assert {e for _, e in f.replies} == {0}
    assert light_ok >= 1, "the light client got no answer during the flood"
    if target == "warren":
        # Requests in the server: the limit plus at most one per connection (FLOODERS + the light client).
        assert max(outstanding_seen) <= LIMIT + FLOODERS + 2, outstanding_seen
        growth = rss_bytes(server.proc.pid) - rss_before
        assert growth < 64 << 20, f"resident memory grew by {growth} bytes during the flood"


def test_throttled_requests_answered_ztrottledop(target, server_factory):
    """With throttled_op_wait_time (ZooKeeper 3.6+: zookeeper.throttled_op_wait_time, and its RequestThrottler
    on via request_throttle_max_requests), a pipelined flood is answered in order with each request either
    carried out or refused with ZTHROTTLEDOP (-127); at least one is throttled, a throttled create leaves no node,
    and the connection stays open."""
    cfg = {"throttled_op_wait_time": 1, "maxClientCnxns": 0}
    if target == "zookeeper":
        cfg["request_throttle_max_requests"] = 10
    else:
        cfg["globalOutstandingLimit"] = 10
    server = server_factory.start(target, **cfg)
    base = f"/throttle-{uuid.uuid4().hex[:6]}"
    zk = kazoo(server)

    kazoo_throttled = [0]

    def unthrottled(call, *args):
        # ZooKeeper's RequestThrottler refuses any request that waited over 1 ms, kazoo's too (on a loaded
        # machine, even outside the flood): those are retried, and counted (zk_throttled_ops counts them too).
        for _ in range(100):
            try:
                return call(*args)
            except ThrottledOpError:
                kazoo_throttled[0] += 1
                time.sleep(0.05)
        raise AssertionError(f"{call.__name__} throttled 100 times")

    unthrottled(zk.create, base, b"")
    n = 2000

    def make(i: int):
        return rawzk.OP_CREATE, rawzk.Writer().string(f"{base}/c{i}").buffer(b"x").acls(rawzk.OPEN_ACL_UNSAFE).int(0).bytes()

    f = Flooder("127.0.0.1", server.port, n, make).start()
    try:
        assert f.wait(120)
        assert f.error is None, f.error
        assert not f.closed
        assert [x for x, _ in f.replies] == list(range(1, n + 1))
        errs = [e for _, e in f.replies]
        assert set(errs) <= {0, ZTHROTTLEDOP}, set(errs)
        throttled = [i for i, e in enumerate(errs) if e == ZTHROTTLEDOP]
        assert throttled, "nothing was throttled"
        # ZooKeeper's ServerMetrics counter, in mntr on both: the flood's throttled requests and the side session's.
        assert int(server.mntr()["zk_throttled_ops"]) == len(throttled) + kazoo_throttled[0]
        children = set(unthrottled(zk.get_children, base))
        for i, e in enumerate(errs):
            assert (f"c{i}" in children) == (e == 0), f"c{i}: error {e}"
        # The session is still usable.
        f.raw.ping()
    finally:
        f.close()
        zk.stop()
        zk.close()


# ---------------------------------------------------------------------------------------------------------
# A disk that fills and empties again


@pytest.fixture
def small_fs(tmp_path):
    """An 8 MiB tmpfs mounted for the test (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "smallfs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:  # root without CAP_SYS_ADMIN (some containers)
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path) -> None:
    """Writes zeros to `path` until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    chunk = b"\0" * 4096
    try:
        while True:
            os.write(fd, chunk)
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.mark.only_targets("warren")
def test_full_disk_refuses_writes_then_serves_again_without_restart(target, server_factory, small_fs):
    """dataDir and dataLogDir on an 8 MiB tmpfs, a snapshot (and purge) every ~50 txns: filled up, writes fail
    with an error (not a hang), reads are served; the filler removed, writes are served again by the same process; after a restart every acknowledged
    write is there and the log replays cleanly."""
    server = server_factory.create(target, dataDir=small_fs / "data", dataLogDir=small_fs / "datalog",
                                   snapCount=50)
    server.data_dir = small_fs / "data"
    server.data_log_dir = small_fs / "datalog"
    server.start()
    pid = server.proc.pid
    zk = kazoo(server)
    acked: dict[str, bytes] = {}
    try:
        zk.create("/disk", b"")
        for i in range(20):
            zk.create(f"/disk/before{i}", b"b" * 100)
            acked[f"/disk/before{i}"] = b"b" * 100
        filler = small_fs / "filler"
        fill(filler)
        refused = None
        # The log's preallocated runway (1 MiB) still takes writes once the file system is full: go past it.
        for i in range(3000):
            try:
                zk.create(f"/disk/full{i}", b"f" * 4000)
                acked[f"/disk/full{i}"] = b"f" * 4000
            except ZookeeperError as e:
                refused = e
                break
        assert refused is not None, "writes kept succeeding on a full disk"
        assert type(refused).__name__ == "SystemZookeeperError", repr(refused)
        # Still refused, and reads still served.
        with pytest.raises(ZookeeperError):
            zk.create("/disk/still-full", b"x")
        assert zk.get("/disk/before0")[0] == b"b" * 100
        assert "out of disk space" in server.log_path.read_text(errors="replace")

        filler.unlink()
        deadline = time.monotonic() + 20
        while True:
            try:
                zk.create("/disk/after0", b"a")
                acked["/disk/after0"] = b"a"
                break
            except ZookeeperError:
                assert time.monotonic() < deadline, "writes not served again within 20 s of freeing space"
                time.sleep(0.2)
        for i in range(1, 50):
            zk.create(f"/disk/after{i}", b"a" * 100)
            acked[f"/disk/after{i}"] = b"a" * 100
        assert server.proc.pid == pid and server.is_running(), "the server restarted"
        assert "accepting writes" in server.log_path.read_text(errors="replace")
    finally:
        zk.stop()
        zk.close()

    server.stop()
    server.start()
    zk = kazoo(server)
    try:
        for path, data in acked.items():
            assert zk.get(path)[0] == data, path
        children = set(zk.get_children("/disk"))
        assert children == {p.rsplit("/", 1)[1] for p in acked if p != "/disk"}, "a refused write came back"
    finally:
        zk.stop()
        zk.close()
    log = server.log_path.read_text(errors="replace")
    assert "corrupt" not in log.lower()


@pytest.mark.only_targets("zookeeper")
def test_full_disk_stops_zookeeper(target, server_factory, small_fs):
    """The difference, checked: Apache ZooKeeper 3.8 treats a failed log write as fatal — its SyncThread exits
    ("Severe unrecoverable error"), the server shuts down, the write ends in ConnectionLoss and the process stops
    serving until restarted."""
    server = server_factory.create(target, dataDir=small_fs / "data", dataLogDir=small_fs / "datalog",
                                   snapCount=100000)
    server.data_dir = small_fs / "data"
    server.data_log_dir = small_fs / "datalog"
    server.start()
    zk = KazooClient(hosts=server.hosts, timeout=4.0, connection_retry={"max_tries": 0})
    zk.start(timeout=15)
    try:
        zk.create("/disk", b"")
        fill(small_fs / "filler")
        outcome = None
        for i in range(3000):
            try:
                zk.create(f"/disk/full{i}", b"f" * 4000)
            except KazooException as e:
                outcome = e
                break
        assert outcome is not None
        assert type(outcome).__name__ in ("ConnectionLoss", "SessionExpiredError"), repr(outcome)
        assert "Severe unrecoverable error" in server.log_path.read_text(errors="replace")
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass


@pytest.mark.only_targets("warren")
def test_ensemble_member_with_full_disk_leaves_and_rejoins_by_itself_when_space_returns(target, tmp_path, small_fs):
    """Three servers, server 3's transaction log on the 8 MiB tmpfs. Filled up: server 3 leaves the ensemble (a
    replica that cannot log must not vote or acknowledge) with a clear message, and writes keep committing through
    the other two. Once space returns it starts again by itself — the same process, nobody restarts it — and
    catches up with every write."""
    from test_ensemble import Ensemble

    ens = Ensemble(tmp_path / "ens")
    cfg = tmp_path / "ens" / "s3" / "zoo.cfg"
    cfg.write_text(cfg.read_text() + f"dataLogDir={small_fs / 'log3'}\n")
    run = ens.run_all()
    next(run)
    try:
        zk = ens.client(ids=[1, 2])
        log_path = tmp_path / "ens" / "s3" / "server.log"
        try:
            zk.create("/full", b"")
            written = []

            def create(path, data):
                # Server 3 may be the leader: its leaving then costs an election, and a create whose reply was
                # lost to the dropped connection may have committed (the retry then finds it).
                try:
                    zk.retry(zk.create, path, data)
                except NodeExistsError:
                    pass

            def left() -> bool:
                return "out of disk space: leaving the ensemble" in log_path.read_text(errors="replace")

            fill(small_fs / "filler")
            for i in range(2500):  # ~10 MB through the quorum: past server 3's free space and log runway
                create(f"/full/n{i}", b"d" * 4000)
                written.append(i)
                if i % 100 == 99 and left():
                    break
            deadline = time.monotonic() + 30
            while not left() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert left(), f"server 3 did not leave with a full log disk:\n{log_path.read_text()[-3000:]}"
            assert ens.mode(3) is None, "server 3 still answers srvr while its disk is full"
            for i in range(len(written), len(written) + 50):
                create(f"/full/n{i}", b"d")
                written.append(i)
            pid = ens.procs[3].pid
            (small_fs / "filler").unlink()
            ens.wait_serving([1, 2, 3], timeout_s=60)
            assert ens.procs[3].poll() is None and ens.procs[3].pid == pid, "the same process serves again"
            assert "disk space is back: starting again" in log_path.read_text(errors="replace")
            z3 = ens.client(ids=[3])
            try:
                z3.sync("/full")
                assert len(z3.get_children("/full")) == len(written)
            finally:
                z3.stop()
                z3.close()
        finally:
            zk.stop()
            zk.close()
    finally:
        run.close()
