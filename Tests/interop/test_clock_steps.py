"""Wall-clock steps: a server (or client) whose CLOCK_REALTIME jumps an hour keeps every session, ephemeral and
watch, and elects nobody; ctime/mtime of nodes written after the step follow the stepped wall clock.

The processes under test run with libfaketime preloaded (`FAKETIME_DONT_FAKE_MONOTONIC=1`, so only the wall clock
moves; `FAKETIME_NO_CACHE=1`, so every clock call rereads the offset file) and each gets its own offset file, which
the test rewrites to step that process's wall clock while it runs. Intervals must be measured on the monotonic
clock, as Apache ZooKeeper does: a server that timed sessions by the wall clock expires every session at the next
tick after a forward step, and keeps a dead client's session an hour too long after a backward one — both caught
here (the `doomed` session must expire on time, not at once and not an hour late).
"""

from __future__ import annotations

import glob
import os
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
from kazoo.client import KazooClient, KazooState

import rawzk
from rawzk import four_letter
from test_ensemble import Ensemble, wait_one_leader
from test_zkfs import Mount

STEP_S = 3600
SESSION_TIMEOUT_S = 4.0
# Generous against a loaded machine; what matters is "about now" against "an hour off".
TIMESTAMP_SLACK_MS = 120_000


def faketime_library() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    if not found:
        pytest.fail("libfaketime is not installed (Debian package `faketime`; run .ci/install)", pytrace=False)
    return found[0]


class FakeClock:
    """One process's wall clock: an offset from the real time, in a file libfaketime rereads on every clock call.

    Start the process with `env()` in its environment and `LAUNCHER` before its command: started directly under
    libfaketime, the Swift binaries lose their command-line arguments (libfaketime's constructor adds
    FAKETIME_SHARED to the environment); exec'd by env(1), which sets it first, they keep them. libfaketime leaves
    a shared-memory pair per process in /dev/shm that a killed process cannot remove: `forget` does.
    """

    LAUNCHER = ["env"]

    def __init__(self, path: Path):
        self.path = path
        self.offset_s = 0
        self._write()

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": faketime_library(),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def step(self, seconds: int) -> None:
        self.offset_s += seconds
        self._write()

    @staticmethod
    def forget(pid: int) -> None:
        """Removes libfaketime's shared memory of process `pid`, which has exited."""
        for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
            try:
                os.unlink(f"/dev/shm/{name}")
            except FileNotFoundError:
                pass

    def now_ms(self) -> float:
        """The wall clock the process sees now."""
        return (time.time() + self.offset_s) * 1000

    def _write(self) -> None:
        # Replaced whole, so the process never reads a half-written offset.
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(f"{self.offset_s:+d}\n")
        os.replace(tmp, self.path)


class Holder:
    """A kazoo session holding an ephemeral and a one-shot data watch; records every state change."""

    def __init__(self, hosts: str, base: str):
        self.states: list[str] = []
        self.zk = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S)
        self.zk.add_listener(self.states.append)
        self.zk.start(timeout=15)
        self.session_id = self.zk.client_id[0]
        self.ephemeral = self.zk.create(f"{base}/held", ephemeral=True)
        self.watched = f"{base}/watched"
        self.zk.create(self.watched, b"before")
        self.fired = threading.Event()
        self.zk.get(self.watched, watch=lambda ev: self.fired.set())

    def assert_intact(self, other: KazooClient) -> None:
        assert KazooState.LOST not in self.states and KazooState.SUSPENDED not in self.states, self.states
        assert self.zk.client_id[0] == self.session_id, "the session was replaced"
        other.sync(self.ephemeral)
        assert other.exists(self.ephemeral) is not None, "the ephemeral was deleted: the session expired"
        assert self.zk.exists(self.ephemeral) is not None

    def assert_watch_fires(self, other: KazooClient) -> None:
        other.set(self.watched, b"after")
        assert self.fired.wait(10), "the watch set before the step did not fire"

    def close(self) -> None:
        self.zk.stop()
        self.zk.close()


