"""Servers (Warren or Apache ZooKeeper) in network namespaces of their own, with the knobs the nemeses turn.

Topology: server i runs in namespace `wfault-<pid>-<i>` with one veth end addressed 10.77.R.i/24; the other end
sits in a bridge `wf<pid>b` in the root namespace carrying 10.77.R.254/24, where the clients run. R is picked so
that no existing route covers 10.77.R.0/24: every address used exists only on links this runner creates.
Partitions are blackhole routes (silent drops, as a firewall DROP) to chosen peers, added on both sides.
Each server's dataDir and dataLogDir live on a tmpfs of its own (`diskMb`) so one disk can be filled.
Every server runs under libfaketime with its own offset file, so its wall clock can be stepped while it runs
(monotonic time untouched: `FAKETIME_DONT_FAKE_MONOTONIC=1`).

`cleanup_stale()` removes namespaces, links and mounts that an earlier runner (a process no longer alive) left.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "interop"))

from rawzk import four_letter  # noqa: E402
from servers import ZK_CLASSPATH, warren_binary  # noqa: E402

NS_PREFIX = "wfault-"
LINK_PREFIX = "wf"
RUN_ROOT = Path("/tmp/warren-faults")
CLIENT_PORT = 2181
QUORUM_PORT = 2888
ELECTION_PORT = 3888
TICK_MS = 200
SESSION_TIMEOUT_MS = 4000


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=15)


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def cleanup_stale() -> list[str]:
    """Deletes what runners that are no longer alive left behind (their pid is in every name)."""
    removed = []
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(NS_PREFIX):
            continue
        try:
            pid = int(name[len(NS_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if _alive(pid):
            continue
        for p in ip("netns", "pids", name, check=False).stdout.split():
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        ip("netns", "del", name, check=False)
        removed.append(name)
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(": ")
        if len(parts) < 2:
            continue
        name = parts[1].split("@")[0]
        if not name.startswith(LINK_PREFIX) or not name[2:3].isdigit():
            continue
        num = ""
        for ch in name[2:]:
            if ch.isdigit():
                num += ch
            else:
                break
        if num and not _alive(int(num)):
            ip("link", "del", name, check=False)
            removed.append(name)
    if RUN_ROOT.exists():
        for run in RUN_ROOT.iterdir():
            try:
                pid = int(run.name.split("-")[0])
            except ValueError:
                continue
            if _alive(pid):
                continue
            mounts = sorted(glob.glob(str(run / "s*" / "disk")), reverse=True)
            for m in mounts:
                subprocess.run(["umount", "-l", m], capture_output=True)
            # A failed run's directory (its server logs, the evidence) stays a day; a run killed before it
            # could clean up leaves its mounts, which go now.
            if time.time() - run.stat().st_mtime > 86400:
                shutil.rmtree(run, ignore_errors=True)
                removed.append(str(run))
            elif mounts:
                removed.append(f"{run} (mounts)")
    return removed


def faketime_library() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    return found[0] if found else None


def srvr_mode(text: str | None) -> str | None:
    for line in (text or "").splitlines():
        if line.startswith("Mode: "):
            return line.split(": ", 1)[1].strip()
    return None


class Server:
    def __init__(self, cluster: "Cluster", i: int):
        self.c = cluster
        self.i = i
        self.dir = cluster.base / f"s{i}"
        self.disk = self.dir / "disk"
        self.data = self.disk / "data"
        self.datalog = self.disk / "datalog"
        self.clock_file = self.dir / "faketime"
        self.clock_offset = 0
        self.proc: subprocess.Popen | None = None
        self.stopped = False  # SIGSTOPped by a nemesis
        self.expected_down = False

    @property
    def addr(self) -> str:
        return f"10.77.{self.c.net}.{self.i}"

    @property
    def ns(self) -> str:
        return f"{NS_PREFIX}{self.c.pid}-{self.i}"

    @property
    def host_end(self) -> str:
        return f"{LINK_PREFIX}{self.c.pid}h{self.i}"

    def set_clock(self, offset_s: int) -> None:
        self.clock_offset = offset_s
        tmp = self.clock_file.with_name("faketime.tmp")
        tmp.write_text(f"{offset_s:+d}\n")
        os.replace(tmp, self.clock_file)

    def write_config(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.datalog.mkdir(parents=True, exist_ok=True)
        (self.data / "myid").write_text(f"{self.i}\n")
        servers = "\n".join(f"server.{s.i}={s.addr}:{QUORUM_PORT}:{ELECTION_PORT}" for s in self.c.servers)
        cfg = (f"tickTime={TICK_MS}\ninitLimit=50\nsyncLimit=10\ndataDir={self.data}\ndataLogDir={self.datalog}\n"
               f"clientPort={CLIENT_PORT}\nclientPortAddress={self.addr}\nmaxClientCnxns=200\n"
               f"minSessionTimeout=1000\nmaxSessionTimeout=20000\nsnapCount={self.c.snap_count}\n"
               f"autopurge.snapRetainCount=3\nautopurge.purgeInterval=0\n4lw.commands.whitelist=*\n"
               f"preAllocSize=4096\n{servers}\n")
        (self.dir / "zoo.cfg").write_text(cfg)

    def command(self) -> list[str]:
        cfg = str(self.dir / "zoo.cfg")
        if self.c.kind == "zookeeper":
            return ["java", "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.preAllocSize=4096",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                    "-cp", ":".join(str(p) for p in ZK_CLASSPATH),
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg]
        level = os.environ.get("FAULTS_WARREN_LOG_LEVEL")  # e.g. debug, to trace a failure
        return [str(warren_binary()), "server", "--config", cfg, *(["--log-level", level] if level else [])]

    def start(self) -> None:
        """Starts the server unless it runs already (two combined faults on one server both restart it)."""
        if self.running():
            return
        self.write_config()
        fake = []
        lib = faketime_library()
        if lib and self.c.faketime:
            # Exec'd by env(1) rather than started under the preload directly: see test_clock_steps.FakeClock.
            # The JVM reads the wall clock constantly: rereading the offset file on every call (NO_CACHE) made
            # ZooKeeper take over a minute to elect; a one-second cache is precise enough for steps of minutes.
            cache = "FAKETIME_CACHE_DURATION=1" if self.c.kind == "zookeeper" else "FAKETIME_NO_CACHE=1"
            fake = [f"LD_PRELOAD={lib}", f"FAKETIME_TIMESTAMP_FILE={self.clock_file}", cache,
                    "FAKETIME_DONT_FAKE_MONOTONIC=1"]
        with open(self.dir / "server.log", "ab") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} start\n".encode())
            log.flush()
            # In the process's own environment, not as env(1) arguments: the preloaded library then sets
            # FAKETIME_SHARED in ip/env already, and the server's own constructor leaves its environment alone.
            env = dict(os.environ, **dict(kv.split("=", 1) for kv in fake))
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "env", *self.command()],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=self.dir, start_new_session=True, env=env)
        self.stopped = False
        self.expected_down = False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill9(self) -> None:
        self.expected_down = True
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        pid = self.proc.pid
        for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
            try:
                os.unlink(f"/dev/shm/{name}")
            except FileNotFoundError:
                pass
        self.stopped = False

    def four(self, cmd: str, timeout: float = 1.5) -> str | None:
        try:
            return four_letter(self.addr, CLIENT_PORT, cmd, timeout=timeout)
        except OSError:
            return None

    def mode(self) -> str | None:
        if not self.running() or self.stopped:
            return None
        return srvr_mode(self.four("srvr"))

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join((self.dir / "server.log").read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    def txn_logs(self) -> list[Path]:
        found = [p for root in (self.data, self.datalog) for p in root.rglob("log.*") if p.is_file()]

        def zxid(p: Path) -> int:
            try:
                return int(p.name.split(".", 1)[1], 16)
            except ValueError:
                return -1
        return sorted(found, key=zxid)


class Cluster:
    def __init__(self, kind: str, size: int, disk_mb: int = 128, snap_count: int = 2000, faketime: bool = True):
        self.kind = kind
        self.pid = os.getpid()
        self.base = RUN_ROOT / f"{self.pid}-{random.randrange(16 ** 6):06x}"
        self.disk_mb = disk_mb
        self.snap_count = snap_count
        self.faketime = faketime and faketime_library() is not None
        used = ip("-4", "route", "show").stdout + ip("-4", "addr", "show").stdout
        # Also avoid nets other live runners picked (their bridges carry 10.77.R.254).
        self.net = random.choice([r for r in range(1, 255) if f"10.77.{r}." not in used])
        self.bridge = f"{LINK_PREFIX}{self.pid}b"
        self.servers = [Server(self, i) for i in range(1, size + 1)]
        self.cuts: set[tuple[int, str]] = set()  # (server id, blackholed address)
        self.mounted: list[Path] = []
        self.created_ns: list[str] = []
        self.created_links: list[str] = []

    @property
    def client_addr(self) -> str:
        return f"10.77.{self.net}.254"

    def hosts(self) -> str:
        addrs = [f"{s.addr}:{CLIENT_PORT}" for s in self.servers]
        random.shuffle(addrs)
        return ",".join(addrs)

    def set_up(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.created_links.append(self.bridge)
        ip("addr", "add", f"{self.client_addr}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for s in self.servers:
            inner = f"{LINK_PREFIX}{self.pid}n{s.i}"
            ip("netns", "add", s.ns)
            self.created_ns.append(s.ns)
            ip("link", "add", s.host_end, "type", "veth", "peer", "name", inner)
            self.created_links.append(s.host_end)
            ip("link", "set", inner, "netns", s.ns)
            ip("link", "set", s.host_end, "master", self.bridge)
            ip("link", "set", s.host_end, "up")
            ip("-n", s.ns, "addr", "add", f"{s.addr}/24", "dev", inner)
            ip("-n", s.ns, "link", "set", inner, "up")
            ip("-n", s.ns, "link", "set", "lo", "up")
            s.disk.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m", "tmpfs", str(s.disk)], check=True)
            self.mounted.append(s.disk)
            s.set_clock(0)

    def start_all(self) -> None:
        for s in self.servers:
            s.start()

    def teardown(self) -> None:
        for s in self.servers:
            if s.proc is not None:
                s.signal(signal.SIGCONT)
                s.kill9()
        for m in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
        self.mounted.clear()
        for link in reversed(self.created_links):
            ip("link", "del", link, check=False)
        for ns in self.created_ns:
            ip("netns", "del", ns, check=False)
        self.created_links.clear()
        self.created_ns.clear()

    # -- partitions ----------------------------------------------------------------------------------------------

    def cut(self, a: int, b_addr: str) -> None:
        if (a, b_addr) not in self.cuts:
            ip("-n", self.servers[a - 1].ns, "route", "add", "blackhole", f"{b_addr}/32", check=False)
            self.cuts.add((a, b_addr))

    def cut_between(self, a: int, b: int) -> None:
        self.cut(a, self.servers[b - 1].addr)
        self.cut(b, self.servers[a - 1].addr)

    def cut_clients(self, a: int) -> None:
        self.cut(a, self.client_addr)

    def heal_network(self) -> None:
        for a, addr in sorted(self.cuts):
            ip("-n", self.servers[a - 1].ns, "route", "del", "blackhole", f"{addr}/32", check=False)
        self.cuts.clear()

    # -- roles ---------------------------------------------------------------------------------------------------

    def modes(self) -> dict[int, str | None]:
        return {s.i: s.mode() for s in self.servers}

    def leader(self) -> int | None:
        leaders = [i for i, m in self.modes().items() if m == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def wait_serving(self, timeout_s: float) -> dict[int, str | None]:
        """Until every server reports leader/follower with exactly one leader (or the deadline); returns modes."""
        deadline = time.monotonic() + timeout_s
        modes = self.modes()
        while time.monotonic() < deadline:
            ms = list(modes.values())
            if None not in ms and ms.count("leader") == 1 and all(m in ("leader", "follower") for m in ms):
                break
            time.sleep(0.3)
            modes = self.modes()
        return modes
