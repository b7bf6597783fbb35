#!/usr/bin/env python3
"""Warren and Apache ZooKeeper side by side, driven by the same load generator (`warren bench`).

    python3 Tests/bench/compare.py [--quick] [--znodes N] [--layout ensemble3|standalone]
    python3 Tests/bench/compare.py --scale [--scale-sizes 1000000,2000000,5000000,10000000]   (scale.py)

Builds Warren in release mode, starts a Warren cluster and a ZooKeeper cluster (3 servers each by default) with
identical zoo.cfg settings (127.0.0.1 only, data directories side by side on the same disk, forceSync on), runs every
workload against both alternately (closed loop), then read, write and 90 % reads again open loop at the same offered
load for both (half of ZooKeeper's closed-loop throughput), then read, write and 90 % reads driven by the C client
and kazoo as well as warren bench, with the servers' CPU per operation (clients.py; --skip-clients skips it), values of 64 KiB to 8 MiB
(large_values.py; --skip-large-values), 10,000 sessions with a million watches, reconnect storms after a leader
kill and a full restart (sessions.py; --skip-sessions), then measures each server's memory after loading N znodes (1M by default), the data on disk and the restart-to-serving
time, and finally the write gap when the leader is SIGKILLed (failover.py's trial). Writes Docs/benchmarks.md (with
a Targets section) and Docs/benchmarks-throughput.svg; the raw JSON of every run goes to the work directory (printed
at the end).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The interop suite's port picker (below the ephemeral range, so a picked port cannot be taken meanwhile as some
# connection's source port) and its four-letter-word client.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from rawzk import four_letter  # noqa: E402
from report import write_chart, write_report  # noqa: E402
from servers import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SYSTEMS = ("warren", "zookeeper")
ZK_CLASSPATH = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"]
ZK_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
ZK_QUORUM_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
# zkEnv.sh's default server heap; the rest of the JVM settings are the JDK's defaults.
ZK_JVM_FLAGS = ["-Xmx1000m"]
LAYOUTS = {"standalone": 1, "ensemble3": 3}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Before each measured run, every server of both systems together must use less than this share of one CPU over
# one window (waiting at most QUIET_WAIT_MAX_S): background work the previous run left behind (a snapshot being
# written, a JIT or GC burst) belongs to that run, not to the next one on the other system.
QUIET_CPU_FRACTION = 0.10
QUIET_WINDOW_S = 0.25
QUIET_WAIT_MAX_S = 10.0

# The zoo.cfg both systems get (plus dataDir, dataLogDir, clientPort and, for ensembles, server.N lines).
# autopurge.purgeInterval is left out on purpose: each system keeps its default (ZooKeeper never purges; Warren
# purges after every snapshot), which is what the disk-footprint comparison is about.
COMMON_CFG = {
    "tickTime": 2000,
    "initLimit": 10,
    "syncLimit": 5,
    "clientPortAddress": "127.0.0.1",
    "maxClientCnxns": 0,
    "snapCount": 100000,
    "autopurge.snapRetainCount": 3,
    "globalOutstandingLimit": 1000,
    "forceSync": "yes",
    "4lw.commands.whitelist": "*",
    "admin.enableServer": "false",
}


@dataclass
class Settings:
    quick: bool
    duration: float
    warmup: float
    connections: int
    outstanding: int
    keys: int
    value_bytes: int
    watchers: int
    session_loops: int
    read_percents: list[int]
    repeat: int
    znodes: int
    znode_bytes: int
    layout: str
    equal_load_fraction: float = 0.5
    failover_trials: int = 5

    @staticmethod
    def from_args(a: argparse.Namespace) -> "Settings":
        q = a.quick
        return Settings(
            quick=q,
            duration=a.duration if a.duration is not None else (3.0 if q else 8.0),
            warmup=a.warmup if a.warmup is not None else (1.0 if q else 2.0),
            connections=16,
            outstanding=32,
            keys=1000 if q else 10000,
            value_bytes=1024,
            watchers=50 if q else 100,
            session_loops=4,
            read_percents=[0, 50, 90, 100] if q else [0, 10, 30, 50, 70, 90, 100],
            repeat=a.repeat if a.repeat is not None else (1 if q else 3),
            znodes=a.znodes if a.znodes is not None else (20_000 if q else 1_000_000),
            znode_bytes=a.znode_bytes,
            layout=a.layout,
            failover_trials=a.failover_trials if a.failover_trials is not None else (1 if q else 5),
        )


# -- servers ------------------------------------------------------------------------------------------------------


class Server:
    """One server process with its own zoo.cfg, dataDir and dataLogDir under `base`."""

    def __init__(self, kind: str, base: Path, myid: int, binary: Path):
        self.kind, self.base, self.myid, self.binary = kind, base, myid, binary
        # Where it listens (clients and peers); failover.py moves servers into network namespaces.
        self.host = "127.0.0.1"
        self.client_port = free_port()
        self.quorum_port = free_port()
        self.election_port = free_port()
        self.data_dir = base / "data"
        self.log_dir = base / "datalog"
        self.cfg_path = base / "zoo.cfg"
        self.log_path = base / "server.log"
        self.proc: subprocess.Popen | None = None

    def write_config(self, peers: list["Server"]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cfg = dict(COMMON_CFG, dataDir=self.data_dir, dataLogDir=self.log_dir, clientPort=self.client_port,
                   clientPortAddress=self.host)
        if len(peers) > 1:
            for p in peers:
                cfg[f"server.{p.myid}"] = f"{p.host}:{p.quorum_port}:{p.election_port}"
            (self.data_dir / "myid").write_text(f"{self.myid}\n")
        self.cfg_path.write_text("".join(f"{k}={v}\n" for k, v in cfg.items()))

    def command(self, standalone: bool) -> list[str]:
        if self.kind == "warren":
            return [str(self.binary), "server", "--config", str(self.cfg_path), "--log-level", "warning"]
        return [
            "java", *ZK_JVM_FLAGS, "-Dzookeeper.admin.enableServer=false",
            "-cp", ":".join(ZK_CLASSPATH), ZK_MAIN if standalone else ZK_QUORUM_MAIN, str(self.cfg_path),
        ]

    def start(self, standalone: bool) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(standalone), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.base, start_new_session=True)

    def stop(self, timeout: float = 10) -> tuple[float, bool]:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns (seconds until exit, whether it was killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0, False
        t0 = time.monotonic()
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
            return time.monotonic() - t0, False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return time.monotonic() - t0, True

    def rss_bytes(self) -> int:
        """Resident set size of the server process, from /proc."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {self.proc.pid}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (all threads), from /proc; 0 if it is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Cluster:
    """The servers of one system in the chosen layout; `hosts` is the generator's --hosts."""

    def __init__(self, kind: str, layout: str, base: Path, binary: Path):
        self.kind, self.layout = kind, layout
        self.servers = [Server(kind, base / f"server{i}", i, binary) for i in range(1, LAYOUTS[layout] + 1)]
        for s in self.servers:
            s.write_config(self.servers)

    @property
    def standalone(self) -> bool:
        return len(self.servers) == 1

    @property
    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{s.client_port}" for s in self.servers)

    def start(self, probe_path: str = "/", timeout: float = 120) -> float:
        """Starts every server and returns the seconds until each one answers a getData of `probe_path`."""
        t0 = time.monotonic()
        for s in self.servers:
            s.start(self.standalone)
        for s in self.servers:
            wait_serving(s, probe_path, t0 + timeout)
        return time.monotonic() - t0

    def stop(self) -> tuple[float, bool]:
        """Stops every server; returns the slowest stop and whether any server needed SIGKILL."""
        outcomes = [s.stop() for s in self.servers]
        return max(t for t, _ in outcomes), any(k for _, k in outcomes)

    def rss_bytes(self) -> int:
        return sum(s.rss_bytes() for s in self.servers)

    def leader_index(self) -> int | None:
        """The index in `servers` of the one whose `srvr` says leader, or None."""
        for i, srv in enumerate(self.servers):
            try:
                if "Mode: leader" in four_letter("127.0.0.1", srv.client_port, "srvr", timeout=2.0):
                    return i
            except OSError:
                pass
        return None

    def approximate_data_size(self) -> int | None:
        """`zk_approximate_data_size` from the first server's `mntr` (paths + data bytes; both systems report it)."""
        for line in four_letter("127.0.0.1", self.servers[0].client_port, "mntr").splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[0] == "zk_approximate_data_size":
                return int(parts[1])
        return None

    def disk_usage(self) -> dict:
        """Bytes in the data and log directories (apparent and allocated) and in the newest snapshot per server."""
        apparent = allocated = snapshot = 0
        for s in self.servers:
            newest: tuple[int, int] | None = None
            for d in (s.data_dir, s.log_dir):
                for path in d.rglob("*"):
                    if not path.is_file():
                        continue
                    st = path.stat()
                    apparent += st.st_size
                    allocated += st.st_blocks * 512
                    if path.name.startswith("snapshot.") and not path.name.endswith(".tmp"):
                        zxid = int(path.name.split(".")[1], 16)
                        if newest is None or zxid > newest[0]:
                            newest = (zxid, st.st_size)
            snapshot += newest[1] if newest else 0
        return {"apparent": apparent, "allocated": allocated, "snapshot": snapshot}


