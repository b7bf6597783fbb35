#!/usr/bin/env python3
"""Large values, Warren and Apache ZooKeeper side by side (the performance issue's item 4).

    python3 Tests/bench/large_values.py [--quick] [--binary PATH] [--out FILE.json]

Both systems run as 3-server ensembles on 127.0.0.1 with the zoo.cfg of `compare.py` and `jute.maxbuffer` raised
to 16 MiB (Warren reads it from zoo.cfg, ZooKeeper from `-Djute.maxbuffer`; ZooKeeper keeps zkEnv.sh's 1000 MiB
heap). For values of 64 KiB, 1 MiB − 1 and 8 MiB, `warren bench` runs setData (write) and getData (read) closed
loop over 4 sessions with 2 requests in flight each, spread over the three servers; each row reports ops/s, MB/s
of values moved, p50/p99 latency, the servers' peak RSS summed over the ensemble (sampled every 50 ms) and the
servers' CPU per operation (utime+stime of all three over the run ÷ operations, which stays comparable on a shared
2-core machine where the generator competes for the CPUs). Each value size gets fresh clusters (a ZooKeeper that
ran out of heap on one size does not fail the next), the system that goes first alternates by size; `--repeat`
runs each row that many times and keeps the median by ops/s. Prints a Markdown table (and the raw JSON with --out).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402
import report  # noqa: E402
from compare import SYSTEMS, Cluster, bench, build, machine_info, wait_quiet  # noqa: E402

MIB = 1 << 20
JUTE_MAXBUFFER_BYTES = 16 * MIB
SIZES = (("64 KiB", 64 * 1024), ("1 MiB − 1", MIB - 1), ("8 MiB", 8 * MIB))


class PeakRSS:
    """Samples the summed RSS of a cluster's servers every 50 ms while running."""

    def __init__(self, cluster: Cluster):
        self.cluster, self.peak, self._stop = cluster, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.cluster.rss_bytes())
            except (OSError, RuntimeError):
                pass
            self._stop.wait(0.05)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_row(binary: Path, cluster: Cluster, workload: str, size: int, s: argparse.Namespace) -> dict:
    args = ["--workload", workload, "--value-bytes", str(size), "--keys", "16", "--connections", "4",
            "--outstanding", "2", "--duration", str(s.duration), "--warmup", str(s.warmup)]
    cpu0 = sum(srv.cpu_seconds() for srv in cluster.servers)
    with PeakRSS(cluster) as rss:
        r = bench(binary, cluster.hosts, args, timeout=s.duration + s.warmup + 600)
    cpu = sum(srv.cpu_seconds() for srv in cluster.servers) - cpu0
    if "failed" in r or r["errorsTotal"] + r["connectionErrors"] > 0 and r["opsPerSecond"] == 0:
        return r
    ops = r["opsPerSecond"] * s.duration
    r["megabytesPerSecond"] = r["opsPerSecond"] * size / MIB
    r["serverPeakRSSBytes"] = rss.peak
    # CPU of the whole run (setup and warm-up included) over the measured operations: an upper bound, the same
    # for both systems.
    r["serverCPUMicrosPerOp"] = cpu / ops * 1e6 if ops else None
    return r


def fmt(r: dict | None) -> str:
    if not r:
        return "—"
    if "failed" in r:
        return "failed: " + r["failed"][:60]
    if "megabytesPerSecond" not in r:
        return f"no operation completed ({r.get('errorsTotal', 0) + r.get('connectionErrors', 0)} errors)"
    lat = r["latencyMicros"]
    return (f"{r['megabytesPerSecond']:.0f} MB/s ({r['opsPerSecond']:.0f} ops/s), p50 {lat['p50'] / 1000:.1f} ms, "
            f"p99 {lat['p99'] / 1000:.1f} ms, peak RSS {r['serverPeakRSSBytes'] / MIB:.0f} MiB, "
            f"{r['serverCPUMicrosPerOp']:.0f} µs CPU/op, errors {r['errorsTotal'] + r['connectionErrors']}")


