"""zkfs data cache: read-only opens are served from data the recursive watch keeps fresh. A remote change is
seen by the next open within the watch's delay, the mount's own writes at once, and nothing cached before a
disconnection is served after it. Runs against each target, like test_zkfs.py."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from test_zkfs import Mount, eventually


@pytest.fixture(scope="module")
def mount(server, tmp_path_factory):
    d = tmp_path_factory.mktemp("zkfs-cache")
    m = Mount(server.hosts, d / "mnt", d / "zkfs.log")
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def tree(mount, base):
    return mount.path / base.lstrip("/")


def test_remote_change_is_seen_by_the_next_open_within_the_watch_delay(zk, base, tree):
    zk.create(f"{base}/conf", b"v0")
    for i in range(1, 20):
        for _ in range(3):  # the first read fills the cache, the others are served from it
            assert (tree / "conf").read_bytes() == f"v{i - 1}".encode()
        zk.set(f"{base}/conf", f"v{i}".encode())
        start = time.monotonic()
        eventually(lambda: (tree / "conf").read_bytes() == f"v{i}".encode(), timeout=1.0,
                   what=f"v{i} through the mount")
        assert time.monotonic() - start < 1.0
    zk.delete(f"{base}/conf")
    eventually(lambda: not (tree / "conf").exists(), timeout=1.0, what="the deletion")
    zk.create(f"{base}/conf", b"reborn")
    eventually(lambda: (tree / "conf").exists() and (tree / "conf").read_bytes() == b"reborn", timeout=1.0,
               what="the recreated node's data")


def test_the_mounts_own_writes_are_read_back_at_once(zk, base, tree):
    f = tree / "own"
    f.write_bytes(b"start")
    assert f.read_bytes() == b"start"
    for i in range(30):
        f.write_bytes(f"write {i}".encode())
        assert f.read_bytes() == f"write {i}".encode(), "no open after a close that committed sees older data"
    assert zk.get(f"{base}/own")[0] == b"write 29"
    f.unlink()
    assert not f.exists()


def test_one_handle_keeps_its_version_while_the_node_changes(zk, base, tree):
    zk.create(f"{base}/snap", b"first")
    assert (tree / "snap").read_bytes() == b"first"  # cached
    fd = os.open(tree / "snap", os.O_RDONLY)
    try:
        zk.set(f"{base}/snap", b"second!")
        eventually(lambda: (tree / "snap").read_bytes() == b"second!", timeout=1.0, what="the new version")
        assert os.pread(fd, 100, 2) == b"rst", "a handle reads the version it opened"
    finally:
        os.close(fd)


def test_nothing_cached_before_a_disconnection_is_served_after_it(server, zk, base, tmp_path):
    from tcpproxy import TcpProxy

    host, port = server.hosts.rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    # Long kernel name/attribute times, so that during the gap only the open itself reaches zkfs.
    m = Mount(proxy.hosts, tmp_path / "m", tmp_path / "m.log",
              options="session_timeout=8000,retries=20,entry_timeout=60,attr_timeout=60")
    try:
        f = m.path / base.lstrip("/") / "cfg"
        zk.create(f"{base}/cfg", b"before")
        assert f.read_bytes() == b"before"
        assert f.read_bytes() == b"before"  # served from the cache
        proxy.cut()
        eventually(lambda: "disconnected" in m.log_tail(), what="the disconnection")
        zk.set(f"{base}/cfg", b"during the gap")  # no watch event can reach the mount now
        result = {}
        def read():
            fd = os.open(f, os.O_RDONLY)
            result["data"] = os.read(fd, 100)
            os.close(fd)

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.5)
        proxy.restore()
        reader.join(timeout=15)
        assert not reader.is_alive()
        assert result["data"] == b"during the gap", "an open while disconnected must not be served old data"
        assert f.read_bytes() == b"during the gap"
        zk.set(f"{base}/cfg", b"after")
        eventually(lambda: f.read_bytes() == b"after", timeout=2.0, what="changes after the reconnection")
    finally:
        m.close()
        proxy.close()


def test_nothing_cached_before_a_session_expiry_is_served_after_it(server, zk, base, tmp_path):
    m = Mount(server.hosts, tmp_path / "m", tmp_path / "m.log",
              options="session_timeout=2000,entry_timeout=60,attr_timeout=60")
    try:
        d = m.path / base.lstrip("/")
        zk.create(f"{base}/cfg", b"before")
        assert (d / "cfg").read_bytes() == b"before"
        assert (d / "cfg").read_bytes() == b"before"  # served from the cache
        (d / "eph@e").write_bytes(b"")  # goes when the session does
        # An empty create after O_TRUNC is made at the last close (release), which close() does not wait for.
        eventually(lambda: zk.exists(f"{base}/eph"), what="the ephemeral created")
        m.proc.send_signal(signal.SIGSTOP)
        try:
            eventually(lambda: zk.exists(f"{base}/eph") is None, timeout=15, what="the session expired")
            zk.set(f"{base}/cfg", b"changed while expired")  # no session is left to send its event to
        finally:
            m.proc.send_signal(signal.SIGCONT)
        eventually(lambda: "new session" in m.log_tail(), timeout=15, what="a new session")
        fd = os.open(d / "cfg", os.O_RDONLY)
        try:
            assert os.read(fd, 100) == b"changed while expired"
        finally:
            os.close(fd)
        zk.set(f"{base}/cfg", b"after")
        eventually(lambda: (d / "cfg").read_bytes() == b"after", timeout=2.0, what="changes on the new session")
    finally:
        m.close()


@pytest.mark.parametrize("option", ["oneshot_watches", "no_data_cache"])
def test_uncached_mounts_read_the_server_on_every_open(server, zk, base, tmp_path, option):
    m = Mount(server.hosts, tmp_path / "m", tmp_path / "m.log", options=option)
    try:
        f = m.path / base.lstrip("/") / "plain"
        zk.create(f"{base}/plain", b"v0")
        for i in range(1, 20):
            assert f.read_bytes() == f"v{i - 1}".encode()
            zk.set(f"{base}/plain", f"v{i}".encode())
            assert f.read_bytes() == f"v{i}".encode(), f"with {option} nothing is cached"
    finally:
        m.close()


def test_the_mounts_own_acl_change_drops_the_cached_data(zk, base, tree):
    zk.create(f"{base}/guarded", b"open")
    assert (tree / "guarded").read_bytes() == b"open"
    assert (tree / "guarded").read_bytes() == b"open"  # served from the cache
    # Only admin is kept: the mount may no longer read it, and an ACL change raises no watch event.
    r = subprocess.run(["setfattr", "-n", "user.zk.acl", "-v", "world:anyone:a", str(tree / "guarded")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [a.perms for a in zk.get_acls(f"{base}/guarded")[0]] == [16]
    with pytest.raises(PermissionError):
        (tree / "guarded").read_bytes()
