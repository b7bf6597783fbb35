#!/usr/bin/env python3
"""Big trees, Warren and Apache ZooKeeper side by side (the performance issue's first item): `compare.py --scale`.

    python3 Tests/bench/compare.py --scale [--scale-sizes 1000000,2000000,5000000,10000000] [--warren-bin PATH]
                                           [--zk-heap 5g] [--zk-max-znodes 5000000]

For each tree size N and each system, a fresh 3-server ensemble (compare.py's zoo.cfg; ZooKeeper with zkEnv.sh's
1000 MiB heap unless `--zk-heap` says otherwise) is loaded with N znodes of `--znode-bytes` (100 B) by
`warren bench --keys-per-dir 1000` (a realistic shape: N/1000 directories of 1,000 children each, paths of about
35 bytes such as /warren-bench/keys/d9999/k9999999), then measured:

- load time, RSS per server against the raw size of paths + data (`zk_approximate_data_size`), disk;
- restart: all three stopped (SIGTERM) and started, until each answers getData of the last key;
- one server restarted: a follower kill -9'd and started again, until it answers (the others keep serving);
- writes while a snapshot is written: setData of 100 B at a fixed rate (open loop, `--rate`) on 1,000 keys of
  their own, first for a window too short for any server to reach its snapshot point (snapCount 100,000: every
  server snapshots between 50,000 and 100,000 transactions after its last one) — the steady p99 — then for a
  window long enough that every server writes at least one snapshot of the whole tree; the p99 of each, and the
  snapshots written during the second (new snapshot files);
- a wiped follower's rejoin: kill -9 of a follower, its dataDir and dataLogDir emptied (myid kept), started again,
  timed until it answers getData of the last key (a SNAP sync).

A system that cannot hold a size (ZooKeeper's heap) is reported as failed there and not tried larger; sizes above
`--zk-max-znodes` are not tried on ZooKeeper (its heap times three would not fit this machine's memory).

Needs memory: about 3 × 1.4 × raw for Warren (10M × ~130 B raw ≈ 1.3 GB, so ~1.8 GB per server) and ZooKeeper's
heap per server (5M znodes need about 4 GB each); time: the loads dominate (10M znodes: about 6 minutes for Warren
on 2 cores, ZooKeeper's 5M about 10), about 35 minutes for the default sizes, both systems.
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
KEYS_PER_DIR = 1000
# The write-latency windows: a fixed schedule, so a stall shows as latency of every request due during it.
WRITE_RATE = 2000
WARMUP_S = 3         # unmeasured, before the steady window (a JVM compiles its hot paths meanwhile)
STEADY_S = 10        # with the warm-up 26,000 writes: below the earliest snapshot point (snapCount / 2 = 50,000)
SNAPSHOT_WINDOW_S = 75  # 150,000 writes: past the latest one (snapCount = 100,000) on every server


def key_path(i: int) -> str:
    return f"/warren-bench/keys/d{i // KEYS_PER_DIR}/k{i}"


def snapshot_files(c: Cluster) -> dict:
    """Snapshot file names per server (both systems write `snapshot.<zxid>` under dataDir/version-2)."""
    return {i: {p.name for p in (s.data_dir / "version-2").glob("snapshot.*")} if (s.data_dir / "version-2").exists()
            else set() for i, s in enumerate(c.servers)}


def write_window(binary: Path, c: Cluster, seconds: int, warmup: int = 0) -> dict:
    r = bench(binary, c.hosts, ["--workload", "write", "--root", "/warren-bench-w", "--keys", "1000",
                                "--value-bytes", "100", "--connections", "4", "--outstanding", "64",
                                "--rate", str(WRITE_RATE), "--warmup", str(warmup), "--duration", str(seconds)],
              timeout=seconds + 600)
    if "failed" in r:
        return {"failed": r["failed"][:200]}
    lat = r["latencyMicros"]
    return {"ops": r["ops"], "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000, "max_ms": lat["max"] / 1000,
            "errors": r["errorsTotal"] + r["connectionErrors"], "dropped": r.get("dropped", 0)}


def measure_size(kind: str, n: int, znode_bytes: int, binary: Path, work: Path) -> dict:
    base = work / f"{kind}-{n}"
    shutil.rmtree(base, ignore_errors=True)
    c = Cluster(kind, "ensemble3", base, binary)
    r: dict = {"znodes": n}
    probe_path = key_path(n - 1)
    try:
        c.start()
        load = bench(binary, c.hosts, ["--workload", "read", "--keys", str(n), "--keys-per-dir", str(KEYS_PER_DIR),
                                       "--value-bytes", str(znode_bytes), "--connections", "8", "--outstanding", "64",
                                       "--duration", "0", "--no-cleanup"], timeout=7200)
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
        t0 = time.monotonic()
        srv.start(False)
        wait_serving(srv, probe_path, t0 + REJOIN_WAIT_S)
        r["restart_one_seconds"] = time.monotonic() - t0
        r["writes_steady"] = write_window(binary, c, STEADY_S, warmup=WARMUP_S)
        before = snapshot_files(c)
        r["writes_snapshotting"] = write_window(binary, c, SNAPSHOT_WINDOW_S)
        after = snapshot_files(c)
        r["snapshots_during_window"] = [len(after[i] - before[i]) for i in sorted(after)]
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


def measure(binary: Path, work: Path, sizes=SIZES_DEFAULT, znode_bytes: int = 100, zk_heap: str | None = None,
            zk_max_znodes: int | None = None) -> dict:
    """Every size for both systems (smallest first; a system that failed a size is not tried at larger ones)."""
    if zk_heap:
        compare.ZK_JVM_FLAGS = [f"-Xmx{zk_heap}"]
    out: dict = {"znode_bytes": znode_bytes, "zk_jvm_flags": list(compare.ZK_JVM_FLAGS), "rows": {k: [] for k in SYSTEMS},
                 "keys_per_dir": KEYS_PER_DIR, "write_rate": WRITE_RATE, "warmup_s": WARMUP_S, "steady_s": STEADY_S,
                 "snapshot_window_s": SNAPSHOT_WINDOW_S, "zk_max_znodes": zk_max_znodes}
    for n in sorted(sizes):
        for kind in SYSTEMS:
            rows = out["rows"][kind]
            if rows and "failed" in rows[-1]:
                rows.append({"znodes": n, "failed": "not tried: failed at a smaller size"})
                continue
            if kind == "zookeeper" and zk_max_znodes and n > zk_max_znodes:
                rows.append({"znodes": n, "skipped": f"not tried: above --zk-max-znodes {zk_max_znodes:,}"})
                continue
            print(f"scale: {kind} {n:,} znodes", flush=True)
            r = measure_size(kind, n, znode_bytes, binary, work)
            rows.append(r)
            print(f"  {summary(r)}", flush=True)
    return out


def summary(r: dict) -> str:
    if "failed" in r or "skipped" in r:
        return f"{r['znodes']:,}: {r.get('failed') or r['skipped']}"
    per = max(r["rss_servers"])
    raw = r.get("raw_bytes") or 0
    steady, snap = r["writes_steady"], r["writes_snapshotting"]
    return (f"{r['znodes']:,}: load {r['load_seconds']:.0f} s, RSS/server {mib(per)}"
            + (f" ({per / raw:.2f}× raw)" if raw else "")
            + f", restart {r['restart_seconds']:.1f} s (one server {r['restart_one_seconds']:.1f} s)"
            + f", write p99 {steady.get('p99_ms', float('nan')):.1f} ms steady vs {snap.get('p99_ms', float('nan')):.1f} ms"
            + f" while snapshotting ({r['snapshots_during_window']} snapshots)"
            + f", wiped follower rejoined in {r['rejoin_seconds']:.1f} s")
