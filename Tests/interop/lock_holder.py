"""Lock holders run as separate processes by test_zkfs_locks.py (each holder must be its own process: a lock is
released when its process dies, and flock(2) locks belong to open file descriptions).

    lock_holder.py flock FILE ROUNDS LOG WHO        flock(2) LOCK_EX on FILE ROUNDS times (released by close)
    lock_holder.py kazoo HOSTS ZPATH ROUNDS LOG WHO kazoo's Lock, Curator-compatible (see CuratorStyleLock)
    lock_holder.py hold FILE flock-sh|flock-ex|lockf|ofd   take the lock, print HELD, release at end of stdin

Inside each hold a `loop` holder appends "enter WHO <CLOCK_MONOTONIC ns>" and "exit WHO <ns>" lines to LOG
(O_APPEND, one write per line), the clock Java's System.nanoTime() reads too.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import time


def record(log: str, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def critical_section(log: str, who: str) -> None:
    record(log, f"enter {who} {time.monotonic_ns()}")
    time.sleep(0.001)
    record(log, f"exit {who} {time.monotonic_ns()}")


def flock_loop(path: str, rounds: int, log: str, who: str) -> None:
    print("READY", flush=True)
    for _ in range(rounds):
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        critical_section(log, who)
        os.close(fd)  # the last close releases a flock lock


def kazoo_loop(hosts: str, zpath: str, rounds: int, log: str, who: str) -> None:
    from kazoo.client import KazooClient
    from kazoo.recipe.lock import Lock

    class CuratorStyleLock(Lock):
        """kazoo's Lock naming its nodes `<uuid>-lock-<seq>`, which Curator's InterProcessMutex sorts like its own
        (it does not recognise kazoo's default `__lock__`); `extra_lock_patterns` makes kazoo see Curator's nodes
        and zkfs's."""
        _NODE_NAME = "-lock-"

    client = KazooClient(hosts=hosts, timeout=6.0)
    client.start(timeout=20)
    lock = CuratorStyleLock(client, zpath, identifier=who, extra_lock_patterns=["-lock-"])
    print("READY", flush=True)
    for _ in range(rounds):
        with lock:
            critical_section(log, who)
    client.stop()


def hold(path: str, how: str) -> None:
    fd = os.open(path, os.O_RDWR)
    if how == "flock-sh":
        fcntl.flock(fd, fcntl.LOCK_SH)
    elif how == "flock-ex":
        fcntl.flock(fd, fcntl.LOCK_EX)
    elif how == "lockf":
        fcntl.lockf(fd, fcntl.LOCK_EX)
    elif how == "ofd":
        fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
    else:
        raise SystemExit(f"unknown lock kind {how}")
    print("HELD", flush=True)
    sys.stdin.read()
    os.close(fd)


def main(argv: list[str]) -> None:
    if argv[0] == "flock":
        flock_loop(argv[1], int(argv[2]), argv[3], argv[4])
    elif argv[0] == "kazoo":
        kazoo_loop(argv[1], argv[2], int(argv[3]), argv[4], argv[5])
    elif argv[0] == "hold":
        hold(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
