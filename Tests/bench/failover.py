#!/usr/bin/env python3
"""Leader failover, ensemble formation and election stability: Warren against Apache ZooKeeper, real processes.

    sudo python3 Tests/bench/failover.py [--trials 10] [--faults stop,partition,kill] [--sizes 3,5]
        [--systems warren,zookeeper] [--formations 50] [--stability] [--warren PATH] [--tick-ms 2000]

Both systems get compare.py's zoo.cfg (tickTime 2000, initLimit 10, syncLimit 5 — ZooKeeper's sample config);
Warren runs with its default `warren.leaderTimeoutMs` (1 s).

Failover, per trial: a fresh ensemble of 3 or 5 servers; one kazoo client (session timeout 10 s) connected to the
followers only — the fault under test is the leader's, and a client of the leader itself waits for its own
connection timeout, two thirds of the session timeout, whatever the servers do — creates sequential znodes one
at a time; after 1 s of writes the leader is
- `stop`: sent SIGSTOP (a hung process: no connection is reset), left stopped until the trial ends;
- `partition`: cut off — every server runs in its own network namespace with a veth into a bridge (the interop
  test_ensemble_netns.py setup), and the leader's link goes down; clients reach the servers through the bridge;
- `kill`: sent SIGKILL (the kernel resets its connections).
The trial's figure is `resume_s`, the time from the fault to the acknowledgement of the first write issued after
it (also reported: `max_gap_s`, the longest gap between consecutive acknowledgements around the fault). Partition
trials also time, from inside the old leader's namespace, how long it keeps answering `srvr` as leader
(`old_leader_s`: it takes writes while it does). Every acknowledged write is checked present afterwards.

Formation (`--formations N`): N times, three Warren servers started within `--formation-stagger-ms` (200) of each
other in a random order while `--formation-busy` (2) `yes` loops keep the CPUs busy (the occasional initLimit
wait showed on a loaded machine; seeded by `--seed`); seconds from the last start until all three serve (one
leader, two followers by `srvr`).

Stability (`--stability`, Warren only), counting elections with mntr's `warren_elections` summed over the
servers (a server starting counts one): a 60 s full-load `warren bench` (16 sessions × 32 pipelined, 1 KiB, 50 %
reads) against a 3-server ensemble; ten 2 s SIGSTOPs of a follower under a kazoo write loop; 30 s of the same
bench with one server (the leader, then a follower) pinned with `taskset` to CPU 0 where a `yes > /dev/null`
loop also runs. Prints one JSON line per trial and a summary (median and max). Without --warren it builds
Warren in release mode. Partition trials need root (`ip netns`).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

import compare  # noqa: E402
from compare import Server, bench, build  # noqa: E402
from rawzk import four_letter  # noqa: E402
from test_ensemble import srvr_mode  # noqa: E402
from test_ensemble_failover import Writer  # noqa: E402
from test_ensemble_netns import NetnsEnsemble  # noqa: E402

WRITE_BEFORE_FAULT_S = 1.0
WRITE_AFTER_RESUME_S = 0.5
GIVE_UP_S = 60.0
SERVING_WAIT_S = 60.0
NETNS_CLIENT_PORT, NETNS_QUORUM_PORT, NETNS_ELECTION_PORT = 12181, 12888, 13888

# Run inside the old leader's namespace: prints the seconds until it stops answering srvr as leader.
OLD_LEADER_PROBE = r"""
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t0 = float(sys.stdin.readline())  # the cut, on CLOCK_MONOTONIC (which network namespaces share)
while time.monotonic() - t0 < limit:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.settimeout(0.5)
            s.sendall(b"srvr")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        if b"Mode: leader" not in data:
            break
    except OSError:
        break
    time.sleep(0.02)
