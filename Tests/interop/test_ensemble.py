"""A three-server Warren ensemble on 127.0.0.1: election, writes through followers, failover, catch-up, quorum.

Warren only (the ZooKeeper target runs standalone in this suite). Each server is a real `warren server`
process with its own zoo.cfg and dataDir; tickTime is 200 ms, so a dead leader is noticed within
syncLimit (5 ticks) and kazoo sessions (timeout 4 s, the largest 20 ticks allow) survive a failover.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, KazooException, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

import rawzk
from rawzk import four_letter
from servers import free_port, warren_binary

pytestmark = pytest.mark.only_targets("warren")

TICK_MS = 200
SESSION_TIMEOUT_S = 4.0


def srvr_mode(text: str | None) -> str | None:
    """The `Mode:` of a `srvr` answer (leader, follower, observer, standalone, looking), or None."""
    for line in (text or "").splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):]
    return None


def wait_one_leader(mode_of, ids, timeout_s: float) -> dict[int, str]:
    """Waits until every server in `ids` leads or follows (per `mode_of(id)`) and exactly one of them leads."""
    deadline = time.monotonic() + timeout_s
    modes: dict[int, str | None] = {}
    while time.monotonic() < deadline:
        modes = {i: mode_of(i) for i in ids}
        if all(m in ("leader", "follower") for m in modes.values()) and list(modes.values()).count("leader") == 1:
            return modes
        time.sleep(0.1)
    raise AssertionError(f"ensemble not serving within {timeout_s}s: {modes}")


class Ensemble:
    """`size` Warren servers sharing one server list; start/kill/restart them by id (1-based).

    Odd-numbered servers run with `warren.ioThreads=0` (socket I/O on the core's thread), the others with the
    default I/O loops, so every ensemble test covers both threading modes of the shell; server 3 runs without the
    spin-wait thread (`warren.spinWaitUs=0`), the others with it. `extra` is appended to every zoo.cfg."""

    def __init__(self, base: Path, size: int = 3, env: dict[int, dict] | None = None, launcher: list[str] = (),
                 extra: str = ""):
        self.base = base
        # Added to server i's environment (e.g. libfaketime's, per server), and a prefix to every server's command.
        self.env = env or {}
        self.launcher = list(launcher)
        self.ids = list(range(1, size + 1))
        self.client_ports = {i: free_port() for i in self.ids}
        self.procs: dict[int, subprocess.Popen] = {}
        servers = "\n".join(f"server.{i}=127.0.0.1:{free_port()}:{free_port()}" for i in self.ids)
        for i in self.ids:
            d = base / f"s{i}"
            (d / "data").mkdir(parents=True)
            (d / "data" / "myid").write_text(f"{i}\n")
            (d / "zoo.cfg").write_text(
                f"tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={d / 'data'}\n"
                f"clientPort={self.client_ports[i]}\nclientPortAddress=127.0.0.1\n"
                f"4lw.commands.whitelist=*\n{servers}\n" + ("warren.ioThreads=0\n" if i % 2 else "")
                + ("warren.spinWaitUs=0\n" if i == 3 else "") + extra)

    def start(self, i: int) -> None:
        d = self.base / f"s{i}"
        log = open(d / "server.log", "ab")
        self.procs[i] = subprocess.Popen(
            [*self.launcher, str(warren_binary()), "server", "--config", str(d / "zoo.cfg")], stdout=log, stderr=log,
            env={**os.environ, **self.env.get(i, {})})

    def run_all(self):
        """Starts every server and waits until they serve; yields this ensemble, then kills every server still
        running (a module fixture's body: `yield from Ensemble(...).run_all()`)."""
        for i in self.ids:
            self.start(i)
        try:
            self.wait_serving(self.ids)
            yield self
        finally:
            self.stop_all()

    def kill(self, i: int) -> None:
        p = self.procs.pop(i)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self) -> None:
        for i in list(self.procs):
            self.kill(i)

    def mode(self, i: int) -> str | None:
        try:
            return srvr_mode(four_letter("127.0.0.1", self.client_ports[i], "srvr"))
        except OSError:
            return None

    def wait_serving(self, ids, timeout_s: float = 20.0) -> dict[int, str]:
        try:
            return wait_one_leader(self.mode, ids, timeout_s)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.log_tails(ids)}") from None

    def log_tails(self, ids, lines: int = 25) -> str:
        """The last lines of each server's log and whether its process still runs (for a failure's message)."""
        out = []
        for i in ids:
            p = self.procs.get(i)
            state = "not started" if p is None else ("running" if p.poll() is None else f"exited {p.returncode}")
            try:
                tail = (self.base / f"s{i}" / "server.log").read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                tail = []
            out.append(f"--- server {i} ({state}):\n" + "\n".join(tail))
        return "\n".join(out)

    def leader(self, ids=None) -> int:
        modes = self.wait_serving(ids or list(self.procs))
        return next(i for i, m in modes.items() if m == "leader")

    def hosts(self, ids=None) -> str:
        return ",".join(f"127.0.0.1:{self.client_ports[i]}" for i in (ids or self.ids))

    def client(self, ids=None, **kw) -> KazooClient:
        zk = KazooClient(hosts=self.hosts(ids), timeout=SESSION_TIMEOUT_S, **kw)
        zk.start(timeout=10)
        return zk


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory, target):
    yield from Ensemble(tmp_path_factory.mktemp("ensemble")).run_all()


