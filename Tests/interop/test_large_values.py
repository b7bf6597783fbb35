"""Large values with `jute.maxbuffer` raised to 16 MiB (the performance issue's item 4), against each target:
8 MiB values are created, read, replaced, watched and read back after a restart (log replay), a request above
the limit is refused without harm to anyone else, and in a Warren ensemble an 8 MiB value is replicated to every
server, including a follower that was down while it was written. Throughput and memory are measured by
`Tests/bench/large_values.py`, not here.
"""

from __future__ import annotations

import os
import threading

import pytest
import rawzk
from kazoo.client import KazooClient
from rawzk import ConnectionClosed

from test_ensemble import Ensemble

MIB = 1 << 20
JUTE_MAXBUFFER_16MIB = 16 * MIB
VALUE_8MIB = 8 * MIB


def kazoo(hosts: str) -> KazooClient:
    c = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 0.5})
    c.start(timeout=15)
    return c


def value(tag: int, size: int = VALUE_8MIB) -> bytes:
    """Incompressible and different per tag, so a stale or misplaced value cannot pass for the right one."""
    return os.urandom(16) + tag.to_bytes(4, "big") + os.urandom(size - 20)


def test_eight_mib_values_work_end_to_end(server_factory, target):
    server = server_factory.start(target, **{"jute.maxbuffer": JUTE_MAXBUFFER_16MIB})
    zk = kazoo(server.hosts)
    try:
        first, second = value(1), value(2)
        zk.create("/big", first)
        data, stat = zk.get("/big")
        assert data == first and stat.dataLength == VALUE_8MIB

        fired = threading.Event()
        zk.get("/big", watch=lambda event: fired.set())
        zk.set("/big", second, version=stat.version)
        assert fired.wait(10), "the data watch of an 8 MiB value did not fire"
        assert zk.get("/big")[0] == second

        # A transaction carrying two large values (9 MiB in one request, under the 16 MiB limit).
        t = zk.transaction()
        t.create("/big-a", value(3, 4 * MIB))
        t.create("/big-b", value(4, 5 * MIB))
        assert t.commit() == ["/big-a", "/big-b"]
    finally:
        zk.stop()
        zk.close()

    server.restart()
    zk = kazoo(server.hosts)
    try:
        assert zk.get("/big")[0] == second, "the 8 MiB value was not replayed from the log"
        assert zk.get("/big-a")[1].dataLength == 4 * MIB and zk.get("/big-b")[1].dataLength == 5 * MIB
    finally:
        zk.stop()
        zk.close()


def test_pipelined_reads_of_eight_mib_values_are_all_answered(server_factory, target):
    """Four getData of an 8 MiB value sent at once on one connection (32 MiB of replies queued for a client that
    reads them as they come): every reply arrives, the connection stays open. Warren used to close such a client as
    "not reading" once 16 MiB were queued to it, whatever jute.maxbuffer allowed."""
    server = server_factory.start(target, **{"jute.maxbuffer": JUTE_MAXBUFFER_16MIB})
    zk = kazoo(server.hosts)
    try:
        big = value(7)
        zk.create("/piped", big)
    finally:
        zk.stop()
        zk.close()
    c = rawzk.connect(server.hosts)
    try:
        body = rawzk.Writer().string("/piped").bool(False).bytes()
        xids = [c.send_request(rawzk.OP_GET_DATA, body) for _ in range(4)]
        for xid in xids:
            reply = c.read_reply(xid, timeout=60)
            assert reply.err == 0, reply.err
            assert reply.body.buffer() == big
    finally:
        c.close()


def test_a_request_above_the_raised_limit_is_refused_and_others_are_served(server_factory, target):
    server = server_factory.start(target, **{"jute.maxbuffer": JUTE_MAXBUFFER_16MIB})
    bystander = kazoo(server.hosts)
    try:
        bystander.create("/kept", b"kept")
        c = rawzk.connect(server.hosts)
        try:
            body = (rawzk.Writer().string("/too-big").buffer(b"x" * (JUTE_MAXBUFFER_16MIB + 1))
                    .acls(rawzk.OPEN_ACL_UNSAFE).int(0).bytes())
            # The server closes the connection on the length prefix, often while the body is still being sent.
            with pytest.raises((ConnectionClosed, ConnectionError)):
                c.read_reply(c.send_request(rawzk.OP_CREATE, body))
        finally:
            c.close()
        assert bystander.exists("/too-big") is None
        assert bystander.get("/kept")[0] == b"kept"
        bystander.set("/kept", b"still served")
    finally:
        bystander.stop()
        bystander.close()


@pytest.mark.only_targets("warren")
def test_an_eight_mib_value_replicates_to_every_server_and_to_a_follower_that_was_down(tmp_path, target):
    e = Ensemble(tmp_path / "large", extra=f"jute.maxbuffer={JUTE_MAXBUFFER_16MIB}\n")
    runner = e.run_all()
    next(runner)
    try:
        leader = e.leader()
        follower, other = [i for i in e.ids if i != leader]
        e.kill(other)
        writer = e.client([follower])
        try:
            big = value(5)
            writer.create("/replicated", big)
        finally:
            writer.stop()
            writer.close()
        e.start(other)
        e.wait_serving(e.ids)
        for i in e.ids:
            reader = e.client([i])
            try:
                reader.sync("/replicated")
                assert reader.get("/replicated")[0] == big, f"server {i} has another value"
            finally:
                reader.stop()
                reader.close()
    finally:
        runner.close()
