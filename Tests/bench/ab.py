#!/usr/bin/env python3
"""Two Warren builds side by side, measured the way compare.py measures Warren against Apache ZooKeeper: both
ensembles run at once on 127.0.0.1 with compare.py's zoo.cfg, every workload row is run against each in turn (which
goes first alternates), each run starts once both are quiet, and the median of --repeat runs per row is reported
with the ratio B/A and each build's server CPU per operation. For a change that must not cost speed (a refactor,
a module split): build the commit before it and after it in release mode and give both binaries.

    git worktree add /tmp/before <commit> && (cd /tmp/before && swift build -c release --product warren)
    swift build -c release --product warren
    python3 Tests/bench/ab.py --a /tmp/before/.build/release/warren --b .build/release/warren [--repeat 3]

The generator is build B's `warren bench` for both, so only the servers differ. About (rows × repeats × 2 ×
(duration + warm-up)) seconds: 10 rows, 3 repeats and 5 + 1 s take about 7 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="the first warren binary (e.g. the commit before the change)")
    ap.add_argument("--b", required=True, help="the second warren binary (the change)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--layout", choices=sorted(compare.LAYOUTS), default="ensemble3")
    ap.add_argument("--work-dir", default="/tmp/warren-ab")
    ap.add_argument("--json", help="write every sample here")
    ap.add_argument("--rows", help="only the rows whose label contains one of these comma-separated words")
    a = ap.parse_args()
    binaries = {"A": Path(a.a).resolve(), "B": Path(a.b).resolve()}
    s = compare.Settings(quick=False, duration=a.duration, warmup=a.warmup, connections=16, outstanding=32,
                         keys=10000, value_bytes=1024, watchers=100, session_loops=4, read_percents=[0, 50, 90, 100],
                         repeat=a.repeat, znodes=0, znode_bytes=100, layout=a.layout)
    work = Path(a.work_dir) / time.strftime("%Y%m%d-%H%M%S")
    clusters = {k: compare.Cluster("warren", s.layout, work / k, b) for k, b in binaries.items()}
    rows = compare.workload_runs(s)
    if a.rows:
        rows = [r for r in rows if any(w in r.label for w in a.rows.split(","))]
    samples: dict[str, dict[str, list[dict]]] = {r.label: {"A": [], "B": []} for r in rows}
    info = compare.machine_info()
    print(f"machine: {info['cpus']} cpus, load {' '.join(info['loadavg'])}; A {binaries['A']}, B {binaries['B']}", flush=True)
    try:
        for k, c in clusters.items():
            c.start()
        for rep in range(s.repeat):
            for i, row in enumerate(rows):
                for k in (("A", "B") if (i + rep) % 2 == 0 else ("B", "A")):
                    compare.wait_quiet(clusters)
                    cpu0 = sum(srv.cpu_seconds() for srv in clusters[k].servers)
                    r = compare.bench(binaries["B"], clusters[k].hosts, row.args, s.duration + s.warmup + 300)
                    r["serverCpuSeconds"] = sum(srv.cpu_seconds() for srv in clusters[k].servers) - cpu0
                    samples[row.label][k].append(r)
                    print(f"  [{rep + 1}/{s.repeat}] {row.label:<34} {k}  {compare.summary(r)}", flush=True)
    finally:
        for c in clusters.values():
            c.stop()
    print()
    print(f"| row | A ops/s | B ops/s | B/A | A p99 µs | B p99 µs | A CPU µs/op | B CPU µs/op |")
    print(f"|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        med = {k: median_run(samples[row.label][k]) for k in ("A", "B")}
        if any(m is None for m in med.values()):
            print(f"| {row.label} | failed | | | | | | |")
            continue
        ra, rb = med["A"], med["B"]
        spread = {k: ", ".join(f"{x['opsPerSecond']:.0f}" for x in samples[row.label][k] if "failed" not in x) for k in med}
        print(f"| {row.label} | {ra['opsPerSecond']:.0f} ({spread['A']}) | {rb['opsPerSecond']:.0f} ({spread['B']}) | "
              f"{rb['opsPerSecond'] / ra['opsPerSecond']:.2f} | {ra['latencyMicros']['p99']:.0f} | {rb['latencyMicros']['p99']:.0f} | "
              f"{cpu_per_op(ra):.1f} | {cpu_per_op(rb):.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": info, "binaries": {k: str(v) for k, v in binaries.items()},
                                            "samples": samples}, indent=2, default=str))
    return 0


def median_run(xs: list[dict]) -> dict | None:
    ok = sorted((x for x in xs if "failed" not in x), key=lambda x: x["opsPerSecond"])
    return ok[len(ok) // 2] if ok else None


def cpu_per_op(r: dict) -> float:
    """Server CPU (all servers, utime + stime over the whole run: setup and warm-up included) per measured operation,
    in microseconds: it overstates both builds alike, and stays comparable when the generator competes for the same
    cores."""
    return r["serverCpuSeconds"] * 1e6 / r["ops"] if r.get("ops") else float("nan")


if __name__ == "__main__":
    sys.exit(main())