def test_three_servers_elect_one_leader(ensemble):
    modes = ensemble.wait_serving(ensemble.ids)
    assert sorted(modes.values()) == ["follower", "follower", "leader"]
    leader = next(i for i, m in modes.items() if m == "leader")
    mntr = four_letter("127.0.0.1", ensemble.client_ports[leader], "mntr")
    rows = dict(line.split("\t", 1) for line in mntr.splitlines() if "\t" in line)
    assert rows["zk_server_state"] == "leader"
    assert rows["zk_followers"] == "2"
    assert rows["zk_synced_followers"] == "2"


def test_write_through_follower_is_readable_everywhere_after_sync(ensemble):
    leader = ensemble.leader()
    follower = next(i for i in ensemble.ids if i != leader)
    writer = ensemble.client([follower])
    try:
        writer.create("/via-follower", b"hello")
        writer.set("/via-follower", b"hello again")
        with pytest.raises(KazooException):
            writer.create("/via-follower", b"dup")  # NodeExists comes back through the leader
    finally:
        writer.stop()
        writer.close()
    for i in ensemble.ids:
        reader = ensemble.client([i])
        try:
            reader.sync("/via-follower")
            data, stat = reader.get("/via-follower")
            assert data == b"hello again" and stat.version == 1, f"server {i}"
        finally:
            reader.stop()
            reader.close()


def test_pipelined_load_through_every_server_completes(ensemble):
    # warren bench pipelines creates, syncs, setData and pings over sessions spread across all three servers; every
    # request must be answered (a forwarded write queued behind a reply once went unmatched under this load).
    for _ in range(3):
        out = subprocess.run(
            [str(warren_binary()), "bench", "--hosts", ensemble.hosts(), "--workload", "write", "--duration", "1",
             "--warmup", "0.2", "--keys", "100", "--value-bytes", "64", "--json"],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout)
        assert result["errorsTotal"] == 0 and result["connectionErrors"] == 0, result
        assert result["ops"] > 0


