"""Migration from Apache ZooKeeper to Warren and back: `warren import` reads the snapshot and transaction-log
files a real ZooKeeper 3.8 wrote, `warren server` serves the result, `warren export` writes a snapshot that a real
ZooKeeper starts from again. Every znode is compared through kazoo at each step: path, data (null apart from
empty), ACL and every Stat field. Ephemerals do not survive (their sessions do not), containers and TTL nodes do
and are still reaped as such, and the zxid carries over so a client's lastZxidSeen keeps working.

The bulk size is MIGRATION_ZNODES: 20000 by default (about a minute on two shared cores). The acceptance run is
MIGRATION_ZNODES=100000 (about 5 minutes, nearly all of it kazoo creating and reading 100k znodes three times; the
per-test time limit grows with the size); its measured numbers are in Docs/operations.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, CREATOR_ALL_ACL, READ_ACL_UNSAFE, Id, Permissions, make_digest_acl

import rawzk
from servers import SUPER_PASSWORD, SUPER_USER, ServerProcess, warren_binary

BULK = int(os.environ.get("MIGRATION_ZNODES", "20000"))
pytestmark = [pytest.mark.only_targets("warren"), pytest.mark.timeout(120 + BULK // 200)]

WINDOW = 4000  # async requests in flight per batch
SUPER_AUTH = [("digest", f"{SUPER_USER}:{SUPER_PASSWORD}")]
TTL_MS = 4000
REAP_WAIT_S = 20.0


def kazoo(server: ServerProcess) -> KazooClient:
    c = KazooClient(hosts=server.hosts, auth_data=SUPER_AUTH, timeout=15.0)
    c.start(timeout=30)
    return c


def pipelined(calls):
    """Runs (function, args) async calls WINDOW at a time and returns their results in order."""
    out = []
    for i in range(0, len(calls), WINDOW):
        pending = [f(*args) for f, args in calls[i:i + WINDOW]]
        out.extend(p.get(timeout=60) for p in pending)
    return out


def read_tree(zk: KazooClient) -> dict:
    """Every znode as path -> (data, ACL tuples, stat tuple), read level by level with pipelined requests."""
    tree = {}
    level = ["/"]
    while level:
        got = pipelined([(zk.get_async, (p,)) for p in level])
        acls = pipelined([(zk.get_acls_async, (p,)) for p in level])
        parents = [p for p, (_, stat) in zip(level, got) if stat.numChildren > 0]
        kids = pipelined([(zk.get_children_async, (p,)) for p in parents])
        for p, (data, stat), (acl, _) in zip(level, got, acls):
            tree[p] = (data, sorted((a.perms, a.id.scheme, a.id.id) for a in acl), tuple(stat))
        level = [(p.rstrip("/") + "/" + k) for p, names in zip(parents, kids) for k in names]
    return tree


def without_ephemerals(tree: dict) -> dict:
    """What a restart after every session expired would show: ephemerals gone, their parents' numChildren one
    down and cversion one up per ephemeral (ZooKeeper reports cversion as twice the child creates minus the children
    left), pzxid unchanged (migration drops them without a txn)."""
    out = dict(tree)
    for path, (_, _, stat) in tree.items():
        if stat[7] != 0:  # ephemeralOwner; containers and TTL nodes report 0
            del out[path]
            parent = path.rsplit("/", 1)[0] or "/"
            data, acl, pstat = out[parent]
            out[parent] = (data, acl, pstat[:5] + (pstat[5] + 1,) + pstat[6:9] + (pstat[9] - 1,) + pstat[10:])
    return out


def assert_same(actual: dict, expected: dict, what: str) -> None:
    if actual == expected:
        return
    missing = sorted(set(expected) - set(actual))[:5]
    extra = sorted(set(actual) - set(expected))[:5]
    differ = [(p, expected[p], actual[p]) for p in sorted(set(expected) & set(actual)) if expected[p] != actual[p]][:5]
    pytest.fail(f"{what}: missing {missing}, unexpected {extra}, differing (path, expected, actual) {differ}")


def zxid(server: ServerProcess) -> int:
    return int(re.search(r"Zxid: 0x([0-9a-f]+)", server.four("srvr")).group(1), 16)


def warren(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(warren_binary()), *args], capture_output=True, text=True, timeout=300)


def wait_gone(zk: KazooClient, path: str) -> None:
    deadline = time.monotonic() + REAP_WAIT_S
    while zk.exists(path) is not None:
        assert time.monotonic() < deadline, f"{path} was not reaped within {REAP_WAIT_S}s"
        time.sleep(0.2)


def build_bulk(zk: KazooClient, bulk: int) -> None:
    """`bulk` znodes under up to 100 parents, with pipelined creates."""
    zk.create("/bulk")
    parents = [f"/bulk/p{j:03d}" for j in range(min(100, max(1, bulk // 100)))]
    pipelined([(zk.create_async, (p,)) for p in parents])
    values = [None, b"", b"v", bytes(range(256)), b"x" * 1000]
    pipelined([(zk.create_async, (f"{parents[i % len(parents)]}/n{i:07d}", values[i % len(values)]))
               for i in range(bulk)])


def build_rich(zk: KazooClient, raw: rawzk.RawZK) -> None:
    """Every kind of node and change, made after the bulk so they are in the log after ZooKeeper's last snapshot."""
    zk.create("/rich", b"root of the small cases")
    zk.create("/rich/null", None)
    zk.create("/rich/empty", b"")
    zk.create("/rich/binary", bytes(range(256)) * 4)
    zk.create("/rich/large", os.urandom(500_000))
    seq = [zk.create("/rich/seq-", b"s", sequence=True) for _ in range(3)]
    zk.delete(seq[1])
    zk.create("/rich/digest", b"d", acl=[make_digest_acl("alice", "pw", all=True)])
    zk.create("/rich/readonly", b"r", acl=READ_ACL_UNSAFE)
    zk.create("/rich/ip", b"i", acl=[ACL(Permissions.ALL, Id("ip", "127.0.0.1"))])
    zk.add_auth("digest", "bob:pw")
    zk.create("/rich/creator", b"c", acl=CREATOR_ALL_ACL)
    zk.create("/rich/versions", b"0")
    for v in range(3):
        zk.set("/rich/versions", b"%d" % (v + 1), version=v)
    zk.create("/rich/acl", b"a")
    zk.set_acls("/rich/acl", [make_digest_acl("carol", "pw", read=True, write=True), *READ_ACL_UNSAFE], version=0)
    zk.create("/rich/gone", b"g")
    zk.delete("/rich/gone")
    tx = zk.transaction()
    tx.create("/rich/multi", b"m")
    tx.create("/rich/multi/child", b"mc")
    tx.set_data("/rich/versions", b"multi")
    assert not any(isinstance(r, Exception) for r in tx.commit())
    # Containers and TTL nodes with a child each, so no reaper touches them until a test removes the child.
    for suffix in ("a", "b"):
        raw.create(f"/rich/container-{suffix}", b"c", rawzk.CONTAINER)
        zk.create(f"/rich/container-{suffix}/kid")
        raw.create(f"/rich/ttl-{suffix}", b"t", rawzk.PERSISTENT_WITH_TTL, ttl_ms=TTL_MS)
        zk.create(f"/rich/ttl-{suffix}/kid")
    raw.create("/rich/ttl-long", b"t", rawzk.PERSISTENT_WITH_TTL, ttl_ms=86_400_000)