def oom_in_logs(cluster: Cluster) -> bool:
    """Whether a server of `cluster` logged a Java OutOfMemoryError (ZooKeeper's heap) or is gone."""
    for srv in cluster.servers:
        if srv.proc is None or srv.proc.poll() is not None:
            return True
        try:
            if "OutOfMemoryError" in srv.log_path.read_text(errors="replace"):
                return True
        except OSError:
            pass
    return False


def measure_size(binary: Path, kind: str, size: int, s: argparse.Namespace) -> dict[str, list[dict]]:
    """write then read rows for one value size on a fresh 3-server cluster of `kind` (a server that ran out of
    memory on a previous size must not fail the next one)."""
    base = s.work / f"{kind}-{size}"
    shutil.rmtree(base, ignore_errors=True)
    cluster = Cluster(kind, "ensemble3", base, binary)
    out: dict[str, list[dict]] = {}
    try:
        cluster.start()
        for rep in range(s.repeat):
            for workload in ("write", "read"):
                if oom_in_logs(cluster):
                    r = {"failed": "a server ran out of memory or died (see its log)"}
                else:
                    wait_quiet({kind: cluster})
                    r = run_row(binary, cluster, workload, size, s)
                    if "failed" in r and oom_in_logs(cluster):
                        r["failed"] = "a server ran out of memory (OutOfMemoryError: Java heap space) or died"
                out.setdefault(workload, []).append(r)
                print(f"[{rep + 1}/{s.repeat}] {workload} {size:>8} B  {kind:<10} {fmt(r)}", flush=True)
    finally:
        cluster.stop()
    return out


def measure(binary: Path, quick: bool = False, repeat: int | None = None, zk_heap: str = "1000m",
            work: Path = Path("/tmp/warren-large-values")) -> dict:
    """Every row for both systems; the raw results `report.large_values_section` renders."""
    s = argparse.Namespace(quick=quick, zk_heap=zk_heap, work=work)
    s.duration, s.warmup = (2.0, 0.5) if quick else (5.0, 1.0)
    s.repeat = repeat or (1 if quick else 3)
    saved = dict(compare.COMMON_CFG), list(compare.ZK_JVM_FLAGS)
    compare.COMMON_CFG["jute.maxbuffer"] = JUTE_MAXBUFFER_BYTES
    compare.ZK_JVM_FLAGS = [f"-Xmx{zk_heap}", f"-Djute.maxbuffer={JUTE_MAXBUFFER_BYTES}"]
    rows: dict[str, dict[str, list[dict]]] = {}
    try:
        for i, (label, size) in enumerate(SIZES):
            for kind in (SYSTEMS if i % 2 == 0 else tuple(reversed(SYSTEMS))):
                for workload, results in measure_size(binary, kind, size, s).items():
                    rows.setdefault(f"{workload} {label}", {})[kind] = results
    finally:
        compare.COMMON_CFG.clear()
        compare.COMMON_CFG.update(saved[0])
        compare.ZK_JVM_FLAGS = saved[1]
    return {"machine": machine_info(), "zkHeap": zk_heap, "duration": s.duration, "repeat": s.repeat,
            "sizes": [label for label, _ in SIZES], "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 s per row, no repeat")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--zk-heap", default="1000m", help="ZooKeeper's -Xmx (default: zkEnv.sh's 1000m)")
    ap.add_argument("--binary", type=Path, help="a release warren binary (default: build one)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/warren-large-values"))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--docs", type=Path, help="also put the section into DOCS/benchmarks.md")
    a = ap.parse_args()
    binary = a.binary.resolve() if a.binary else build("")
    raw = measure(binary, a.quick, a.repeat, a.zk_heap, a.work)
    report.publish(raw, report.LARGE_VALUES_TITLE, report.large_values_section(raw), a.out, a.docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