print(round(time.monotonic() - t0, 3))
"""


class Ensemble:
    """`size` servers of one system, on loopback or each in a network namespace (`net`)."""

    def __init__(self, kind: str, size: int, base: Path, binary: Path, net: NetnsEnsemble | None = None,
                 extra_cfg: dict | None = None):
        self.kind, self.net = kind, net
        self.servers = [Server(kind, base / f"server{i}", i, binary) for i in range(1, size + 1)]
        for s in self.servers:
            if net is not None:
                s.host = net.addr(s.myid)
                s.client_port, s.quorum_port, s.election_port = NETNS_CLIENT_PORT, NETNS_QUORUM_PORT, NETNS_ELECTION_PORT
        saved = dict(compare.COMMON_CFG)
        compare.COMMON_CFG.update(extra_cfg or {})
        try:
            for s in self.servers:
                s.write_config(self.servers)
        finally:
            compare.COMMON_CFG.clear()
            compare.COMMON_CFG.update(saved)

    def start(self, servers: list[Server] | None = None) -> None:
        for s in servers or self.servers:
            prefix = ["ip", "netns", "exec", self.net.ns(s.myid)] if self.net else []
            with open(s.log_path, "ab") as log:
                s.proc = subprocess.Popen(prefix + s.command(False), stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=s.base, start_new_session=True)

    def stop(self) -> None:
        for s in self.servers:
            if s.proc is not None and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGCONT)
                s.proc.kill()
                s.proc.wait()

    def four(self, s: Server, word: str) -> str | None:
        try:
            return four_letter(s.host, s.client_port, word, timeout=1.0)
        except OSError:
            return None

    def modes(self) -> dict[int, str | None]:
        return {s.myid: srvr_mode(self.four(s, "srvr")) for s in self.servers}

    def wait_serving(self, timeout_s: float = SERVING_WAIT_S, servers: list[Server] | None = None) -> Server:
        """Waits until every server (of `servers`) leads or follows, one leading; returns the leader."""
        ids = {s.myid for s in (servers or self.servers)}
        deadline = time.monotonic() + timeout_s
        modes: dict = {}
        while time.monotonic() < deadline:
            modes = {i: m for i, m in self.modes().items() if i in ids}
            if all(m in ("leader", "follower") for m in modes.values()) and list(modes.values()).count("leader") == 1:
                return next(s for s in self.servers if modes[s.myid] == "leader")
            time.sleep(0.02)
        logs = "\n".join(s.log_tail(10) for s in self.servers)
        raise RuntimeError(f"{self.kind}: not serving within {timeout_s}s: {modes}\n{logs}")

    def hosts(self, servers: list[Server]) -> str:
        return ",".join(f"{s.host}:{s.client_port}" for s in servers)

    def elections(self) -> int:
        total = 0
        for s in self.servers:
            rows = dict(line.split("\t", 1) for line in (self.four(s, "mntr") or "").splitlines() if "\t" in line)
            total += int(rows["warren_elections"])
        return total


def failover_trial(kind: str, size: int, fault: str, binary: Path, work: Path, client_on_leader: bool = False) -> dict:
    net = None
    if fault == "partition":
        net = NetnsEnsemble(work, size)
        net.set_up_network()
    e = Ensemble(kind, size, work, binary, net)
    writer = None
    probe = None
    try:
        e.start()
        leader = e.wait_serving()
        followers = [s for s in e.servers if s is not leader]
        writer = Writer(e.hosts(e.servers if client_on_leader else followers))
        if fault == "partition":
            # Started (and its interpreter loaded) before the cut, which it then times from its first probe on.
            probe = subprocess.Popen(
                ["ip", "netns", "exec", net.ns(leader.myid), sys.executable, "-c", OLD_LEADER_PROBE,
                 leader.host, str(leader.client_port), str(GIVE_UP_S)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(WRITE_BEFORE_FAULT_S)
        fault_at = time.monotonic()
        if fault == "stop":
            leader.proc.send_signal(signal.SIGSTOP)
        elif fault == "kill":
            leader.proc.kill()
        else:
            # Taken as the fault's time: writes issued before the link is down (a fork and exec later) still commit.
            subprocess.run(["ip", "link", "set", net.host_end(leader.myid), "down"], check=True)
            fault_at = time.monotonic()
            probe.stdin.write(f"{fault_at}\n")
            probe.stdin.flush()
        resumed = writer.first_after(fault_at, GIVE_UP_S)
        if resumed is None:
            raise RuntimeError(f"{kind}: no write acknowledged within {GIVE_UP_S}s of the {fault}")
        time.sleep(WRITE_AFTER_RESUME_S)
        times = [a for _, a, _ in writer.acked]
        result = {"system": kind, "servers": size, "fault": fault, "resume_s": round(resumed - fault_at, 3),
                  "max_gap_s": round(max(b - a for a, b in zip(times, times[1:]) if b > fault_at), 3),
                  "old_leader": leader.myid}
        if probe is not None:
            out, _ = probe.communicate(timeout=GIVE_UP_S + 10)
            result["old_leader_s"] = float(out.strip())
            probe = None
        result.update(writer.finish())
        writer = None
        return result
    finally:
        if probe is not None:
            probe.kill()
        if writer is not None:
            writer.stop()
        e.stop()
        if net is not None:
            net.teardown()


def trial(kind: str, binary: Path, work: Path) -> dict:
    """compare.py's failover row: 3 servers, the client on all of them, SIGKILL of the leader (`max_gap_s`)."""
    return failover_trial(kind, 3, "kill", binary, work, client_on_leader=True)


