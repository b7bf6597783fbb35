"""Ensembles of either target on 127.0.0.1: Apache ZooKeeper 3.8 (QuorumPeerMain) or Warren, same zoo.cfg.

Used by the read-only mode and observer tests (and `Tests/bench/observers.py`), which run the same expectations
against both servers. Voters are servers 1..voters, observers the ids after them (`server.N=...:observer` in every
server's list, `peerType=observer` in the observer's own zoo.cfg, as ZooKeeper's docs configure them).

Servers are started without waiting (a member answers `srvr` with a Mode line only once a quorum serves) and then
waited for together. Every process is SIGKILLed by `close()`.

For dynamic reconfiguration (`test_reconfig.py`): `client_in_lines=True` writes ZooKeeper's dynamic form of the server
lines, `server.N=host:quorumPort:electionPort:participant;host:clientPort`; `spares=K` prepares K more servers (ids
after the observers, directories, myid and ports) that are in no member's list and not started;
`prepare_joiner(i, members, role)` gives one of them the zoo.cfg a joining server has (the current members plus
itself); `line(i, role)` is its `server.N=...` line for a reconfig request; `spawn(write_config=False)` restarts a
server on the zoo.cfg it left behind (ZooKeeper rewrites its own after a reconfig).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from rawzk import four_letter
from servers import ServerProcess, free_port

ZK_QUORUM_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


def srvr_mode(text: str | None) -> str | None:
    """The `Mode:` of a `srvr` answer, or None."""
    for line in (text or "").splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):]
    return None


class QuorumServer(ServerProcess):
    """A ServerProcess that runs as an ensemble member: ZooKeeper's QuorumPeerMain, and the `-D` words of
    `SERVER_JVMFLAGS` in its environment passed to the JVM (zkServer.sh's way); Warren reads them from that
    environment variable itself."""

    host = "127.0.0.1"

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"

    def four(self, cmd: str, timeout: float = 5.0) -> str:
        return four_letter(self.host, self.port, cmd, timeout=timeout)

    def server_command(self) -> list[str]:
        cmd = super().server_command()
        if self.kind != "zookeeper":
            return cmd
        main = cmd.index("org.apache.zookeeper.server.ZooKeeperServerMain")
        cmd[main] = ZK_QUORUM_MAIN
        flags = [w for w in self.env.get("SERVER_JVMFLAGS", "").split() if w.startswith("-D")]
        return [cmd[0], *flags, *cmd[1:]]

    def spawn(self, write_config: bool = True) -> None:
        """Starts the process without waiting for it to serve; `write_config=False` keeps the zoo.cfg on disk as it
        is (as the server itself may have rewritten it)."""
        self.check_installed()
        if write_config:
            self.write_config()
        log = open(self.log_path, "ab")
        log.write(f"\n===== start {' '.join(self.command())}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.base_dir, start_new_session=True, env={**os.environ, **self.env})
        log.close()

    def stop_signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def mode(self) -> str | None:
        try:
            return srvr_mode(self.four("srvr", timeout=2.0))
        except OSError:
            return None


class Quorum:
    """`voters` participants and `observers` observers of `kind`, configured alike; ids are 1-based."""

    def __init__(self, kind: str, base: Path, voters: int = 3, observers: int = 0, env: dict | None = None,
                 cfg: dict | None = None, host_of=None, launcher_of=None, spares: int = 0,
                 client_in_lines: bool = False):
        """`host_of(i)`: the address server i listens on for everything (default 127.0.0.1); `launcher_of(i)`: a
        command prefix for server i (e.g. `ip netns exec NS`); `spares`: servers prepared after the observers, in
        no list and not started (see `prepare_joiner`); `client_in_lines`: server lines in the dynamic form with
        the role and client address."""
        host_of = host_of or (lambda i: "127.0.0.1")
        launcher_of = launcher_of or (lambda i: [])
        self.kind = kind
        self.cfg = dict(cfg or {})
        self.client_in_lines = client_in_lines
        self.voter_ids = list(range(1, voters + 1))
        self.observer_ids = list(range(voters + 1, voters + observers + 1))
        self.ids = self.voter_ids + self.observer_ids
        self.spare_ids = list(range(voters + observers + 1, voters + observers + spares + 1))
        self.addresses = {i: (host_of(i), free_port(), free_port()) for i in self.ids + self.spare_ids}
        self.servers: dict[int, QuorumServer] = {}
        for i in self.ids + self.spare_ids:
            overrides = {"initLimit": 10, "syncLimit": 5, "clientPortAddress": host_of(i)}
            s = QuorumServer(kind, base / f"{kind}{i}", overrides, env, launcher_of(i))
            s.host = host_of(i)
            s.data_dir.mkdir(parents=True, exist_ok=True)
            (s.data_dir / "myid").write_text(f"{i}\n")
            self.servers[i] = s
        members = {i: ("observer" if i in self.observer_ids else "participant") for i in self.ids}
        for i in self.ids:
            self._configure(i, members)

    def line(self, i: int, role: str = "participant") -> str:
        """Server i's `server.i=...` line (ZooKeeper's dynamic form with the client address if `client_in_lines`)."""
        host, quorum_port, election_port = self.addresses[i]
        if self.client_in_lines:
            return f"server.{i}={host}:{quorum_port}:{election_port}:{role};{host}:{self.servers[i].port}"
        return f"server.{i}={host}:{quorum_port}:{election_port}" + (":observer" if role == "observer" else "")

    def _configure(self, i: int, members: dict[int, str]) -> None:
        """Server i's zoo.cfg lists `members` (id -> "participant" or "observer"), then the `cfg` overrides, then
        `peerType=observer` if i is an observer among them."""
        s = self.servers[i]
        for key in [k for k in s.cfg if k.startswith("server.")]:
            del s.cfg[key]
        s.cfg.pop("peerType", None)
        for j in sorted(members):
            key, value = self.line(j, members[j]).split("=", 1)
            s.cfg[key] = value
        for k, v in self.cfg.items():
            if v is None:
                s.cfg.pop(k, None)
            else:
                s.cfg[k] = v
        if members.get(i) == "observer":
            s.cfg["peerType"] = "observer"

    def prepare_joiner(self, i: int, members: dict[int, str], role: str = "participant") -> QuorumServer:
        """Gives spare server i the zoo.cfg of a server about to join: `members` (id -> role, as the ensemble's
        /zookeeper/config lists them) plus itself with `role`, as ZooKeeper's admin guide describes it."""
        self._configure(i, {**members, i: role})
        return self.servers[i]

    def start(self, ids=None, timeout: float = 60.0) -> None:
        """Starts servers `ids` (default: all) and waits until each reports a serving mode."""
        ids = list(ids or self.ids)
        for i in ids:
            self.servers[i].spawn()
        self.wait_serving(ids, timeout)

    def wait_serving(self, ids, timeout: float = 60.0) -> dict[int, str]:
        deadline = time.monotonic() + timeout
        modes: dict[int, str | None] = {}
        while time.monotonic() < deadline:
            modes = {i: self.servers[i].mode() for i in ids}
            if all(m in ("leader", "follower", "observer") for m in modes.values()):
                return modes  # type: ignore[return-value]
            for i in ids:
                if not self.servers[i].is_running():
                    raise AssertionError(f"{self.kind} server {i} exited:\n{self.servers[i].log_tail()}")
            time.sleep(0.2)
        raise AssertionError(f"{self.kind} ensemble not serving within {timeout}s: {modes}")

    def wait_mode(self, i: int, want: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        mode = None
        while time.monotonic() < deadline:
            mode = self.servers[i].mode()
            if mode == want:
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.kind} server {i} mode {mode!r}, wanted {want!r} within {timeout}s")

    def leader(self, ids=None) -> int:
        """The one leader among running servers `ids` (default: the initial voters)."""
        modes = self.wait_serving([i for i in (ids or self.voter_ids) if self.servers[i].is_running()])
        leaders = [i for i, m in modes.items() if m == "leader"]
        assert len(leaders) == 1, modes
        return leaders[0]

    def kill(self, i: int) -> None:
        self.servers[i].kill9()

    def hosts(self, ids=None) -> str:
        return ",".join(self.servers[i].hosts for i in (ids or self.ids))

    def four(self, i: int, word: str) -> str:
        return self.servers[i].four(word, timeout=3.0)

    def close(self) -> None:
        for s in self.servers.values():
            s.stop_signal(signal.SIGCONT)
            s.kill9()
