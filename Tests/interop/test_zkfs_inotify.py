"""zkfs inotify by default: other clients' changes raise inotify events on every mount unless `-o noinotify`,
read-only mounts included (zkfs enforces `ro` itself, so its replays still pass the VFS while every other change
gets EROFS). Real FUSE mounts against each target (Apache ZooKeeper and Warren); changes are made by kazoo.

Needs what test_zkfs.py needs and inotifywait (inotify-tools).
"""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest

from test_zkfs import Mount, mounted, sh
from test_zkfs_events import inotifywait


@pytest.fixture(scope="module")
def mount(server, tmp_path_factory):
    """A mount with default options."""
    yield from mounted(server, tmp_path_factory, "zkfs-inotify")


@pytest.fixture(scope="module")
def ro_mount(server, tmp_path_factory):
    """A read-only mount (otherwise default options)."""
    yield from mounted(server, tmp_path_factory, "zkfs-inotify", "ro")


@pytest.mark.parametrize("which", ["mount", "ro_mount"])
def test_other_clients_changes_raise_inotify_events(zk, base, which, request):
    root = request.getfixturevalue(which).path / base.lstrip("/")
    d = f"{root}/"
    proc, out = inotifywait(root)
    try:
        zk.create(f"{base}/f", b"1")
        zk.set(f"{base}/f", b"2")
        zk.create(f"{base}/dir", b"")
        zk.delete(f"{base}/f")
        want = [f"{d} CREATE f", f"{d} MODIFY f", f"{d} CREATE,ISDIR dir", f"{d} DELETE f"]
        lines = out.wait_for(lambda ls: all(w in ls for w in want), what="inotify events")
        positions = [lines.index(w) for w in want]
        assert positions == sorted(positions), lines
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def expect_erofs(action, what: str):
    with pytest.raises(OSError) as e:
        action()
    assert e.value.errno == errno.EROFS, f"{what}: {e.value}"


def test_read_only_mount_refuses_every_change_with_erofs(zk, base, ro_mount):
    zk.create(f"{base}/f", b"data")
    zk.create(f"{base}/dir/child", b"", makepath=True)  # an empty leaf: a directory
    root = ro_mount.path / base.lstrip("/")
    assert (root / "f").read_bytes() == b"data", "reads work"
    expect_erofs(lambda: (root / "f").write_bytes(b"x"), "write an existing file")
    expect_erofs(lambda: os.open(root / "f", os.O_WRONLY), "open an existing file for writing")
    expect_erofs(lambda: (root / "new").write_bytes(b"x"), "create a file")
    expect_erofs(lambda: os.mkdir(root / "d2"), "mkdir")
    expect_erofs(lambda: os.unlink(root / "f"), "rm")
    expect_erofs(lambda: os.rmdir(root / "dir" / "child"), "rmdir")
    expect_erofs(lambda: os.rename(root / "f", root / "g"), "mv")
    expect_erofs(lambda: os.truncate(root / "f", 1), "truncate")
    expect_erofs(lambda: os.utime(root / "f"), "touch an existing file")
    expect_erofs(lambda: os.setxattr(root / "f", "user.zk.acl", b"world:anyone:r"), "setxattr")
    r = sh("touch new2", root, check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr, r.stderr
    assert zk.get(f"{base}/f")[0] == b"data" and sorted(zk.get_children(base)) == ["dir", "f"]


def test_noinotify_replays_nothing(server, zk, base, tmp_path):
    m = Mount(server.hosts, tmp_path / "m", tmp_path / "m.log", options="noinotify")
    try:
        root = m.path / base.lstrip("/")
        proc, out = inotifywait(root)
        try:
            zk.create(f"{base}/remote", b"1")
            (root / "own").write_bytes(b"x")  # the mount's own changes still raise events
            out.wait_for(lambda ls: any(x.endswith(" CLOSE_WRITE,CLOSE own") for x in ls), what="own events")
            time.sleep(0.3)
            assert not any("remote" in x for x in out.lines), out.lines
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    finally:
        m.close()
