#!/usr/bin/env python3
"""zkfs benchmark: the cost of going through the mount, side by side on Warren and Apache ZooKeeper.

For each server (started here on 127.0.0.1, as the interop suite starts them) it measures:
  - reading a 100-byte znode through the mount (open + read + close, what `cat` does minus its own start-up),
    against a getData from a Swift client (`warren bench --workload read`, one connection, one request in flight);
  - `ls` of a directory with 10k children (listdir; and listdir + stat of every entry, what `ls -l` does);
  - whole-file writes per second through the mount (open O_TRUNC + write + close = one versioned setData).
and writes the table to Docs/zkfs-benchmarks.md. It is a benchmark, not a test: it asserts nothing.

With --inotify-cost it measures instead what replaying remote changes for inotify costs (see `inotify_cost`) and
writes that section of Docs/zkfs-benchmarks.md (each mode keeps the other's section).

    python3 Tests/bench/zkfs_bench.py [--quick] [--inotify-cost] [--warren-bin PATH] [--zkfs-bin PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "interop"))

from kazoo.client import KazooClient  # noqa: E402

import servers  # noqa: E402


def is_mounted(path: Path) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == str(path) for line in f)


class Mount:
    def __init__(self, zkfs: Path, hosts: str, mnt: Path, log: Path, options: str = ""):
        mnt.mkdir(parents=True, exist_ok=True)
        self.mnt = mnt
        self.log = open(log, "ab")
        extra = ["-o", options] if options else []
        self.proc = subprocess.Popen([str(zkfs), hosts, str(mnt), "-f", *extra], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not is_mounted(mnt):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"zkfs did not mount {hosts}; see {log}")
            time.sleep(0.05)

    def close(self) -> None:
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def percentile(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def swift_getdata(warren: Path, hosts: str, seconds: float) -> dict:
    r = subprocess.run(
        [str(warren), "bench", "--hosts", hosts, "--workload", "read", "--connections", "1", "--outstanding", "1",
         "--value-bytes", "100", "--keys", "100", "--duration", str(seconds), "--warmup", "1", "--json"],
        capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"warren bench failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout)["latencyMicros"]


def measure(kind: str, args, work: Path) -> dict:
    srv = servers.ServerProcess(kind, work / kind).start()
    mount = None
    try:
        zk = KazooClient(hosts=srv.hosts)
        zk.start()
        zk.ensure_path("/b/wide")
        zk.create("/b/small", b"x" * 100)
        t = zk.transaction()
        for i in range(args.children):
            t.create(f"/b/wide/c{i:05d}", b"v")
            if (i + 1) % 1000 == 0:
                t.commit()
                t = zk.transaction()
        t.commit()
        mount = Mount(args.zkfs_bin, srv.hosts, work / kind / "mnt", work / kind / "zkfs.log")
        small = mount.mnt / "b" / "small"

        def read_small():
            fd = os.open(small, os.O_RDONLY)
            os.read(fd, 4096)
            os.close(fd)

        timed(read_small, 200)  # warm-up
        reads = timed(read_small, args.reads)
        getdata = swift_getdata(args.warren_bin, srv.hosts, args.seconds)

        wide = mount.mnt / "b" / "wide"
        ls = timed(lambda: os.listdir(wide), 5)
        ls_l = timed(lambda: [os.stat(wide / n) for n in os.listdir(wide)], 3)

        target = mount.mnt / "b" / "w"
        zk.create("/b/w", b"0")  # data makes it a file (an empty childless node shows as a directory)
        payload = b"y" * 100
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
            os.write(fd, payload)
            os.close(fd)
            n += 1
        writes_per_s = n / (time.perf_counter() - t0)
        zk.stop()
        return {
            "read_p50": statistics.median(reads), "read_p99": percentile(reads, 0.99),
            "getdata_p50": getdata["p50"], "getdata_p99": getdata["p99"],
            "ls_ms": statistics.median(ls) / 1000, "ls_l_ms": statistics.median(ls_l) / 1000,
            "writes_per_s": writes_per_s,
        }
    finally:
        if mount:
            mount.close()
        srv.stop()


INOTIFY_SECTION = "## Cost of inotify replays"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (all its threads)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, quiet: float = 0.5, limit: float = 60.0) -> None:
    """Returns once process `pid` has used under 2% of a CPU for `quiet` seconds (its queued work is done; pings
    and timers stay below that)."""
    deadline = time.monotonic() + limit
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.02 * quiet:
            return
        last = now


def inotify_cost(kind: str, args, work: Path, batch: int) -> dict:
    """`args.changes` setData by kazoo on one node the kernel has looked up, `batch` at a time (1: each waits for
    the previous reply), for each configuration: `noinotify`; the default (replays) with no inotify watcher; the
    default with `inotifywait -m -r` watching. Per configuration: milliseconds from the first set until the mount
    shows the last value (with the watcher, until the replays are done), and the zkfs process's CPU time per
    change, counted until it is idle again."""
    srv = servers.ServerProcess(kind, work / kind).start()
    results = {}
    try:
        zk = KazooClient(hosts=srv.hosts)
        zk.start()
        for config, options, watch in (("noinotify", "noinotify", False), ("inotify", "", False),
                                       ("inotify + inotifywait", "", True)):
            zk.ensure_path("/c")
            zk.create("/c/f", b"start")
            mnt = work / kind / f"mnt-{len(results)}"
            mount = Mount(args.zkfs_bin, srv.hosts, mnt, work / kind / "zkfs.log", options)
            watcher = None
            try:
                f = mnt / "c" / "f"
                assert f.read_bytes() == b"start"
                if watch:
                    watcher = subprocess.Popen(["inotifywait", "-m", "-r", "-e", "modify", "-e", "create",
                                                str(mnt / "c")],
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    while "Watches established" not in watcher.stderr.readline():
                        pass
                wait_idle(mount.proc.pid)
                cpu0, t0 = cpu_seconds(mount.proc.pid), time.monotonic()
                last = b""
                for start in range(0, args.changes, batch):
                    end = min(start + batch, args.changes)
                    for r in [zk.set_async("/c/f", str(i).encode()) for i in range(start, end)]:
                        r.get(timeout=30)
                    last = str(end - 1).encode()
                while f.read_bytes() != last:
                    time.sleep(0.001)
                if watcher:
                    # inotify merges a MODIFY into an identical unread one, so the lines cannot be counted; the
                    # replays keep watch order, so the marker's CREATE comes after every MODIFY's.
                    zk.create("/c/marker", b"m")
                    while not watcher.stdout.readline().endswith(" CREATE marker\n"):
                        pass
                elapsed = time.monotonic() - t0
                wait_idle(mount.proc.pid)
                cpu = cpu_seconds(mount.proc.pid) - cpu0
                results[config] = {"ms": elapsed * 1000, "cpu_us": cpu / args.changes * 1e6}
            finally:
                if watcher:
                    watcher.terminate()
                    watcher.wait()
                mount.close()
                zk.delete("/c", recursive=True)
        zk.stop()
    finally:
        srv.stop()
    return results


def write_section(out: Path, title: str, body: list[str]) -> None:
    """Replaces the section `title` (up to the next `## ` heading) of `out`, or appends it."""
    text = out.read_text() if out.exists() else "# zkfs benchmarks\n"
    lines = text.rstrip("\n").split("\n")
    if title in lines:
        start = lines.index(title)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = [title, ""] + body + ([""] if end < len(lines) else [])
    else:
        lines += ["", title, ""] + body
    out.write_text("\n".join(lines) + "\n")


def main_inotify_cost(args) -> None:
    results = {}
    for batch in (1, 100):
        with tempfile.TemporaryDirectory(prefix="zkfs-bench-") as tmp:
            results[batch] = {kind: inotify_cost(kind, args, Path(tmp), batch) for kind in ("warren", "zookeeper")}
    build = "release" if "release" in str(args.zkfs_bin) else "debug"
    body = [
        f"Made by `python3 Tests/bench/zkfs_bench.py --inotify-cost` on {time.strftime('%Y-%m-%d')} with a {build} "
        f"zkfs and Warren, {os.cpu_count()} cores (shared with other builds), {platform.release()}: kazoo makes "
        f"{args.changes} setData of one node that the kernel has looked up, one at a time (each after the "
        "previous reply: every change is replayed) or 100 at a time (a burst: a modification queued behind "
        "another of the same name is merged into it). *Reflected*: from the first set until the "
        "mount shows the last value (with a watcher: until `inotifywait -m -r` printed the `CREATE` of a node "
        "created after the last set, which is replayed after every `MODIFY`). "
        "*CPU*: the zkfs process's user + system time per change, counted until it is idle again.",
        "",
        "| mount | reflected, Warren (ms) | CPU per change, Warren (µs) | reflected, ZooKeeper (ms) "
        "| CPU per change, ZooKeeper (µs) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for batch, by_kind in results.items():
        for config in by_kind["warren"]:
            w, z = by_kind["warren"][config], by_kind["zookeeper"][config]
            body.append(f"| {config}, {'one at a time' if batch == 1 else f'{batch} at a time'} | {w['ms']:.0f} "
                        f"| {w['cpu_us']:.0f} | {z['ms']:.0f} | {z['cpu_us']:.0f} |")
    write_section(args.out, INOTIFY_SECTION, body)
    print("\n".join(body))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--warren-bin", type=Path, default=REPO / ".build" / "release" / "warren")
    ap.add_argument("--zkfs-bin", type=Path, default=REPO / ".build" / "release" / "zkfs")
    ap.add_argument("--out", type=Path, default=REPO / "Docs" / "zkfs-benchmarks.md")
    ap.add_argument("--inotify-cost", action="store_true", help="measure the cost of inotify replays instead")
    ap.add_argument("--changes", type=int, default=2000, help="setData per configuration for --inotify-cost")
    args = ap.parse_args()
    args.warren_bin, args.zkfs_bin = args.warren_bin.resolve(), args.zkfs_bin.resolve()
    if args.inotify_cost:
        os.environ["WARREN_BIN"] = str(args.warren_bin)
        main_inotify_cost(args)
        return
    args.reads = 500 if args.quick else 3000
    args.seconds = 2.0 if args.quick else 5.0
    args.children = 2000 if args.quick else 10000
    os.environ["WARREN_BIN"] = str(args.warren_bin)
    with tempfile.TemporaryDirectory(prefix="zkfs-bench-") as tmp:
        results = {kind: measure(kind, args, Path(tmp)) for kind in ("warren", "zookeeper")}
    rows = [
        ("read 100 B through the mount, p50 (µs)", "read_p50"),
        ("read 100 B through the mount, p99 (µs)", "read_p99"),
        ("getData from a Swift client, p50 (µs)", "getdata_p50"),
        ("getData from a Swift client, p99 (µs)", "getdata_p99"),
        (f"`ls` of {args.children} children (ms)", "ls_ms"),
        (f"`ls -l` of {args.children} children (ms)", "ls_l_ms"),
        ("whole-file writes through the mount (/s)", "writes_per_s"),
    ]
    mem = int(open("/proc/meminfo").read().split()[1]) // 1024
    lines = [
        "# zkfs benchmarks",
        "",
        f"Made by `python3 Tests/bench/zkfs_bench.py{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {mem} MiB, {platform.release()}. "
        "Same zkfs binary against each server, one after the other, in one run; loopback.",
        "",
        "| measure | on Warren | on ZooKeeper 3.8 |",
        "| --- | ---: | ---: |",
    ]
    for label, key in rows:
        lines.append(f"| {label} | {results['warren'][key]:.1f} | {results['zookeeper'][key]:.1f} |")
    for kind in ("warren", "zookeeper"):
        r = results[kind]
        lines.append("")
        lines.append(f"Through the mount vs direct getData on {kind}: "
                     f"{r['read_p50'] / r['getdata_p50']:.2f}x at p50 (target: within 2x).")
    kept = args.out.read_text().split("\n" + INOTIFY_SECTION, 1) if args.out.exists() else []
    if len(kept) == 2:
        lines += ["", INOTIFY_SECTION + kept[1].rstrip("\n")]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
