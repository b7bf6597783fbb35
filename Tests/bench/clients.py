#!/usr/bin/env python3
"""The real clients' view (the performance issue's item 5): Warren and Apache ZooKeeper side by side under the same
read / write / 90 %-read workloads driven by three generators: `warren bench`, the ZooKeeper C client's asynchronous
API (`Tests/bench/cload.c`, libzookeeper_mt) and kazoo's async API (`Tests/bench/kload.py`).

    python3 Tests/bench/clients.py [--quick] [--binary PATH] [--repeat N] [--out FILE.json]

Both systems run as 3-server ensembles on 127.0.0.1 with compare.py's zoo.cfg. Every generator opens 16 sessions
spread over the three servers, keeps 32 requests in flight on each, uses 1 KiB values over 10,000 keys (1,000 with
--quick) and runs a warm-up then a measured window. Per run: ops/s and p50/p99 latency as the generator saw them,
and the servers' CPU per operation: utime+stime of all three server processes over the measured window only ÷ the
operations completed in it. Key creation, warm-up and cleanup are outside the window: cload and kload say on stderr
when it opens and closes; for `warren bench` the window is taken as its "run:" progress line + warm-up, for the
duration. CPU per op stays comparable on a shared 2-core machine where the generator competes with the servers for
the CPUs. Rows alternate which system goes first and each run starts once all servers are quiet; `--repeat` runs
the whole list that many times and the table shows the median with ± half the range. Prints a Markdown table;
`compare.py` calls `measure` and puts the same table in Docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import SYSTEMS, Cluster, build, machine_info, wait_quiet  # noqa: E402
from report import clients_table, put_clients_section  # noqa: E402

HERE = Path(__file__).resolve().parent
DRIVERS = ("warren bench", "C client", "kazoo")
WORKLOADS = (("read", ["--workload", "read"]), ("write", ["--workload", "write"]),
             ("mixed 90% reads", ["--workload", "mixed", "--read-percent", "90"]))
CONNECTIONS, OUTSTANDING, VALUE_BYTES = 16, 32, 1024
# kazoo's sessions are divided among this many processes (one interpreter's GIL would otherwise cap it).
KAZOO_PROCESSES = 4
# Progress lines that open the measured window: cload and kload mark it exactly; `warren bench` says when its
# workload phase starts, and its window opens a warm-up later.
WINDOW_START = {"C client": "cload: measure start", "kazoo": "kload: measure start"}
WINDOW_END = {"C client": "cload: measure end", "kazoo": "kload: measure end"}
WARREN_BENCH_RUN = "warren bench: run:"


def build_cload(out_dir: Path) -> Path:
    """Compiles cload.c with gcc -O2 against Debian's libzookeeper-mt-dev into `out_dir` (not committed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / "cload"
    subprocess.run(["gcc", "-O2", "-DTHREADED", "-Wall", "-o", str(binary), str(HERE / "cload.c"),
                    "-lzookeeper_mt", "-lpthread"], check=True)
    return binary


def command(driver: str, tools: dict, hosts: str, workload: list[str], s: argparse.Namespace) -> list[str]:
    common = ["--hosts", hosts, "--connections", str(CONNECTIONS), "--outstanding", str(OUTSTANDING),
              "--value-bytes", str(VALUE_BYTES), "--keys", str(s.keys), "--warmup", str(s.warmup),
              "--duration", str(s.duration), *workload]
    if driver == "warren bench":
        return [str(tools["warren"]), "bench", "--json", *common]
    if driver == "C client":
        return [str(tools["cload"]), *common]
    return [sys.executable, str(HERE / "kload.py"), "--processes", str(KAZOO_PROCESSES), *common]


