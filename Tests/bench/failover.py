#!/usr/bin/env python3
"""Leader failover of a 3-server ensemble, Warren against Apache ZooKeeper, measured by a writing client.

    python3 Tests/bench/failover.py [--trials 5] [--warren PATH] [--systems warren,zookeeper] [--tick-ms 2000]

For each trial: start a fresh 3-server ensemble (the same zoo.cfg for both systems, from compare.py), connect one
kazoo client to all three hosts writing sequential znodes one at a time, SIGKILL the leader after 2 s of writing,
and keep writing until 3 s after the first write acknowledged after the kill. The trial's result is the longest
gap between two consecutive acknowledged writes that ends after the kill. The script also checks that every
acknowledged write is present afterwards and that the session was kept. Prints one JSON line per trial and a
summary (median and max over the trials). Without --warren it builds Warren in release mode.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import ConnectionLoss, SessionExpiredError  # noqa: E402
from kazoo.handlers.threading import KazooTimeoutError  # noqa: E402

import compare  # noqa: E402
from compare import Cluster, build  # noqa: E402
from rawzk import four_letter  # noqa: E402

WRITE_BEFORE_KILL_S = 2.0
WRITE_AFTER_RECOVERY_S = 3.0
GIVE_UP_S = 60.0


def leader_of(cluster: Cluster, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for s in cluster.servers:
            try:
                if "Mode: leader" in four_letter("127.0.0.1", s.client_port, "srvr", timeout=1.0):
                    return s
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"{cluster.kind}: no leader within {timeout_s}s")


def trial(kind: str, binary: Path, work: Path) -> dict:
    cluster = Cluster(kind, "ensemble3", work, binary)
    cluster.start()
    zk = None
    try:
        leader = leader_of(cluster)
        zk = KazooClient(hosts=cluster.hosts, timeout=10.0)
        zk.start(timeout=30)
        session = zk.client_id[0]
        zk.ensure_path("/failover")
        acked: list[tuple[float, str]] = []
        stop = threading.Event()

        def write_loop():
            while not stop.is_set():
                try:
                    path = zk.create("/failover/n-", b"x" * 100, sequence=True)
                    acked.append((time.monotonic(), path))
                except (ConnectionLoss, KazooTimeoutError):
                    time.sleep(0.005)
                except SessionExpiredError:
                    return

        writer = threading.Thread(target=write_loop)
        writer.start()
        time.sleep(WRITE_BEFORE_KILL_S)
        killed_at = time.monotonic()
        leader.proc.kill()
        leader.proc.wait()
        deadline = killed_at + GIVE_UP_S
        while time.monotonic() < deadline:
            after = [t for t, _ in acked if t > killed_at]
            if after and time.monotonic() > after[0] + WRITE_AFTER_RECOVERY_S:
                break
            time.sleep(0.05)
        stop.set()
        writer.join(timeout=30)
        times = [t for t, _ in acked]
        gaps = [b - a for a, b in zip(times, times[1:]) if b > killed_at]
        if not gaps:
            raise RuntimeError(f"{kind}: no write acknowledged within {GIVE_UP_S}s of the kill")
        zk.sync("/failover")
        present = set(zk.get_children("/failover"))
        lost = sum(1 for _, p in acked if p.rsplit("/", 1)[1] not in present)
        return {
            "system": kind, "max_gap_s": round(max(gaps), 3), "acked": len(acked), "lost": lost,
            "session_kept": zk.client_id[0] == session, "killed_leader": leader.myid,
        }
    finally:
        if zk is not None:
            zk.stop()
            zk.close()
        cluster.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--warren", type=Path, help="a release warren binary (default: build one)")
    ap.add_argument("--scratch-path", default=".build-failover")
    ap.add_argument("--systems", default="warren,zookeeper")
    ap.add_argument("--tick-ms", type=int, default=compare.COMMON_CFG["tickTime"],
                    help="tickTime for both systems (default: compare.py's)")
    a = ap.parse_args()
    compare.COMMON_CFG["tickTime"] = a.tick_ms
    binary = a.warren.resolve() if a.warren else build(a.scratch_path)
    work = Path(tempfile.mkdtemp(prefix="warren-failover-"))
    summary = {}
    try:
        for kind in a.systems.split(","):
            results = []
            for n in range(a.trials):
                r = trial(kind, binary, work / f"{kind}{n}")
                print(json.dumps(r), flush=True)
                results.append(r)
            gaps = [r["max_gap_s"] for r in results]
            summary[kind] = {
                "trials": len(results), "median_gap_s": round(statistics.median(gaps), 3),
                "max_gap_s": max(gaps), "lost": sum(r["lost"] for r in results),
                "sessions_kept": sum(r["session_kept"] for r in results),
            }
        print(json.dumps({"tickTime": a.tick_ms, "summary": summary}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