@pytest.fixture(scope="module")
def zookeeper_source(tmp_path_factory):
    """A ZooKeeper data directory with snapshots and a log past the newest one, and what ZooKeeper served from
    it just before it stopped (ephemerals of a still-open session included)."""
    zk_server = ServerProcess("zookeeper", tmp_path_factory.mktemp("zookeeper-source"), {"snapCount": min(5000, max(100, BULK // 4))})
    try:
        zk_server.start()
        zk = kazoo(zk_server)
        started = time.monotonic()
        build_bulk(zk, BULK)
        # The raw client sends no pings: connected only now, it stays within its session timeout.
        raw = rawzk.RawZK("127.0.0.1", zk_server.port)
        raw.handshake(timeout_ms=20000)
        build_rich(zk, raw)
        raw.close_session()
        # A session that stays open until ZooKeeper stops (kazoo pings): its ephemerals are in ZooKeeper's files,
        # as after a crash.
        owner = kazoo(zk_server)
        owner.create("/rich/ephemeral", b"e", ephemeral=True)
        owner.create("/rich/multi/ephemeral-", b"e", ephemeral=True, sequence=True)
        built = time.monotonic() - started
        started = time.monotonic()
        view = read_tree(zk)
        read = time.monotonic() - started
        zk.stop()
        zk.close()
        last = zxid(zk_server)
        zk_server.stop()
        owner.stop()
        owner.close()
        snaps = sorted(int(p.name.split(".")[1], 16) for p in zk_server.data_dir.rglob("snapshot.*"))
        assert len(snaps) >= 2 and snaps[-1] < last, f"want txns logged after the last snapshot: {snaps}, {last:#x}"
        print(f"\nZooKeeper built {BULK} bulk znodes ({len(view)} in all) in {built:.1f}s, read them back in "
              f"{read:.1f}s; last zxid {last:#x}")
        yield zk_server, view, last
    finally:
        zk_server.kill9()


def test_import_serve_export_round_trip(zookeeper_source, server_factory, tmp_path):
    zk_server, zk_view, zk_last = zookeeper_source
    assert any(stat[7] != 0 for _, _, stat in zk_view.values()), "the source must hold ephemerals"
    assert len(zk_view) >= BULK

    # Import into the dataDir of a Warren server that has not started yet.
    w = server_factory.create("warren")
    started = time.monotonic()
    r = warren("import", "--zookeeper-datadir", str(zk_server.data_dir), "--zookeeper-datalogdir",
               str(zk_server.data_log_dir), "--datadir", str(w.data_dir))
    assert r.returncode == 0, r.stderr
    print(f"import: {time.monotonic() - started:.2f}s: {r.stdout.strip()}")
    assert f"at zxid {zk_last:#x}" in r.stdout
    w.start()
    assert zxid(w) == zk_last, "Warren resumes at ZooKeeper's last applied zxid"
    raw = rawzk.RawZK("127.0.0.1", w.port)
    assert raw.handshake(last_zxid=zk_last, timeout_ms=20000).timeout_ms > 0, "a client that saw ZooKeeper's last zxid"
    raw.close_session()
    c = kazoo(w)
    assert_same(read_tree(c), without_ephemerals(zk_view), "Warren after import")

    # Warren goes on from there: new zxids, containers and TTL nodes still reaped as such.
    assert c.create("/after-import", b"w") and c.exists("/after-import").czxid > zk_last
    c.delete("/rich/container-a/kid")
    c.delete("/rich/ttl-a/kid")
    wait_gone(c, "/rich/container-a")
    wait_gone(c, "/rich/ttl-a")
    owner = kazoo(w)  # open until Warren stops, so export finds an ephemeral to drop
    owner.create("/rich/warren-ephemeral", b"e", ephemeral=True)
    warren_view = read_tree(c)
    c.stop()
    c.close()
    warren_last = zxid(w)
    w.stop()
    owner.stop()
    owner.close()

    # Export, and start Apache ZooKeeper on the result.
    z2 = server_factory.create("zookeeper")
    started = time.monotonic()
    r = warren("export", "--datadir", str(w.data_dir), "--datalogdir", str(w.data_log_dir), "--zookeeper-datadir",
               str(z2.data_dir))
    assert r.returncode == 0, r.stderr
    print(f"export: {time.monotonic() - started:.2f}s: {r.stdout.strip()}")
    z2.start()
    assert zxid(z2) == warren_last
    c2 = kazoo(z2)
    assert_same(read_tree(c2), without_ephemerals(warren_view), "ZooKeeper after export")
    c2.delete("/rich/container-b/kid")
    c2.delete("/rich/ttl-b/kid")
    wait_gone(c2, "/rich/container-b")
    wait_gone(c2, "/rich/ttl-b")
    assert c2.exists("/rich/ttl-long") is not None
    c2.stop()
    c2.close()


@pytest.fixture
def small_source(server_factory):
    """A small ZooKeeper data dir with two snapshots and txns after the newest; returns (server, last zxid)."""
    s = server_factory.start("zookeeper", snapCount=100)
    zk = kazoo(s)
    zk.create("/small")
    for i in range(300):
        zk.create(f"/small/n{i:03d}", b"%d" % i)
    zk.stop()
    zk.close()
    last = zxid(s)
    s.stop()
    return s, last


def log_records(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each record in a ZooKeeper log file: header 16 bytes, then {crc 8, len 4, entry, 'B'}."""
    b = path.read_bytes()
    out, off = [], 16
    while off + 12 <= len(b):
        n = int.from_bytes(b[off + 8:off + 12], "big")
        if n == 0:
            break
        out.append((off, 12 + n + 1))
        off += 12 + n + 1
    return out


def imported_zxid(result: subprocess.CompletedProcess) -> int:
    assert result.returncode == 0, result.stderr
    return int(re.search(r"at zxid 0x([0-9a-f]+)", result.stdout).group(1), 16)


def test_damaged_input_stops_at_last_valid_txn_and_falls_back(small_source, tmp_path):
    s, last = small_source
    src = tmp_path / "zk"
    shutil.copytree(s.data_dir, src / "data")
    shutil.copytree(s.data_log_dir, src / "log")
    args = ["import", "--zookeeper-datadir", str(src / "data"), "--zookeeper-datalogdir", str(src / "log")]

    # A torn last record: the import stops before it, says so, and loses nothing else.
    newest_log = max((src / "log").rglob("log.*"), key=lambda p: int(p.name.split(".")[1], 16))
    off, length = log_records(newest_log)[-1]
    original = newest_log.read_bytes()
    with open(newest_log, "r+b") as f:
        f.truncate(off + length // 2)
    r = warren(*args, "--datadir", str(tmp_path / "torn"))
    assert imported_zxid(r) == last - 1
    assert "stops early" in r.stderr
    newest_log.write_bytes(original)

    # A flipped byte inside a record: its Adler-32 fails, same outcome.
    flipped = bytearray(original)
    flipped[off + 14] ^= 0xFF
    newest_log.write_bytes(bytes(flipped))
    r = warren(*args, "--datadir", str(tmp_path / "flipped"))
    assert imported_zxid(r) == last - 1
    assert "checksum mismatch" in r.stderr
    newest_log.write_bytes(original)

    # A corrupt newest snapshot: the previous one plus the logs give the same tree.
    newest_snap = max((src / "data").rglob("snapshot.*"), key=lambda p: int(p.name.split(".")[1], 16))
    snap = bytearray(newest_snap.read_bytes())
    snap[len(snap) // 2] ^= 0xFF
    newest_snap.write_bytes(bytes(snap))
    r = warren(*args, "--datadir", str(tmp_path / "fallback"))
    assert imported_zxid(r) == last
    assert f"snapshot {newest_snap}" in r.stderr and "falling back" in r.stderr

    # An existing non-empty output is not overwritten without --force.
    before = sorted((tmp_path / "fallback").rglob("*"))
    r = warren(*args, "--datadir", str(tmp_path / "fallback"))
    assert r.returncode != 0 and "--force" in r.stderr
    assert sorted((tmp_path / "fallback").rglob("*")) == before
    assert imported_zxid(warren(*args, "--datadir", str(tmp_path / "fallback"), "--force")) == last


def test_gzip_snapshots(server_factory):
    """ZooKeeper with zookeeper.snapshot.compression.method=gz (as a zoo.cfg key, which it turns into that system
    property) writes snapshot.<zxid>.gz; the import reads it and Warren serves the same tree."""
    s = server_factory.start("zookeeper", snapCount=100, **{"snapshot.compression.method": "gz"})
    zk = kazoo(s)
    zk.create("/gz", b"g")
    for i in range(300):
        zk.create(f"/gz/n{i:03d}", bytes([i % 256]) * (i % 50) if i % 3 else None)
    view = read_tree(zk)
    zk.stop()
    zk.close()
    s.stop()
    snaps = sorted(s.data_dir.rglob("snapshot.*.gz"))
    assert len(snaps) >= 2, f"ZooKeeper wrote no gzip snapshots: {sorted(s.data_dir.rglob('*'))}"
    w = server_factory.create("warren")
    r = warren("import", "--zookeeper-datadir", str(s.data_dir), "--zookeeper-datalogdir", str(s.data_log_dir),
               "--datadir", str(w.data_dir))
    assert r.returncode == 0, r.stderr
    assert ".gz" in r.stdout, r.stdout
    w.start()
    c = kazoo(w)
    assert_same(read_tree(c), without_ephemerals(view), "Warren after a gzip import")
    c.stop()
    c.close()
