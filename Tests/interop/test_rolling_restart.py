"""Rolling restart (Docs/operations.md, "Rolling restart and upgrade"): every server of a 3- and a 5-server ensemble
is restarted in turn under client load, as the procedure says — followers first and the leader last, one at a time,
each stopped with SIGTERM and started again, and the next one only once the restarted server serves and has caught
up with the leader's zxid. Kazoo clients connected to every server keep writing (sequential creates, each session
with an ephemeral of its own) the whole time. Afterwards: no acknowledged write lost, no session expired or moved to
a new id, every ephemeral still there and owned by its session, writes acknowledged while each server was down, and
every server's tree the same. Against both targets, same expectations.

CI runs one round (every server once) of each size. `ROLLING_ROUNDS=N` restarts every server N times
(`ROLLING_ROUNDS=5 python3 -m pytest -q Tests/interop/test_rolling_restart.py`: the long run).
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

from quorum import Quorum

ROUNDS = int(os.environ.get("ROLLING_ROUNDS", "1"))
WRITERS = 3
# The sample zoo.cfg's timing (Docs/zoo.cfg.example, ZooKeeper's conf/zoo_sample.cfg): what operators run.
CFG = {"tickTime": 2000, "initLimit": 10, "syncLimit": 5, "minSessionTimeout": 4000, "maxSessionTimeout": 40000}
SESSION_TIMEOUT_S = 10.0
# Bounds on waits, not speed assertions: each is many times what a restart takes.
SERVE_WAIT_S = 60.0
# ZooKeeper 3.8 under a full CI run (five JVMs on two shared cores) once took 19.6 s to elect after its leader was
# stopped ("LEADER ELECTION TOOK - 19623 MS"), and its writers then more than 30 s to write again.
PROGRESS_WAIT_S = 60.0


class Writer:
    """One session writing sequential znodes under its own parent, one at a time, recording each acknowledgement;
    it holds an ephemeral for its whole life and records every state its session passes through."""

    def __init__(self, hosts: str, k: int):
        self.zk = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S)
        self.states: list[str] = []
        self.zk.add_listener(lambda s: self.states.append(s))
        self.zk.start(timeout=30)
        self.session = self.zk.client_id[0]
        self.parent = f"/rolling/w{k}"
        self.zk.ensure_path(self.parent)
        self.ephemeral = f"/rolling/eph{k}"
        self.zk.create(self.ephemeral, b"held", ephemeral=True)
        self.acked: list[str] = []
        self.acked_at: list[float] = []
        self.errors = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while not self.stop_flag.is_set():
            try:
                self.acked.append(self.zk.create(f"{self.parent}/n-", b"x" * 64, sequence=True))
                self.acked_at.append(time.monotonic())
            except (ConnectionLoss, KazooTimeoutError, OperationTimeoutError):
                # Outcome unknown (the server went away with the request): not counted as acknowledged.
                self.errors += 1
                time.sleep(0.01)
            except SessionExpiredError:
                self.states.append("EXPIRED")
                return

    def stop(self) -> None:
        self.stop_flag.set()
        self.thread.join(timeout=30)


def zxid(q: Quorum, i: int) -> int | None:
    try:
        for line in q.four(i, "srvr").splitlines():
            if line.startswith("Zxid: "):
                return int(line.split()[1], 16)
    except OSError:
        return None
    return None


def wait_caught_up(q: Quorum, i: int, target: int) -> None:
    """Waits until server `i` serves and has applied at least zxid `target` (the leader's, taken after `i` was
    back): a restarted member has then synced with the leader and the next one may go."""
    deadline = time.monotonic() + SERVE_WAIT_S
    while time.monotonic() < deadline:
        z = zxid(q, i)
        if z is not None and z >= target and q.servers[i].mode() in ("leader", "follower"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{q.kind} server {i} did not catch up to zxid {target:#x} within {SERVE_WAIT_S}s "
                         f"(at {zxid(q, i)}):\n{q.servers[i].log_tail()}")


def wait_progress(writers: list[Writer], what: str) -> None:
    """Waits until every writer has another acknowledged write: the ensemble serves writes at this step."""
    before = [len(w.acked) for w in writers]
    deadline = time.monotonic() + PROGRESS_WAIT_S
    while time.monotonic() < deadline:
        if all(len(w.acked) > b for w, b in zip(writers, before)):
            return
        time.sleep(0.02)
    raise AssertionError(f"no write acknowledged to every writer within {PROGRESS_WAIT_S}s {what}")


def restart_order(q: Quorum) -> list[int]:
    leader = q.leader()
    return [i for i in q.ids if i != leader] + [leader]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("size", [3, 5])
def test_rolling_restart_under_load_loses_nothing_and_expires_no_session(tmp_path, target, size):
    q = Quorum(target, tmp_path, voters=size, cfg=CFG)
    writers: list[Writer] = []
    try:
        q.start(timeout=SERVE_WAIT_S)
        writers = [Writer(q.hosts(), k) for k in range(WRITERS)]
        wait_progress(writers, "before the first restart")
        restarted = 0
        began = time.monotonic()
        for _ in range(ROUNDS):
            for i in restart_order(q):
                s = q.servers[i]
                s.stop(grace=20.0)
                assert s.proc is None
                others = [j for j in q.ids if j != i]
                q.wait_serving(others, timeout=SERVE_WAIT_S)
                wait_progress(writers, f"while {target} server {i} was down")
                s.spawn()
                q.wait_serving([i], timeout=SERVE_WAIT_S)
                leader = q.leader()
                wait_caught_up(q, i, zxid(q, leader) or 0)
                restarted += 1
        wait_progress(writers, "after the last restart")
        for w in writers:
            w.stop()

        for w in writers:
            assert "EXPIRED" not in w.states and KazooState.LOST not in w.states, \
                f"session {w.session:#x} ended: {w.states}"
            assert w.zk.client_id[0] == w.session
            w.zk.sync(w.parent)
            present = set(w.zk.get_children(w.parent))
            lost = [p for p in w.acked if p.rsplit("/", 1)[1] not in present]
            assert lost == [], f"{len(lost)} of {len(w.acked)} acknowledged writes lost, first {lost[:3]}"
            _, stat = w.zk.get(w.ephemeral)
            assert stat.ephemeralOwner == w.session, "the ephemeral outlived the restarts, owned by its session"

        # Every server holds the same tree under /rolling (each read alone, after a sync).
        views = {}
        for i in q.ids:
            only = KazooClient(hosts=q.servers[i].hosts, timeout=SESSION_TIMEOUT_S)
            only.start(timeout=30)
            try:
                only.sync("/rolling")
                views[i] = {c: sorted(only.get_children(f"/rolling/{c}")) for c in only.get_children("/rolling")}
            finally:
                only.stop()
                only.close()
        first = views[q.ids[0]]
        assert all(v == first for v in views.values()), "servers differ after the rolling restart"
        acked = sum(len(w.acked) for w in writers)
        stamps = sorted(t for w in writers for t in w.acked_at if t >= began)
        gap_ms = max((b - a for a, b in zip(stamps, stamps[1:])), default=0.0) * 1000
        print(f"{target} {size} servers: {restarted} restarts in {time.monotonic() - began:.1f} s, longest time "
              f"without an acknowledged write {gap_ms:.0f} ms, {acked} writes acknowledged, "
              f"{sum(w.errors for w in writers)} indeterminate (connection lost), 0 lost, 0 sessions expired")
    finally:
        for w in writers:
            w.stop()
            w.zk.stop()
            w.zk.close()
        q.close()
