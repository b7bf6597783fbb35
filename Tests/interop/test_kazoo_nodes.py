"""Znode operations through kazoo: create/get/set/delete/exists/children, Stat bookkeeping, versions,
sequential and ephemeral nodes. Each test runs against every selected target with the same expectations."""

from __future__ import annotations

import time

import pytest
from kazoo.exceptions import (
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)


def next_zxid(zk, base) -> int:
    """The zxid the server assigns to the next write: create a probe node and read its czxid."""
    _, stat = zk.create(f"{base}/probe-", sequence=True, include_data=True)
    return stat.czxid


def test_create_returns_path_and_fresh_stat(zk, base):
    before_ms = int(time.time() * 1000)
    path, stat = zk.create(f"{base}/n", b"hello", include_data=True)
    assert path == f"{base}/n"
    assert stat.version == 0
    assert stat.cversion == 0
    assert stat.aversion == 0
    assert stat.dataLength == 5
    assert stat.numChildren == 0
    assert stat.ephemeralOwner == 0
    assert stat.czxid == stat.mzxid == stat.pzxid
    assert stat.ctime == stat.mtime
    assert abs(stat.ctime - before_ms) < 60_000, "ctime is wall-clock milliseconds"
    data, stat2 = zk.get(path)
    assert data == b"hello"
    assert stat2 == stat


def test_create_plain_returns_path_only(zk, base):
    assert zk.create(f"{base}/plain", b"x") == f"{base}/plain"


def test_parent_stat_tracks_children(zk, base):
    _, parent0 = zk.get(base)
    _, child = zk.create(f"{base}/c1", include_data=True)
    _, parent1 = zk.get(base)
    assert parent1.cversion == parent0.cversion + 1
    assert parent1.numChildren == parent0.numChildren + 1
    assert parent1.pzxid == child.czxid
    assert parent1.mzxid == parent0.mzxid, "adding a child does not modify the parent's data"
    assert parent1.version == parent0.version

    zk.delete(f"{base}/c1")
    delete_zxid = next_zxid(zk, base) - 1
    _, parent2 = zk.get(base)
    # cversion counts both the delete and the probe's create.
    assert parent2.cversion == parent1.cversion + 2
    assert parent2.pzxid == delete_zxid + 1, "pzxid is the zxid of the last child change (the probe)"
    assert parent2.numChildren == parent1.numChildren  # -1 for the delete, +1 for the probe


def test_zxids_increase_by_one_per_write(zk, base):
    _, a = zk.create(f"{base}/a", include_data=True)
    s = zk.set(f"{base}/a", b"1")
    _, b = zk.create(f"{base}/b", include_data=True)
    assert s.mzxid == a.czxid + 1
    assert b.czxid == s.mzxid + 1
    assert s.czxid == a.czxid


def test_makepath_creates_missing_parents(zk, base):
    path = zk.create(f"{base}/x/y/z", b"leaf", makepath=True)
    assert path == f"{base}/x/y/z"
    assert zk.get(f"{base}/x")[0] == b""
    assert zk.get(f"{base}/x/y")[1].numChildren == 1
    assert zk.get(path)[0] == b"leaf"


def test_create_errors(zk, base):
    zk.create(f"{base}/dup")
    with pytest.raises(NodeExistsError):
        zk.create(f"{base}/dup")
    with pytest.raises(NoNodeError):
        zk.create(f"{base}/missing/child")


def test_set_with_versions(zk, base):
    zk.create(f"{base}/v", b"0")
    s1 = zk.set(f"{base}/v", b"one", version=0)
    assert s1.version == 1
    assert s1.dataLength == 3
    assert s1.mzxid > s1.czxid
    assert s1.mtime >= s1.ctime
    with pytest.raises(BadVersionError):
        zk.set(f"{base}/v", b"stale", version=0)
    s2 = zk.set(f"{base}/v", b"any", version=-1)
    assert s2.version == 2
    assert zk.get(f"{base}/v")[0] == b"any"
    with pytest.raises(NoNodeError):
        zk.set(f"{base}/nope", b"x")


def test_set_empty_data(zk, base):
    zk.create(f"{base}/e", b"something")
    s = zk.set(f"{base}/e", b"")
    assert s.dataLength == 0
    assert zk.get(f"{base}/e")[0] == b""


def test_delete_with_versions(zk, base):
    zk.create(f"{base}/d", b"")
    zk.set(f"{base}/d", b"x")
    with pytest.raises(BadVersionError):
        zk.delete(f"{base}/d", version=0)
    zk.delete(f"{base}/d", version=1)
    assert zk.exists(f"{base}/d") is None
    with pytest.raises(NoNodeError):
        zk.delete(f"{base}/d")


