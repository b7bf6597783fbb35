"""Sessions: timeout negotiation, expiry, closeSession, resuming a session on a new connection, and the
handshakes a server must refuse."""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.protocol.states import EventType

import rawzk
from servers import SESSION_TIMEOUT_MAX_MS, SESSION_TIMEOUT_MIN_MS


@pytest.mark.parametrize(
    "requested, negotiated",
    [
        (10, SESSION_TIMEOUT_MIN_MS),
        (SESSION_TIMEOUT_MIN_MS + 500, SESSION_TIMEOUT_MIN_MS + 500),
        (10_000_000, SESSION_TIMEOUT_MAX_MS),
    ],
)
def test_negotiated_timeout_is_clamped(raw_factory, requested, negotiated):
    c = raw_factory(timeout_ms=requested)
    assert c.session.timeout_ms == negotiated
    assert c.session.session_id != 0
    assert len(c.session.passwd) == 16


def test_sessions_are_distinct(raw_factory):
    a, b = raw_factory(), raw_factory()
    assert a.session.session_id != b.session.session_id
    assert a.session.passwd != b.session.passwd


def test_handshake_without_read_only_byte(raw_factory):
    # Old clients (before 3.4) send no readOnly byte; the server must accept that.
    c = raw_factory(read_only=None)
    assert c.session.session_id != 0
    assert c.exists("/") is not None


def test_close_session_deletes_ephemerals_and_fires_watches(zk, kazoo_factory, base):
    other = kazoo_factory()
    eph = other.create(f"{base}/e", ephemeral=True)
    fired = threading.Event()
    events = []

    def watch(ev):
        events.append(ev)
        fired.set()

    assert zk.exists(eph, watch=watch) is not None
    other.stop()
    assert fired.wait(5), "closeSession must fire the exists watch on the deleted ephemeral"
    assert events[0].type == EventType.DELETED
    assert events[0].path == eph
    assert zk.exists(eph) is None


def test_close_session_reply_then_connection_closed(raw, zk, base):
    raw.create(f"{base}/e", b"", rawzk.EPHEMERAL)
    xid = raw.send_request(rawzk.OP_CLOSE_SESSION)
    reply = raw.read_reply(xid)
    assert reply.err == rawzk.OK
    assert raw.wait_closed(5.0)
    assert zk.exists(f"{base}/e") is None


def test_expiry_deletes_ephemerals_and_fires_watches(raw_factory, zk, base):
    doomed = raw_factory(timeout_ms=SESSION_TIMEOUT_MIN_MS)
    eph, _ = doomed.create(f"{base}/e", b"", rawzk.EPHEMERAL)
    seq, _ = doomed.create(f"{base}/s-", b"", rawzk.EPHEMERAL_SEQUENTIAL)
    fired = threading.Event()
    events = []

    def watch(ev):
        events.append(ev)
        fired.set()

    assert zk.exists(eph, watch=watch) is not None
    zk.get_children(base, watch=lambda ev: events.append(ev))
    # Drop the TCP connection without closeSession: only expiry can remove the ephemerals.
    dropped = time.monotonic()
    doomed.close()
    assert fired.wait(SESSION_TIMEOUT_MIN_MS / 1000 * 10), "expiry must fire the watch on the ephemeral"
    elapsed = time.monotonic() - dropped
    assert elapsed >= SESSION_TIMEOUT_MIN_MS / 1000 * 0.5, f"session expired too early ({elapsed:.2f}s)"
    assert zk.exists(eph) is None
    assert zk.exists(seq) is None
    assert zk.get_children(base) == []
    assert (EventType.DELETED, eph) in [(e.type, e.path) for e in events]
    assert (EventType.CHILD, base) in [(e.type, e.path) for e in events]