def formation_trial(binary: Path, work: Path, stagger_s: float, rng: random.Random) -> float:
    """Starts 3 servers, each after a random delay in [0, stagger_s]; seconds from the last start until all serve."""
    e = Ensemble("warren", 3, work, binary)
    delays = sorted(((rng.uniform(0, stagger_s), s) for s in e.servers), key=lambda d: d[0])
    t0 = time.monotonic()
    try:
        for delay, server in delays:
            while time.monotonic() - t0 < delay:
                time.sleep(0.001)
            e.start([server])
        last = time.monotonic()
        e.wait_serving()
        return round(time.monotonic() - last, 3)
    finally:
        e.stop()


class CpuHogs:
    """`count` busy loops (`yes > /dev/null`), optionally pinned to one CPU, for as long as the context lasts."""

    def __init__(self, count: int, cpu: int | None = None):
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        # Each in its own session, like the servers: with autogroup scheduling a session shares one CPU share.
        self.procs = [subprocess.Popen(pin + ["sh", "-c", "exec yes > /dev/null"], start_new_session=True)
                      for _ in range(count)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


BENCH_ARGS = ["--connections", "16", "--outstanding", "32", "--value-bytes", "1024", "--keys", "10000",
              "--workload", "mixed", "--read-percent", "50", "--warmup", "0"]


def stability(binary: Path, work: Path) -> dict:
    """Elections during load, follower pauses and CPU starvation (each on a fresh 3-server Warren ensemble)."""
    out = {}

    def fresh(name: str) -> tuple[Ensemble, int]:
        e = Ensemble("warren", 3, work / name, binary)
        e.start()
        e.wait_serving()
        time.sleep(1.0)
        return e, e.elections()

    e, before = fresh("bench")
    try:
        r = bench(binary, e.hosts(e.servers), BENCH_ARGS + ["--duration", "60"], timeout=180)
        e.wait_serving()
        out["bench_60s"] = {"elections": e.elections() - before, "ops_per_s": r.get("opsPerSecond"),
                            "errors": r.get("errorsTotal"), "failed": r.get("failed")}
    finally:
        e.stop()
    print(json.dumps(out["bench_60s"]), flush=True)

    e, before = fresh("pause")
    try:
        leader = e.wait_serving()
        writer = Writer(e.hosts([leader]))
        follower = next(s for s in e.servers if s is not leader)
        for _ in range(10):
            follower.proc.send_signal(signal.SIGSTOP)
            time.sleep(2.0)
            follower.proc.send_signal(signal.SIGCONT)
            time.sleep(1.0)
        e.wait_serving()
        out["follower_sigstop_2s_x10"] = {"elections": e.elections() - before, **writer.finish()}
    finally:
        e.stop()
    print(json.dumps(out["follower_sigstop_2s_x10"]), flush=True)

    for role in ("leader", "follower"):
        e, before = fresh(f"starved-{role}")
        try:
            leader = e.wait_serving()
            victim = leader if role == "leader" else next(s for s in e.servers if s is not leader)
            with CpuHogs(1, cpu=0):
                subprocess.run(["taskset", "-a", "-p", "-c", "0", str(victim.proc.pid)], check=True,
                               capture_output=True)
                r = bench(binary, e.hosts(e.servers), BENCH_ARGS + ["--duration", "30"], timeout=120)
            e.wait_serving()
            out[f"starved_{role}_30s"] = {"elections": e.elections() - before, "ops_per_s": r.get("opsPerSecond"),
                                          "errors": r.get("errorsTotal"), "failed": r.get("failed")}
        finally:
            e.stop()
        print(json.dumps(out[f"starved_{role}_30s"]), flush=True)
    return out


def summarize(values: list[float]) -> dict:
    return {"n": len(values), "median": round(statistics.median(values), 3), "max": max(values)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--faults", default="stop,partition,kill")
    ap.add_argument("--sizes", default="3,5")
    ap.add_argument("--systems", default="warren,zookeeper")
    ap.add_argument("--formations", type=int, default=0, help="3-server Warren starts to time")
    ap.add_argument("--formation-stagger-ms", type=int, default=200,
                    help="each server of a formation starts after a random delay up to this")
    ap.add_argument("--formation-busy", type=int, default=2,
                    help="busy loops running during the formations (the slow starts showed on a loaded machine)")
    ap.add_argument("--seed", type=int, default=2, help="seeds the formation delays and start order")
    ap.add_argument("--stability", action="store_true", help="count elections under load, pauses, starvation")
    ap.add_argument("--warren", type=Path, help="a release warren binary (default: build one)")
    ap.add_argument("--scratch-path", default=".build-failover")
    ap.add_argument("--tick-ms", type=int, default=compare.COMMON_CFG["tickTime"],
                    help="tickTime for both systems (default: compare.py's)")
    a = ap.parse_args()
    compare.COMMON_CFG["tickTime"] = a.tick_ms
    binary = a.warren.resolve() if a.warren else build(a.scratch_path)
    work = Path(tempfile.mkdtemp(prefix="warren-failover-"))
    summary: dict = {}
    try:
        n = 0
        for fault in [f for f in a.faults.split(",") if f]:
            for size in [int(x) for x in a.sizes.split(",") if x]:
                for kind in a.systems.split(","):
                    results = []
                    for _ in range(a.trials):
                        n += 1
                        r = failover_trial(kind, size, fault, binary, work / f"t{n}")
                        print(json.dumps(r), flush=True)
                        results.append(r)
                    key = f"{fault} {size} {kind}"
                    summary[key] = {"resume_s": summarize([r["resume_s"] for r in results]),
                                    "lost": sum(r["lost"] for r in results),
                                    "sessions_kept": sum(r["session_kept"] for r in results)}
                    if fault == "partition":
                        summary[key]["old_leader_s"] = summarize([r["old_leader_s"] for r in results])
                    print(json.dumps({key: summary[key]}), flush=True)
        if a.formations:
            rng = random.Random(a.seed)
            took = []
            with CpuHogs(a.formation_busy):
                for i in range(a.formations):
                    took.append(formation_trial(binary, work / f"form{i}", a.formation_stagger_ms / 1000, rng))
                    print(json.dumps({"formation_s": took[-1]}), flush=True)
            summary["formation 3 warren"] = {**summarize(took), "over_2s": sum(t > 2 for t in took),
                                             "stagger_ms": a.formation_stagger_ms, "busy_loops": a.formation_busy}
        if a.stability:
            summary["stability"] = stability(binary, work / "stability")
        print(json.dumps({"tickTime": a.tick_ms, "summary": summary}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
