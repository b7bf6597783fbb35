#!/usr/bin/env python3
"""Big trees, Warren and Apache ZooKeeper side by side (the performance issue's first item): `compare.py --scale`.

    python3 Tests/bench/compare.py --scale [--scale-sizes 1000000,2000000,5000000,10000000] [--warren-bin PATH]

For each tree size N and each system, a fresh 3-server ensemble (compare.py's zoo.cfg; ZooKeeper with zkEnv.sh's
1000 MiB heap unless `--zk-heap` says otherwise) is loaded with N znodes of `--znode-bytes` (100 B) by
`warren bench` (flat, under /warren-bench/keys), then measured: load time, RSS per server against the raw size of
paths + data (`zk_approximate_data_size`), disk, restart of all three to serving (getData of the last key on every
server), and a wiped follower's rejoin: kill -9 of a follower, its dataDir and dataLogDir emptied (myid kept),
started again, timed until it answers getData of the last key (a SNAP sync). A system that cannot hold a size
(ZooKeeper's heap) is reported as failed there, so the table shows the largest size each one holds.

Needs memory: about 3 × 1.3 × raw for Warren (10M × ~140 B raw ≈ 1.4 GB per server) and ZooKeeper's heap per
server; time: the loads dominate (10M znodes: several minutes per system on 2 cores).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402
from compare import SYSTEMS, Cluster, bench, mib, wait_serving  # noqa: E402

SIZES_DEFAULT = (1_000_000, 2_000_000, 5_000_000, 10_000_000)
REJOIN_WAIT_S = 600.0


def measure_size(kind: str, n: int, znode_bytes: int, binary: Path, work: Path) -> dict:
    base = work / f"{kind}-{n}"
    shutil.rmtree(base, ignore_errors=True)
    c = Cluster(kind, "ensemble3", base, binary)
    r: dict = {"znodes": n}
    probe_path = f"/warren-bench/keys/k{n - 1}"
    try:
        c.start()
        load = bench(binary, c.hosts, ["--workload", "read", "--keys", str(n), "--value-bytes", str(znode_bytes),
                                       "--connections", "8", "--outstanding", "64", "--duration", "0",
                                       "--no-cleanup"], timeout=7200)
        if "failed" in load:
            r["failed"] = load["failed"][:200]
            return r
        r["load_seconds"] = load["setupSeconds"]
        time.sleep(5)  # background work of the load (snapshots, GC) before memory is read
        r["rss_servers"] = [srv.rss_bytes() for srv in c.servers]
        r["raw_bytes"] = c.approximate_data_size()
        r["disk"] = c.disk_usage()
        c.stop()
        r["restart_seconds"] = c.start(probe_path, timeout=1800)
        time.sleep(2)
        r["rss_restarted_servers"] = [srv.rss_bytes() for srv in c.servers]
        leader = c.leader_index()
        follower = next(i for i in range(3) if i != leader)
        srv = c.servers[follower]
        srv.proc.kill()
        srv.proc.wait()
        for d in (srv.data_dir, srv.log_dir):
            for child in d.iterdir():
                if child.name != "myid":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        t0 = time.monotonic()
        srv.start(False)
        wait_serving(srv, probe_path, t0 + REJOIN_WAIT_S)
        r["rejoin_seconds"] = time.monotonic() - t0
        r["rss_rejoined_follower"] = srv.rss_bytes()
    except Exception as e:  # reported in the table, not fatal to the other sizes
        r["failed"] = str(e).splitlines()[0][:200]
    finally:
        c.stop()
        shutil.rmtree(base, ignore_errors=True)
    return r


def measure(binary: Path, work: Path, sizes=SIZES_DEFAULT, znode_bytes: int = 100, zk_heap: str | None = None) -> dict:
    """Every size for both systems (smallest first; a system that failed a size is not tried at larger ones)."""
    if zk_heap:
        compare.ZK_JVM_FLAGS = [f"-Xmx{zk_heap}"]
    out: dict = {"znode_bytes": znode_bytes, "zk_jvm_flags": list(compare.ZK_JVM_FLAGS), "rows": {k: [] for k in SYSTEMS}}
    for n in sorted(sizes):
        for kind in SYSTEMS:
            rows = out["rows"][kind]
            if rows and "failed" in rows[-1]:
                rows.append({"znodes": n, "failed": "not tried: failed at a smaller size"})
                continue
            print(f"scale: {kind} {n:,} znodes", flush=True)
            r = measure_size(kind, n, znode_bytes, binary, work)
            rows.append(r)
            print(f"  {summary(r)}", flush=True)
    return out


def summary(r: dict) -> str:
    if "failed" in r:
        return f"{r['znodes']:,}: failed: {r['failed']}"
    per = max(r["rss_servers"])
    raw = r.get("raw_bytes") or 0
    return (f"{r['znodes']:,}: load {r['load_seconds']:.0f} s, RSS/server {mib(per)}"
            + (f" ({per / raw:.2f}× raw)" if raw else "")
            + f", restart {r['restart_seconds']:.1f} s, wiped follower rejoined in {r['rejoin_seconds']:.1f} s")