def doomed_session(host: str, port: int, path: str) -> rawzk.RawZK:
    """A raw session (timeout SESSION_TIMEOUT_S) with an ephemeral at `path`; close it to leave only expiry."""
    raw = rawzk.RawZK(host, port)
    raw.handshake(timeout_ms=int(SESSION_TIMEOUT_S * 1000))
    raw.create(path, b"", rawzk.EPHEMERAL)
    return raw


def assert_expires_on_time(observer: KazooClient, path: str, dropped_at: float) -> None:
    """The dropped session's ephemeral goes about one timeout after the drop: not at once, not an hour later."""
    deadline = dropped_at + 4 * SESSION_TIMEOUT_S
    while time.monotonic() < deadline and observer.exists(path) is not None:
        time.sleep(0.1)
    elapsed = time.monotonic() - dropped_at
    assert observer.exists(path) is None, f"a dead session outlived {elapsed:.1f}s (timeout {SESSION_TIMEOUT_S}s)"
    assert elapsed >= SESSION_TIMEOUT_S * 0.5, f"a session expired {elapsed:.1f}s after its client left"


def assert_wall_stamped(observer: KazooClient, path: str, clock: FakeClock) -> None:
    """ctime and mtime of a node written now follow the server's (stepped) wall clock."""
    stat = observer.exists(path)
    assert stat is not None
    for name in ("ctime", "mtime"):
        value = getattr(stat, name)
        assert abs(value - clock.now_ms()) < TIMESTAMP_SLACK_MS, (
            f"{name} {value} is not the server's wall clock {clock.now_ms():.0f} (real {time.time() * 1000:.0f})")


@pytest.mark.parametrize("step_s", [STEP_S, -STEP_S], ids=["forward", "backward"])
def test_standalone_wall_step_keeps_sessions(target, server_factory, tmp_path, step_s):
    clock = FakeClock(tmp_path / "server.faketime")
    srv = server_factory.start(target, env=clock.env(), launcher=FakeClock.LAUNCHER)
    other = KazooClient(hosts=srv.hosts, timeout=SESSION_TIMEOUT_S)
    other.start(timeout=15)
    base = f"/clock-{uuid.uuid4().hex[:8]}"
    other.create(base)
    holder = Holder(srv.hosts, base)
    doomed = doomed_session("127.0.0.1", srv.port, f"{base}/doomed")
    try:
        clock.step(step_s)
        stepped_at = time.monotonic()
        doomed.close()
        assert_expires_on_time(other, f"{base}/doomed", stepped_at)
        # The holder must live well past a whole timeout after the step (a forward step used to expire it at the
        # next tick).
        time.sleep(max(0.0, stepped_at + 1.5 * SESSION_TIMEOUT_S - time.monotonic()))
        holder.assert_intact(other)
        holder.assert_watch_fires(other)
        after = other.create(f"{base}/after", b"x")
        other.set(after, b"y")
        assert_wall_stamped(other, after, clock)
    finally:
        holder.close()
        other.stop()
        other.close()
        pid = srv.proc.pid
        srv.stop()
        FakeClock.forget(pid)


def zxid_epoch(port: int) -> int:
    text = four_letter("127.0.0.1", port, "srvr")
    match = re.search(r"^Zxid: 0x([0-9a-f]+)$", text, re.MULTILINE)
    assert match, text
    return int(match.group(1), 16) >> 32


