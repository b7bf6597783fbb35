"""Leader replacement with the default zoo.cfg timing (tickTime 2000, initLimit 10, syncLimit 5) on real processes.

A stopped (SIGSTOP) leader is replaced after `warren.leaderTimeoutMs` (1 s by default), not syncLimit × tickTime
(10 s); a follower stopped for 2 s causes no election; three servers started together serve within a few
seconds, every time. The bounds asserted are generous (the measured figures are in Docs/reliability.md, from
Tests/bench/failover.py); what they rule out is the old behaviour: 10 s for a stopped leader, initLimit × tickTime
(20 s here) for a formation that missed its leader.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from kazoo.exceptions import ConnectionLoss, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

from rawzk import four_letter
from test_ensemble import Ensemble

pytestmark = pytest.mark.only_targets("warren")

DEFAULT_CFG = "tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
WRITES_RESUME_S_MAX = 5.0
FORMATION_S_MAX = 6.0


def mntr(e: Ensemble, i: int) -> dict[str, str]:
    text = four_letter("127.0.0.1", e.client_ports[i], "mntr")
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def elections(e: Ensemble) -> dict[int, int]:
    return {i: int(mntr(e, i)["warren_elections"]) for i in e.procs}


class Writer:
    """Creates sequential znodes one at a time through `zk` and records when each was acknowledged."""

    def __init__(self, zk):
        self.zk = zk
        self.acked: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                self.zk.create("/failover/n-", b"x", sequence=True)
                self.acked.append(time.monotonic())
            except (ConnectionLoss, KazooTimeoutError):
                time.sleep(0.005)
            except SessionExpiredError:
                return

    def first_after(self, t: float, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            after = [a for a in self.acked if a > t]
            if after:
                return after[0]
            time.sleep(0.02)
        return None

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def default_ensemble(tmp_path_factory, target):
    e = Ensemble(tmp_path_factory.mktemp("failover"), extra=DEFAULT_CFG)
    for i in e.ids:
        e.start(i)
    try:
        e.wait_serving(e.ids)
        yield e
    finally:
        for p in e.procs.values():
            p.send_signal(signal.SIGCONT)
        e.stop_all()


def test_stopped_leader_is_replaced_within_seconds(default_ensemble):
    e = default_ensemble
    leader = e.leader()
    followers = [i for i in e.ids if i != leader]
    zk = e.client(followers)
    writer = Writer(zk)
    try:
        zk.ensure_path("/failover")
        writer.thread.start()
        assert writer.first_after(time.monotonic(), 5.0) is not None
        stopped_at = time.monotonic()
        os.kill(e.procs[leader].pid, signal.SIGSTOP)
        try:
            resumed = writer.first_after(stopped_at, 15.0)
        finally:
            os.kill(e.procs[leader].pid, signal.SIGCONT)
        assert resumed is not None, "no write acknowledged within 15 s of stopping the leader"
        assert resumed - stopped_at < WRITES_RESUME_S_MAX
        modes = e.wait_serving(e.ids)
        assert modes[leader] == "follower", "the old leader rejoins as a follower"
    finally:
        writer.finish()
        zk.stop()
        zk.close()


def test_follower_stopped_for_two_seconds_causes_no_election(default_ensemble):
    e = default_ensemble
    e.wait_serving(e.ids)
    leader = e.leader()
    follower = min(i for i in e.ids if i != leader)
    before = elections(e)
    zk = e.client([leader])
    writer = Writer(zk)
    try:
        zk.ensure_path("/failover")
        writer.thread.start()
        os.kill(e.procs[follower].pid, signal.SIGSTOP)
        time.sleep(2.0)
        os.kill(e.procs[follower].pid, signal.SIGCONT)
        time.sleep(1.5)
        assert writer.first_after(time.monotonic() - 1.0, 5.0) is not None
        assert elections(e) == before
        assert e.wait_serving(e.ids)[leader] == "leader"
        assert int(mntr(e, leader)["zk_synced_followers"]) == 2
    finally:
        writer.finish()
        zk.stop()
        zk.close()


def test_three_servers_started_together_serve_promptly(tmp_path, target):
    took = []
    for n in range(10):
        e = Ensemble(tmp_path / f"start{n}", extra=DEFAULT_CFG)
        started = time.monotonic()
        for i in e.ids:
            e.start(i)
        try:
            e.wait_serving(e.ids, timeout_s=30.0)
            took.append(time.monotonic() - started)
        finally:
            e.stop_all()
    assert max(took) < FORMATION_S_MAX, took
