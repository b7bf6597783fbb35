#!/usr/bin/env python3
"""The fault runner: servers in network namespaces, concurrent kazoo clients recording a history, nemeses, then
the checkers. One command, bounded time; exit status 1 if a checker fails on Warren (on ZooKeeper the failures are
printed as 'ZooKeeper anomalies' and the exit status stays 0), 2 if the run itself could not be carried out.

    python3 Tests/faults/run.py --target warren --servers 3 --seconds 60 --seed 1
    python3 Tests/faults/run.py --target zookeeper --servers 3 --seconds 600 --nemesis kill,stop,partition

See README.md in this directory.
"""

from __future__ import annotations

import argparse
import atexit
import json
import random
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kazoo.exceptions import NoNodeError  # noqa: E402

import checker  # noqa: E402
from cluster import CLIENT_PORT, SESSION_TIMEOUT_MS, Cluster, cleanup_stale  # noqa: E402
from nemesis import EXTRA_KINDS, KINDS, Nemesis  # noqa: E402
from workload import EPH_ROOT, REG_ROOT, SET_ROOT, Clock, Worker, make_client, set_up_tree  # noqa: E402

SESSION_S = SESSION_TIMEOUT_MS / 1000


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def read_tree(hosts: str) -> dict | None:
    """The tree one server holds, after a sync: path -> (data, version); /set's children by name only."""
    zk = make_client(hosts, SESSION_S)
    try:
        zk.start(timeout=8)
        zk.sync("/")
        out = {}
        stack = ["/"]
        while stack:
            p = stack.pop()
            if p == "/zookeeper":
                continue
            data, stat = zk.get(p)
            out[p] = (data, stat.version)
            children = zk.get_children(p)
            if p == SET_ROOT:
                out.update({f"{p}/{c}": None for c in children})
                continue
            stack += [("" if p == "/" else p) + "/" + c for c in children]
        return out
    except Exception as e:
        log(f"tree of {hosts} not readable: {type(e).__name__}: {e}")
        return None
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass


def wait_same_trees(cluster: Cluster, timeout_s: float) -> dict[int, dict | None]:
    deadline = time.monotonic() + timeout_s
    while True:
        trees = {s.i: read_tree(f"{s.addr}:{CLIENT_PORT}") for s in cluster.servers}
        got = [t for t in trees.values() if t is not None]
        if (len(got) == len(trees) and all(t == got[0] for t in got)) or time.monotonic() > deadline:
            return trees
        time.sleep(1.0)


def ephemeral_checks(cluster: Cluster, workers: list[Worker]) -> checker.Verdict:
    """A live session's ephemeral exists; once every session has ended, no ephemeral is left (bounded wait)."""
    problems = []
    zk = make_client(cluster.hosts(), SESSION_S)
    zk.start(timeout=30)
    try:
        live = 0
        for w in workers:
            sid, path, connected = w.final_state()
            if connected and path:
                live += 1
                zk.sync(path)
                if zk.exists(path) is None and w.session() == sid:
                    problems.append(f"client {w.n}: session {sid:x} is alive but its ephemeral {path} is gone")
        sessions = sum(len(w.sessions) for w in workers)
        for w in workers:
            w.close_session()
        deadline = time.monotonic() + 3 * SESSION_S + 15
        left = None
        while time.monotonic() < deadline:
            zk.sync(EPH_ROOT)
            left = zk.get_children(EPH_ROOT)
            if not left:
                break
            time.sleep(0.5)
        if left:
            problems.append(f"ephemerals of ended sessions still present {3 * SESSION_S + 15:.0f} s after the "
                            f"last session ended: {sorted(left)[:10]}")
    finally:
        zk.stop()
        zk.close()
    return checker.Verdict("ephemerals: live sessions keep theirs, ended sessions' are gone", not problems,
                           f"{sessions} sessions, {live} alive at the end with their ephemeral checked", problems)


