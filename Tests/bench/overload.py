#!/usr/bin/env python3
"""Overload benchmark: memory with many idle sessions, and a pipelined flood past globalOutstandingLimit,
Warren and Apache ZooKeeper run the same way, numbers side by side.

    python3 Tests/bench/overload.py                    # 10,000 sessions, flood of 8 x 5,000 setData
    python3 Tests/bench/overload.py --sessions 20000 --targets warren

Per target: a fresh server (the interop suite's zoo.cfg, maxClientCnxns=0, globalOutstandingLimit=1000; ZooKeeper
with the suite's JVM flags: -Xms32m -Xmx256m, serial GC), its resident set size (VmRSS) idle, with the sessions
held, and the difference per session; then the flood: every reply counted, the largest `Outstanding` seen in
`srvr` while it runs, RSS at the end, and the round trips a light client (one getData at a time) completed
meanwhile with their worst latency. Needs a Warren binary (.build/release/warren if built, else .build/debug/warren;
WARREN_BIN overrides) and the Debian zookeeper package.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "interop"))

import rawzk  # noqa: E402
from overload_clients import Flooder, IdleSessions, four_letter, rss_bytes  # noqa: E402
from servers import ServerProcess  # noqa: E402


def default_warren() -> None:
    if "WARREN_BIN" in os.environ:
        return
    release = HERE.parent.parent / ".build" / "release" / "warren"
    if release.exists():
        os.environ["WARREN_BIN"] = str(release)


def srvr_outstanding(port: int) -> int:
    for line in four_letter(port, "srvr").splitlines():
        if line.startswith("Outstanding:"):
            return int(line.split(":", 1)[1])
    return -1


def settle_rss(pid: int, seconds: float = 2.0) -> int:
    time.sleep(seconds)
    return rss_bytes(pid)


def run(kind: str, sessions: int, flooders: int, flood: int, base: Path) -> dict:
    server = ServerProcess(kind, base / kind, {"maxClientCnxns": 0, "globalOutstandingLimit": 1000,
                                              "maxSessionTimeout": 120000}).start()
    out: dict = {}
    try:
        pid = server.proc.pid
        raw = rawzk.RawZK("127.0.0.1", server.port)
        raw.handshake(timeout_ms=120000)  # idle while the sessions are opened
        raw.create("/bench", b"")
        for i in range(flooders):
            raw.create(f"/bench/n{i}", b"")
        out["idle_rss"] = settle_rss(pid)
        t0 = time.monotonic()
        held = IdleSessions("127.0.0.1", server.port, sessions, timeout_ms=120000, deadline_s=600)
        out["connect_s"] = time.monotonic() - t0
        try:
            out["held_rss"] = settle_rss(pid)
            out["pinged"] = held.ping_all(deadline_s=120)
        finally:
            held.close()
        out["per_session"] = (out["held_rss"] - out["idle_rss"]) / sessions

        data = b"v" * 512

        def body(path):
            return lambda _i: (rawzk.OP_SET_DATA, rawzk.Writer().string(path).buffer(data).int(-1).bytes())

        fl = [Flooder("127.0.0.1", server.port, flood, body(f"/bench/n{i}"), deadline_s=600) for i in range(flooders)]
        seen: list[int] = []
        lat: list[float] = []
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                seen.append(srvr_outstanding(server.port))
                time.sleep(0.05)

        w = threading.Thread(target=watch, daemon=True)
        t0 = time.monotonic()
        for f in fl:
            f.start()
        w.start()
        while not all(f.done.is_set() for f in fl):
            a = time.monotonic()
            raw.get_data("/bench")
            lat.append(time.monotonic() - a)
        for f in fl:
            f.wait(600)
        out["flood_s"] = time.monotonic() - t0
        stop.set()
        w.join()
        out["flood_rss"] = rss_bytes(pid)
        out["answered"] = sum(len(f.replies) for f in fl)
        out["ok"] = sum(1 for f in fl for _, e in f.replies if e == 0)
        out["closed"] = sum(1 for f in fl if f.closed or f.error)
        out["outstanding_max"] = max(seen) if seen else -1
        out["light_calls"] = len(lat)
        out["light_max_ms"] = max(lat) * 1000 if lat else float("nan")
        for f in fl:
            f.close()
        raw.close()
    finally:
        server.kill9()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--flooders", type=int, default=8)
    p.add_argument("--flood", type=int, default=5_000, help="pipelined setData per flooder")
    p.add_argument("--targets", default="warren,zookeeper")
    a = p.parse_args()
    default_warren()
    results = {}
    with tempfile.TemporaryDirectory(prefix="overload-bench-") as tmp:
        for kind in a.targets.split(","):
            print(f"running {kind} ...", file=sys.stderr, flush=True)
            results[kind] = run(kind, a.sessions, a.flooders, a.flood, Path(tmp))
    kinds = list(results)
    mib = 1 << 20
    rows = [
        ("RSS idle (MiB)", lambda r: f"{r['idle_rss'] / mib:.1f}"),
        (f"RSS with {a.sessions} sessions (MiB)", lambda r: f"{r['held_rss'] / mib:.1f}"),
        ("bytes per idle session", lambda r: f"{r['per_session']:.0f}"),
        ("sessions opened in (s)", lambda r: f"{r['connect_s']:.1f}"),
        ("sessions answering a ping", lambda r: f"{r['pinged']}"),
        (f"flood {a.flooders} x {a.flood} setData: answered", lambda r: f"{r['answered']} ({r['ok']} ok)"),
        ("flood: connections dropped", lambda r: f"{r['closed']}"),
        ("flood: time (s)", lambda r: f"{r['flood_s']:.1f}"),
        ("flood: max Outstanding in srvr", lambda r: f"{r['outstanding_max']}"),
        ("flood: RSS at end (MiB)", lambda r: f"{r['flood_rss'] / mib:.1f}"),
        ("light client: calls during flood", lambda r: f"{r['light_calls']}"),
        ("light client: worst latency (ms)", lambda r: f"{r['light_max_ms']:.1f}"),
    ]
    w0 = max(len(r[0]) for r in rows)
    print(f"{'':<{w0}}  " + "  ".join(f"{k:>14}" for k in kinds))
    for label, fmt in rows:
        print(f"{label:<{w0}}  " + "  ".join(f"{fmt(results[k]):>14}" for k in kinds))


if __name__ == "__main__":
    main()
