"""The spin-wait thread (`warren.spinWaitUs`, `SpinWaiter`): it spins while single requests arrive one at a time,
costs nothing while the server is idle, stays off under pipelined load, and is absent when turned off."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from servers import warren_binary

pytestmark = pytest.mark.only_targets("warren")


def spin_thread(pid: int) -> Path | None:
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == "warren-spin":
                return task
        except FileNotFoundError:
            continue
    return None


def run_ns(task: Path) -> int:
    """Nanoseconds the thread has spent on a CPU (first field of schedstat)."""
    return int((task / "schedstat").read_text().split()[0])


def bench(hosts: str, *args: str) -> None:
    subprocess.run([str(warren_binary()), "bench", "--hosts", hosts, "--keys", "100", "--value-bytes", "100",
                    "--warmup", "0", *args], check=True, capture_output=True, timeout=120)


def test_spins_for_one_request_at_a_time_and_costs_nothing_idle(server_factory, target):
    server = server_factory.start(target)
    task = spin_thread(server.proc.pid)
    assert task is not None, "no warren-spin thread with the default settings"
    idle0 = run_ns(task)
    time.sleep(0.5)
    assert run_ns(task) - idle0 < 2_000_000, "the spinner ran while nothing happened"

    before = run_ns(task)
    bench(server.hosts, "--workload", "read", "--connections", "1", "--outstanding", "1", "--duration", "2")
    spun = run_ns(task) - before
    assert spun > 1_000_000, f"one request at a time for 2 s, but the spinner ran only {spun} ns"

    # The window (200 µs), a sample (2 ms) and the longest back-off (160 ms) are over well within this.
    time.sleep(0.5)
    quiet0 = run_ns(task)
    time.sleep(0.5)
    assert run_ns(task) - quiet0 < 2_000_000, "the spinner kept running after the traffic stopped"


def test_stays_off_under_pipelined_load(server_factory, target):
    server = server_factory.start(target)
    task = spin_thread(server.proc.pid)
    assert task is not None
    bench(server.hosts, "--workload", "read", "--duration", "0")  # creates the keys
    before = run_ns(task)
    t0 = time.monotonic()
    bench(server.hosts, "--workload", "read", "--connections", "4", "--outstanding", "64", "--duration", "2")
    wall_ns = (time.monotonic() - t0) * 1e9
    spun = run_ns(task) - before
    # Spinning through it would be most of a CPU; a few short windows (connects, the last replies) are fine.
    assert spun < 0.2 * wall_ns, f"spinner ran {spun / 1e6:.0f} ms of {wall_ns / 1e6:.0f} ms under pipelined load"


def test_zero_turns_it_off(server_factory, target):
    server = server_factory.start(target, **{"warren.spinWaitUs": 0})
    assert spin_thread(server.proc.pid) is None
    bench(server.hosts, "--workload", "read", "--connections", "1", "--outstanding", "1", "--duration", "1")
