"""Opcodes kazoo 2.x does not expose, driven through the raw Jute client: createContainer, createTTL,
getEphemerals, getAllChildrenNumber, create (opcode 1) vs create2, and server-side path validation."""

from __future__ import annotations

import time
from dataclasses import astuple

import pytest

import rawzk
from rawzk import RawError
from servers import CONTAINER_CHECK_INTERVAL_MS

REAP_WAIT_S = 15.0


def wait_gone(zk, path: str, timeout: float = REAP_WAIT_S) -> float:
    """Polls until `path` is gone; returns when (monotonic). Fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if zk.exists(path) is None:
            return time.monotonic()
        time.sleep(0.1)
    pytest.fail(f"{path} still exists after {timeout}s")


def test_create_vs_create2_replies(raw, base):
    assert raw.create1(f"{base}/one", b"1") == f"{base}/one"
    path, stat = raw.create(f"{base}/two", b"22")
    assert path == f"{base}/two"
    assert stat.dataLength == 2
    assert stat == raw.exists(path)


def test_container_reaped_after_last_child_goes(raw, zk, base):
    used, stat = raw.create(f"{base}/used", b"", rawzk.CONTAINER)
    assert stat.ephemeralOwner == 0, "ZooKeeper reports no owner for containers"
    never_used, _ = raw.create(f"{base}/never", b"", rawzk.CONTAINER)
    raw.create(f"{used}/child", b"")
    time.sleep(2 * CONTAINER_CHECK_INTERVAL_MS / 1000)
    assert zk.exists(used) is not None, "a container with children stays"
    raw.delete(f"{used}/child")
    wait_gone(zk, used)
    # The reaper pass that removed `used` also saw `never`: a container that never had a child stays.
    assert zk.exists(never_used) is not None


def test_container_reports_as_normal_node(raw, zk, base):
    path, _ = raw.create(f"{base}/c", b"data", rawzk.CONTAINER)
    data, stat = zk.get(path)
    assert data == b"data"
    assert stat.ephemeralOwner == 0
    # A container can hold sequential and ephemeral children like any node.
    seq = zk.create(f"{path}/s-", sequence=True, ephemeral=True)
    assert seq == f"{path}/s-0000000000"


def test_ttl_node_expires_after_ttl(raw, zk, base):
    ttl_ms = 1500
    created = time.monotonic()
    path, stat = raw.create(f"{base}/ttl", b"t", rawzk.PERSISTENT_WITH_TTL, ttl_ms=ttl_ms)
    assert path == f"{base}/ttl"
    assert stat.ephemeralOwner == 0, "ZooKeeper reports no owner for TTL nodes"
    assert zk.exists(path) is not None
    gone_at = wait_gone(zk, path)
    assert gone_at - created >= ttl_ms / 1000 - 0.05, "removed before its TTL elapsed"


def test_ttl_node_with_children_survives(raw, zk, base):
    path, _ = raw.create(f"{base}/ttlp", b"", rawzk.PERSISTENT_WITH_TTL, ttl_ms=300)
    zk.create(f"{path}/child")
    time.sleep(2.5 * CONTAINER_CHECK_INTERVAL_MS / 1000)
    assert zk.exists(path) is not None
    zk.delete(f"{path}/child")
    wait_gone(zk, path)


def test_ttl_sequential(raw, zk, base):
    path, _ = raw.create(f"{base}/t-", b"", rawzk.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl_ms=60_000)
    assert path == f"{base}/t-0000000000"


def test_ttl_bad_arguments(raw, base):
    for ttl in (0, -5):
        with pytest.raises(RawError) as e:
            raw.create(f"{base}/bad", b"", rawzk.PERSISTENT_WITH_TTL, ttl_ms=ttl)
        assert e.value.code == rawzk.BAD_ARGUMENTS
    # createTTL with a mode that has no TTL.
    body = rawzk.Writer().string(f"{base}/bad").buffer(b"").acls(rawzk.OPEN_ACL_UNSAFE).int(0).long(1000)
    with pytest.raises(RawError) as e:
        raw.call(rawzk.OP_CREATE_TTL, body.bytes())
    assert e.value.code == rawzk.BAD_ARGUMENTS
    assert raw.exists(f"{base}/bad") is None


def test_get_ephemerals(raw_factory, base, zk):
    mine = raw_factory()
    theirs = raw_factory()
    zk.create(f"{base}/p/q", makepath=True)
    mine.create(f"{base}/e", b"", rawzk.EPHEMERAL)
    mine.create(f"{base}/p/e1", b"", rawzk.EPHEMERAL)
    mine.create(f"{base}/p/q/e2", b"", rawzk.EPHEMERAL)
    theirs.create(f"{base}/p/other", b"", rawzk.EPHEMERAL)
    assert sorted(mine.get_ephemerals(base)) == [f"{base}/e", f"{base}/p/e1", f"{base}/p/q/e2"]
    assert sorted(mine.get_ephemerals(f"{base}/p")) == [f"{base}/p/e1", f"{base}/p/q/e2"]
    # The prefix is matched as a string, not as a path.
    assert mine.get_ephemerals(f"{base}/p/e") == [f"{base}/p/e1"]
    assert mine.get_ephemerals(f"{base}/nothing-here") == []
    assert theirs.get_ephemerals(base) == [f"{base}/p/other"]
    assert set(mine.get_ephemerals("/")) >= {f"{base}/e", f"{base}/p/e1", f"{base}/p/q/e2"}


def test_get_all_children_number(raw, zk, base):
    for p in ("a/b/c", "a/d", "e"):
        zk.create(f"{base}/{p}", makepath=True)
    assert raw.get_all_children_number(base) == 5
    assert raw.get_all_children_number(f"{base}/a") == 3
    assert raw.get_all_children_number(f"{base}/e") == 0
    with pytest.raises(RawError) as e:
        raw.get_all_children_number(f"{base}/missing")
    assert e.value.code == rawzk.NO_NODE


@pytest.mark.parametrize(
    "suffix, code",
    [
        ("/", rawzk.BAD_ARGUMENTS),  # empty last component
        ("/.", rawzk.BAD_ARGUMENTS),
        ("/..", rawzk.BAD_ARGUMENTS),
        ("/a\x00b", rawzk.BAD_ARGUMENTS),
        ("/a\x01b", rawzk.BAD_ARGUMENTS),  # control characters are not allowed
        ("/missing/x", rawzk.NO_NODE),
        # The parent is looked up before the name is validated.
        ("/missing//x", rawzk.NO_NODE),
    ],
)
def test_create_path_validation(raw, base, suffix, code):
    with pytest.raises(RawError) as e:
        raw.create(base + suffix, b"")
    assert e.value.code == code


def test_relative_and_empty_paths_rejected(raw):
    for path in ("relative", ""):
        with pytest.raises(RawError) as e:
            raw.create(path, b"")
        assert e.value.code == rawzk.BAD_ARGUMENTS


def test_zookeeper_node_cannot_be_recreated(raw):
    with pytest.raises(RawError) as e:
        raw.create("/zookeeper", b"")
    assert e.value.code == rawzk.NODE_EXISTS


def test_sequential_with_trailing_slash_is_valid(raw, base):
    path, _ = raw.create(f"{base}/", b"", rawzk.PERSISTENT_SEQUENTIAL)
    assert path == f"{base}/0000000000"


def test_null_data_is_returned_as_null(raw, base):
    body = rawzk.Writer().string(f"{base}/null").buffer(None).acls(rawzk.OPEN_ACL_UNSAFE).int(0)
    raw.call(rawzk.OP_CREATE2, body.bytes())
    xid = raw.send_request(rawzk.OP_GET_DATA, rawzk.Writer().string(f"{base}/null").bool(False).bytes())
    reply = raw.read_reply(xid)
    assert reply.err == rawzk.OK
    assert reply.body.int() == -1, "ZooKeeper keeps null data null (length -1), unlike empty data"
    assert reply.body.stat().dataLength == 0


def test_multi_read(raw, zk, base):
    zk.create(f"{base}/a", b"A")
    zk.create(f"{base}/b")
    w = rawzk.Writer()
    w.int(rawzk.OP_GET_CHILDREN).bool(False).int(-1).string(base).bool(False)
    w.int(rawzk.OP_GET_DATA).bool(False).int(-1).string(f"{base}/a").bool(False)
    w.int(rawzk.OP_GET_DATA).bool(False).int(-1).string(f"{base}/missing").bool(False)
    w.int(rawzk.OP_GET_DATA).bool(False).int(-1).string(f"{base}/b").bool(False)
    w.int(-1).bool(True).int(-1)
    r = raw.call(rawzk.OP_MULTI_READ, w.bytes()).body
    # Reads are independent: a failed one yields an error entry and the rest still answer.
    t, done, _ = r.int(), r.bool(), r.int()
    assert (t, done) == (rawzk.OP_GET_CHILDREN, False)
    assert sorted(r.strings()) == ["a", "b"]
    t, done, _ = r.int(), r.bool(), r.int()
    assert t == rawzk.OP_GET_DATA
    assert r.buffer() == b"A"
    assert astuple(r.stat()) == tuple(zk.exists(f"{base}/a"))
    t, done, _ = r.int(), r.bool(), r.int()
    assert t == rawzk.OP_ERROR
    assert r.int() == rawzk.NO_NODE
    t, done, _ = r.int(), r.bool(), r.int()
    assert t == rawzk.OP_GET_DATA
    assert r.buffer() == b""
    r.stat()
    t, done, err = r.int(), r.bool(), r.int()
    assert (t, done, err) == (-1, True, -1)
