#!/usr/bin/env python3
"""Dynamic reconfiguration: how long membership changes take, Warren against Apache ZooKeeper run the same way.

    python3 Tests/bench/reconfig.py [--warren PATH] [--systems warren,zookeeper] [--rounds 10]

For each system, a fresh 3-voter ensemble on 127.0.0.1 (`Tests/interop/quorum.py`, `reconfigEnabled=true`, the
interop super user) and a fourth server started with the members and itself in its zoo.cfg (synced as a non-voting
follower). Through kazoo, as the super user:
- `add`: `reconfig` adding server 4 as a voter, request to reply (ms), `--rounds` times, each followed by
- `remove`: `reconfig` removing it again;
- `leader removed`: with 4 a voter again, `reconfig` removing the leader, then the time until a write through a
  client of the remaining servers is acknowledged (retried every 10 ms), once.
Prints p50 and max per system. The default binary is .build/release/warren (`swift build -c release`); the
numbers in Docs/operations.md were taken with the debug build the tests use. Bounded: every process is killed at
the end; only loopback addresses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "interop"))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import ConnectionLoss  # noqa: E402

from quorum import Quorum  # noqa: E402
from servers import SUPER_PASSWORD, SUPER_USER  # noqa: E402


def run(kind: str, rounds: int, base: Path) -> dict[str, list[float]]:
    q = Quorum(kind, base / kind, voters=3, spares=1, client_in_lines=True, cfg={"reconfigEnabled": "true"})
    out: dict[str, list[float]] = {"add": [], "remove": [], "leader removed": []}
    try:
        q.start(q.voter_ids)
        admin = KazooClient(hosts=q.hosts(q.voter_ids), auth_data=[("digest", f"{SUPER_USER}:{SUPER_PASSWORD}")])
        admin.start(timeout=30)
        q.prepare_joiner(4, {i: "participant" for i in q.voter_ids}, "participant").spawn()
        q.wait_serving([4])
        for _ in range(rounds):
            t = time.monotonic()
            admin.reconfig(joining=q.line(4), leaving=None, new_members=None)
            out["add"].append(time.monotonic() - t)
            t = time.monotonic()
            admin.reconfig(joining=None, leaving="4", new_members=None)
            out["remove"].append(time.monotonic() - t)
        admin.reconfig(joining=q.line(4), leaving=None, new_members=None)
        leader = q.leader()
        rest = [i for i in [*q.voter_ids, 4] if i != leader]
        writer = KazooClient(hosts=q.hosts(rest))
        writer.start(timeout=30)
        writer.ensure_path("/bench-reconfig")
        t = time.monotonic()
        try:
            admin.reconfig(joining=None, leaving=str(leader), new_members=None)
        except ConnectionLoss:
            pass  # the removed leader closes its clients once the change commits
        deadline = t + 60
        while time.monotonic() < deadline:
            try:
                writer.create("/bench-reconfig/w", b"", sequence=True)
                out["leader removed"].append(time.monotonic() - t)
                break
            except Exception:
                time.sleep(0.01)
        writer.stop()
        admin.stop()
    finally:
        q.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warren", default=str(REPO / ".build" / "release" / "warren"))
    ap.add_argument("--systems", default="warren,zookeeper")
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    import os
    os.environ["WARREN_BIN"] = args.warren
    with tempfile.TemporaryDirectory(prefix="bench-reconfig-") as tmp:
        results = {k: run(k, args.rounds, Path(tmp)) for k in args.systems.split(",")}
    print(f"{'system':<10} {'step':<15} {'p50 ms':>8} {'max ms':>8} {'n':>3}")
    for kind, steps in results.items():
        for step, xs in steps.items():
            if xs:
                print(f"{kind:<10} {step:<15} {1000 * statistics.median(xs):8.1f} {1000 * max(xs):8.1f} {len(xs):3}")
            else:
                print(f"{kind:<10} {step:<15} {'-':>8} {'-':>8}   0")


if __name__ == "__main__":
    main()
