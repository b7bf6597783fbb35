#!/usr/bin/env python3
"""kload: read / write / mixed load through kazoo's asynchronous API, the Python client's view of a server
(Tests/bench/clients.py runs it next to `warren bench` and the C client's Tests/bench/cload.c).

    python3 Tests/bench/kload.py --hosts 127.0.0.1:2181,127.0.0.1:2182 --connections 16 --outstanding 32 \\
        --processes 4 --workload mixed --read-percent 90 --keys 10000 --value-bytes 1024 --warmup 2 --duration 8

Setup creates <root>/keys/k0 .. k<keys-1> holding --value-bytes each (existing keys are kept). The sessions (one
KazooClient each, session i on host i mod hosts, as `warren bench` spreads them) are divided among --processes
worker processes, so the GIL of one interpreter is not the only bottleneck; each session keeps --outstanding
`get_async`/`set_async` requests in flight, the completion callback recording the latency and sending the next
(closed loop). After --warmup seconds the measured window opens ("kload: measure start" on stderr) and after
--duration it closes ("kload: measure end"); only completions inside it count. Cleanup deletes the tree unless
--no-cleanup. Prints one JSON object with the field names of `warren bench --json` (and cload's "setsTotal": the
successful sets of the whole run, warm-up included). Exit status 1 if setup or connecting failed, 2 for bad
arguments; errors during the run are counted in the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import random
import sys
import threading
import time
from pathlib import Path

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, NodeExistsError, NoNodeError, OperationTimeoutError

PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP = 0, 1, 2
SESSION_TIMEOUT_S = 10.0
CONNECT_WAIT_S = 30.0
DRAIN_WAIT_S = 10.0
SETUP_WINDOW = 256
CONNECTIONS_MAX, OUTSTANDING_MAX, PROCESSES_MAX = 1024, 4096, 64
# Same histogram as cload.c: exact below 128 µs, then 64 sub-buckets per power of two.
HIST_EXACT, HIST_SUB = 128, 64
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def bucket_of(us: int) -> int:
    if us < HIST_EXACT:
        return us
    e = us.bit_length() - 1
    return HIST_EXACT + (e - 7) * HIST_SUB + ((us >> (e - 6)) & (HIST_SUB - 1))


def bucket_top(b: int) -> int:
    """The upper edge of bucket `b`, so a percentile never understates."""
    if b < HIST_EXACT:
        return b
    e, sub = (b - HIST_EXACT) // HIST_SUB + 7, (b - HIST_EXACT) % HIST_SUB
    return ((HIST_SUB + sub + 1) << (e - 6)) - 1


def quantile(counts: dict[int, int], n: int, max_us: int, q: float) -> float:
    if n == 0:
        return 0.0
    rank, seen = max(1, int(q * n + 0.5)), 0
    for b in sorted(counts):
        seen += counts[b]
        if seen >= rank:
            return float(min(bucket_top(b), max_us))
    return float(max_us)


def key_path(root: str, i: int) -> str:
    return f"{root}/keys/k{i}"


class Session:
    """One KazooClient keeping `outstanding` requests in flight. Its counters are written only by the client's
    callback thread (kazoo runs one per client), except `inflight`, which the lock guards."""

    def __init__(self, index: int, host: str, a: argparse.Namespace, phase):
        self.a, self.phase = a, phase
        self.rng = random.Random(a.seed * 1_000_003 + index)
        self.paths = [key_path(a.root, i) for i in range(a.keys)]
        self.set_value = b"w" * a.value_bytes
        self.client = KazooClient(hosts=host, timeout=SESSION_TIMEOUT_S)
        self.lock = threading.Lock()
        self.inflight = 0
        self.counts: dict[int, int] = {}
        self.n = self.sum_us = self.max_us = self.ops = self.sets_total = self.connection_losses = 0
        self.errors: dict[str, int] = {}
        self.connected_once = False
        self.client.add_listener(self._state)

    def _state(self, state) -> None:
        if state == KazooState.CONNECTED:
            self.connected_once = True
        elif self.connected_once and self.phase.value != PHASE_STOP:  # stop() at the end is not a loss
            self.connection_losses += 1

    def start_load(self) -> None:
        with self.lock:
            self.inflight = self.a.outstanding
        for _ in range(self.a.outstanding):
            self._issue()

    def _issue(self) -> None:
        a = self.a
        path = self.paths[self.rng.randrange(a.keys)]
        is_set = a.workload == "write" or (a.workload == "mixed" and self.rng.randrange(100) >= a.read_percent)
        start = time.monotonic_ns()
        try:
            r = self.client.set_async(path, self.set_value) if is_set else self.client.get_async(path)
        except Exception as e:  # the client is closing or expired: this slot stops
            self._error(e)
            self._retire()
            return
        r.rawlink(lambda res: self._done(res, start, is_set))

    def _done(self, res, start: int, is_set: bool) -> None:
        end = time.monotonic_ns()
        ok = res.successful()
        if ok and is_set:
            self.sets_total += 1
        measuring = self.phase.value == PHASE_MEASURE
        if measuring and ok:
            us = (end - start + 500) // 1000
            b = bucket_of(us)
            self.counts[b] = self.counts.get(b, 0) + 1
            self.n += 1
            self.sum_us += us
            self.max_us = max(self.max_us, us)
            self.ops += 1
        elif measuring:
            self._error(res.exception)
        retry = ok or isinstance(res.exception, (ConnectionLoss, OperationTimeoutError))
        if self.phase.value == PHASE_STOP or not retry:  # closing or expired: this slot stops
            self._retire()
            return
        if not ok:
            time.sleep(0.001)  # let the client reconnect
        self._issue()

    def _error(self, e: BaseException | None) -> None:
        name = type(e).__name__ if e is not None else "unknown"
        self.errors[name] = self.errors.get(name, 0) + 1

    def _retire(self) -> None:
        with self.lock:
            self.inflight -= 1


def worker(indices: list[int], hosts: list[str], a: argparse.Namespace, phase, go, conn) -> None:
    """One process's share of the sessions: connect, report ready, load on `go`, drain after PHASE_STOP, report."""
    logging.basicConfig(level=logging.CRITICAL)
    sessions = [Session(i, hosts[i % len(hosts)], a, phase) for i in indices]
    try:
        for s in sessions:
            s.client.start(timeout=CONNECT_WAIT_S)
    except Exception as e:
        conn.send({"failed": f"session connect: {e!r}"})
        return
    conn.send({"ready": True})
    go.wait()
    for s in sessions:
        s.start_load()
    while phase.value != PHASE_STOP:
        time.sleep(0.05)
    deadline = time.monotonic() + DRAIN_WAIT_S
    while any(s.inflight > 0 for s in sessions) and time.monotonic() < deadline:
        time.sleep(0.01)
    undrained = sum(s.inflight for s in sessions)
    for s in sessions:
        try:
            s.client.stop()
            s.client.close()
        except Exception:
            pass
    counts: dict[int, int] = {}
    errors: dict[str, int] = {}
    for s in sessions:
        for b, c in s.counts.items():
            counts[b] = counts.get(b, 0) + c
        for k, c in s.errors.items():
            errors[k] = errors.get(k, 0) + c
    conn.send({"counts": counts, "n": sum(s.n for s in sessions), "sum_us": sum(s.sum_us for s in sessions),
               "max_us": max(s.max_us for s in sessions), "ops": sum(s.ops for s in sessions),
               "sets_total": sum(s.sets_total for s in sessions), "errors": errors, "undrained": undrained,
               "connection_losses": sum(s.connection_losses for s in sessions)})


