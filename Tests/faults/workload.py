"""Concurrent kazoo clients recording a history: versioned compare-and-set on registers, reads after `sync`,
creates into a set, one ephemeral per session, and now and then a session closed and a new one opened.

Each client is a thread with its own KazooClient connected to every server (in random order). Every operation
is recorded with its invocation and completion time on the runner's monotonic clock (`Clock`) and its outcome:
"ok", "fail" (a definite error: BadVersion, NodeExists) or "info" (connection loss, session expiry, a timeout:
it may or may not have taken effect).
"""

from __future__ import annotations

import logging
import random
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.retry import KazooRetry

from checker import INF, Op

REG_ROOT = "/reg"
SET_ROOT = "/set"
EPH_ROOT = "/eph"
OP_TIMEOUT_S = 8.0

logging.getLogger("kazoo").setLevel(logging.CRITICAL)


class Clock:
    def __init__(self):
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0


def make_client(hosts: str, timeout_s: float) -> KazooClient:
    return KazooClient(hosts=hosts, timeout=timeout_s,
                       connection_retry=KazooRetry(max_tries=-1, delay=0.1, backoff=1.5, max_delay=1.0),
                       command_retry=None)


def set_up_tree(hosts: str, registers: int, session_s: float) -> None:
    """Creates the registers, the set and the ephemerals' parent (retried: a fresh ensemble may still settle)."""
    deadline = time.monotonic() + 60
    while True:
        zk = make_client(hosts, session_s)
        try:
            zk.start(timeout=30)
            for p in (REG_ROOT, SET_ROOT, EPH_ROOT):
                zk.ensure_path(p)
            for r in range(registers):
                try:
                    zk.create(f"{REG_ROOT}/r{r}", b"init")
                except NodeExistsError:
                    pass
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        finally:
            zk.stop()
            zk.close()


class Worker(threading.Thread):
    def __init__(self, n: int, hosts_fn, clock: Clock, history: list, registers: int, session_s: float,
                 seed: int, stop: threading.Event):
        super().__init__(name=f"client-{n}", daemon=True)
        self.n = n
        self.hosts_fn = hosts_fn
        self.clock = clock
        self.history = history
        self.registers = registers
        self.session_s = session_s
        self.rng = random.Random(seed * 1000 + n)
        self.stop_event = stop
        self.zk: KazooClient | None = None
        self.counter = 0
        self.eph_session = 0        # session whose ephemeral exists (created ok)
        self.eph_path = ""
        self.lost_states: list[tuple[float, str]] = []
        self.sessions: list[int] = []
        self.error: str = ""

    # -- session handling ----------------------------------------------------------------------------------------

    def session(self) -> int:
        cid = self.zk.client_id if self.zk is not None else None
        return cid[0] if cid else 0

    def _listener(self, state):
        if state == KazooState.LOST:
            self.lost_states.append((self.clock.now(), "LOST"))

    def connect(self) -> bool:
        zk = make_client(self.hosts_fn(), self.session_s)
        zk.add_listener(self._listener)
        try:
            zk.start(timeout=15)
        except Exception:
            try:
                zk.stop()
                zk.close()
            except Exception:
                pass
            return False
        self.zk = zk
        return True

    def close_session(self) -> None:
        if self.zk is None:
            return
        try:
            self.zk.stop()
            self.zk.close()
        except Exception:
            pass
        self.zk = None

    def ensure_ephemeral(self) -> None:
        sid = self.session()
        if sid == 0 or sid == self.eph_session:
            return
        if sid not in self.sessions:
            self.sessions.append(sid)
        path = f"{EPH_ROOT}/c{self.n}-s{sid:x}"
        op = self.record("ephemeral", path, path)
        try:
            self.zk.create_async(path, b"", ephemeral=True).get(timeout=OP_TIMEOUT_S)
            self.finish(op, "ok")
        except NodeExistsError:
            self.finish(op, "ok")
        except Exception as e:
            self.finish(op, "info", e)
            return
        if self.session() == sid:
            self.eph_session, self.eph_path = sid, path

    # -- recording -----------------------------------------------------------------------------------------------

    def record(self, kind: str, key: str, value: str = "", expect: int = -1) -> Op:
        op = Op(self.n, self.session(), kind, key, self.clock.now(), INF, "info", expect=expect, value=value)
        self.history.append(op)
        return op

    def finish(self, op: Op, outcome: str, exc: Exception | None = None, stat=None, data: bytes | None = None):
        op.outcome = outcome
        op.complete = self.clock.now() if outcome != "info" else INF
        if exc is not None:
            op.error = type(exc).__name__
        if stat is not None:
            op.version, op.mzxid = stat.version, stat.mzxid
        if data is not None:
            op.value = data.decode(errors="replace")
        if self.session() != op.session:
            op.session = 0  # the session changed under it: not a same-session observation

    # -- operations ----------------------------------------------------------------------------------------------

    def do_cas(self, path: str) -> None:
        get = self.record("get", path)
        try:
            data, stat = self.zk.get_async(path).get(timeout=OP_TIMEOUT_S)
            self.finish(get, "ok", stat=stat, data=data)
        except Exception as e:
            self.finish(get, "info", e)
            return
        self.counter += 1
        value = f"c{self.n}-{self.counter}"
        op = self.record("cas", path, value, expect=stat.version)
        try:
            st = self.zk.set_async(path, value.encode(), version=stat.version).get(timeout=OP_TIMEOUT_S)
            self.finish(op, "ok")
            op.mzxid = st.mzxid
        except BadVersionError as e:
            self.finish(op, "fail", e)
        except Exception as e:
            self.finish(op, "info", e)

    def do_read(self, path: str) -> None:
        op = self.record("read", path)
        try:
            self.zk.sync_async(path).get(timeout=OP_TIMEOUT_S)
            data, stat = self.zk.get_async(path).get(timeout=OP_TIMEOUT_S)
            self.finish(op, "ok", stat=stat, data=data)
        except Exception as e:
            self.finish(op, "info", e)

    def do_create(self) -> None:
        self.counter += 1
        name = f"c{self.n}-{self.counter}"
        op = self.record("create", SET_ROOT, name)
        try:
            self.zk.create_async(f"{SET_ROOT}/{name}", b"").get(timeout=OP_TIMEOUT_S)
            self.finish(op, "ok")
        except NodeExistsError as e:
            self.finish(op, "fail", e)
        except NoNodeError as e:
            self.finish(op, "fail", e)
        except Exception as e:
            self.finish(op, "info", e)

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                if self.zk is None and not self.connect():
                    time.sleep(0.5)
                    continue
                self.ensure_ephemeral()
                r = self.rng.random()
                path = f"{REG_ROOT}/r{self.rng.randrange(self.registers)}"
                if r < 0.5:
                    self.do_cas(path)
                elif r < 0.75:
                    self.do_read(path)
                elif r < 0.99:
                    self.do_create()
                else:
                    self.close_session()  # the session ends; its ephemeral must go with it
                time.sleep(self.rng.uniform(0.005, 0.04))
        except Exception as e:  # a bug in the runner, not a server fault: reported as such
            self.error = f"{type(e).__name__}: {e}"

    def final_state(self) -> tuple[int, str, bool]:
        """(session id, its ephemeral path or "", connected now)."""
        sid = self.session()
        connected = self.zk is not None and self.zk.state == KazooState.CONNECTED
        return sid, (self.eph_path if self.eph_session == sid and sid else ""), connected
