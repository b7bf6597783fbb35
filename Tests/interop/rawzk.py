"""A small raw-socket ZooKeeper client speaking Jute directly.

It exists for what kazoo cannot do: opcodes kazoo 2.x lacks (createContainer, createTTL, addWatch,
removeWatches, checkWatches, getEphemerals, getAllChildrenNumber, whoAmI, setWatches2), handshakes with
chosen fields (a lastZxidSeen ahead of the server, a wrong password), and deliberately malformed frames.

Every frame on the wire is a 4-byte big-endian length followed by that many bytes. Records follow
ZooKeeper's public `zookeeper.jute` schema.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field

# Opcodes (ZooKeeper's ZooDefs.OpCode values).
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GET_DATA = 4
OP_SET_DATA = 5
OP_GET_ACL = 6
OP_SET_ACL = 7
OP_GET_CHILDREN = 8
OP_SYNC = 9
OP_PING = 11
OP_GET_CHILDREN2 = 12
OP_CHECK = 13
OP_MULTI = 14
OP_CREATE2 = 15
OP_CHECK_WATCHES = 17
OP_REMOVE_WATCHES = 18
OP_CREATE_CONTAINER = 19
OP_CREATE_TTL = 21
OP_MULTI_READ = 22
OP_AUTH = 100
OP_SET_WATCHES = 101
OP_GET_EPHEMERALS = 103
OP_GET_ALL_CHILDREN_NUMBER = 104
OP_SET_WATCHES2 = 105
OP_ADD_WATCH = 106
OP_WHO_AM_I = 107
OP_CLOSE_SESSION = -11
OP_ERROR = -1

# Special xids.
XID_NOTIFICATION = -1
XID_PING = -2
XID_AUTH = -4
XID_SET_WATCHES = -8

# Error codes (KeeperException.Code).
OK = 0
SYSTEM_ERROR = -1
RUNTIME_INCONSISTENCY = -2
MARSHALLING_ERROR = -5
UNIMPLEMENTED = -6
BAD_ARGUMENTS = -8
API_ERROR = -100
NO_NODE = -101
NO_AUTH = -102
BAD_VERSION = -103
NO_CHILDREN_FOR_EPHEMERALS = -108
NODE_EXISTS = -110
NOT_EMPTY = -111
SESSION_EXPIRED = -112
INVALID_ACL = -114
AUTH_FAILED = -115
NO_WATCHER = -121

# Create modes.
PERSISTENT = 0
EPHEMERAL = 1
PERSISTENT_SEQUENTIAL = 2
EPHEMERAL_SEQUENTIAL = 3
CONTAINER = 4
PERSISTENT_WITH_TTL = 5
PERSISTENT_SEQUENTIAL_WITH_TTL = 6

# Event types and keeper states.
EV_NONE = -1
EV_CREATED = 1
EV_DELETED = 2
EV_DATA_CHANGED = 3
EV_CHILDREN_CHANGED = 4
EV_DATA_WATCH_REMOVED = 5
EV_CHILD_WATCH_REMOVED = 6
EV_PERSISTENT_WATCH_REMOVED = 7
STATE_SYNC_CONNECTED = 3

# Watcher types (removeWatches/checkWatches) and addWatch modes.
WATCHER_CHILDREN = 1
WATCHER_DATA = 2
WATCHER_ANY = 3
ADD_WATCH_PERSISTENT = 0
ADD_WATCH_PERSISTENT_RECURSIVE = 1

PERM_ALL = 31
OPEN_ACL_UNSAFE = [(PERM_ALL, "world", "anyone")]


class RawError(Exception):
    """The server answered with a non-zero error code."""

    def __init__(self, code: int, what: str = ""):
        super().__init__(f"ZooKeeper error {code} {what}".strip())
        self.code = code


class ConnectionClosed(Exception):
    """The server closed the socket (EOF or reset)."""


# ----------------------------------------------------------------------------------------------------
# Jute encoding


class Writer:
    def __init__(self) -> None:
        self.buf = bytearray()

    def int(self, v: int) -> "Writer":
        self.buf += struct.pack(">i", v)
        return self

    def long(self, v: int) -> "Writer":
        self.buf += struct.pack(">q", v)
        return self

    def bool(self, v: bool) -> "Writer":
        self.buf += b"\x01" if v else b"\x00"
        return self

    def buffer(self, v: bytes | None) -> "Writer":
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.buf += v
        return self

    def string(self, v: str | None) -> "Writer":
        return self.buffer(None if v is None else v.encode("utf-8"))

    def strings(self, vs: list[str] | None) -> "Writer":
        if vs is None:
            return self.int(-1)
        self.int(len(vs))
        for v in vs:
            self.string(v)
        return self

    def acls(self, acls: list[tuple[int, str, str]]) -> "Writer":
        self.int(len(acls))
        for perms, scheme, ident in acls:
            self.int(perms).string(scheme).string(ident)
        return self

    def bytes(self) -> bytes:
        return bytes(self.buf)


@dataclass(frozen=True)
class Stat:
    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeralOwner: int
    dataLength: int
    numChildren: int
    pzxid: int


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"record truncated: need {n} bytes at {self.pos}, have {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def long(self) -> int:
        return struct.unpack(">q", self._take(8))[0]

    def bool(self) -> bool:
        return self._take(1) != b"\x00"

    def buffer(self) -> bytes | None:
        n = self.int()
        return None if n < 0 else self._take(n)

    def string(self) -> str | None:
        b = self.buffer()
        return None if b is None else b.decode("utf-8")

    def strings(self) -> list[str]:
        n = self.int()
        return [] if n < 0 else [self.string() for _ in range(n)]

    def acls(self) -> list[tuple[int, str, str]]:
        n = self.int()
        return [] if n < 0 else [(self.int(), self.string(), self.string()) for _ in range(n)]

    def stat(self) -> Stat:
        return Stat(
            self.long(), self.long(), self.long(), self.long(), self.int(), self.int(), self.int(),
            self.long(), self.int(), self.int(), self.long(),
        )

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


# ----------------------------------------------------------------------------------------------------
# Client


@dataclass
class ConnectResponse:
    protocol_version: int
    timeout_ms: int
    session_id: int
    passwd: bytes
    read_only: bool


@dataclass
class Reply:
    xid: int
    zxid: int
    err: int
    body: Reader


@dataclass
class WatchEvent:
    type: int
    state: int
    path: str


@dataclass
class MultiResult:
    """One entry of a multi response: `op` is the opcode (-1 for an error entry), `err` the code."""

    op: int
    err: int
    path: str | None = None
    stat: Stat | None = None


@dataclass
class RawZK:
    """One TCP connection to a server. Not thread-safe: use it from one thread.

    Replies are matched to requests by xid; watch notifications that arrive in between are kept in
    `events` in arrival order, so a test can assert that an event came before a given reply.
    """

    host: str
    port: int
    io_timeout: float = 5.0
    sock: socket.socket = field(init=False)
    events: deque = field(init=False, default_factory=deque)
    # Everything received, notifications and replies, in order: ("event", WatchEvent) / ("reply", xid).
    arrivals: list = field(init=False, default_factory=list)
    last_zxid: int = field(init=False, default=0)
    session: ConnectResponse | None = field(init=False, default=None)
    _xid: int = field(init=False, default=0)
    _rbuf: bytearray = field(init=False, default_factory=bytearray)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- framing ---------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, payload: bytes) -> None:
        self.sock.sendall(frame(payload))

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from server before deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as e:
            raise TimeoutError("no data from server before deadline") from e
        except (ConnectionResetError, BrokenPipeError) as e:
            raise ConnectionClosed(str(e)) from e
        if not chunk:
            raise ConnectionClosed("EOF")
        self._rbuf += chunk

    def recv_frame(self, timeout: float | None = None) -> bytes:
        """Returns the next frame's payload; raises ConnectionClosed on EOF, TimeoutError on silence."""
        deadline = time.monotonic() + (self.io_timeout if timeout is None else timeout)
        while len(self._rbuf) < 4:
            self._fill(deadline)
        (n,) = struct.unpack(">i", self._rbuf[:4])
        while len(self._rbuf) < 4 + n:
            self._fill(deadline)
        payload = bytes(self._rbuf[4 : 4 + n])
        del self._rbuf[: 4 + n]
        return payload

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection within `timeout` (frames received meanwhile are dropped)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.recv_frame(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        """Drops the TCP connection without closing the session."""
        try:
            self.sock.close()
        except OSError:
            pass

    # -- handshake -------------------------------------------------------------------------------

    def connect_request(
        self,
        timeout_ms: int = 10000,
        session_id: int = 0,
        passwd: bytes = b"\x00" * 16,
        last_zxid: int = 0,
        read_only: bool | None = False,
    ) -> bytes:
        w = Writer().int(0).long(last_zxid).int(timeout_ms).long(session_id).buffer(passwd)
        if read_only is not None:
            w.bool(read_only)
        return w.bytes()

    def handshake(self, **kw) -> ConnectResponse:
        """Sends a ConnectRequest and reads the ConnectResponse. Raises ConnectionClosed if refused."""
        self.last_zxid = kw.get("last_zxid", 0)
        self.send_frame(self.connect_request(**kw))
        r = Reader(self.recv_frame())
        resp = ConnectResponse(r.int(), r.int(), r.long(), r.buffer() or b"", r.bool() if r.remaining else False)
        self.session = resp
        return resp

    # -- requests --------------------------------------------------------------------------------

    def next_xid(self) -> int:
        self._xid += 1
        return self._xid

    def send_request(self, op: int, body: bytes = b"", xid: int | None = None) -> int:
        xid = self.next_xid() if xid is None else xid
        self.send_frame(struct.pack(">ii", xid, op) + body)
        return xid

    def read_reply(self, xid: int, timeout: float | None = None) -> Reply:
        """Reads frames until the reply for `xid`; notifications on the way are queued in `events`."""
        deadline = time.monotonic() + (self.io_timeout if timeout is None else timeout)
        while True:
            r = Reader(self.recv_frame(timeout=max(0.01, deadline - time.monotonic())))
            rxid, zxid, err = r.int(), r.long(), r.int()
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            if rxid == XID_NOTIFICATION:
                ev = WatchEvent(r.int(), r.int(), r.string())
                self.events.append(ev)
                self.arrivals.append(("event", ev))
                continue
            self.arrivals.append(("reply", rxid))
            if rxid == xid:
                return Reply(rxid, zxid, err, r)
            if rxid == XID_PING:
                continue
            raise AssertionError(f"unexpected reply xid {rxid} while waiting for {xid}")

    def call(self, op: int, body: bytes = b"", xid: int | None = None, what: str = "") -> Reply:
        """Sends a request and returns its reply; raises RawError if the server reports an error."""
        rxid = self.send_request(op, body, xid)
        rep = self.read_reply(rxid)
        if rep.err != OK:
            raise RawError(rep.err, what)
        return rep

    def wait_event(self, timeout: float = 5.0) -> WatchEvent:
        """Returns the next watch notification, reading from the socket if none is queued."""
        deadline = time.monotonic() + timeout
        while not self.events:
            r = Reader(self.recv_frame(timeout=max(0.01, deadline - time.monotonic())))
            rxid, zxid, _err = r.int(), r.long(), r.int()
            if rxid == XID_NOTIFICATION:
                ev = WatchEvent(r.int(), r.int(), r.string())
                self.events.append(ev)
                self.arrivals.append(("event", ev))
            else:
                self.arrivals.append(("reply", rxid))
        return self.events.popleft()

    def no_event(self, within: float = 0.5) -> bool:
        """True if no notification arrives within `within` seconds."""
        try:
            ev = self.wait_event(timeout=within)
        except TimeoutError:
            return True
        self.events.appendleft(ev)
        return False

    # -- operations ------------------------------------------------------------------------------

    def ping(self) -> None:
        self.call(OP_PING, xid=XID_PING, what="ping")

    def create(
        self,
        path: str,
        data: bytes = b"",
        mode: int = PERSISTENT,
        acl=OPEN_ACL_UNSAFE,
        ttl_ms: int | None = None,
    ) -> tuple[str, Stat]:
        """create2 / createContainer / createTTL, chosen by mode, returning (actual path, stat)."""
        w = Writer().string(path).buffer(data).acls(acl).int(mode)
        if mode in (PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL):
            op = OP_CREATE_TTL
            w.long(ttl_ms if ttl_ms is not None else 0)
        elif mode == CONTAINER:
            op = OP_CREATE_CONTAINER
        else:
            op = OP_CREATE2
        r = self.call(op, w.bytes(), what=f"create {path}").body
        return r.string(), r.stat()

    def create1(self, path: str, data: bytes = b"", mode: int = PERSISTENT, acl=OPEN_ACL_UNSAFE) -> str:
        """The original create (opcode 1), whose reply is the path only."""
        r = self.call(OP_CREATE, Writer().string(path).buffer(data).acls(acl).int(mode).bytes(), what=path)
        return r.body.string()

    def delete(self, path: str, version: int = -1) -> None:
        self.call(OP_DELETE, Writer().string(path).int(version).bytes(), what=f"delete {path}")

    def exists(self, path: str, watch: bool = False) -> Stat | None:
        xid = self.send_request(OP_EXISTS, Writer().string(path).bool(watch).bytes())
        rep = self.read_reply(xid)
        if rep.err == NO_NODE:
            return None
        if rep.err != OK:
            raise RawError(rep.err, f"exists {path}")
        return rep.body.stat()

    def get_data(self, path: str, watch: bool = False) -> tuple[bytes, Stat]:
        r = self.call(OP_GET_DATA, Writer().string(path).bool(watch).bytes(), what=f"get {path}").body
        return r.buffer() or b"", r.stat()

    def set_data(self, path: str, data: bytes, version: int = -1) -> Stat:
        r = self.call(OP_SET_DATA, Writer().string(path).buffer(data).int(version).bytes(), what=path).body
        return r.stat()

    def get_children(self, path: str, watch: bool = False) -> list[str]:
        return self.call(OP_GET_CHILDREN, Writer().string(path).bool(watch).bytes(), what=path).body.strings()

    def get_children2(self, path: str, watch: bool = False) -> tuple[list[str], Stat]:
        r = self.call(OP_GET_CHILDREN2, Writer().string(path).bool(watch).bytes(), what=path).body
        return r.strings(), r.stat()

    def get_acl(self, path: str) -> tuple[list, Stat]:
        r = self.call(OP_GET_ACL, Writer().string(path).bytes(), what=path).body
        return r.acls(), r.stat()

    def set_acl(self, path: str, acl, version: int = -1) -> Stat:
        return self.call(OP_SET_ACL, Writer().string(path).acls(acl).int(version).bytes(), what=path).body.stat()

    def sync(self, path: str) -> str:
        return self.call(OP_SYNC, Writer().string(path).bytes(), what=path).body.string()

    def add_auth(self, scheme: str, auth: bytes) -> None:
        self.call(OP_AUTH, Writer().int(0).string(scheme).buffer(auth).bytes(), xid=XID_AUTH, what="auth")

    def add_watch(self, path: str, mode: int) -> None:
        self.call(OP_ADD_WATCH, Writer().string(path).int(mode).bytes(), what=f"addWatch {path}")

    def remove_watches(self, path: str, watcher_type: int) -> None:
        self.call(OP_REMOVE_WATCHES, Writer().string(path).int(watcher_type).bytes(), what=f"removeWatches {path}")

    def check_watches(self, path: str, watcher_type: int) -> None:
        self.call(OP_CHECK_WATCHES, Writer().string(path).int(watcher_type).bytes(), what=f"checkWatches {path}")

    def get_ephemerals(self, prefix: str) -> list[str]:
        return self.call(OP_GET_EPHEMERALS, Writer().string(prefix).bytes(), what=prefix).body.strings()

    def get_all_children_number(self, path: str) -> int:
        return self.call(OP_GET_ALL_CHILDREN_NUMBER, Writer().string(path).bytes(), what=path).body.int()

    def whoami(self) -> list[tuple[str, str]]:
        r = self.call(OP_WHO_AM_I, what="whoAmI").body
        n = r.int()
        return [(r.string(), r.string()) for _ in range(max(n, 0))]

    def set_watches(self, relative_zxid: int, data=(), exist=(), child=()) -> None:
        w = Writer().long(relative_zxid).strings(list(data)).strings(list(exist)).strings(list(child))
        self.call(OP_SET_WATCHES, w.bytes(), xid=XID_SET_WATCHES, what="setWatches")

    def set_watches2(self, relative_zxid: int, data=(), exist=(), child=(), persistent=(), recursive=()) -> None:
        w = Writer().long(relative_zxid)
        for group in (data, exist, child, persistent, recursive):
            w.strings(list(group))
        self.call(OP_SET_WATCHES2, w.bytes(), xid=XID_SET_WATCHES, what="setWatches2")

    def multi(self, ops: list[tuple]) -> list[MultiResult]:
        """Runs a multi. ops are tuples: ("create", path, data, mode), ("delete", path, version),
        ("set", path, data, version), ("check", path, version). Returns per-op results; a failed
        multi returns the error entries too (the caller inspects `err`), it does not raise."""
        w = Writer()
        for op in ops:
            kind = op[0]
            if kind == "create":
                _, path, data, mode = op
                w.int(OP_CREATE).bool(False).int(-1)
                w.string(path).buffer(data).acls(OPEN_ACL_UNSAFE).int(mode)
            elif kind == "delete":
                w.int(OP_DELETE).bool(False).int(-1).string(op[1]).int(op[2])
            elif kind == "set":
                w.int(OP_SET_DATA).bool(False).int(-1).string(op[1]).buffer(op[2]).int(op[3])
            elif kind == "check":
                w.int(OP_CHECK).bool(False).int(-1).string(op[1]).int(op[2])
            else:
                raise ValueError(kind)
        w.int(-1).bool(True).int(-1)
        xid = self.send_request(OP_MULTI, w.bytes())
        rep = self.read_reply(xid)
        results: list[MultiResult] = []
        r = rep.body
        while r.remaining:
            op, done, err = r.int(), r.bool(), r.int()
            if done:
                break
            if op == OP_ERROR:
                results.append(MultiResult(op, r.int()))
            elif op in (OP_CREATE2,):
                results.append(MultiResult(op, OK, r.string(), r.stat()))
            elif op == OP_CREATE:
                results.append(MultiResult(op, OK, r.string()))
            elif op == OP_SET_DATA:
                results.append(MultiResult(op, OK, stat=r.stat()))
            else:
                results.append(MultiResult(op, err))
        return results

    def close_session(self) -> None:
        """Sends closeSession and waits for its reply, then drops the socket."""
        try:
            self.call(OP_CLOSE_SESSION, what="closeSession")
        finally:
            self.close()


def connect(hosts: str, timeout_ms: int = 10000, **kw) -> RawZK:
    """Opens a connection to "host:port" and completes the handshake."""
    host, port = hosts.rsplit(":", 1)
    c = RawZK(host, int(port))
    c.handshake(timeout_ms=timeout_ms, **kw)
    return c


def four_letter(host: str, port: int, cmd: str, timeout: float = 5.0) -> str:
    """Sends a four-letter word and returns everything the server writes before closing."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode("ascii"))
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode("utf-8", errors="replace")