def summarize_ops(history) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for o in history:
        d = out.setdefault(o.kind, {"ok": 0, "fail": 0, "info": 0})
        d[o.outcome] += 1
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["warren", "zookeeper"], default="warren")
    ap.add_argument("--servers", type=int, choices=[3, 5], default=3)
    ap.add_argument("--seconds", type=float, default=60, help="how long faults are injected")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--nemesis", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)} (the default), or of those and "
                         f"{','.join(EXTRA_KINDS)} (outside the fault model: see nemesis.py)")
    ap.add_argument("--clients", type=int, default=None, help="default: 2 per server")
    ap.add_argument("--registers", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None, help="write the summary here")
    ap.add_argument("--keep", action="store_true", help="keep the run directory (server logs) on success")
    args = ap.parse_args(argv)

    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    kinds = [k.strip() for k in args.nemesis.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS + EXTRA_KINDS]
    if bad:
        ap.error(f"unknown nemesis {bad}; known: {KINDS + EXTRA_KINDS}")
    rng = random.Random(seed)
    random.seed(seed)
    clients = args.clients or 2 * args.servers
    log(f"fault run: target={args.target} servers={args.servers} seconds={args.seconds:g} seed={seed} "
        f"nemesis={','.join(kinds)} clients={clients}")

    stale = cleanup_stale()
    if stale:
        log(f"removed stale leftovers: {stale}")
    cluster = Cluster(args.target, args.servers)
    torn_down = []

    def teardown():
        if not torn_down:
            torn_down.append(True)
            cluster.teardown()

    atexit.register(teardown)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))

    stop = threading.Event()
    workers: list[Worker] = []
    clock = Clock()
    history: list = []
    try:
        cluster.set_up()
        cluster.start_all()
        modes = cluster.wait_serving(90)
        if list(modes.values()).count("leader") != 1:
            log(f"the ensemble never served: {modes}")
            for s in cluster.servers:
                log(f"--- s{s.i} log tail ---\n{s.log_tail()}")
            return 2
        log(f"serving: {modes}; network 10.77.{cluster.net}.0/24, run dir {cluster.base}")
        set_up_tree(cluster.hosts(), args.registers, SESSION_S)
        nem = Nemesis(cluster, clock, rng, kinds, log=log)
        for n in range(clients):
            w = Worker(n, cluster.hosts, clock, history, args.registers, SESSION_S, seed, stop)
            workers.append(w)
            w.start()
        nem.sleep(2.0)
        t_faults = clock.now()
        nem.run_until(t_faults + args.seconds)
        log("healing everything")
        nem.heal_all()
        modes = cluster.wait_serving(90)
        log(f"after healing: {modes}")
        nem.sleep(5.0)  # clients go on against the healed ensemble
        stop.set()
        for w in workers:
            w.join(timeout=60)
        stuck = [w.n for w in workers if w.is_alive()]
        runner_errors = [f"client {w.n}: {w.error}" for w in workers if w.error]
        if stuck:
            runner_errors.append(f"clients {stuck} did not finish")
        nem.check_crashes()

        log("checking")
        verdicts = [ephemeral_checks(cluster, workers)]
        trees = wait_same_trees(cluster, 30)
        verdicts.append(checker.check_serving(trees))
        verdicts.append(checker.check_trees(trees))
        ref = next((t for t in trees.values() if t is not None), {})
        final_set = {p.rsplit("/", 1)[1] for p in ref if p.startswith(SET_ROOT + "/")}
        verdicts.append(checker.check_set(history, final_set))
        verdicts.append(checker.check_no_phantom_reads(history))
        verdicts.append(checker.check_session_monotonic(history))
        verdicts.append(checker.check_registers(history, with_reads=False))
        verdicts.append(checker.check_registers(history, with_reads=True))
        verdicts.append(checker.Verdict("no server exits on its own", not nem.crashes,
                                        f"{len(nem.crashes)} unexpected exits", nem.crashes, kind="availability"))
        if runner_errors:
            verdicts.append(checker.Verdict("runner", False, "runner errors", runner_errors, kind="runner"))
    finally:
        stop.set()

    ops = summarize_ops(history)
    faults = dict(sorted(nem.counts.items()))
    print()
    print(f"=== fault run: target={args.target} servers={args.servers} seconds={args.seconds:g} seed={seed}")
    print("operations (ok / fail / indeterminate):")
    for kind, d in sorted(ops.items()):
        print(f"  {kind:10s} {d['ok']:7d} {d['fail']:7d} {d['info']:7d}")
    print("faults: " + ", ".join(f"{k}: {v}" for k, v in faults.items()))
    failed = [v for v in verdicts if not v.ok]
    for v in verdicts:
        print(f"  [{'PASS' if v.ok else 'FAIL'}] ({v.kind}) {v.name}: {v.summary}")
    if failed:
        title = "ZooKeeper anomalies" if args.target == "zookeeper" else "FAILURES"
        print(f"\n=== {title} (seed {seed})")
        for v in failed:
            print(f"--- {v.name}: {v.summary}")
            for d in v.details:
                print("  " + d)
            if v.window:
                print(f"  faults around [{v.window[0]:.3f}, {v.window[1]:.3f}]:")
                for line in nem.around(*v.window):
                    print("    " + line)
        print(f"\nreproduce with: python3 Tests/faults/run.py --target {args.target} --servers {args.servers} "
              f"--seconds {args.seconds:g} --seed {seed} --nemesis {','.join(kinds)}   (run dir {cluster.base})")
    if args.json:
        args.json.write_text(json.dumps({
            "target": args.target, "servers": args.servers, "seconds": args.seconds, "seed": seed,
            "nemesis": kinds, "clients": clients, "operations": ops, "faults": faults,
            "checks": [{"name": v.name, "kind": v.kind, "ok": v.ok, "summary": v.summary, "details": v.details[:40]}
                       for v in verdicts],
        }, indent=1))
    teardown()
    if not failed and not args.keep:
        import shutil
        shutil.rmtree(cluster.base, ignore_errors=True)
    if failed and args.target == "warren":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