def pipelined(client: KazooClient, calls) -> list[BaseException]:
    """Runs the async calls from `calls` with at most SETUP_WINDOW in flight; returns their exceptions."""
    window, failures = [], []

    def settle(r) -> None:
        try:
            r.get(timeout=60)
        except (NodeExistsError, NoNodeError):
            pass
        except Exception as e:
            failures.append(e)

    for call in calls:
        if len(window) >= SETUP_WINDOW:
            settle(window.pop(0))
        window.append(call())
    for r in window:
        settle(r)
    return failures


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except OSError:
            pass
    return total


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="127.0.0.1:2181")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--outstanding", type=int, default=32)
    ap.add_argument("--processes", type=int, default=4, help="worker processes (at most --connections)")
    ap.add_argument("--workload", choices=("read", "write", "mixed"), default="read")
    ap.add_argument("--read-percent", type=int, default=90)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--value-bytes", type=int, default=1024)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--root", default="/warren-bench-kazoo")
    ap.add_argument("--seed", type=int, default=0x5EED)
    ap.add_argument("--no-cleanup", dest="cleanup", action="store_false")
    a = ap.parse_args(argv)
    if not (1 <= a.connections <= CONNECTIONS_MAX and 1 <= a.outstanding <= OUTSTANDING_MAX
            and 1 <= a.processes <= PROCESSES_MAX and a.keys >= 1 and 0 <= a.value_bytes <= 1 << 20
            and 0 <= a.read_percent <= 100 and a.warmup >= 0 and a.duration > 0
            and a.root.startswith("/") and len(a.root) > 1 and not a.root.endswith("/")):
        ap.error("an option is out of range")
    a.processes = min(a.processes, a.connections)
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    logging.basicConfig(level=logging.CRITICAL)
    hosts = a.hosts.split(",")
    t_setup = time.monotonic()
    setup = KazooClient(hosts=a.hosts, timeout=SESSION_TIMEOUT_S)
    try:
        setup.start(timeout=CONNECT_WAIT_S)
        setup.ensure_path(f"{a.root}/keys")
        value = b"k" * a.value_bytes
        failures = pipelined(setup, (lambda i=i: setup.create_async(key_path(a.root, i), value)
                                     for i in range(a.keys)))
        if failures:
            print(f"kload: setup of {a.root} failed: {failures[0]!r}", file=sys.stderr)
            return 1
    except Exception as e:
        print(f"kload: setup of {a.root} failed: {e!r}", file=sys.stderr)
        return 1
    setup_seconds = time.monotonic() - t_setup

    # spawn, not fork: this process already runs kazoo's threads.
    ctx = mp.get_context("spawn")
    phase, go = ctx.RawValue("i", PHASE_WARMUP), ctx.Event()
    shares = [list(range(p, a.connections, a.processes)) for p in range(a.processes)]
    pipes, procs = [], []
    for share in shares:
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=worker, args=(share, hosts, a, phase, go, child_end), daemon=True)
        p.start()
        pipes.append(parent_end)
        procs.append(p)
    try:
        for c in pipes:
            if not c.poll(CONNECT_WAIT_S + 30):
                raise RuntimeError("a worker did not connect its sessions in time")
            msg = c.recv()
            if "failed" in msg:
                raise RuntimeError(msg["failed"])
        go.set()
        time.sleep(a.warmup)
        pids = [os.getpid(), *(p.pid for p in procs)]
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        phase.value = PHASE_MEASURE
        print("kload: measure start", file=sys.stderr, flush=True)
        time.sleep(a.duration)
        phase.value = PHASE_STOP
        t1, cpu1 = time.monotonic(), cpu_seconds(pids)
        print("kload: measure end", file=sys.stderr, flush=True)
        results = []
        for c in pipes:
            if not c.poll(DRAIN_WAIT_S + 30):
                raise RuntimeError("a worker did not report")
            results.append(c.recv())
    except Exception as e:
        print(f"kload: {e}", file=sys.stderr)
        phase.value = PHASE_STOP
        go.set()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
        setup.stop()
        return 1
    for p in procs:
        p.join(10)

    t_cleanup = time.monotonic()
    notes = []
    if a.cleanup:
        failures = pipelined(setup, (lambda i=i: setup.delete_async(key_path(a.root, i)) for i in range(a.keys)))
        try:
            setup.delete(f"{a.root}/keys")
            setup.delete(a.root)
        except Exception as e:
            failures.append(e)
        if failures:
            notes.append(f"cleanup failed: {failures[0]!r}")
    cleanup_seconds = time.monotonic() - t_cleanup
    setup.stop()
    setup.close()

    counts: dict[int, int] = {}
    errors: dict[str, int] = {}
    for r in results:
        for b, c in r["counts"].items():
            counts[b] = counts.get(b, 0) + c
        for k, c in r["errors"].items():
            errors[k] = errors.get(k, 0) + c
    n, max_us = sum(r["n"] for r in results), max(r["max_us"] for r in results)
    ops, window = sum(r["ops"] for r in results), t1 - t0
    out = {
        "driver": "kazoo", "workload": a.workload, "hosts": a.hosts, "connections": a.connections,
        "outstanding": a.outstanding, "processes": a.processes, "valueBytes": a.value_bytes, "keys": a.keys,
        **({"readPercent": a.read_percent} if a.workload == "mixed" else {}),
        "warmupSeconds": a.warmup, "durationSeconds": round(window, 4), "ops": ops,
        "opsPerSecond": round(ops / window, 1) if window > 0 else 0.0,
        "latencyMicros": {"p50": quantile(counts, n, max_us, 0.5), "p90": quantile(counts, n, max_us, 0.9),
                          "p99": quantile(counts, n, max_us, 0.99), "p999": quantile(counts, n, max_us, 0.999),
                          "max": max_us, "mean": round(sum(r["sum_us"] for r in results) / n, 1) if n else 0.0},
        "errors": errors, "errorsTotal": sum(errors.values()),
        "connectionErrors": sum(r["connection_losses"] for r in results),
        "undrained": sum(r["undrained"] for r in results), "setsTotal": sum(r["sets_total"] for r in results),
        "generatorCPUPercent": round((cpu1 - cpu0) / window * 100, 1) if window > 0 else 0.0,
        "setupSeconds": round(setup_seconds, 3), "cleanupSeconds": round(cleanup_seconds, 3), "notes": notes,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
