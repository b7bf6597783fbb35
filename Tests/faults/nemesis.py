"""Nemeses: each `apply_<kind>` does the fault now and returns (description, heal). `Nemesis.run_until` applies
them one at a time or two at once (combined), holds, heals, pauses, and logs every event with its times.

kinds: kill (kill -9 of the leader, a follower or any server, restarted at heal), stop (SIGSTOP, SIGCONT at heal),
partition (isolated leader, majority/minority — sometimes with the clients cut from the minority too —, bridge),
clock (a server's wall clock stepped by ±1 min .. ±1 h, stepped back at heal), disk (a server's data filesystem
filled to ENOSPC, freed at heal; a server that exited meanwhile is restarted), torn (kill -9 while the next log
record was being written: a prefix of a record is left after the newest log's last one — whole sectors of it inside
a preallocated file, any prefix where the file ends — then restart at once; those bytes were never fsynced, so no
server acknowledged them: a real crash's torn tail).

Not in the default set: losetail (kill -9, then the newest log's last *complete* record cut short or its later
sectors zeroed: the disk losing a write it had fsynced and the server had acknowledged). That is outside Zab's and
ZooKeeper's fault model — a quorum's acknowledgement is only durable if their disks keep what they fsynced — and
with it the runner can and does report lost acknowledged writes on both systems (Docs/reliability.md). Random
garbage after the end is not a torn write but corruption, which Warren refuses to start on by design
(test_durability).
"""

from __future__ import annotations

import os
import random
import signal
import time
import zlib

from cluster import Cluster, Server

KINDS = ("kill", "stop", "partition", "clock", "disk", "torn")
# Known but opt-in (--nemesis ...,losetail): outside the fault model, see above.
EXTRA_KINDS = ("losetail",)


class Event:
    def __init__(self, t0: float, kind: str, detail: str):
        self.t0, self.t1, self.kind, self.detail = t0, None, kind, detail

    def line(self) -> str:
        end = f"{self.t1:9.3f}" if self.t1 is not None else "         "
        return f"[{self.t0:9.3f} {end}] {self.kind:9s} {self.detail}"


SECTOR = 512


def last_record_start(data: bytes, end: int) -> int | None:
    """Offset of the last record in a Warren log file (16-byte file header; records: a 20-byte header starting
    with the payload length, then the payload), or None if the bytes do not parse."""
    offset, last = 16, None
    while offset + 20 <= end:
        length = int.from_bytes(data[offset:offset + 4], "big")
        last = offset
        offset += 20 + length
    return last if offset == end else None


def zookeeper_last_record_start(data: bytes, end: int) -> int | None:
    """The same for a ZooKeeper log (16-byte file header; records: 8-byte checksum, 4-byte length, the txn, one
    end-of-record byte)."""
    offset, last = 16, None
    while offset + 12 <= end:
        length = int.from_bytes(data[offset + 8:offset + 12], "big")
        last = offset
        offset += 12 + length + 1
    return last if offset == end else None


def data_end(data: bytes) -> int:
    """Length without the trailing zeros of preallocation."""
    return len(data.rstrip(b"\0"))