def test_expired_session_cannot_be_resumed(raw_factory, zk, base):
    doomed = raw_factory(timeout_ms=SESSION_TIMEOUT_MIN_MS)
    eph, _ = doomed.create(f"{base}/e", b"", rawzk.EPHEMERAL)
    sid, pw = doomed.session.session_id, doomed.session.passwd
    doomed.close()
    deadline = time.monotonic() + 10
    while zk.exists(eph) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert zk.exists(eph) is None
    again = raw_factory(handshake=False)
    resp = again.handshake(session_id=sid, passwd=pw)
    # The server tells the client its session is gone: timeout 0, then closes the socket.
    assert resp.timeout_ms == 0
    assert again.wait_closed(5.0)


def test_ping_keeps_a_short_session_alive(raw_factory, zk, base):
    alive = raw_factory(timeout_ms=SESSION_TIMEOUT_MIN_MS)
    eph, _ = alive.create(f"{base}/e", b"", rawzk.EPHEMERAL)
    end = time.monotonic() + 3 * SESSION_TIMEOUT_MIN_MS / 1000
    while time.monotonic() < end:
        alive.ping()
        time.sleep(SESSION_TIMEOUT_MIN_MS / 1000 / 4)
    assert zk.exists(eph) is not None
    assert alive.exists(eph).ephemeralOwner == alive.session.session_id


def test_session_resumed_with_id_and_password(raw_factory, kazoo_factory, zk, base):
    first = raw_factory()
    sid, pw = first.session.session_id, first.session.passwd
    eph, _ = first.create(f"{base}/e1", b"", rawzk.EPHEMERAL)
    first.close()  # connection gone, session still alive

    resumed = kazoo_factory(client_id=(sid, pw))
    assert resumed.client_id[0] == sid
    assert zk.exists(eph).ephemeralOwner == sid
    eph2 = resumed.create(f"{base}/e2", ephemeral=True)
    assert zk.exists(eph2).ephemeralOwner == sid
    resumed.stop()  # closeSession removes the ephemerals of both connections' lifetimes
    assert zk.exists(eph) is None
    assert zk.exists(eph2) is None


def test_resume_moves_session_off_old_connection(raw_factory, base):
    first = raw_factory()
    sid, pw = first.session.session_id, first.session.passwd
    second = raw_factory(session_id=sid, passwd=pw)
    assert second.session.session_id == sid
    # The server closes the first connection once the session moves to the second.
    assert first.wait_closed(5.0)
    assert second.exists("/") is not None


@pytest.mark.parametrize("case", ["wrong password", "unknown session"])
def test_bad_session_credentials_refused(raw_factory, case):
    owner = raw_factory()
    if case == "wrong password":
        sid, pw = owner.session.session_id, bytes(b ^ 0xFF for b in owner.session.passwd)
    else:
        sid, pw = owner.session.session_id + 0x1234, b"\x00" * 16
    c = raw_factory(handshake=False)
    resp = c.handshake(session_id=sid, passwd=pw)
    assert resp.timeout_ms == 0
    assert resp.session_id == 0
    assert c.wait_closed(5.0)
    # The session itself survives: its owner can still resume it. (ZooKeeper drops the owner's
    # current connection as soon as another connection names the session, before checking the
    # password, so only resuming is asserted.)
    back = raw_factory(session_id=owner.session.session_id, passwd=owner.session.passwd)
    assert back.session.session_id == owner.session.session_id
    assert back.exists("/") is not None


def test_client_ahead_of_server_is_refused(raw_factory, zk, base):
    _, stat = zk.create(f"{base}/z", include_data=True)
    current = stat.czxid
    ok = raw_factory(last_zxid=current)
    assert ok.session.session_id != 0
    ahead = raw_factory(handshake=False)
    with pytest.raises(rawzk.ConnectionClosed):
        ahead.handshake(last_zxid=current + 1000)


def test_reply_zxid_tracks_last_write(raw, base):
    _, stat = raw.create(f"{base}/n", b"")
    xid = raw.send_request(rawzk.OP_EXISTS, rawzk.Writer().string(f"{base}/n").bool(False).bytes())
    reply = raw.read_reply(xid)
    assert reply.zxid >= stat.czxid
