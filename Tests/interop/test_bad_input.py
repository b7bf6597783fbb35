"""Malformed and hostile input over a real socket. The offending connection is closed (or the request
answered with an error code, where ZooKeeper does that), and a well-behaved kazoo client keeps working
throughout. Every case holds for ZooKeeper and Warren alike."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

import rawzk
from rawzk import ConnectionClosed, Writer, frame
from servers import JUTE_MAXBUFFER_BYTES


@pytest.fixture
def bystander(zk, base):
    """A kazoo client that must keep working while a test misbehaves on another connection.

    It runs writes and reads in a loop on its own thread; the test checks at the end that none
    failed and none took longer than a bound."""
    stop = threading.Event()
    failures: list[str] = []
    slowest = [0.0]
    count = [0]

    def loop():
        i = 0
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                zk.set(base, str(i).encode())
                assert zk.get(base)[0] == str(i).encode()
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                failures.append(repr(e))
            slowest[0] = max(slowest[0], time.monotonic() - t0)
            count[0] += 1
            i += 1
            time.sleep(0.02)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield
    stop.set()
    t.join(10)
    assert not failures, f"the well-behaved client failed: {failures[:3]}"
    assert count[0] > 0
    assert slowest[0] < 5.0, f"the well-behaved client was stalled for {slowest[0]:.1f}s"


def outcome(c: rawzk.RawZK, xid: int | None = None, timeout: float = 5.0):
    """'closed', 'silence', ('frame', bytes) or ('reply', err)."""
    try:
        if xid is None:
            return ("frame", c.recv_frame(timeout=timeout))
        return ("reply", c.read_reply(xid, timeout=timeout).err)
    except ConnectionClosed:
        return "closed"
    except TimeoutError:
        return "silence"


# -- framing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "handshake, payload",
    [
        (False, frame(b"hello")),  # a ConnectRequest that does not parse
        (False, b"\xff\xff\xff\xff"),  # negative length
        (True, b"\xff\xff\xff\xff"),
        (False, struct.pack(">i", JUTE_MAXBUFFER_BYTES + 1)),  # longer than jute.maxbuffer
        (True, struct.pack(">i", JUTE_MAXBUFFER_BYTES + 100)),
        (True, struct.pack(">i", 0x7FFFFFFF)),
        (True, b"\x00\x00\x00\x00"),  # an empty frame has no request header
        (True, frame(b"\x00\x00\x00\x01")),  # a truncated request header
        (False, b"xxxx"),  # not a four-letter word: read as a huge length
    ],
    ids=[
        "garbage-connect", "negative-length-before-handshake", "negative-length",
        "oversize-before-handshake", "oversize", "max-int-length", "zero-length", "truncated-header",
        "unknown-four-letter-word",
    ],
)
def test_bad_frame_closes_connection(raw_factory, bystander, handshake, payload):
    c = raw_factory(handshake=handshake)
    c.send_raw(payload)
    assert outcome(c) == "closed"


def test_request_before_handshake_closes_connection(raw_factory, bystander):
    c = raw_factory(handshake=False)
    c.send_frame(struct.pack(">ii", 1, rawzk.OP_GET_DATA) + Writer().string("/").bool(False).bytes())
    assert outcome(c) == "closed"


def test_oversize_request_closes_connection(raw_factory, bystander, zk, base):
    c = raw_factory()
    body = Writer().string(f"{base}/big").buffer(b"x" * JUTE_MAXBUFFER_BYTES).acls(rawzk.OPEN_ACL_UNSAFE).int(0)
    xid = c.send_request(rawzk.OP_CREATE, body.bytes())
    assert outcome(c, xid) == "closed"
    assert zk.exists(f"{base}/big") is None


def test_request_just_under_the_limit_works(raw, zk, base):
    data = b"y" * (JUTE_MAXBUFFER_BYTES - 1024)
    raw.create(f"{base}/big", data)
    assert zk.get(f"{base}/big")[0] == data


def test_partial_frame_then_disconnect(raw_factory, bystander, server):
    c = raw_factory()
    c.send_raw(frame(struct.pack(">ii", 5, rawzk.OP_EXISTS) + Writer().string("/").bool(False).bytes())[:-3])
    c.close()
    assert server.four("ruok") == "imok"


def test_stalled_partial_frame_does_not_block_others(raw_factory, bystander, server):
    c = raw_factory()
    # Announce 1000 bytes, send 10, then go quiet: the server must keep serving everyone else.
    c.send_raw(struct.pack(">i", 1000) + b"\x00" * 10)
    time.sleep(1.5)
    assert server.four("ruok") == "imok"


# -- malformed records inside well-formed frames -------------------------------------------------------


@pytest.mark.parametrize(
    "op, body, xid, code",
    [
        (rawzk.OP_CREATE, Writer().string("/abc").bytes()[:6], None, rawzk.MARSHALLING_ERROR),
        (rawzk.OP_GET_DATA, Writer().string("/").bytes()[:3], None, rawzk.MARSHALLING_ERROR),
        (rawzk.OP_GET_DATA, struct.pack(">i", 1000) + b"/abc\x00", None, rawzk.MARSHALLING_ERROR),
        (rawzk.OP_SET_WATCHES, struct.pack(">qi", 0, 0x7FFFFFFF), rawzk.XID_SET_WATCHES, rawzk.MARSHALLING_ERROR),
        (rawzk.OP_CREATE, Writer().string(None).buffer(b"").acls(rawzk.OPEN_ACL_UNSAFE).int(0).bytes(), None,
         rawzk.MARSHALLING_ERROR),
        (rawzk.OP_CREATE, Writer().string("/negacl").buffer(b"").int(-5).int(0).bytes(), None, rawzk.INVALID_ACL),
        (rawzk.OP_CREATE, Writer().string("/nullacl").buffer(b"").int(-1).int(0).bytes(), None, rawzk.INVALID_ACL),
        (rawzk.OP_CREATE, Writer().string("/mode").buffer(b"").acls(rawzk.OPEN_ACL_UNSAFE).int(42).bytes(), None,
         rawzk.BAD_ARGUMENTS),
    ],
    ids=[
        "truncated-create", "truncated-getData", "string-longer-than-frame", "huge-vector-count",
        "null-path", "negative-acl-count", "null-acl-vector", "unknown-create-mode",
    ],
)
def test_malformed_record_answered_with_error(raw, bystander, op, body, xid, code):
    rxid = raw.send_request(op, body, xid)
    assert outcome(raw, rxid) == ("reply", code)
    # The connection and session stay usable.
    assert raw.exists("/") is not None


def test_unknown_opcode_answered_then_closed(raw, bystander):
    xid = raw.send_request(999, b"")
    assert outcome(raw, xid) == ("reply", rawzk.UNIMPLEMENTED)
    assert raw.wait_closed(5.0)


def test_trailing_bytes_after_record_are_ignored(raw):
    xid = raw.send_request(rawzk.OP_GET_DATA, Writer().string("/").bool(False).bytes() + b"extra")
    assert outcome(raw, xid) == ("reply", rawzk.OK)


# -- clients that never read ---------------------------------------------------------------------------


def drain_until_closed(c: rawzk.RawZK, timeout: float) -> bool:
    """Reads and discards everything until EOF/reset (True) or `timeout` (False)."""
    deadline = time.monotonic() + timeout
    c.sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if not c.sock.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def send_without_blocking_forever(c: rawzk.RawZK, data: bytes, seconds: float) -> None:
    """Writes as much of `data` as the server accepts within `seconds`; a full socket is expected."""
    c.sock.settimeout(0.2)
    view = memoryview(data)
    deadline = time.monotonic() + seconds
    while view and time.monotonic() < deadline:
        try:
            n = c.sock.send(view)
            view = view[n:]
        except socket.timeout:
            continue
        except OSError:
            return


def test_never_reading_client_flooded_with_responses(raw_factory, bystander, zk, base):
    blob = b"z" * (256 * 1024)
    zk.create(f"{base}/blob", blob)
    hog = raw_factory(timeout_ms=2000)
    request = frame(struct.pack(">ii", 1, rawzk.OP_GET_DATA) + Writer().string(f"{base}/blob").bool(False).bytes())
    # 200 reads of 256 KiB each: ~50 MiB of responses the hog never reads.
    send_without_blocking_forever(hog, request * 200, seconds=5)
    assert drain_until_closed(hog, timeout=30), "the server must drop a connection that never reads"


def test_never_reading_client_flooded_with_watch_events(raw_factory, bystander, zk, base):
    hog = raw_factory(timeout_ms=2000)
    hog.add_watch(base, rawzk.ADD_WATCH_PERSISTENT_RECURSIVE)
    payload = b"w" * 8192
    deadline = time.monotonic() + 5
    n = 0
    while time.monotonic() < deadline and n < 2000:
        zk.create(f"{base}/ev-", payload, sequence=True)
        n += 1
    assert drain_until_closed(hog, timeout=30), "the server must drop a connection that never reads"
