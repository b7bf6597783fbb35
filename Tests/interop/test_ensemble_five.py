"""A five-server Warren ensemble on 127.0.0.1: losing the leader and a follower at once leaves a quorum of three.

A kazoo client given all five hosts writes in a thread throughout; its session must survive and no acknowledged
write may be lost. The two killed servers are restarted and must catch up to the same digest and tree.
"""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.exceptions import ConnectionLoss, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

from rawzk import four_letter
from test_ensemble import Ensemble
from test_ensemble_netns import trees_by_server, wait_same_hash

pytestmark = pytest.mark.only_targets("warren")


def hashes(e: Ensemble) -> dict[int, str | None]:
    out = {}
    for i in e.ids:
        try:
            out[i] = four_letter("127.0.0.1", e.client_ports[i], "hash", timeout=2.0).strip() or None
        except OSError:
            out[i] = None
    return out


def test_five_servers_survive_leader_and_follower_kill_and_catch_up(tmp_path, target):
    e = Ensemble(tmp_path, size=5)
    for i in e.ids:
        e.start(i)
    zk = None
    stop = threading.Event()
    t = None
    try:
        modes = e.wait_serving(e.ids, timeout_s=30)
        assert sorted(modes.values()) == ["follower"] * 4 + ["leader"]
        zk = e.client()
        session_id = zk.client_id[0]
        zk.ensure_path("/five")
        acked: list[str] = []

        def write_loop():
            while not stop.is_set():
                try:
                    acked.append(zk.create("/five/n-", b"x", sequence=True))
                except (ConnectionLoss, KazooTimeoutError):
                    time.sleep(0.02)
                except SessionExpiredError:
                    return

        t = threading.Thread(target=write_loop)
        t.start()
        time.sleep(1.0)
        leader = next(i for i, m in modes.items() if m == "leader")
        follower = next(i for i, m in modes.items() if m == "follower")
        before = len(acked)
        e.kill(leader)
        e.kill(follower)
        survivors = [i for i in e.ids if i not in (leader, follower)]
        new_leader = e.leader(survivors)
        assert new_leader in survivors
        deadline = time.monotonic() + 20
        after_kill = len(acked)
        while time.monotonic() < deadline and len(acked) < after_kill + 20:
            time.sleep(0.1)
        stop.set()
        t.join(timeout=10)
        assert len(acked) > before and len(acked) >= after_kill + 20, "three of five did not commit"
        assert zk.client_id[0] == session_id, "session was not kept"
        zk.sync("/five")
        present = set(zk.get_children("/five"))
        lost = [p for p in acked if p.rsplit("/", 1)[1] not in present]
        assert not lost, f"acknowledged writes lost: {lost[:5]}"

        e.start(leader)
        e.start(follower)
        e.wait_serving(e.ids, timeout_s=30)
        zk.create("/five/last", b"end")
        wait_same_hash(lambda: hashes(e))
        trees = trees_by_server(e, (leader, follower, new_leader))
        assert trees[leader] == trees[new_leader] == trees[follower]
        assert "/five/last" in trees[leader]
        assert all(p in trees[leader] for p in acked)
    finally:
        stop.set()
        if t is not None:
            t.join(timeout=10)
        if zk is not None:
            zk.stop()
            zk.close()
        e.stop_all()
