"""zoo.cfg settings are honoured (connection limit, session-timeout defaults, jute.maxbuffer, where the
log goes), and a restarted server keeps its data and its sessions. Each test starts its own server."""

from __future__ import annotations

import time

import pytest
from kazoo.client import KazooClient

import rawzk
from rawzk import ConnectionClosed
from servers import TICK_MS


def test_max_client_connections_per_ip(server_factory, target):
    server = server_factory.start(target, maxClientCnxns=3)
    host, port = server.hosts.split(":")
    kept = []
    try:
        for _ in range(3):
            c = rawzk.RawZK(host, int(port))
            c.handshake()
            kept.append(c)
        # The server may drop the fourth connection before or during the handshake; either way it is refused
        # (a reset can surface as BrokenPipe/ConnectionReset from the socket layer rather than as a clean close).
        with pytest.raises((ConnectionClosed, ConnectionResetError, BrokenPipeError)):
            extra = rawzk.RawZK(host, int(port))
            kept.append(extra)
            extra.handshake()
        # The admitted connections keep working.
        assert all(c.exists("/") is not None for c in kept[:3])
        # Four-letter words need a connection too; freeing one slot admits a new client.
        kept[0].close()
        deadline = time.monotonic() + 5
        while True:
            try:
                late = rawzk.RawZK(host, int(port))
                kept.append(late)
                late.handshake()
                break
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                assert time.monotonic() < deadline, "a freed slot was never reused"
                time.sleep(0.1)
    finally:
        for c in kept:
            c.close()


def test_session_timeout_bounds_default_to_tick_multiples(server_factory, target):
    server = server_factory.start(target, minSessionTimeout=None, maxSessionTimeout=None)
    host, port = server.hosts.split(":")
    low = rawzk.RawZK(host, int(port))
    high = rawzk.RawZK(host, int(port))
    try:
        assert low.handshake(timeout_ms=1).timeout_ms == 2 * TICK_MS
        assert high.handshake(timeout_ms=10_000_000).timeout_ms == 20 * TICK_MS
    finally:
        low.close()
        high.close()
    conf = dict(line.split("=", 1) for line in server.four("conf").splitlines() if "=" in line)
    assert conf["minSessionTimeout"] == str(2 * TICK_MS)
    assert conf["maxSessionTimeout"] == str(20 * TICK_MS)


def test_jute_maxbuffer_is_honoured(server_factory, target):
    server = server_factory.start(target, **{"jute.maxbuffer": 4096})
    c = rawzk.connect(server.hosts)
    try:
        c.create("/fits", b"x" * 3000)
        xid = c.send_request(
            rawzk.OP_CREATE,
            rawzk.Writer().string("/too-big").buffer(b"x" * 5000).acls(rawzk.OPEN_ACL_UNSAFE).int(0).bytes(),
        )
        with pytest.raises(ConnectionClosed):
            c.read_reply(xid)
    finally:
        c.close()
    check = rawzk.connect(server.hosts)
    try:
        assert check.exists("/fits").dataLength == 3000
        assert check.exists("/too-big") is None
    finally:
        check.close()


def test_transaction_log_goes_to_data_log_dir(server_factory, target):
    server = server_factory.start(target)
    c = rawzk.connect(server.hosts)
    try:
        for i in range(10):
            c.create(f"/n{i}", b"x")
    finally:
        c.close()
    logs = server.txn_log_files()
    assert logs, "no log.* file written"
    assert all(server.data_log_dir in p.parents for p in logs), f"logs outside dataLogDir: {logs}"


def start_kazoo(hosts: str, **kw) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=kw.pop("timeout", 10.0),
                    connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 0.5}, **kw)
    c.start(timeout=15)
    return c


def test_restart_keeps_data_and_sessions(server_factory, target):
    server = server_factory.start(target)
    keeper = start_kazoo(server.hosts)
    try:
        keeper.create("/data", b"persisted")
        keeper.set("/data", b"persisted-v1")
        sid = keeper.client_id[0]
        kept_eph = keeper.create("/kept", ephemeral=True)
        # A second session that will not come back after the restart.
        leaver = rawzk.connect(server.hosts, timeout_ms=2000)
        lost_eph, _ = leaver.create("/lost", b"", rawzk.EPHEMERAL)
        last = keeper.exists("/data").mzxid
        leaver.close()

        server.stop()  # SIGTERM: a clean shutdown
        server.start()

        deadline = time.monotonic() + 15
        while not keeper.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.connected, "kazoo did not reconnect to the restarted server"
        assert keeper.client_id[0] == sid, "the session survived the restart"
        data, stat = keeper.get("/data")
        assert data == b"persisted-v1"
        assert stat.version == 1
        assert keeper.exists(kept_eph).ephemeralOwner == sid
        # The session that never reconnected expires after its timeout, taking its ephemeral along.
        deadline = time.monotonic() + 15
        while keeper.exists(lost_eph) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert keeper.exists(lost_eph) is None
        _, fresh = keeper.create("/after", include_data=True)
        assert fresh.czxid > last, "zxids keep increasing across a restart"
    finally:
        keeper.stop()
        keeper.close()


@pytest.mark.only_targets("warren")
@pytest.mark.parametrize("keys, says", [
    ({"sslQuorum": "true"}, "sslQuorum=true needs ssl.quorum.keyStore.location"),
    ({"dynamicConfigFile": "/nonexistent/zoo.cfg.dynamic"}, "cannot read dynamicConfigFile /nonexistent/zoo.cfg.dynamic"),
])
def test_tls_and_dynamic_config_keys_warren_cannot_honour_stop_it_with_the_reason(server_factory, target, keys, says):
    """A zoo.cfg asking for what Warren cannot do (quorum TLS without a key store, a dynamic server list it cannot read) is refused at start with the key named, rather than served in plaintext or as a standalone server."""
    server = server_factory.create(target, **keys)
    code, output = server.run_expecting_exit(timeout=20)
    assert code == 2, f"exit {code}:\n{output[-2000:]}"
    assert says in output, output[-2000:]


@pytest.mark.only_targets("warren")
def test_keys_that_do_nothing_here_are_served_with_a_warning(server_factory, target):
    server = server_factory.start(target, **{"ssl.ocsp": "true"})
    z = rawzk.RawZK("127.0.0.1", server.port)
    z.handshake()
    z.close()
    log = server.log_tail(200)
    assert "ssl.ocsp=true ignored" in log, log