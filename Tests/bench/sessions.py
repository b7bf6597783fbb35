#!/usr/bin/env python3
"""Many sessions and many watches, Warren and Apache ZooKeeper side by side (the performance issue's items 2, 3).

    python3 Tests/bench/sessions.py [--sessions 10000] [--watches 100] [--workers 2] [--binary PATH]
                                    [--systems warren,zookeeper] [--out FILE.json]

Each system runs as a fresh 3-server ensemble on 127.0.0.1 with `compare.py`'s zoo.cfg (tickTime 2000, no
connection limit; ZooKeeper with zkEnv.sh's 1000 MiB heap). `--workers` client processes (asyncio, ZooKeeper's
wire protocol written here, no client library in between) open `--sessions` sessions of 30 s spread round-robin
over the three servers, ping them as every client does, and behave as kazoo and the C client do when a connection
drops: reconnect to another server of the list with the same session id and password (a small random back-off,
doubling up to 1 s), re-register every watch with one `setWatches`, then go on. Measured, in this order:

- **idle sessions**: the servers' RSS (summed) before and after opening the sessions → bytes per idle session;
- **watches**: every session sets `--watches` watches (half data watches through getData, half child watches
  through getChildren) on 1,000 nodes → bytes per watch (RSS delta over the registrations made; `wchs`, which
  counts data watches only, is kept in the JSON);
- **fan-out**: every session sets a data watch on one node; one setData → time until the last session has its
  notification (p50/p99/max over the sessions);
- **setWatches**: one more session holding 10,000 data watches on 10,000 nodes loses its connection and reconnects
  to another server → time from the start of the reconnect to setWatches answered;
- **leader killed**: SIGKILL of the leader with every session connected → time until every session has
  reconnected (same session id) and answered a request (p50/p99/max over the sessions), sessions expired;
- **full restart**: SIGKILL of all three servers and a restart of all three → the same figures.

A session counts as recovered when a request it sent on a connection made after the fault is answered, or, for a
session whose server never dropped it, when a request sent once the ensemble serves again is. Prints a Markdown
table; `--out` keeps the raw JSON. Needs about 4 GiB of memory and a few minutes per system at the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "interop"))

SESSION_TIMEOUT_MS = 30_000
WATCH_NODES = 1000
SETWATCHES_NODES = 10_000
OP_EXISTS, OP_GET_DATA, OP_SET_DATA, OP_GET_CHILDREN, OP_CREATE, OP_PING, OP_SET_WATCHES = 3, 4, 5, 8, 1, 11, 101
XID_NOTIFICATION, XID_PING, XID_SET_WATCHES = -1, -2, -8
ERR_NODE_EXISTS, ERR_SESSION_EXPIRED = -110, -112
RECOVER_WAIT_S = 180.0


# -- the wire ---------------------------------------------------------------------------------------------------

def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _strings(xs: list[str]) -> bytes:
    return struct.pack(">i", len(xs)) + b"".join(_string(x) for x in xs)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _request(xid: int, op: int, body: bytes = b"") -> bytes:
    return _frame(struct.pack(">ii", xid, op) + body)


class Expired(Exception):
    pass


class Session:
    """One ZooKeeper session over asyncio streams: requests matched by xid in order, pings, reconnects keeping the
    session, watches re-registered on reconnect."""

    def __init__(self, hosts: list[tuple[str, int]], first: int, on_event):
        self.hosts, self.index, self.on_event = hosts, first, on_event
        self.session_id, self.passwd, self.last_zxid = 0, b"\0" * 16, 0
        self.xid = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        self.connected_at = 0.0
        self.data_watches: set[str] = set()
        self.child_watches: set[str] = set()
        self.expired = False
        self.reconnects = 0
        self.closing = False

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Makes a connection to the current host (with the session, once it has one); raises on failure."""
        host, port = self.hosts[self.index % len(self.hosts)]
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        body = struct.pack(">iqiq", 0, self.last_zxid, SESSION_TIMEOUT_MS, self.session_id) + \
            struct.pack(">i", 16) + self.passwd + b"\0"
        writer.write(_frame(body))
        try:
            head = await asyncio.wait_for(reader.readexactly(4), timeout_s)
            payload = await asyncio.wait_for(reader.readexactly(struct.unpack(">i", head)[0]), timeout_s)
        except BaseException:
            writer.close()
            raise
        _, timeout_ms, sid = struct.unpack(">iiq", payload[:16])
        if timeout_ms <= 0:
            writer.close()
            self.expired = True
            raise Expired(f"session {self.session_id:#x} expired")
        n = struct.unpack(">i", payload[16:20])[0]
        self.session_id, self.passwd = sid, payload[20:20 + n]
        if self.data_watches or self.child_watches:
            # setWatches goes first on the new connection, as the clients send it, so the requests after it see
            # the watches in place.
            writer.write(_request(XID_SET_WATCHES, OP_SET_WATCHES, struct.pack(">q", self.last_zxid)
                                  + _strings(sorted(self.data_watches)) + _strings([])
                                  + _strings(sorted(self.child_watches))))
        self.writer = writer
        self.connected_at = time.monotonic()
        self.connected.set()
        asyncio.get_running_loop().create_task(self._read(reader, writer))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(4)
                payload = await reader.readexactly(struct.unpack(">i", head)[0])
                xid, zxid, err = struct.unpack(">iqi", payload[:16])
                if zxid > 0:
                    self.last_zxid = max(self.last_zxid, zxid)
                if xid == XID_NOTIFICATION:
                    etype, _, n = struct.unpack(">iii", payload[16:28])
                    path = payload[28:28 + n].decode()
                    (self.data_watches if etype in (1, 2, 3) else self.child_watches).discard(path)
                    self.on_event(self, etype, path)
                elif xid == XID_SET_WATCHES:
                    fut = self.pending.pop(XID_SET_WATCHES, None)
                    if fut and not fut.done():
                        fut.set_result((err, payload[16:]))
                elif xid != XID_PING:
                    fut = self.pending.pop(xid, None)
                    if fut and not fut.done():
                        fut.set_result((err, payload[16:]))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()
            if self.writer is writer:
                self.writer = None
                self.connected.clear()
                for xid, fut in list(self.pending.items()):
                    if not fut.done():
                        fut.set_exception(ConnectionError("connection lost"))
                self.pending.clear()
                if not self.closing:
                    asyncio.get_running_loop().create_task(self.reconnect())

    async def reconnect(self) -> None:
        delay = 0.05
        self.index += 1
        while not self.closing:
            await asyncio.sleep(random.uniform(0, delay))
            try:
                await self.connect(timeout_s=5.0)
                self.reconnects += 1
                return
            except Expired:
                return
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                self.index += 1
                delay = min(delay * 2, 1.0)

    async def call(self, op: int, body: bytes, timeout_s: float = 30.0) -> tuple[int, bytes]:
        if self.writer is None:
            raise ConnectionError("not connected")
        self.xid += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.xid] = fut
        self.writer.write(_request(self.xid, op, body))
        return await asyncio.wait_for(fut, timeout_s)

    async def pinger(self) -> None:
        while not self.closing and not self.expired:
            await asyncio.sleep(SESSION_TIMEOUT_MS / 3000 * random.uniform(0.8, 1.0))
            if self.writer is not None:
                self.writer.write(_request(XID_PING, OP_PING))

    def drop_connection(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


# -- a worker process: a share of the sessions, driven by JSON lines on stdin --------------------------------------

class Worker:
    def __init__(self):
        self.sessions: list[Session] = []
        self.events: dict[str, list[float]] = {}
        self.recover: dict | None = None

    def on_event(self, s: Session, etype: int, path: str) -> None:
        self.events.setdefault(path, []).append(time.monotonic())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            cmd = json.loads(line)
            out = await getattr(self, "cmd_" + cmd.pop("cmd"))(**cmd)
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()

    async def cmd_open(self, hosts: list, count: int, offset: int) -> dict:
        hosts = [tuple(h) for h in hosts]
        t0 = time.monotonic()
        new = [Session(hosts, offset + i, self.on_event) for i in range(count)]
        sem = asyncio.Semaphore(200)

        async def one(s: Session):
            async with sem:
                for _ in range(20):
                    try:
                        await s.connect()
                        break
                    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                        s.index += 1
                        await asyncio.sleep(0.2)
                else:
                    raise RuntimeError("could not open a session")
                asyncio.get_running_loop().create_task(s.pinger())
        await asyncio.gather(*(one(s) for s in new))
        self.sessions += new
        return {"opened": len(new), "seconds": time.monotonic() - t0}

    async def _each(self, fn, parallel: int = 500) -> int:
        sem = asyncio.Semaphore(parallel)
        errors = 0

        async def one(s):
            nonlocal errors
            async with sem:
                try:
                    await fn(s)
                except (ConnectionError, asyncio.TimeoutError, RuntimeError):
                    errors += 1
        await asyncio.gather(*(one(s) for s in self.sessions))
        return errors

    async def cmd_watch(self, per_session: int, nodes: int, offset: int) -> dict:
        t0 = time.monotonic()

        async def watch(s: Session):
            k = self.sessions.index(s) + offset
            calls = []
            for j in range(per_session):
                path = f"/wb/n{(k * 7 + j) % nodes}"
                if j % 2 == 0:
                    s.data_watches.add(path)
                    calls.append(s.call(OP_GET_DATA, _string(path) + b"\1"))
                else:
                    s.child_watches.add(path)
                    calls.append(s.call(OP_GET_CHILDREN, _string(path) + b"\1"))
            for err, _ in await asyncio.gather(*calls):
                if err != 0:
                    raise RuntimeError(f"watch registration error {err}")
        errors = await self._each(watch, parallel=100)
        return {"errors": errors, "seconds": time.monotonic() - t0}

    async def cmd_fanwatch(self, path: str) -> dict:
        async def watch(s: Session):
            s.data_watches.add(path)
            err, _ = await s.call(OP_EXISTS, _string(path) + b"\1")
            if err != 0:
                raise RuntimeError(f"exists error {err}")
        self.events.pop(path, None)
        return {"errors": await self._each(watch)}

    async def cmd_fanwait(self, path: str, count: int, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while len(self.events.get(path, [])) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return {"arrivals": self.events.get(path, [])}

    async def cmd_setwatches(self, hosts: list, nodes: int) -> dict:
        """One session with `nodes` data watches; its connection dropped; reconnect with setWatches timed."""
        hosts = [tuple(h) for h in hosts]
        s = Session(hosts, 0, self.on_event)
        await s.connect()
        for lo in range(0, nodes, 1000):
            calls = []
            for i in range(lo, min(nodes, lo + 1000)):
                path = f"/ws/n{i}"
                calls.append(s.call(OP_CREATE, _string(path) + struct.pack(">i", 1) + b"x"
                                    + struct.pack(">i", 1) + struct.pack(">i", 31) + _string("world")
                                    + _string("anyone") + struct.pack(">i", 0)))
            for err, _ in await asyncio.gather(*calls):
                if err not in (0, ERR_NODE_EXISTS):
                    raise RuntimeError(f"create error {err}")
            calls = []
            for i in range(lo, min(nodes, lo + 1000)):
                s.data_watches.add(f"/ws/n{i}")
                calls.append(s.call(OP_GET_DATA, _string(f"/ws/n{i}") + b"\1"))
            await asyncio.gather(*calls)
        s.closing = True  # reconnect by hand below, timed
        s.drop_connection()
        await asyncio.sleep(0.2)
        s.index = 1
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        s.pending[XID_SET_WATCHES] = fut = loop.create_future()
        s.closing = False
        await s.connect()
        err, _ = await asyncio.wait_for(fut, 60)
        took = time.monotonic() - t0
        s.closing = True
        s.drop_connection()
        return {"seconds": took, "err": err, "watches": nodes}

    async def cmd_recover(self, t0: float) -> dict:
        """Starts counting recoveries after a fault at `t0` (monotonic, the same clock as the parent's)."""
        self.recover = {"t0": t0, "done": {}}
        reconnects0 = sum(s.reconnects for s in self.sessions)
        self.recover["reconnects0"] = reconnects0
        asyncio.get_running_loop().create_task(self._recover_loop())
        return {"ok": True}

    async def _probe(self, s: Session, after: float) -> None:
        """Marks `s` recovered once an exists sent on a connection made after `after` (or now) is answered."""
        done = self.recover["done"]
        while id(s) not in done and not s.expired:
            await s.connected.wait()
            if s.connected_at <= after and not self.recover.get("serving"):
                await asyncio.sleep(0.05)
                continue
            try:
                await s.call(OP_EXISTS, _string("/") + b"\0", timeout_s=10)
                done[id(s)] = time.monotonic()
            except (ConnectionError, asyncio.TimeoutError):
                await asyncio.sleep(0.01)

    async def _recover_loop(self) -> None:
        t0 = self.recover["t0"]
        await asyncio.gather(*(self._probe(s, t0) for s in self.sessions), return_exceptions=True)

    async def cmd_serving(self) -> dict:
        self.recover["serving"] = True
        return {"ok": True}

    async def cmd_recovered(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        done = self.recover["done"]
        while time.monotonic() < deadline:
            if all(id(s) in done or s.expired for s in self.sessions):
                break
            await asyncio.sleep(0.05)
        t0 = self.recover["t0"]
        return {"recovered": [done[id(s)] - t0 for s in self.sessions if id(s) in done],
                "expired": sum(s.expired for s in self.sessions),
                "missing": sum(1 for s in self.sessions if id(s) not in done and not s.expired),
                "reconnects": sum(s.reconnects for s in self.sessions) - self.recover["reconnects0"]}


# -- the parent: clusters, faults, measures -------------------------------------------------------------------------

class Workers:
    def __init__(self, n: int):
        self.procs = [subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True) for _ in range(n)]

    def all(self, cmds: list[dict]) -> list[dict]:
        for p, c in zip(self.procs, cmds):
            p.stdin.write(json.dumps(c) + "\n")
            p.stdin.flush()
        out = []
        for p in self.procs:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("a worker died (see its stderr above)")
            out.append(json.loads(line))
        return out

    def same(self, cmd: dict) -> list[dict]:
        return self.all([dict(cmd) for _ in self.procs])

    def close(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def settle_rss(cluster) -> int:
    time.sleep(2.0)
    return cluster.rss_bytes()


def leader_of(cluster) -> int:
    i = cluster.leader_index()
    if i is None:
        raise RuntimeError("no leader")
    return i


def wait_ensemble(cluster, timeout_s: float = 120.0) -> None:
    from rawzk import four_letter
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        modes = []
        for srv in cluster.servers:
            try:
                text = four_letter("127.0.0.1", srv.client_port, "srvr", timeout=1.0)
                modes.append(next((l.split()[1] for l in text.splitlines() if l.startswith("Mode:")), None))
            except OSError:
                modes.append(None)
        if sorted(m or "" for m in modes) == ["follower", "follower", "leader"]:
            return
        time.sleep(0.02)
    raise RuntimeError(f"ensemble not serving within {timeout_s}s")


def total_watches(cluster) -> int:
    from rawzk import four_letter
    total = 0
    for srv in cluster.servers:
        for line in four_letter("127.0.0.1", srv.client_port, "wchs", timeout=10.0).splitlines():
            if line.startswith("Total watches:"):
                total += int(line.split(":")[1])
    return total


def fault(cluster, workers: Workers, which: str) -> dict:
    t0 = time.monotonic()
    targets = [cluster.servers[leader_of(cluster)]] if which == "leader" else list(cluster.servers)
    for srv in targets:
        srv.proc.kill()
    for srv in targets:
        srv.proc.wait()
    workers.same({"cmd": "recover", "t0": t0})
    if which == "all":
        for srv in targets:
            srv.start(False)
    serving = None
    if which == "leader":
        others = [s for s in cluster.servers if s not in targets]
        from rawzk import four_letter
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                modes = [four_letter("127.0.0.1", s.client_port, "srvr", timeout=1.0) for s in others]
                if all("Mode: " in m for m in modes) and any("Mode: leader" in m for m in modes):
                    break
            except OSError:
                pass
            time.sleep(0.02)
        serving = time.monotonic() - t0
    else:
        wait_ensemble(cluster)
        serving = time.monotonic() - t0
    workers.same({"cmd": "serving"})
    res = workers.same({"cmd": "recovered", "timeout_s": RECOVER_WAIT_S})
    rec = [t for r in res for t in r["recovered"]]
    out = {"serving_s": serving, "sessions_recovered": len(rec), "expired": sum(r["expired"] for r in res),
           "missing": sum(r["missing"] for r in res), "reconnects": sum(r["reconnects"] for r in res),
           "p50_s": pct(rec, 0.5), "p99_s": pct(rec, 0.99), "max_s": max(rec) if rec else None}
    if which == "leader":
        for srv in targets:
            srv.start(False)
        wait_ensemble(cluster)
    return out


def measure(kind: str, binary: Path, work: Path, a: argparse.Namespace) -> dict:
    from compare import Cluster
    from rawzk import RawZK
    cluster = Cluster(kind, "ensemble3", work / kind, binary)
    workers = None
    r: dict = {"system": kind, "sessions": a.sessions}
    try:
        r["start_s"] = cluster.start()
        wait_ensemble(cluster)
        hosts = [["127.0.0.1", s.client_port] for s in cluster.servers]
        z = RawZK("127.0.0.1", cluster.servers[0].client_port, io_timeout=30)
        z.handshake(timeout_ms=SESSION_TIMEOUT_MS)
        for p in ["/wb", "/ws", "/wb/fan"] + [f"/wb/n{i}" for i in range(WATCH_NODES)]:
            z.create(p, b"x")
        z.close()
        rss0 = settle_rss(cluster)
        workers = Workers(a.workers)
        share = a.sessions // a.workers
        t0 = time.monotonic()
        opened = workers.all([{"cmd": "open", "hosts": hosts, "count": share, "offset": i * share}
                              for i in range(a.workers)])
        r["open_s"] = time.monotonic() - t0
        rss1 = settle_rss(cluster)
        n = share * a.workers
        assert sum(o["opened"] for o in opened) == n
        r["rss_idle_bytes"], r["rss_sessions_bytes"] = rss0, rss1
        r["bytes_per_idle_session"] = (rss1 - rss0) / n
        print(f"{kind}: {n} sessions open in {r['open_s']:.1f} s, {r['bytes_per_idle_session']:.0f} B each",
              flush=True)

        t0 = time.monotonic()
        res = workers.all([{"cmd": "watch", "per_session": a.watches, "nodes": WATCH_NODES, "offset": i * share}
                           for i in range(a.workers)])
        r["watch_set_s"] = time.monotonic() - t0
        r["watch_errors"] = sum(x["errors"] for x in res)
        rss2 = settle_rss(cluster)
        # Registrations made (data and child); `wchs` counts data watches only, on both systems.
        r["watches"] = n * a.watches - r["watch_errors"] * a.watches
        r["wchs_data_watches"] = total_watches(cluster)
        r["bytes_per_watch"] = (rss2 - rss1) / max(1, r["watches"])
        r["rss_watches_bytes"] = rss2
        print(f"{kind}: {r['watches']} watches set in {r['watch_set_s']:.1f} s, {r['bytes_per_watch']:.0f} B each",
              flush=True)

        workers.same({"cmd": "fanwatch", "path": "/wb/fan"})
        z = RawZK("127.0.0.1", cluster.servers[0].client_port, io_timeout=30)
        z.handshake(timeout_ms=SESSION_TIMEOUT_MS)
        t0 = time.monotonic()
        z.set_data("/wb/fan", b"changed")
        z.close()
        arr = workers.all([{"cmd": "fanwait", "path": "/wb/fan", "count": share, "timeout_s": 60}
                           for _ in range(a.workers)])
        lat = [t - t0 for x in arr for t in x["arrivals"]]
        r["fanout"] = {"notified": len(lat), "p50_s": pct(lat, 0.5), "p99_s": pct(lat, 0.99),
                       "max_s": max(lat) if lat else None}
        print(f"{kind}: fan-out to {len(lat)} sessions, last after {r['fanout']['max_s']:.3f} s", flush=True)

        sw = Workers(1)
        try:
            r["setwatches"] = sw.same({"cmd": "setwatches", "hosts": hosts, "nodes": SETWATCHES_NODES})[0]
        finally:
            sw.close()
        print(f"{kind}: setWatches of {SETWATCHES_NODES} watches answered in {r['setwatches']['seconds']:.3f} s",
              flush=True)

        r["leader_kill"] = fault(cluster, workers, "leader")
        print(f"{kind}: leader killed: {r['leader_kill']}", flush=True)
        r["full_restart"] = fault(cluster, workers, "all")
        print(f"{kind}: full restart: {r['full_restart']}", flush=True)
    finally:
        if workers:
            workers.close()
        cluster.stop()
    return r


def measure_all(binary: Path, sessions: int = 10_000, watches: int = 100, workers: int = 2,
                systems: tuple[str, ...] = ("warren", "zookeeper")) -> dict:
    """Every figure for each system; the raw results `report.sessions_section` renders."""
    import tempfile
    from compare import machine_info
    a = argparse.Namespace(sessions=sessions, watches=watches, workers=workers)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < sessions // workers + 1000:
        raise SystemExit(f"the open-file limit ({hard}) is below the sessions per worker: raise it (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    info = machine_info()
    results = []
    with tempfile.TemporaryDirectory(prefix="warren-sessions-") as tmp:
        for kind in systems:
            results.append(measure(kind, binary, Path(tmp), a))
    info["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    return {"machine": info, "settings": vars(a), "results": results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--watches", type=int, default=100, help="watches per session")
    ap.add_argument("--workers", type=int, default=2, help="client processes")
    ap.add_argument("--binary", type=Path, help="warren binary (default: a release build)")
    ap.add_argument("--systems", default="warren,zookeeper")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--docs", type=Path, help="also put the section into DOCS/benchmarks.md")
    a = ap.parse_args()
    if a.worker:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        asyncio.run(Worker().run())
        return 0
    import report
    from compare import build
    # SIGTERM unwinds like Ctrl-C, so the servers (in sessions of their own) are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    binary = a.binary.resolve() if a.binary else build("")
    raw = measure_all(binary, a.sessions, a.watches, a.workers, tuple(a.systems.split(",")))
    report.publish(raw, report.SESSIONS_TITLE, report.sessions_section(raw), a.out, a.docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