def run_one(driver: str, tools: dict, cluster: Cluster, workload: list[str], s: argparse.Namespace) -> dict:
    """Runs one generator against `cluster`; its JSON plus the servers' CPU over the measured window."""
    def cpu() -> tuple[float, float]:
        return time.monotonic(), sum(srv.cpu_seconds() for srv in cluster.servers)

    marks: dict[str, tuple[float, float]] = {}
    stderr_tail: list[str] = []
    timers: list[threading.Timer] = []

    def mark(name: str) -> None:
        marks[name] = cpu()

    proc = subprocess.Popen(command(driver, tools, cluster.hosts, workload, s), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def read_stderr() -> None:
        for line in proc.stderr:
            line = line.rstrip("\n")
            stderr_tail[:] = (stderr_tail + [line])[-5:]
            if driver in WINDOW_START and line == WINDOW_START[driver]:
                mark("start")
            elif driver in WINDOW_END and line == WINDOW_END[driver]:
                mark("end")
            elif driver == "warren bench" and line.startswith(WARREN_BENCH_RUN):
                timers.extend([threading.Timer(s.warmup, mark, ("start",)),
                               threading.Timer(s.warmup + s.duration, mark, ("end",))])
                for t in timers:
                    t.start()

    # stderr is read line by line as it comes (the window marks), so stdout gets its own reader too.
    stdout: list[str] = []
    readers = [threading.Thread(target=read_stderr, daemon=True),
               threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)]
    for t in readers:
        t.start()
    try:
        proc.wait(timeout=s.warmup + s.duration + 300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return {"failed": "timed out"}
    finally:
        for t in readers:
            t.join(5)
        for t in timers:
            if proc.returncode:
                t.cancel()
            else:
                t.join(s.warmup + s.duration + 5)
    out = "".join(stdout)
    if proc.returncode != 0:
        return {"failed": (stderr_tail or [f"exit {proc.returncode}"])[-1]}
    r = json.loads(out)
    if "start" in marks and "end" in marks and r.get("ops"):
        (t0, c0), (t1, c1) = marks["start"], marks["end"]
        r["serverCPUSeconds"] = round(c1 - c0, 3)
        r["serverCPUWindowSeconds"] = round(t1 - t0, 3)
        r["serverCPUMicrosPerOp"] = round((c1 - c0) / r["ops"] * 1e6, 2)
    return r


def summary(r: dict) -> str:
    if "failed" in r:
        return "FAILED: " + r["failed"]
    lat = r["latencyMicros"]
    return (f"{r['opsPerSecond']:>9.0f} ops/s  p50 {lat['p50']:>7.0f} us  p99 {lat['p99']:>7.0f} us  "
            f"server {r.get('serverCPUMicrosPerOp', float('nan')):>6.1f} us CPU/op  "
            f"errors {r['errorsTotal'] + r['connectionErrors']}  gen cpu {r['generatorCPUPercent']:.0f}%")


def settings(quick: bool, repeat: int | None = None) -> argparse.Namespace:
    return argparse.Namespace(quick=quick, duration=3.0 if quick else 8.0, warmup=1.0 if quick else 2.0,
                              keys=1000 if quick else 10000, repeat=repeat or (1 if quick else 3),
                              connections=CONNECTIONS, outstanding=OUTSTANDING, value_bytes=VALUE_BYTES,
                              kazoo_processes=KAZOO_PROCESSES)


def measure(quick: bool, binary: Path, work: Path, repeat: int | None = None, drivers=DRIVERS,
            workloads=tuple(w for w, _ in WORKLOADS)) -> dict:
    """Runs every (driver, workload) row against fresh 3-server ensembles of both systems; returns the raw
    results ({"settings", "rows": [{"driver", "workload", "samples": {system: [run, ...]}}]})."""
    s = settings(quick, repeat)
    tools = {"warren": binary, "cload": build_cload(work / "tools")}
    clusters = {k: Cluster(k, "ensemble3", work / "clients" / k, binary) for k in SYSTEMS}
    rows = [{"driver": d, "workload": label, "args": args, "samples": {k: [] for k in SYSTEMS}}
            for d in drivers for label, args in WORKLOADS if label in workloads]
    try:
        for k, c in clusters.items():
            print(f"starting {k} (ensemble3) on {c.hosts}", flush=True)
            c.start()
        for rep in range(s.repeat):
            for i, row in enumerate(rows):
                order = SYSTEMS if (i + rep) % 2 == 0 else tuple(reversed(SYSTEMS))
                for k in order:
                    wait_quiet(clusters)
                    r = run_one(row["driver"], tools, clusters[k], row["args"], s)
                    row["samples"][k].append(r)
                    print(f"  [{rep + 1}/{s.repeat}] {row['driver']:<12} {row['workload']:<16} {k:<10} "
                          f"{summary(r)}", flush=True)
    finally:
        for c in clusters.values():
            c.stop()
    return {"settings": vars(s), "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 s per run, 1,000 keys, no repeat")
    ap.add_argument("--repeat", type=int, help="runs per row and system (3, quick 1); the median is shown")
    ap.add_argument("--binary", type=Path, help="a release warren binary (default: build one)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/warren-clients-bench"),
                    help="servers' data and the built cload go to a fresh directory under this")
    ap.add_argument("--out", type=Path, help="also write the raw results here as JSON")
    ap.add_argument("--driver", action="append", choices=DRIVERS, help="only this generator (repeatable)")
    ap.add_argument("--workload", action="append", choices=[w for w, _ in WORKLOADS],
                    help="only this workload (repeatable)")
    ap.add_argument("--docs", type=Path, help="also put the table into DOCS/benchmarks.md's real-clients section")
    a = ap.parse_args()
    binary = a.binary.resolve() if a.binary else build("")
    info = machine_info()
    # The binary may not be a build of this checkout (--binary): say when it was built.
    info["warren_binary_built"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(binary.stat().st_mtime))
    work = a.work / time.strftime("%Y%m%d-%H%M%S")
    raw = measure(a.quick, binary, work, a.repeat, a.driver or DRIVERS, a.workload or [w for w, _ in WORKLOADS])
    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    raw["machine"] = info
    if a.out:
        a.out.write_text(json.dumps(raw, indent=1))
    print()
    print("\n".join(clients_table(raw)))
    if a.docs:
        put_clients_section(a.docs / "benchmarks.md", raw)
        print(f"wrote the real-clients section of {a.docs / 'benchmarks.md'}")
    shutil.rmtree(work / "clients", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
