"""Cheap load clients for the overload tests and benchmark: many idle sessions, and pipelined floods.

Raw sockets and the Jute framing of `rawzk`, no kazoo: ten thousand sessions from one Python process cost a few
megabytes and a few seconds.
"""

from __future__ import annotations

import resource
import selectors
import socket
import struct
import threading
import time

import rawzk


def connect_request(timeout_ms: int) -> bytes:
    return rawzk.frame(rawzk.RawZK.connect_request(None, timeout_ms=timeout_ms))


def raise_open_file_limit(needed: int) -> None:
    """Raises this process's soft RLIMIT_NOFILE to the hard limit (a fresh machine's soft limit is often 1024,
    below the sessions held); fails clearly if even the hard limit is below `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise RuntimeError(f"{needed} open files needed, hard RLIMIT_NOFILE is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class IdleSessions:
    """`count` sessions held open (pings sent by `ping_all`), from source addresses 127.0.0.1 (Warren and
    ZooKeeper count connections per client address: the server under test runs with maxClientCnxns=0)."""

    def __init__(self, host: str, port: int, count: int, timeout_ms: int = 30000, batch: int = 100,
                 deadline_s: float = 120.0):
        raise_open_file_limit(count + 256)
        self.socks: list[socket.socket] = []
        self.session_ids: list[int] = []
        request = connect_request(timeout_ms)
        end = time.monotonic() + deadline_s
        try:
            while len(self.socks) < count:
                if time.monotonic() > end:
                    raise TimeoutError(f"only {len(self.socks)} of {count} sessions within {deadline_s:.0f}s")
                n = min(batch, count - len(self.socks))
                opened = []
                for _ in range(n):
                    s = socket.create_connection((host, port), timeout=30)
                    s.sendall(request)
                    opened.append(s)
                # Handshakes of one batch are answered in parallel; read each ConnectResponse whole.
                for s in opened:
                    payload = read_frame(s, end)
                    r = rawzk.Reader(payload)
                    r.int()  # protocol version
                    r.int()  # timeout
                    sid = r.long()
                    if sid == 0:
                        raise AssertionError("server refused a session (session id 0)")
                    self.session_ids.append(sid)
                    self.socks.append(s)
        except BaseException:
            self.close()
            raise

    def ping_all(self, deadline_s: float = 60.0) -> int:
        """Pings every session and waits for every answer; returns how many answered."""
        ping = rawzk.frame(struct.pack(">ii", rawzk.XID_PING, rawzk.OP_PING))
        for s in self.socks:
            s.sendall(ping)
        end = time.monotonic() + deadline_s
        answered = 0
        for s in self.socks:
            r = rawzk.Reader(read_frame(s, end))
            if r.int() == rawzk.XID_PING:
                answered += 1
        return answered

    def close(self) -> None:
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []


def read_frame(s: socket.socket, deadline: float, set_timeout: bool = True) -> bytes:
    """One frame's payload. With `set_timeout` False the socket's own timeout applies (a socket another thread
    sends on must not switch modes under it)."""
    def take(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply before the deadline")
            if set_timeout:
                s.settimeout(left)
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return buf

    (n,) = struct.unpack(">i", take(4))
    return take(n)


class Flooder:
    """One session that pipelines `count` requests without waiting (a writer thread) while a reader thread
    collects every reply: (xid, err) in arrival order. `make_body(i)` gives (opcode, body) for request i."""

    def __init__(self, host: str, port: int, count: int, make_body, deadline_s: float = 120.0):
        self.raw = rawzk.RawZK(host, port, io_timeout=30)
        self.raw.handshake(timeout_ms=20000)
        self.count = count
        self.replies: list[tuple[int, int]] = []
        self.error: BaseException | None = None
        self.closed = False
        self.done = threading.Event()
        self.deadline = time.monotonic() + deadline_s
        frames = bytearray()
        for i in range(count):
            op, body = make_body(i)
            frames += rawzk.frame(struct.pack(">ii", i + 1, op) + body)
        self._frames = bytes(frames)
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)

    def start(self) -> "Flooder":
        self.raw.sock.settimeout(max(1.0, self.deadline - time.monotonic()))
        self._reader.start()
        self._writer.start()
        return self

    def _write(self) -> None:
        try:
            self.raw.sock.sendall(self._frames)  # blocks while the server does not read: that is the point
        except OSError as e:
            self.error = self.error or e

    def _read(self) -> None:
        s = self.raw.sock
        try:
            while len(self.replies) < self.count:
                r = rawzk.Reader(read_frame(s, self.deadline, set_timeout=False))
                xid, _zxid, err = r.int(), r.long(), r.int()
                if xid == rawzk.XID_NOTIFICATION:
                    continue
                self.replies.append((xid, err))
        except ConnectionError:
            self.closed = True
        except BaseException as e:  # noqa: BLE001 — reported to the test
            self.error = e
        finally:
            self.done.set()

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)

    def close(self) -> None:
        self.raw.close()


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS), bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def four_letter(port: int, word: str, timeout: float = 10.0) -> str:
    """A four-letter word without select() (the test process may hold descriptors past FD_SETSIZE)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode(errors="replace")
            out += chunk