# -- a minimal client for "is it serving" -------------------------------------------------------------------------


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _read_frame(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by server")
            buf += chunk
        return buf

    (n,) = struct.unpack(">i", exactly(4))
    return exactly(n)


def probe(port: int, path: str, timeout: float = 1.0) -> bool:
    """True if the server on `port` creates a session and answers getData(path) without error."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(_frame(struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + bytes(16) + b"\0"))
        _read_frame(sock)
        p = path.encode()
        sock.sendall(_frame(struct.pack(">ii", 1, 4) + struct.pack(">i", len(p)) + p + b"\0"))
        xid, _zxid, err = struct.unpack(">iqi", _read_frame(sock)[:16])
        sock.sendall(_frame(struct.pack(">ii", 2, -11)))
        return xid == 1 and err == 0


def wait_serving(server: Server, path: str, deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.kind} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            if probe(server.client_port, path):
                return
            last = "getData failed"
        except OSError as e:
            last = repr(e)
        time.sleep(0.02)
    raise RuntimeError(f"{server.kind} not serving {path} on {server.client_port}: {last}\n{server.log_tail()}")


# -- the generator ------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One workload row. `samples` holds every repeat per system; `results` the median repeat (by ops/s), with
    `opsPerSecondAll` and `errorsAllRepeats` added so the report can show the spread."""

    label: str
    args: list[str]
    read_percent: int | None = None
    samples: dict = field(default_factory=lambda: {k: [] for k in SYSTEMS})
    results: dict = field(default_factory=dict)

    def summarise(self) -> None:
        for k, xs in self.samples.items():
            ok = sorted((x for x in xs if "failed" not in x), key=lambda x: x["opsPerSecond"])
            if not ok:
                self.results[k] = xs[-1] if xs else {"failed": "not run"}
                continue
            median = dict(ok[len(ok) // 2])
            median["opsPerSecondAll"] = [x["opsPerSecond"] for x in ok]
            median["failedRepeats"] = len(xs) - len(ok)
            median["errorsAllRepeats"] = sum(x["errorsTotal"] + x["connectionErrors"] for x in ok)
            self.results[k] = median


def bench(binary: Path, hosts: str, args: list[str], timeout: float) -> dict:
    cmd = [str(binary), "bench", "--hosts", hosts, "--json", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        return {"failed": (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]}
    return json.loads(out.stdout)


def workload_runs(s: Settings) -> list[Run]:
    common = ["--connections", str(s.connections), "--outstanding", str(s.outstanding),
              "--value-bytes", str(s.value_bytes), "--keys", str(s.keys),
              "--duration", str(s.duration), "--warmup", str(s.warmup)]
    runs = []
    for p in s.read_percents:
        if p == 100:
            runs.append(Run("read (getData)", common + ["--workload", "read"], 100))
        elif p == 0:
            runs.append(Run("write (setData)", common + ["--workload", "write"], 0))
        else:
            runs.append(Run(f"mixed {p}% reads", common + ["--workload", "mixed", "--read-percent", str(p)], p))
    # Unloaded latency: one session, one request at a time.
    solo = common + ["--connections", "1", "--outstanding", "1"]
    runs.append(Run("read, 1 session × 1 outstanding", solo + ["--workload", "read"]))
    runs.append(Run("write, 1 session × 1 outstanding", solo + ["--workload", "write"]))
    runs.append(Run("create-seq", common + ["--workload", "create-seq"]))
    runs.append(Run("churn (create+delete)", common + ["--workload", "churn"]))
    # Fan-out uses one writer and --watchers sessions; --connections does not apply.
    runs.append(Run(f"watch-fanout ({s.watchers} watchers)",
                    common + ["--workload", "watch-fanout", "--watchers", str(s.watchers)]))
    # Later options win, so this overrides --connections: session-churn runs that many open/close loops.
    runs.append(Run(f"session-churn ({s.session_loops} loops)",
                    common + ["--workload", "session-churn", "--connections", str(s.session_loops)]))
    return runs


def run_workloads(s: Settings, binary: Path, work: Path) -> tuple[list["Run"], list["Run"]]:
    clusters = {k: Cluster(k, s.layout, work / "workloads" / k, binary) for k in SYSTEMS}
    start_errors: dict[str, str] = {}
    try:
        for k, c in clusters.items():
            print(f"starting {k} ({s.layout}) on {c.hosts}", flush=True)
            try:
                c.start()
            except RuntimeError as e:  # the other system is still measured; the report says why this one is not
                start_errors[k] = "did not start: " + str(e).splitlines()[0]
                print(f"  {k} {start_errors[k]}", flush=True)
                c.stop()
        runs = workload_runs(s)
        measure_rows(s, runs, clusters, start_errors, binary)
        equal = equal_load_runs(s, runs)
        measure_rows(s, equal, clusters, start_errors, binary)
        return runs, equal
    finally:
        for c in clusters.values():
            c.stop()


def wait_quiet(clusters: dict) -> float:
    """Waits until the servers of all `clusters` are quiet (see QUIET_CPU_FRACTION); returns the seconds waited."""
    servers = [srv for c in clusters.values() for srv in c.servers]
    t0 = time.monotonic()
    before = sum(srv.cpu_seconds() for srv in servers)
    while time.monotonic() - t0 < QUIET_WAIT_MAX_S:
        time.sleep(QUIET_WINDOW_S)
        now = sum(srv.cpu_seconds() for srv in servers)
        if now - before < QUIET_CPU_FRACTION * QUIET_WINDOW_S:
            break
        before = now
    return time.monotonic() - t0


def measure_rows(s: Settings, runs: list["Run"], clusters: dict, start_errors: dict, binary: Path) -> None:
    """Runs every row `s.repeat` times against each system and summarises. Repeats go round the whole list, so a
    burst of outside load hits one repeat of several rows rather than every repeat of one row; the median repeat is
    reported. The system that goes first alternates, so slow drift on a shared machine does not favour one, and
    each run starts once both systems' servers are quiet (`wait_quiet`)."""
    timeout = s.duration + s.warmup + 300
    for rep in range(s.repeat):
        for i, run in enumerate(runs):
            order = SYSTEMS if (i + rep) % 2 == 0 else tuple(reversed(SYSTEMS))
            for k in order:
                if k in start_errors:
                    run.samples[k].append({"failed": start_errors[k]})
                    continue
                quiet = wait_quiet({name: c for name, c in clusters.items() if name not in start_errors})
                r = bench(binary, clusters[k].hosts, run.args, timeout)
                r["quietWaitSeconds"] = round(quiet, 2)
                run.samples[k].append(r)
                print(f"  [{rep + 1}/{s.repeat}] {run.label:<32} {k:<10} {summary(r)}  quiet after {quiet:.1f} s", flush=True)
    for run in runs:
        run.summarise()


# The closed-loop rows that get an equal-offered-load counterpart.
EQUAL_LOAD_LABELS = ("read (getData)", "write (setData)", "mixed 90% reads")


def equal_load_runs(s: Settings, runs: list["Run"]) -> list["Run"]:
    """Open-loop rows: for read, write and 90 % reads, both systems get the same schedule, a fraction of what
    ZooKeeper sustained closed loop in this run, so latency is compared at equal offered load."""
    out = []
    for run in runs:
        z = run.results.get("zookeeper", {})
        if run.label not in EQUAL_LOAD_LABELS or "failed" in z or not z.get("opsPerSecond"):
            continue
        rate = max(1, round(z["opsPerSecond"] * s.equal_load_fraction))
        label = f"{run.label} at {rate:,} ops/s"
        out.append(Run(label, run.args + ["--rate", str(rate)], run.read_percent))
    return out


def summary(r: dict) -> str:
    if "failed" in r:
        return "FAILED: " + r["failed"]
    lat = r["latencyMicros"]
    return (f"{r['opsPerSecond']:>10.0f} ops/s  p50 {lat['p50']:>8.0f} us  p99 {lat['p99']:>8.0f} us  "
            f"errors {r['errorsTotal'] + r['connectionErrors']}  gen cpu {r['generatorCPUPercent']:.0f}%")


# -- memory, disk, restart ----------------------------------------------------------------------------------------


def measure_resources(s: Settings, binary: Path, work: Path) -> dict:
    """Per system: RSS idle, RSS after loading `znodes` znodes, load time, disk usage, restart-to-serving time and
    RSS after the restart (recovered from disk)."""
    out = {}
    for k in SYSTEMS:
        c = Cluster(k, s.layout, work / "resources" / k, binary)
        r: dict = {}
        try:
            r["start_seconds"] = c.start()
            time.sleep(1)
            r["rss_idle"] = c.rss_bytes()
            print(f"  {k}: loading {s.znodes} znodes of {s.znode_bytes} bytes", flush=True)
            load = bench(binary, c.hosts, [
                "--workload", "read", "--keys", str(s.znodes), "--value-bytes", str(s.znode_bytes),
                "--connections", "8", "--outstanding", "64", "--duration", "0", "--no-cleanup",
            ], timeout=1800)
            if "failed" in load:
                r["failed"] = load["failed"]
                out[k] = r
                continue
            r["load_seconds"] = load["setupSeconds"]
            # Let background work the load started (snapshots, GC) finish before reading memory.
            time.sleep(5)
            r["rss_loaded"] = c.rss_bytes()
            r["rss_loaded_servers"] = [srv.rss_bytes() for srv in c.servers]
            r["approximate_data_size"] = c.approximate_data_size()
            r["disk_loaded"] = c.disk_usage()
            r["stop_seconds"], r["stop_killed"] = c.stop()
            probe_path = f"/warren-bench/keys/k{s.znodes - 1}"
            r["restart_seconds"] = c.start(probe_path)
            time.sleep(2)
            r["rss_restarted"] = c.rss_bytes()
            r["rss_restarted_servers"] = [srv.rss_bytes() for srv in c.servers]
            r["disk_restarted"] = c.disk_usage()
            print(f"  {k}: rss idle {mib(r['rss_idle'])}, loaded {mib(r['rss_loaded'])}, "
                  f"restarted {mib(r['rss_restarted'])}; restart {r['restart_seconds']:.2f} s", flush=True)
        except Exception as e:  # a failed measurement is reported in the document, not fatal to the others
            r["failed"] = str(e).splitlines()[0]
            print(f"  {k}: FAILED {e}", flush=True)
        finally:
            c.stop()
        out[k] = r
    return out


def measure_failover(s: Settings, binary: Path, work: Path) -> dict:
    """failover.py's trial (kazoo writer on all hosts, SIGKILL the leader, longest gap between acknowledged
    writes), `failover_trials` times per system, alternating."""
    import logging

    import failover  # imports this module; loaded here to avoid the cycle at import time

    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # the kill makes kazoo log every reconnect attempt

    out: dict = {k: {"trials": []} for k in SYSTEMS}
    for n in range(s.failover_trials):
        for k in (SYSTEMS if n % 2 == 0 else tuple(reversed(SYSTEMS))):
            try:
                r = failover.trial(k, binary, work / "failover" / f"{k}{n}")
                print(f"  failover {k} trial {n + 1}: gap {r['max_gap_s']:.3f} s, lost {r['lost']}, "
                      f"session kept {r['session_kept']}", flush=True)
            except Exception as e:  # reported, not fatal
                r = {"failed": str(e).splitlines()[0]}
                print(f"  failover {k} trial {n + 1}: FAILED {r['failed']}", flush=True)
            out[k]["trials"].append(r)
    for k, v in out.items():
        gaps = sorted(t["max_gap_s"] for t in v["trials"] if "failed" not in t)
        if gaps:
            v["median_gap_s"] = gaps[len(gaps) // 2]
            v["max_gap_s"] = gaps[-1]
            v["lost"] = sum(t["lost"] for t in v["trials"] if "failed" not in t)
            v["sessions_kept"] = sum(bool(t["session_kept"]) for t in v["trials"] if "failed" not in t)
    return out


def measure_large_values(s: Settings, binary: Path, work: Path) -> dict:
    """large_values.py's rows: 64 KiB, 1 MiB − 1 and 8 MiB values written and read, jute.maxbuffer 16 MiB."""
    import large_values  # imports this module
    print("large values (large_values.py)", flush=True)
    return large_values.measure(binary, s.quick, 1 if s.quick else 3, work=work / "large-values")


def measure_sessions(s: Settings, binary: Path) -> dict:
    """sessions.py's figures: 10,000 sessions (quick: 2,000) with 100 watches each (quick: 20), fan-out,
    setWatches, leader kill and full restart with every session reconnecting."""
    import sessions  # imports this module
    print("sessions and watches (sessions.py)", flush=True)
    return sessions.measure_all(binary, 2_000 if s.quick else 10_000, 20 if s.quick else 100)


def measure_clients(s: Settings, binary: Path, work: Path) -> dict:
    """clients.py's rows: warren bench, the C client and kazoo on read, write and 90 % reads, with server CPU/op."""
    import clients  # imports this module; loaded here to avoid the cycle at import time

    print("real clients (clients.py)", flush=True)
    return clients.measure(s.quick, binary, work, s.repeat)


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# -- machine and build --------------------------------------------------------------------------------------------


def machine_info() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [l.split(":", 1)[1].strip() for l in cpuinfo.splitlines() if l.startswith("model name")]
    mem_kb = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()
                  if l.startswith("MemTotal:"))
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    zk_jar = Path(ZK_CLASSPATH[0])
    zk_version = next((p.name[len("zookeeper-"):-len(".jar")] for p in zk_jar.parent.glob("zookeeper-3*.jar")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    # The release build takes the working tree, so say whether it differed from the commit.
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "Sources", "Package.swift"], capture_output=True,
                           text=True, cwd=REPO).stdout.splitlines()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": models[0] if models else platform.processor() or "unknown",
        "mem_bytes": mem_kb * 1024,
        "kernel": platform.release(),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "java": java[0] if java else "?",
        "swift": swift[0] if swift else "?",
        "zookeeper": zk_version,
        "commit": commit.stdout.strip() or "?",
        "uncommitted_source_files": len(dirty),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def build(scratch: str) -> Path:
    # Linked as dev-up builds it: Swift's runtime and Foundation inside the binary (about 6 MiB less RSS per server).
    cmd = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "warren"]
    if scratch:
        cmd += ["--scratch-path", scratch]
    print("building:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)
    bin_dir = subprocess.run(cmd + ["--show-bin-path"], cwd=REPO, check=True, capture_output=True,
                             text=True).stdout.strip()
    return Path(bin_dir) / "warren"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs, fewer points, 10k znodes")
    ap.add_argument("--layout", choices=sorted(LAYOUTS), default="ensemble3")
    ap.add_argument("--znodes", type=int, help="znodes loaded for the memory measurement (1M, quick 20k)")
    ap.add_argument("--znode-bytes", type=int, default=100, help="value size of those znodes")
    ap.add_argument("--duration", type=float, help="measured seconds per run (8, quick 3)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds per run (2, quick 1)")
    ap.add_argument("--repeat", type=int, help="runs per workload and system; the median is reported (3, quick 1)")
    ap.add_argument("--scratch-path", default=os.environ.get("WARREN_SCRATCH", ""),
                    help="SwiftPM scratch path for the release build (default .build)")
    ap.add_argument("--warren-bin", help="use this warren binary instead of building")
    ap.add_argument("--work-dir", help="where servers keep their data (default: a fresh directory under the "
                                       "build path, on the repository's disk)")
    ap.add_argument("--docs", default=str(REPO / "Docs"), help="where benchmarks.md and the SVG go")
    ap.add_argument("--skip-resources", action="store_true", help="skip the memory/disk/restart measurements")
    ap.add_argument("--skip-clients", action="store_true",
                    help="skip the real clients' rows (clients.py: C client and kazoo next to warren bench)")
    ap.add_argument("--skip-large-values", action="store_true", help="skip large_values.py's rows")
    ap.add_argument("--skip-sessions", action="store_true",
                    help="skip sessions.py's figures (many sessions and watches, reconnect storms)")
    ap.add_argument("--failover-trials", type=int,
                    help="leader-kill trials per system (5, quick 1; 0 skips): the gap depends on when the client "
                         "retries, so a median needs several")
    ap.add_argument("--scale", action="store_true",
                    help="only the big-tree runs (scale.py): RSS, restart and wiped-follower rejoin per tree size; "
                         "puts their section and chart into the docs")
    ap.add_argument("--scale-sizes", default="1000000,2000000,5000000,10000000",
                    help="tree sizes for --scale, comma-separated")
    ap.add_argument("--zk-heap", help="ZooKeeper's -Xmx for --scale (default zkEnv.sh's 1000m)")
    ap.add_argument("--zk-max-znodes", type=int,
                    help="--scale: tree sizes above this are not tried on ZooKeeper (three of the heaps it needs must "
                         "fit the machine's memory)")
    ap.add_argument("--report-only", metavar="RESULTS_JSON",
                    help="only re-render the documents from an earlier run's results.json")
    a = ap.parse_args()
    if a.report_only:
        return render(json.loads(Path(a.report_only).read_text()), Path(a.docs))
    s = Settings.from_args(a)
    if a.scale:
        return run_scale(a, s)

    binary = Path(a.warren_bin).resolve() if a.warren_bin else build(a.scratch_path)
    if not os.access(binary, os.X_OK):
        print(f"no warren binary at {binary}", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = Path(a.work_dir) if a.work_dir else REPO / (a.scratch_path or ".build") / "compare" / stamp
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    info = machine_info()
    print(f"machine: {info['cpus']} cpus, {mib(info['mem_bytes'])}, load {' '.join(info['loadavg'])}; "
          f"work dir {work}", flush=True)

    runs, equal = run_workloads(s, binary, work)
    clients_results = None if a.skip_clients else measure_clients(s, binary, work)
    large_results = None if a.skip_large_values else measure_large_values(s, binary, work)
    sessions_results = None if a.skip_sessions else measure_sessions(s, binary)
    resources = {} if a.skip_resources else measure_resources(s, binary, work)
    failover_results = measure_failover(s, binary, work) if s.layout == "ensemble3" and s.failover_trials > 0 else {}

    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    raw = {"settings": s.__dict__, "machine": info, "resources": resources, "failover": failover_results,
           "runs": [{"label": r.label, "args": r.args, "readPercent": r.read_percent, "samples": r.samples}
                    for r in runs],
           "equal_load": [{"label": r.label, "args": r.args, "readPercent": r.read_percent, "samples": r.samples}
                          for r in equal],
           "clients": clients_results, "large_values": large_results, "sessions": sessions_results}
    (work / "results.json").write_text(json.dumps(raw, indent=2, default=str))
    print(f"raw results in {work / 'results.json'}")
    return render(raw, Path(a.docs))


def run_scale(a: argparse.Namespace, s: Settings) -> int:
    """--scale: scale.py's sizes for both systems; its section and chart go into the docs."""
    import report
    import scale
    binary = Path(a.warren_bin).resolve() if a.warren_bin else build(a.scratch_path)
    work = Path(a.work_dir) if a.work_dir else REPO / (a.scratch_path or ".build") / "compare" / "scale"
    work.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    sizes = [int(x) for x in a.scale_sizes.split(",") if x]
    raw = scale.measure(binary, work, sizes, s.znode_bytes, a.zk_heap, a.zk_max_znodes)
    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    raw["machine"] = info
    (work / "scale.json").write_text(json.dumps(raw, indent=2, default=str))
    docs = Path(a.docs)
    report.write_scale_chart(docs / "benchmarks-scale.svg", raw)
    report.publish(raw, report.SCALE_TITLE, report.scale_section(raw), None, docs)
    return 0


def render(raw: dict, docs: Path) -> int:
    """Writes benchmarks.md and the chart from the raw results of a run."""
    s = Settings(**raw["settings"])
    runs = [Run(r["label"], r["args"], r["readPercent"], r["samples"]) for r in raw["runs"]]
    equal = [Run(r["label"], r["args"], r["readPercent"], r["samples"]) for r in raw.get("equal_load", [])]
    for run in runs + equal:
        run.summarise()
    write_chart(docs / "benchmarks-throughput.svg", runs, s)
    write_report(docs / "benchmarks.md", runs, raw["resources"], s, raw["machine"], COMMON_CFG, ZK_JVM_FLAGS,
                 equal=equal, failover=raw.get("failover", {}), clients=raw.get("clients"),
                 sessions=raw.get("sessions"), large_values=raw.get("large_values"))
    print(f"wrote {docs / 'benchmarks.md'} and {docs / 'benchmarks-throughput.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