class Nemesis:
    def __init__(self, cluster: Cluster, clock, rng: random.Random, kinds: list[str], log=print):
        self.c = cluster
        self.clock = clock
        self.rng = rng
        self.kinds = kinds
        self.events: list[Event] = []
        self.counts: dict[str, int] = {}
        self.crashes: list[str] = []
        self.log = log
        self.filling: set[int] = set()
        self.restart_after: dict[int, float] = {}

    # -- targets -------------------------------------------------------------------------------------------------

    def target(self, role: str | None = None) -> tuple[Server, str]:
        role = role or self.rng.choice(["leader", "follower", "random"])
        leader = self.c.leader() if role != "random" else None
        if role == "leader" and leader is not None:
            return self.c.servers[leader - 1], "leader"
        if role == "follower" and leader is not None:
            others = [s for s in self.c.servers if s.i != leader]
            return self.rng.choice(others), "follower"
        return self.rng.choice(self.c.servers), "random"

    def event(self, kind: str, detail: str) -> Event:
        e = Event(self.clock.now(), kind, detail)
        self.events.append(e)
        key = f"{kind} ({detail.split(' ')[0]})" if kind in ("kill", "partition", "stop") else kind
        self.counts[key] = self.counts.get(key, 0) + 1
        self.log("nemesis " + e.line())
        return e

    # -- the faults ----------------------------------------------------------------------------------------------

    def apply_kill(self):
        s, role = self.target()
        s.kill9()
        return f"{role} s{s.i}", lambda: s.start()

    def apply_stop(self):
        s, role = self.target()
        s.signal(signal.SIGSTOP)
        s.stopped = True

        def heal():
            s.signal(signal.SIGCONT)
            s.stopped = False
        return f"{role} s{s.i}", heal

    def apply_partition(self):
        ids = [s.i for s in self.c.servers]
        mode = self.rng.choice(["isolate-leader", "minority", "bridge"])
        if mode == "isolate-leader":
            leader = self.c.leader() or self.rng.choice(ids)
            for j in ids:
                if j != leader:
                    self.c.cut_between(leader, j)
            detail = f"isolate-leader s{leader} (clients still reach it)"
        elif mode == "minority":
            minority = self.rng.sample(ids, self.rng.randint(1, len(ids) // 2))
            for a in minority:
                for b in ids:
                    if b not in minority:
                        self.c.cut_between(a, b)
            clients_too = self.rng.random() < 0.5
            if clients_too:
                for a in minority:
                    self.c.cut_clients(a)
            detail = f"minority {sorted(minority)} | {sorted(set(ids) - set(minority))}" + \
                (" (clients cut from the minority)" if clients_too else "")
        else:
            order = self.rng.sample(ids, len(ids))
            bridge, rest = order[0], order[1:]
            left, right = rest[: len(rest) // 2], rest[len(rest) // 2:]
            for a in left:
                for b in right:
                    self.c.cut_between(a, b)
            detail = f"bridge s{bridge} between {sorted(left)} and {sorted(right)}"
        return detail, self.c.heal_network

    def apply_clock(self):
        s = self.rng.choice(self.c.servers)
        step = self.rng.choice([-1, 1]) * self.rng.choice([60, 600, 3600])
        s.set_clock(s.clock_offset + step)
        return f"s{s.i} {step:+d} s", lambda: s.set_clock(0)

    def apply_disk(self):
        s = self.rng.choice(self.c.servers)
        filler = s.disk / "filler"
        written = 0
        try:
            with open(filler, "wb") as f:
                chunk = b"\xab" * (1 << 20)
                while True:
                    f.write(chunk)
                    written += len(chunk)
        except OSError:
            pass
        self.filling.add(s.i)

        def heal():
            try:
                os.unlink(filler)
            except FileNotFoundError:
                pass
            self.filling.discard(s.i)
            if not s.running():
                # Stopping on ENOSPC is allowed (check_crashes says the same when it notices first).
                self.event("exit", f"s{s.i} exited (code {s.proc.returncode}) with its disk full; restarted")
                s.start()
        return f"s{s.i} filled ({written >> 20} MiB)", heal

    def crash_random_server(self):
        """kill -9 of a random server; returns it with its newest transaction log, that file's bytes and where its
        data ends (before preallocated zeros), or (server, None, b"", 0) if it has no log yet."""
        s = self.rng.choice(self.c.servers)
        s.kill9()
        logs = s.txn_logs()
        if not logs:
            return s, None, b"", 0
        data = logs[-1].read_bytes()
        return s, logs[-1], data, data_end(data)

    def apply_torn(self):
        """A crash while the next record was being written: part of it reaches the disk, none of it was fsynced."""
        s, newest, data, end = self.crash_random_server()
        detail = f"s{s.i} no log yet"
        if newest is not None:
            find = last_record_start if self.c.kind == "warren" else zookeeper_last_record_start
            last = find(data, end)
            if last is None:
                detail = f"s{s.i} {newest.name} unparsed, left as is"
            else:
                # The torn record is shaped like a real one — a copy of the last, or (Warren) the next zxid with
                # a payload of a large multi's size, so that it spans sectors —: the reader must tell it from a
                # complete record by its length and checksums, not by its look.
                record = data[last:end]
                if self.c.kind == "warren" and self.rng.random() < 0.5:
                    record = self.large_next_record(record)
                if self.c.kind == "warren" and len(data) > end:
                    # Preallocated: a crash persists whole sectors or none, the rest stays zeros.
                    bounds = [b for b in range(((end // SECTOR) + 1) * SECTOR, end + len(record), SECTOR)]
                    k = self.rng.choice(bounds) - end if bounds else 0
                    with open(newest, "r+b") as f:
                        f.seek(end)
                        f.write(record[:k])
                    detail = f"s{s.i} {newest.name} torn next record: {k} of {len(record)} bytes (whole sectors)"
                else:
                    # The file ends inside the torn record (ZooKeeper reads a record running into its
                    # preallocated zeros as a checksum failure, not as a torn tail).
                    k = self.rng.randint(1, len(record) - 1)
                    with open(newest, "r+b") as f:
                        f.seek(end)
                        f.write(record[:k])
                        f.truncate(end + k)
                    detail = f"s{s.i} {newest.name} torn next record: {k} of {len(record)} bytes, file ends there"
        s.start()
        return detail, lambda: None

    def large_next_record(self, last: bytes) -> bytes:
        """A Warren log record after `last` (header: length, zxid, payload checksum, header checksum) with 0.6–8 KiB
        of payload; its payload checksum is random, which only matters if the record were ever complete."""
        length = self.rng.randint(600, 8192)
        zxid = int.from_bytes(last[4:12], "big") + 1
        head = length.to_bytes(4, "big") + zxid.to_bytes(8, "big") + self.rng.getrandbits(32).to_bytes(4, "big")
        head += zlib.crc32(head).to_bytes(4, "big")
        return head + self.rng.randbytes(length)

    def apply_losetail(self):
        """Outside the fault model: the disk loses the newest log's last record, fsynced and maybe acknowledged."""
        s, newest, data, end = self.crash_random_server()
        detail = f"s{s.i} no log yet"
        if newest is not None:
            cut = self.rng.randint(1, min(24, end)) if end else 0
            last = last_record_start(data, end) if self.c.kind == "warren" else None
            boundary = ((last // SECTOR) + 1) * SECTOR if last is not None else None
            if self.rng.random() < 0.5 or boundary is None or boundary >= end:
                with open(newest, "r+b") as f:
                    f.truncate(end - cut)
                detail = f"s{s.i} {newest.name} last record cut by {cut} bytes"
            else:
                with open(newest, "r+b") as f:
                    f.seek(boundary)
                    f.write(bytes(end - boundary))
                detail = f"s{s.i} {newest.name} last record's sectors from offset {boundary} zeroed ({end - boundary} bytes)"
        s.start()
        return detail, lambda: None

    # -- scheduling ----------------------------------------------------------------------------------------------

    def check_crashes(self) -> None:
        for s in self.c.servers:
            if s.proc is not None and not s.running() and not s.expected_down:
                code = s.proc.returncode
                if s.i in self.filling:
                    self.event("exit", f"s{s.i} exited (code {code}) with its disk full")
                    s.expected_down = True  # restarted when the disk is freed
                    continue
                fatal = [l for l in s.log_tail(400).splitlines() if "Fatal error" in l or "precondition" in l.lower()]
                why = fatal[-1][:400] if fatal else s.log_tail(3)
                now = self.clock.now()
                if now < self.restart_after.get(s.i, 0.0):
                    continue
                self.crashes.append(f"s{s.i} exited unexpectedly (code {code}) at {now:.3f}: {why}")
                self.event("crash", f"s{s.i} exited (code {code}); restarted")
                self.restart_after[s.i] = now + 5.0
                s.start()

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.check_crashes()
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))

    def run_until(self, deadline: float, hold=(1.0, 8.0), quiet=(1.0, 4.0), combine_p: float = 0.3) -> None:
        while self.clock.now() < deadline:
            n = 2 if len(self.kinds) > 1 and self.rng.random() < combine_p else 1
            kinds = self.rng.sample(self.kinds, n)
            active = []
            for kind in kinds:
                detail, heal = getattr(self, f"apply_{kind}")()
                active.append((self.event(kind, detail + (" [combined]" if n > 1 else "")), heal))
            self.sleep(min(self.rng.uniform(*hold), max(0.0, deadline - self.clock.now())))
            for e, heal in reversed(active):
                heal()
                e.t1 = self.clock.now()
            self.sleep(self.rng.uniform(*quiet))

    def heal_all(self) -> None:
        self.c.heal_network()
        for s in self.c.servers:
            s.signal(signal.SIGCONT)
            s.stopped = False
            if s.clock_offset:
                s.set_clock(0)
            filler = s.disk / "filler"
            if filler.exists():
                filler.unlink()
            self.filling.discard(s.i)
            if not s.running():
                s.start()

    def around(self, t0: float, t1: float, margin: float = 10.0) -> list[str]:
        return [e.line() for e in self.events
                if e.t0 <= t1 + margin and (e.t1 if e.t1 is not None else e.t0) >= t0 - margin]