def test_only_dead_sessions_expire_when_clients_sit_on_followers(ensemble):
    # Followers report client activity to the leader, which alone expires sessions.
    leader = ensemble.leader()
    f1, f2 = [i for i in ensemble.ids if i != leader]
    live = ensemble.client([f1])
    live.ensure_path("/eph")
    live.create("/eph/live", ephemeral=True)
    script = (
        "import sys, time\n"
        "from kazoo.client import KazooClient\n"
        f"zk = KazooClient(hosts='{ensemble.hosts([f2])}', timeout={SESSION_TIMEOUT_S})\n"
        "zk.start(timeout=10)\n"
        "zk.create('/eph/dead', ephemeral=True)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        live_session = live.client_id[0]
        child.send_signal(signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 3 * SESSION_TIMEOUT_S
        while time.monotonic() < deadline and live.exists("/eph/dead"):
            time.sleep(0.2)
        live.sync("/eph")
        assert live.exists("/eph/dead") is None, "the dead client's session never expired"
        time.sleep(SESSION_TIMEOUT_S)  # the live session, pinging a follower only, must outlast its timeout
        assert live.exists("/eph/live") is not None
        assert live.client_id[0] == live_session
    finally:
        if child.poll() is None:
            child.kill()
        live.stop()
        live.close()


def test_session_survives_kill9_of_leader_without_losing_acknowledged_writes(ensemble):
    zk = ensemble.client()
    session_id = zk.client_id[0]
    zk.ensure_path("/failover")
    acked: list[str] = []
    ack_times: list[float] = []
    stop = threading.Event()

    def write_loop():
        while not stop.is_set():
            try:
                acked.append(zk.create("/failover/n-", b"x", sequence=True))
                ack_times.append(time.monotonic())
            except (ConnectionLoss, KazooTimeoutError):
                time.sleep(0.02)
            except SessionExpiredError:
                return

    t = threading.Thread(target=write_loop)
    t.start()
    time.sleep(1.0)
    old_leader = ensemble.leader()
    before_kill = len(acked)
    killed_at = time.monotonic()
    ensemble.kill(old_leader)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not ack_times or ack_times[-1] <= killed_at + 0.5):
        time.sleep(0.1)
    time.sleep(1.0)
    stop.set()
    t.join(timeout=10)
    survivors = [i for i in ensemble.ids if i != old_leader]
    new_leader = ensemble.leader(survivors)
    gap = max((b - a for a, b in zip(ack_times, ack_times[1:]) if b > killed_at), default=None)
    print(f"\nfailover: leader {old_leader} -> {new_leader}, acknowledged writes {len(acked)} "
          f"({before_kill} before the kill), longest write gap {gap:.2f}s" if gap else "no writes after kill")
    assert new_leader != old_leader
    assert zk.client_id[0] == session_id, "session was not kept"
    assert len(acked) > before_kill, "no write succeeded after the failover"
    zk.sync("/failover")
    present = set(zk.get_children("/failover"))
    lost = [p for p in acked if p.rsplit("/", 1)[1] not in present]
    assert not lost, f"acknowledged writes lost: {lost[:5]}"
    zk.stop()
    zk.close()
    ensemble.start(old_leader)  # rejoins as a follower for the next tests
    ensemble.wait_serving(ensemble.ids)


def test_restarted_follower_catches_up(ensemble):
    leader = ensemble.leader()
    follower = next(i for i in ensemble.ids if i != leader)
    ensemble.kill(follower)
    zk = ensemble.client([i for i in ensemble.ids if i != follower])
    zk.ensure_path("/catchup")
    for n in range(50):
        zk.create(f"/catchup/c{n}", str(n).encode())
    zk.stop()
    zk.close()
    ensemble.start(follower)
    ensemble.wait_serving(ensemble.ids)
    only = ensemble.client([follower])
    try:
        only.sync("/catchup")
        assert sorted(only.get_children("/catchup")) == sorted(f"c{n}" for n in range(50))
        assert only.get("/catchup/c49")[0] == b"49"
    finally:
        only.stop()
        only.close()


def test_far_behind_follower_is_sent_a_snapshot(ensemble):
    # More txns than the leader keeps in memory for DIFF (500): the follower must be synced with SNAP.
    leader = ensemble.leader()
    follower = next(i for i in ensemble.ids if i != leader)
    ensemble.kill(follower)
    zk = ensemble.client([i for i in ensemble.ids if i != follower])
    zk.ensure_path("/snap")
    results = [zk.create_async(f"/snap/s{n}", b"v") for n in range(700)]
    for r in results:
        r.get(timeout=30)
    zk.set("/snap", b"last")
    zk.stop()
    zk.close()
    ensemble.start(follower)
    ensemble.wait_serving(ensemble.ids)
    only = ensemble.client([follower])
    try:
        only.sync("/snap")
        assert len(only.get_children("/snap")) == 700
        assert only.get("/snap")[0] == b"last"
        assert sorted(only.get_children("/catchup")) == sorted(f"c{n}" for n in range(50))
    finally:
        only.stop()
        only.close()


def test_minority_cannot_commit(ensemble):
    ensemble.wait_serving(ensemble.ids)
    alone = ensemble.ids[0]
    for i in ensemble.ids[1:]:
        ensemble.kill(i)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ensemble.mode(alone) != "looking":
        time.sleep(0.1)
    assert ensemble.mode(alone) == "looking"
    zk = KazooClient(hosts=ensemble.hosts([alone]), timeout=SESSION_TIMEOUT_S)
    with pytest.raises(KazooTimeoutError):
        zk.start(timeout=3)  # a lone server does not serve clients, so nothing can be written
    zk.stop()
    zk.close()
    # One more server makes a quorum again; everything written before is still there.
    ensemble.start(ensemble.ids[1])
    ensemble.wait_serving([alone, ensemble.ids[1]])
    zk = ensemble.client([alone])
    try:
        zk.create("/after-minority", b"ok")
        zk.sync("/catchup")
        assert len(zk.get_children("/catchup")) == 50
    finally:
        zk.stop()
        zk.close()


def mntr(ensemble: Ensemble, i: int) -> dict[str, str]:
    text = four_letter("127.0.0.1", ensemble.client_ports[i], "mntr")
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def test_handshake_waits_for_the_election_instead_of_being_refused(ensemble):
    """A client connecting to a server without a leader is not refused at once (it would back off before trying
    again, and that back-off, not the election, would set the failover gap): the handshake waits, up to a second,
    and is answered as soon as the server serves."""
    ensemble.wait_serving(list(ensemble.procs))
    alone, other = ensemble.ids[0], ensemble.ids[1]
    for i in ensemble.ids[1:]:
        if i in ensemble.procs:
            ensemble.kill(i)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ensemble.mode(alone) != "looking":
        time.sleep(0.05)
    assert ensemble.mode(alone) == "looking"

    # No leader comes: the handshake waits, then is refused.
    raw = rawzk.RawZK("127.0.0.1", ensemble.client_ports[alone])
    sent = time.monotonic()
    raw.send_frame(raw.connect_request(timeout_ms=10000))
    deadline = time.monotonic() + 2
    while mntr(ensemble, alone).get("warren_connects_waiting") != "1":
        assert time.monotonic() < deadline, mntr(ensemble, alone)
        time.sleep(0.02)
    assert raw.wait_closed(5.0)
    waited = time.monotonic() - sent
    raw.close()
    assert 0.5 <= waited <= 3.0, f"held {waited:.2f} s; the hold is 1 s (checked on a 100 ms tick)"
    assert mntr(ensemble, alone)["warren_connects_waiting"] == "0"

    # A leader comes while the handshake waits: it is answered with a new session, on the same connection. The
    # second server's process start, recovery and the election must fit in the 1 s hold; on a machine loaded
    # enough that they do not, the hold expires as in the first half (the connection is closed, not answered):
    # then the scenario is set up again, up to three times.
    for attempt in range(3):
        raw = rawzk.RawZK("127.0.0.1", ensemble.client_ports[alone])
        try:
            assert ensemble.mode(alone) == "looking"
            raw.send_frame(raw.connect_request(timeout_ms=10000))
            started = time.monotonic()
            ensemble.start(other)
            try:
                r = rawzk.Reader(raw.recv_frame(timeout=5.0))
            except rawzk.ConnectionClosed:
                late = time.monotonic() - started
                assert late >= 0.5 and attempt < 2, f"closed after {late:.2f} s (attempt {attempt + 1})"
                ensemble.kill(other)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and ensemble.mode(alone) != "looking":
                    time.sleep(0.05)
                continue
            _protocol, timeout_ms, session_id = r.int(), r.int(), r.long()
            answered = time.monotonic() - started
            break
        finally:
            raw.close()
    assert session_id != 0 and timeout_ms > 0, (session_id, timeout_ms)
    assert int(mntr(ensemble, alone)["warren_connects_held"]) >= 2
    ensemble.wait_serving([alone, other])
    print(f"handshake answered {answered * 1000:.0f} ms after the second server was started")


def test_whole_ensemble_restart_keeps_committed_data(ensemble):
    ensemble.stop_all()
    for i in ensemble.ids:
        ensemble.start(i)
    ensemble.wait_serving(ensemble.ids)
    for i in ensemble.ids:
        zk = ensemble.client([i])
        try:
            zk.sync("/")
            assert zk.get("/after-minority")[0] == b"ok", f"server {i}"
            assert len(zk.get_children("/snap")) == 700, f"server {i}"
        finally:
            zk.stop()
            zk.close()
