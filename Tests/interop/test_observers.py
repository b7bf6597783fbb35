"""Observers as real processes: three voters and two observers of each target, same zoo.cfg for both.

Observers are configured as ZooKeeper documents it: `server.N=host:quorumPort:electionPort:observer` in every
server's list and `peerType=observer` in the observer's own zoo.cfg. Expectations, the same for Apache ZooKeeper
3.8 and Warren: an observer reports `observer` in srvr and mntr; one started after data was written syncs it; it
serves reads and forwards writes of clients connected only to it; it follows a new leader after the old one is
killed, and writes through it work again; it never counts toward the quorum (with two of three voters down, two
observers up, no write commits).

The tests run in order on one module-scoped ensemble (observer 5 starts in the sync test; the last test kills two
voters).
"""

from __future__ import annotations

import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from quorum import Quorum

OBS_A, OBS_B = 4, 5


@pytest.fixture(scope="module")
def quorum(target, tmp_path_factory):
    q = Quorum(target, tmp_path_factory.mktemp(f"obs-{target}"), voters=3, observers=2)
    try:
        q.start(q.voter_ids + [OBS_A])
        yield q
    finally:
        q.close()


def client(q: Quorum, ids, **kw) -> KazooClient:
    zk = KazooClient(hosts=q.hosts(ids), timeout=10.0, **kw)
    zk.start(timeout=30)
    return zk


def retry_until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            return fn()
        except (KazooException, KazooTimeoutError) as e:
            last = e
            time.sleep(0.2)
    raise AssertionError(f"{what} did not succeed within {timeout}s: {last!r}")


def test_observer_reports_observer_mode(quorum):
    modes = quorum.wait_serving(quorum.voter_ids + [OBS_A])
    assert modes[OBS_A] == "observer"
    assert sorted(modes[i] for i in quorum.voter_ids) == ["follower", "follower", "leader"]
    rows = dict(line.split("\t", 1) for line in quorum.four(OBS_A, "mntr").splitlines() if "\t" in line)
    assert rows["zk_server_state"] == "observer"
    # The leader counts its two followers, not the observer.
    leader = quorum.leader()
    rows = dict(line.split("\t", 1) for line in quorum.four(leader, "mntr").splitlines() if "\t" in line)
    assert rows["zk_synced_followers"] == "2"


def test_late_observer_syncs_data_written_before_it_started(quorum):
    zk = client(quorum, quorum.voter_ids)
    try:
        zk.create("/obs/pre", b"written before observer 5 started", makepath=True)
        for n in range(20):
            zk.create(f"/obs/pre/n{n:02d}", str(n).encode())
    finally:
        zk.stop()
        zk.close()
    quorum.start([OBS_B])
    assert quorum.servers[OBS_B].mode() == "observer"
    obs = client(quorum, [OBS_B])
    try:
        assert obs.get("/obs/pre")[0] == b"written before observer 5 started"
        assert len(obs.get_children("/obs/pre")) == 20
    finally:
        obs.stop()
        obs.close()


def test_observer_serves_reads_and_forwards_writes(quorum):
    obs = client(quorum, [OBS_A])
    voter = client(quorum, [1])
    try:
        obs.create("/obs/via-observer", b"from an observer's client")
        obs.set("/obs/via-observer", b"set through the observer")
        voter.sync("/obs")
        assert voter.get("/obs/via-observer")[0] == b"set through the observer"
        voter.create("/obs/via-voter", b"from a voter's client")
        obs.sync("/obs")
        assert obs.get("/obs/via-voter")[0] == b"from a voter's client"
        # A watch set through the observer fires for a write made through a voter.
        fired = []
        obs.get("/obs/via-voter", watch=lambda e: fired.append(e.type))
        voter.set("/obs/via-voter", b"changed")
        deadline = time.monotonic() + 10
        while not fired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fired == ["CHANGED"]
        # The other observer serves the same data.
        other = client(quorum, [OBS_B])
        try:
            other.sync("/obs")
            assert other.get("/obs/via-observer")[0] == b"set through the observer"
        finally:
            other.stop()
            other.close()
    finally:
        for c in (obs, voter):
            c.stop()
            c.close()


def test_observer_follows_a_new_leader(quorum):
    old = quorum.leader()
    obs = client(quorum, [OBS_A])
    try:
        obs.create("/obs/before-failover", b"1")
        quorum.kill(old)
        # The observer drops its clients while it looks for the new leader; the client reconnects to it.
        retry_until(lambda: obs.create("/obs/after-failover", b"2"), 60, "a write through the observer")
        new = quorum.leader()
        assert new != old
        quorum.wait_mode(OBS_A, "observer")
        assert obs.get("/obs/after-failover")[0] == b"2"
        v = client(quorum, [new])
        try:
            assert v.get("/obs/after-failover")[0] == b"2"
        finally:
            v.stop()
            v.close()
    finally:
        obs.stop()
        obs.close()
    quorum.start([old])


def test_observers_never_make_a_quorum(quorum):
    leader = quorum.leader()
    survivor = next(i for i in quorum.voter_ids if i != leader)
    for i in quorum.voter_ids:
        if i != survivor:
            quorum.kill(i)
    # One voter and two observers are three of five processes, but only one of three voters: nothing commits.
    time.sleep(3)
    for i in (survivor, OBS_A, OBS_B):
        assert quorum.servers[i].mode() not in ("leader", "follower", "observer"), i
    zk = KazooClient(hosts=quorum.hosts([OBS_A, OBS_B, survivor]), timeout=4.0, connection_retry={"max_tries": 2})
    with pytest.raises(KazooTimeoutError):
        zk.start(timeout=4)
    zk.stop()
    zk.close()
