"""Multi (transactions): all-or-nothing, per-op results, failure reporting, through kazoo and raw."""

from __future__ import annotations

from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
)

import rawzk


def test_transaction_commits_every_op(zk, base):
    t = zk.transaction()
    t.create(f"{base}/x", b"1")
    t.set_data(base, b"v")
    t.check(base, 1)
    t.create(f"{base}/y", b"2")
    t.delete(f"{base}/x")
    results = t.commit()
    assert results[0] == f"{base}/x"
    stat = results[1]
    assert stat.version == 1
    assert stat.dataLength == 1
    assert results[2:] == [True, f"{base}/y", True]
    assert zk.get_children(base) == ["y"]
    assert zk.get(base)[0] == b"v"


def test_transaction_ops_share_consecutive_zxids(zk, base):
    t = zk.transaction()
    t.create(f"{base}/a")
    t.create(f"{base}/b")
    t.commit()
    a = zk.exists(f"{base}/a")
    b = zk.exists(f"{base}/b")
    # ZooKeeper applies a multi as one transaction: every op gets the same zxid.
    assert a.czxid == b.czxid
    assert zk.exists(base).pzxid == a.czxid


def test_failed_transaction_applies_nothing(zk, base):
    _, before = zk.get(base)
    t = zk.transaction()
    t.create(f"{base}/y", b"1")
    t.set_data(base, b"should not stick")
    t.check(base, 0)  # fails: inside the multi the set above already made the version 1
    t.create(f"{base}/z")
    results = t.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], RolledBackError)
    assert isinstance(results[2], BadVersionError)
    assert isinstance(results[3], RuntimeInconsistency)
    assert zk.get_children(base) == []
    data, after = zk.get(base)
    assert data == b""
    assert after == before, "a failed multi changes no Stat"


def test_transaction_failure_codes(zk, base):
    zk.create(f"{base}/exists")
    t = zk.transaction()
    t.create(f"{base}/exists")
    results = t.commit()
    assert len(results) == 1 and isinstance(results[0], NodeExistsError)

    t = zk.transaction()
    t.create(f"{base}/ok")
    t.delete(f"{base}/missing")
    results = t.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], NoNodeError)
    assert zk.exists(f"{base}/ok") is None


def test_transaction_sees_its_own_earlier_ops(zk, base):
    t = zk.transaction()
    t.create(f"{base}/p")
    t.create(f"{base}/p/c")
    t.set_data(f"{base}/p/c", b"x", version=0)
    t.check(f"{base}/p/c", 1)
    t.delete(f"{base}/p/c")
    t.delete(f"{base}/p")
    results = t.commit()
    assert results[0] == f"{base}/p"
    assert results[1] == f"{base}/p/c"
    assert results[3:] == [True, True, True]
    assert zk.get_children(base) == []


def test_raw_multi_results_and_error_entries(raw, zk, base):
    res = raw.multi([
        ("create", f"{base}/a", b"1", rawzk.PERSISTENT),
        ("set", base, b"x", 0),
        ("check", base, 1),
        ("create", f"{base}/s-", b"", rawzk.PERSISTENT_SEQUENTIAL),
        ("delete", f"{base}/a", -1),
    ])
    assert [r.op for r in res] == [rawzk.OP_CREATE, rawzk.OP_SET_DATA, rawzk.OP_CHECK, rawzk.OP_CREATE, rawzk.OP_DELETE]
    assert all(r.err == 0 for r in res)
    assert res[0].path == f"{base}/a"
    assert res[1].stat.version == 1
    assert res[3].path == f"{base}/s-0000000001"

    fail = raw.multi([
        ("create", f"{base}/b", b"", rawzk.PERSISTENT),
        ("check", base, 7),
        ("delete", base, -1),
    ])
    # Every entry of a failed multi is an error entry: OK before the failure, the failure's own
    # code, then RUNTIME_INCONSISTENCY for the ops never tried.
    assert [(r.op, r.err) for r in fail] == [
        (rawzk.OP_ERROR, 0),
        (rawzk.OP_ERROR, rawzk.BAD_VERSION),
        (rawzk.OP_ERROR, rawzk.RUNTIME_INCONSISTENCY),
    ]
    assert zk.exists(f"{base}/b") is None


def test_empty_multi(raw):
    assert raw.multi([]) == []