@pytest.mark.only_targets("warren")
def test_ensemble_wall_steps_keep_sessions_and_leader(target, tmp_path):
    clocks = {i: FakeClock(tmp_path / f"s{i}.faketime") for i in (1, 2, 3)}
    ensemble = Ensemble(tmp_path / "ensemble", env={i: c.env() for i, c in clocks.items()},
                        launcher=FakeClock.LAUNCHER)
    for i in ensemble.ids:
        ensemble.start(i)
    pids = [p.pid for p in ensemble.procs.values()]
    holder = other = None
    try:
        modes = ensemble.wait_serving(ensemble.ids)
        leader = next(i for i, m in modes.items() if m == "leader")
        follower = next(i for i in ensemble.ids if i != leader)
        other = ensemble.client()
        base = f"/clock-{uuid.uuid4().hex[:8]}"
        other.create(base)
        holder = Holder(ensemble.hosts(), base)
        # The leader's epoch shows in zxids once it has committed something.
        epoch = zxid_epoch(ensemble.client_ports[leader])
        assert epoch > 0

        def assert_same_leadership(stage: str) -> None:
            assert wait_one_leader(ensemble.mode, ensemble.ids, 10) == modes, f"{stage}: an election happened"
            for i in ensemble.ids:
                assert zxid_epoch(ensemble.client_ports[i]) == epoch, f"{stage}: server {i} is in a new epoch"

        # The leader alone jumps an hour ahead: it expires sessions, so a wall-clock deadline would drop them all.
        clocks[leader].step(STEP_S)
        time.sleep(1.5 * SESSION_TIMEOUT_S)
        holder.assert_intact(other)
        assert_same_leadership("leader stepped forward")
        other.create(f"{base}/write-1", b"1")
        assert_wall_stamped(other, f"{base}/write-1", clocks[leader])

        # Then every server jumps an hour back; a session that dies now must still expire on time.
        doomed = doomed_session("127.0.0.1", ensemble.client_ports[follower], f"{base}/doomed")
        for c in clocks.values():
            c.step(-STEP_S)
        stepped_at = time.monotonic()
        doomed.close()
        assert_expires_on_time(other, f"{base}/doomed", stepped_at)
        time.sleep(max(0.0, stepped_at + 1.5 * SESSION_TIMEOUT_S - time.monotonic()))
        holder.assert_intact(other)
        assert_same_leadership("all stepped backward")
        holder.assert_watch_fires(other)
        other.create(f"{base}/write-2", b"2")
        assert_wall_stamped(other, f"{base}/write-2", clocks[leader])
    finally:
        if holder is not None:
            holder.close()
        if other is not None:
            other.stop()
            other.close()
        ensemble.stop_all()
        for pid in pids:
            FakeClock.forget(pid)


def session_ids(port: int) -> set[int]:
    return {int(s, 16) for s in re.findall(r"sid=0x([0-9a-f]+)", four_letter("127.0.0.1", port, "cons"))}


@pytest.mark.only_targets("warren")
def test_zkfs_client_survives_its_wall_steps(server, zk, tmp_path):
    """The client side: a zkfs mount (WarrenClient) whose own wall clock jumps keeps its session and keeps working."""
    clock = FakeClock(tmp_path / "zkfs.faketime")
    before = session_ids(server.port)
    mount = Mount(server.hosts, tmp_path / "mnt", tmp_path / "zkfs.log",
                  options=f"session_timeout={int(SESSION_TIMEOUT_S * 1000)}", env=clock.env(),
                  launcher=FakeClock.LAUNCHER)
    try:
        base = f"/clock-{uuid.uuid4().hex[:8]}"
        (mount.path / base[1:]).mkdir()
        (mount.path / base[1:] / "before").write_text("0")
        sessions = session_ids(server.port) - before - {zk.client_id[0]}
        assert len(sessions) == 1, sessions
        for n, step in enumerate((STEP_S, -2 * STEP_S), start=1):
            clock.step(step)
            time.sleep(1.5 * SESSION_TIMEOUT_S)
            assert sessions <= session_ids(server.port), f"step {n}: the mount's session is gone\n{mount.log_tail()}"
            (mount.path / base[1:] / f"after-{n}").write_text(str(n))
            assert zk.get(f"{base}/after-{n}")[0] == str(n).encode()
            assert (mount.path / base[1:] / "before").read_text() == "0"
    finally:
        mount.close()
        FakeClock.forget(mount.proc.pid)
