#!/usr/bin/env python3
"""Read and write throughput with observers added to a 3-voter ensemble: Warren against Apache ZooKeeper.

    python3 Tests/bench/observers.py [--warren PATH] [--observers 0,1,2] [--systems warren,zookeeper]
        [--duration 8] [--warmup 2] [--repeats 3] [--connections 12] [--json FILE]

For each system and each observer count, a fresh ensemble on 127.0.0.1 (`Tests/interop/quorum.py`: 3 voters,
`server.N=...:observer` lines, `peerType=observer`; zoo.cfg as in compare.py: tickTime 2000, initLimit 10,
syncLimit 5, forceSync yes) runs `warren bench` (the same generator for both) with its sessions spread evenly over
every server of the ensemble, observers included:
- `read`: getData of 1 KiB values over 1,000 keys, for observer counts 0, 1, 2;
- `write`: setData of the same, for observer counts 0 and 2 (the highest count asked for).

Besides ops/s, it reports the servers' CPU per operation: user + system time of every server process
(/proc/PID/stat) over the measured window, divided by the operations in it. On a 2-core machine shared by the
generator and every server, added servers compete for the same cores, so ops/s cannot rise with observers the way
it does on separate machines; CPU per operation stays comparable. Runs alternate between the systems; the table
shows the median repeat (by ops/s). Without --warren it uses .build/release/warren (build it with
`swift build -c release`). Bounded: every process is killed at the end; only loopback addresses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "interop"))

from quorum import Quorum  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
CFG = {"tickTime": 2000, "initLimit": 10, "syncLimit": 5, "forceSync": "yes", "maxClientCnxns": 0,
       "snapCount": 100000, "globalOutstandingLimit": 1000, "minSessionTimeout": 4000, "maxSessionTimeout": 40000}


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (children of the JVM's launcher are the JVM itself: one process each)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)
    return total / CLK_TCK


def run_bench(warren: Path, q: Quorum, workload: str, args) -> dict:
    """One `warren bench` run; the servers' CPU is sampled when the measured window opens and when it closes."""
    pids = [s.proc.pid for s in q.servers.values() if s.is_running()]
    cmd = [str(warren), "bench", "--hosts", q.hosts([i for i in q.ids if q.servers[i].is_running()]),
           "--workload", workload, "--connections", str(args.connections), "--outstanding", "32",
           "--value-bytes", "1024", "--keys", "1000", "--warmup", str(args.warmup),
           "--duration", str(args.duration), "--threads", "2", "--json"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marks: dict[str, float] = {}

    def watch_stderr():
        for line in p.stderr:
            if args.verbose:
                print(line.rstrip(), file=sys.stderr)
            if "run:" in line:
                def sample_start():
                    time.sleep(args.warmup)
                    marks["start"] = cpu_seconds(pids)
                threading.Thread(target=sample_start, daemon=True).start()
            elif "cleanup:" in line:
                marks["end"] = cpu_seconds(pids)

    t = threading.Thread(target=watch_stderr, daemon=True)
    t.start()
    out = p.stdout.read()  # the stderr thread alone reads stderr (communicate would race it for the lines)
    p.wait(timeout=args.warmup + args.duration + 120)
    t.join(timeout=5)
    if p.returncode != 0:
        raise RuntimeError(f"warren bench failed ({p.returncode}): {out[-2000:]}")
    result = json.loads(out)
    if "start" not in marks or "end" not in marks:
        raise RuntimeError("the bench's progress lines did not mark its measured window")
    cpu = marks["end"] - marks["start"]
    ops = result["ops"]
    return {"ops_s": result["opsPerSecond"], "server_cpu_s": round(cpu, 2),
            "cpu_us_per_op": cpu / ops * 1e6 if ops else None, "errors": result["errorsTotal"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warren", type=Path, default=REPO / ".build" / "release" / "warren")
    ap.add_argument("--systems", default="warren,zookeeper")
    ap.add_argument("--observers", default="0,1,2")
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=12)
    ap.add_argument("--verbose", action="store_true", help="echo the generator's progress lines")
    ap.add_argument("--json", type=Path, help="also write every run as JSON lines here")
    args = ap.parse_args()
    os.environ["WARREN_BIN"] = str(args.warren)
    systems = args.systems.split(",")
    counts = [int(c) for c in args.observers.split(",")]
    plan = [("read", n) for n in counts] + [("write", n) for n in sorted({counts[0], counts[-1]})]
    runs: dict[tuple, list[dict]] = {}
    log = open(args.json, "a") if args.json else None
    for rep in range(args.repeats):
        for workload, n in plan:
            order = systems if rep % 2 == 0 else systems[::-1]
            for system in order:
                with tempfile.TemporaryDirectory(prefix=f"obs-bench-{system}-") as d:
                    q = Quorum(system, Path(d), voters=3, observers=n, cfg=CFG)
                    try:
                        q.start()
                        r = run_bench(args.warren, q, workload, args)
                    finally:
                        q.close()
                r.update(system=system, workload=workload, observers=n, repeat=rep)
                print(json.dumps(r), flush=True)
                if log:
                    log.write(json.dumps(r) + "\n")
                runs.setdefault((workload, n, system), []).append(r)
    print()
    print("| workload | observers | " + " | ".join(f"{s} ops/s | {s} server CPU µs/op" for s in systems) + " |")
    print("|---|--:|" + "--:|--:|" * len(systems))
    for workload, n in plan:
        cells = []
        for s in systems:
            rs = sorted(runs[(workload, n, s)], key=lambda r: r["ops_s"])
            med = rs[len(rs) // 2]
            spread = (rs[-1]["ops_s"] - rs[0]["ops_s"]) / 2 / med["ops_s"] * 100 if med["ops_s"] else 0
            cpu = statistics.median(r["cpu_us_per_op"] for r in rs if r["cpu_us_per_op"] is not None)
            cells.append(f"{med['ops_s']:,.0f} ±{spread:.0f}% | {cpu:.1f}")
        print(f"| {workload} | {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