def test_delete_non_empty_refused(zk, base):
    zk.create(f"{base}/p/c", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete(f"{base}/p")
    zk.delete(f"{base}/p", recursive=True)
    assert zk.exists(f"{base}/p") is None


def test_exists(zk, base):
    assert zk.exists(f"{base}/none") is None
    _, created = zk.create(f"{base}/yes", b"abc", include_data=True)
    assert zk.exists(f"{base}/yes") == created


def test_get_children_and_include_data(zk, base):
    for name in ("b", "a", "c"):
        zk.create(f"{base}/{name}")
    assert sorted(zk.get_children(base)) == ["a", "b", "c"]
    children, stat = zk.get_children(base, include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert stat.numChildren == 3
    assert stat == zk.exists(base)
    with pytest.raises(NoNodeError):
        zk.get_children(f"{base}/none")


def test_root_and_zookeeper_nodes(zk):
    assert "zookeeper" in zk.get_children("/")
    assert zk.exists("/zookeeper") is not None
    assert "quota" in zk.get_children("/zookeeper")


def test_sequential_counter_counts_child_creations(zk, base):
    # ZooKeeper derives the suffix from the parent's *persisted* cversion, which counts child
    # creations only; the cversion reported in Stat counts creations and deletions
    # (ZooKeeper reports 2 * creations - numChildren). So deletes move the reported cversion but
    # not the sequence counter.
    zk.create(f"{base}/s/a", makepath=True)
    zk.create(f"{base}/s/b")
    zk.delete(f"{base}/s/a")
    assert zk.exists(f"{base}/s").cversion == 3
    p1 = zk.create(f"{base}/s/job-", b"", sequence=True)
    assert p1 == f"{base}/s/job-0000000002"
    assert zk.exists(f"{base}/s").cversion == 4
    p2 = zk.create(f"{base}/s/other-", b"", sequence=True)
    assert p2 == f"{base}/s/other-0000000003", "the counter is per parent, not per prefix"
    p3 = zk.create(f"{base}/s/", b"", sequence=True)
    assert p3 == f"{base}/s/0000000004", "a name may be only the sequence number"
    for child in zk.get_children(f"{base}/s"):
        zk.delete(f"{base}/s/{child}")
    stat = zk.exists(f"{base}/s")
    assert stat.numChildren == 0
    assert stat.cversion == 10, "5 creations + 5 deletions"
    assert zk.create(f"{base}/s/n-", sequence=True) == f"{base}/s/n-0000000005"


def test_sequential_suffix_is_ten_digits_and_distinct(zk, base):
    names = [zk.create(f"{base}/q-", sequence=True) for _ in range(12)]
    suffixes = [n.rsplit("-", 1)[1] for n in names]
    assert all(len(s) == 10 and s.isdigit() for s in suffixes)
    assert [int(s) for s in suffixes] == list(range(12))


def test_ephemeral_owner_and_no_children(zk, base):
    path, stat = zk.create(f"{base}/eph", b"e", ephemeral=True, include_data=True)
    session_id = zk.client_id[0]
    assert stat.ephemeralOwner == session_id
    assert stat.ephemeralOwner != 0
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(f"{path}/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(f"{path}/child-", sequence=True)
    seq = zk.create(f"{base}/eseq-", ephemeral=True, sequence=True)
    assert zk.exists(seq).ephemeralOwner == session_id


def test_ephemeral_deleted_when_session_closes(zk, kazoo_factory, base):
    other = kazoo_factory()
    other.create(f"{base}/gone", ephemeral=True)
    other.create(f"{base}/gone-", ephemeral=True, sequence=True)
    assert len(zk.get_children(base)) == 2
    other.stop()
    zk.sync(base)
    assert zk.get_children(base) == []


def test_binary_data_round_trips(zk, base):
    blob = bytes(range(256)) * 64
    zk.create(f"{base}/bin", blob)
    data, stat = zk.get(f"{base}/bin")
    assert data == blob
    assert stat.dataLength == len(blob)


def test_sync_returns_path(zk, base):
    assert zk.sync(base) == base


def test_unicode_path(zk, base):
    p = zk.create(f"{base}/naïve-ü-日本")
    assert p == f"{base}/naïve-ü-日本"
    assert "naïve-ü-日本" in zk.get_children(base)


def test_set_keeps_creation_fields(zk, base):
    _, created = zk.create(f"{base}/n", b"a", include_data=True)
    zk.create(f"{base}/n/child")
    before = zk.exists(f"{base}/n")
    after = zk.set(f"{base}/n", b"bb")
    assert (after.czxid, after.ctime) == (created.czxid, created.ctime)
    assert after.mtime >= created.mtime
    assert (after.cversion, after.pzxid, after.numChildren) == (before.cversion, before.pzxid, 1)
    assert after.aversion == 0


def test_set_acls_changes_only_aversion(zk, base):
    from kazoo.security import OPEN_ACL_UNSAFE

    before = zk.exists(zk.create(f"{base}/n", b"a"))
    after = zk.set_acls(f"{base}/n", OPEN_ACL_UNSAFE)
    assert after.aversion == before.aversion + 1
    assert (after.mzxid, after.mtime, after.version) == (before.mzxid, before.mtime, before.version)


def test_many_children(zk, base):
    t = zk.transaction()
    for i in range(500):
        t.create(f"{base}/c{i:03d}", b"")
    assert all(isinstance(r, str) for r in t.commit())
    children, stat = zk.get_children(base, include_data=True)
    assert sorted(children) == [f"c{i:03d}" for i in range(500)]
    assert stat.numChildren == 500


def test_unicode_normal_forms_are_distinct(zk, base):
    nfc = f"{base}/caf\u00e9"
    nfd = f"{base}/cafe\u0301"
    zk.create(nfc, b"nfc")
    zk.create(nfd, b"nfd")
    assert zk.get(nfc)[0] == b"nfc"
    assert zk.get(nfd)[0] == b"nfd"
    assert sorted(zk.get_children(base)) == sorted(["caf\u00e9", "cafe\u0301"])


def test_system_nodes(zk):
    from kazoo.exceptions import BadArgumentsError, NoAuthError
    from kazoo.security import READ_ACL_UNSAFE

    acls, stat = zk.get_acls("/zookeeper/config")
    assert acls == READ_ACL_UNSAFE
    assert stat.aversion == -1, "ZooKeeper 3.8 reports /zookeeper/config with aversion -1"
    with pytest.raises(NoAuthError):
        zk.set("/zookeeper/config", b"x")
    for path in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        with pytest.raises(BadArgumentsError):
            zk.delete(path)
    assert zk.exists("/").czxid == 0
