"""zkfs change notification: poll readiness of open files, the event-stream file (`.events`) and inotify through
`-o inotify` replays. Real FUSE mounts against each target (Apache ZooKeeper and Warren); changes are made by
another client (kazoo) unless a test says otherwise.

Needs what test_zkfs.py needs (root, /dev/fuse, fusermount3, the zkfs binary via ZKFS_BIN) and inotifywait
(inotify-tools) for the inotify tests.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from test_zkfs import Mount, eventually, mounted

READY = select.POLLIN | select.POLLPRI


@pytest.fixture(scope="module")
def mount(server, tmp_path_factory):
    """A read-write mount with the default event stream."""
    yield from mounted(server, tmp_path_factory, "zkfs-events")


@pytest.fixture(scope="module")
def imount(server, tmp_path_factory):
    """A mount replaying remote changes for inotify, with a small event queue."""
    yield from mounted(server, tmp_path_factory, "zkfs-inotify", "inotify,events_queue=5")


class Lines:
    """Lines of a stream read by a thread, for waiting on them without blocking the test."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0, what: str = "lines"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{what} did not arrive within {timeout}s; got {self.lines}")
                self.cond.wait(left)
            return list(self.lines)


def read_lines(fd: int, count: int, timeout: float = 5.0, within: str = "") -> list[str]:
    """Reads `count` lines mentioning `within` from the event stream `fd` (a blocking descriptor, guarded by
    poll); other lines are skipped (e.g. the test's own base node being created)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while len([x for x in buf.decode().splitlines() if within in x]) < count:
        left = deadline - time.monotonic()
        p = select.poll()
        p.register(fd, select.POLLIN)
        if left <= 0 or not p.poll(left * 1000):
            pytest.fail(f"only {buf!r} after {timeout}s, wanted {count} lines")
        buf += os.read(fd, 65536)
    return [x for x in buf.decode().splitlines() if within in x]


# MARK: - poll on open files


def test_poll_reports_a_remote_change_then_read_from_start_refreshes(zk, base, mount):
    zk.create(f"{base}/cfg", b"v1")
    fd = os.open(mount.path / base.lstrip("/") / "cfg", os.O_RDONLY)
    try:
        p = select.poll()
        p.register(fd, READY)
        assert p.poll(0) == [], "an unchanged file must not be ready"
        assert os.read(fd, 100) == b"v1"
        zk.set(f"{base}/cfg", b"version 2")
        ready = p.poll(5000)
        assert ready and ready[0][1] & READY == READY
        assert os.pread(fd, 100, 0) == b"version 2"
        assert p.poll(0) == [], "reading from the start takes the new snapshot and clears readiness"
    finally:
        os.close(fd)


def test_select_and_epoll_wake_on_change_and_delete(zk, base, mount):
    zk.create(f"{base}/a", b"1")
    zk.create(f"{base}/b", b"1")
    fa = os.open(mount.path / base.lstrip("/") / "a", os.O_RDONLY)
    fb = os.open(mount.path / base.lstrip("/") / "b", os.O_RDONLY)
    ep = select.epoll()
    try:
        ep.register(fb, select.EPOLLIN | select.EPOLLPRI)
        assert select.select([fa], [], [], 0)[0] == []
        assert ep.poll(0) == []
        zk.set(f"{base}/a", b"2")
        assert select.select([fa], [], [], 5)[0] == [fa]
        zk.delete(f"{base}/b")
        events = ep.poll(5)
        assert events and events[0][0] == fb and events[0][1] & select.EPOLLIN
        assert os.pread(fb, 10, 0) == b"1", "a deleted node's handle keeps its snapshot"
    finally:
        ep.close()
        os.close(fa)
        os.close(fb)


def test_writable_handle_is_always_writable(zk, base, mount):
    zk.create(f"{base}/w", b"x")
    fd = os.open(mount.path / base.lstrip("/") / "w", os.O_RDWR)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLOUT)
        assert p.poll(0) == [(fd, select.POLLOUT)]
    finally:
        os.close(fd)


# MARK: - The event-stream file


def test_event_stream_lines_in_inotifywait_format(zk, base, mount):
    mnt = f"{mount.path}{base}"
    fd = os.open(mount.path / ".events", os.O_RDONLY)

    def step(change, line):
        # One change at a time: a role is decided when its event is handled, from the node's state then.
        change()
        assert read_lines(fd, 1, within=base + "/") == [line]

    try:
        step(lambda: zk.create(f"{base}/f", b"data"), f"{mnt}/ CREATE f")
        step(lambda: zk.set(f"{base}/f", b"more"), f"{mnt}/ MODIFY f")
        step(lambda: zk.create(f"{base}/d", b""), f"{mnt}/ CREATE,ISDIR d")
        step(lambda: zk.create(f"{base}/d/x", b""), f"{mnt}/d/ CREATE,ISDIR x")
        step(lambda: zk.set(f"{base}/d", b"own data"), f"{mnt}/d/ MODIFY .data")
        step(lambda: zk.delete(f"{base}/f"), f"{mnt}/ DELETE f")
        step(lambda: zk.delete(f"{base}/d/x"), f"{mnt}/d/ DELETE,ISDIR x")
        step(lambda: zk.delete(f"{base}/d"), f"{mnt}/ DELETE,ISDIR d")
    finally:
        os.close(fd)


def test_event_stream_reports_the_mounts_own_changes_with_their_roles(base, mount):
    root = mount.path / base.lstrip("/")
    fd = os.open(mount.path / ".events", os.O_RDONLY)
    try:
        (root / "t").touch()  # an empty node shown as a file, as this mount created it
        (root / "dir").mkdir()
        (root / "t").write_bytes(b"x")
        lines = read_lines(fd, 3, within=base + "/")
        assert lines == [f"{mount.path}{base}/ CREATE t", f"{mount.path}{base}/ CREATE,ISDIR dir",
                         f"{mount.path}{base}/ MODIFY t"]
    finally:
        os.close(fd)


def test_event_stream_is_hidden_read_only_and_not_seekable(mount):
    assert ".events" not in os.listdir(mount.path)
    st = os.stat(mount.path / ".events")
    assert st.st_size == 0 and st.st_mode & 0o777 == 0o444
    with pytest.raises(PermissionError):
        os.open(mount.path / ".events", os.O_WRONLY)
    with pytest.raises(PermissionError):
        os.unlink(mount.path / ".events")
    fd = os.open(mount.path / ".events", os.O_RDONLY)
    try:
        with pytest.raises(OSError) as e:
            os.lseek(fd, 0, os.SEEK_SET)
        assert e.value.errno == errno.ESPIPE
    finally:
        os.close(fd)


def test_event_stream_nonblocking_read_and_poll(zk, base, mount):
    fd = os.open(mount.path / ".events", os.O_RDONLY | os.O_NONBLOCK)
    try:
        time.sleep(0.3)  # lets the creation of `base` arrive, then drains it
        try:
            os.read(fd, 65536)
        except BlockingIOError:
            pass
        with pytest.raises(BlockingIOError):
            os.read(fd, 4096)
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(0) == []
        zk.create(f"{base}/n", b"")
        assert p.poll(5000) == [(fd, select.POLLIN)]
        assert os.read(fd, 4096).decode() == f"{mount.path}{base}/ CREATE,ISDIR n\n"
        assert p.poll(0) == []
    finally:
        os.close(fd)


def test_each_reader_gets_every_line_and_cat_follows_until_killed(zk, base, mount):
    cat = subprocess.Popen(["cat", str(mount.path / ".events")], stdout=subprocess.PIPE)
    fd = os.open(mount.path / ".events", os.O_RDONLY)
    try:
        lines = Lines(cat.stdout)
        time.sleep(0.3)  # cat's first read is waiting
        zk.create(f"{base}/c1", b"x")
        assert read_lines(fd, 1, within=base + "/") == [f"{mount.path}{base}/ CREATE c1"]
        lines.wait_for(lambda ls: f"{mount.path}{base}/ CREATE c1" in ls, what="cat's line")
        cat.terminate()  # the blocked read is interrupted
        assert cat.wait(timeout=5) == -15
    finally:
        os.close(fd)
        if cat.poll() is None:
            cat.kill()


def test_shell_while_read_loop_follows_the_stream(zk, base, mount):
    """bash's `read` takes one byte per read(2) on a pipe-like file: lines still arrive whole and in order."""
    script = (f'while read -r dir events name; do [ "$name" = stop ] && exit 0; '
              f'case "$dir" in *{base}/) echo "$events $name";; esac; done < {mount.path}/.events')
    loop = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        zk.create(f"{base}/one", b"1")
        zk.set(f"{base}/one", b"2")
        zk.create(f"{base}/stop", b"x")
        out, _ = loop.communicate(timeout=10)
        assert out.splitlines() == ["CREATE one", "MODIFY one"]
        assert loop.returncode == 0
    finally:
        if loop.poll() is None:
            loop.kill()


def test_slow_reader_gets_an_overflow_line(zk, base, imount):
    fd = os.open(imount.path / ".events", os.O_RDONLY | os.O_NONBLOCK)
    try:
        time.sleep(0.3)  # lets the creation of `base` arrive, then drains it
        try:
            os.read(fd, 65536)
        except BlockingIOError:
            pass
        for i in range(12):
            zk.create(f"{base}/o{i}", b"x")
        eventually(lambda: select.select([fd], [], [], 0)[0], what="event stream ready")
        time.sleep(0.5)
        lines = os.read(fd, 65536).decode().splitlines()
        assert lines[0] == f"{imount.path}/ Q_OVERFLOW 7"
        assert lines[1:] == [f"{imount.path}{base}/ CREATE o{i}" for i in range(7, 12)]
    finally:
        os.close(fd)


# MARK: - inotify


def inotifywait(path: Path) -> tuple[subprocess.Popen, Lines]:
    if shutil.which("inotifywait") is None:
        pytest.fail("inotifywait (inotify-tools) is not installed", pytrace=False)
    proc = subprocess.Popen(["inotifywait", "-m", "-r", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    err = Lines(proc.stderr)
    err.wait_for(lambda ls: any("Watches established" in x for x in ls), what="inotifywait's watches")
    return proc, Lines(proc.stdout)


def test_inotifywait_reports_other_clients_changes(zk, base, imount):
    root = imount.path / base.lstrip("/")
    d = f"{root}/"
    proc, out = inotifywait(root)
    try:
        zk.create(f"{base}/f", b"1")
        zk.set(f"{base}/f", b"22")
        zk.create(f"{base}/sub", b"")
        out.wait_for(lambda ls: f"{d} CREATE,ISDIR sub" in ls, what="CREATE,ISDIR")
        time.sleep(0.2)  # inotifywait -r adds its watch on the new directory
        zk.create(f"{base}/sub/inner", b"x")
        zk.set(f"{base}/sub/inner", b"y")
        zk.set(f"{base}/sub", b"own data")
        zk.delete(f"{base}/sub/inner")
        zk.delete(f"{base}/sub")
        zk.delete(f"{base}/f")
        want = [
            f"{d} CREATE f",
            f"{d} MODIFY f",
            f"{d} CREATE,ISDIR sub",
            f"{d}sub/ CREATE inner",
            f"{d}sub/ MODIFY inner",
            f"{d}sub/ MODIFY .data",
            f"{d}sub/ DELETE inner",
            f"{d} DELETE,ISDIR sub",
            f"{d} DELETE f",
        ]
        lines = out.wait_for(lambda ls: all(w in ls for w in want), what="inotify events")
        positions = [lines.index(w) for w in want]
        assert positions == sorted(positions), lines
        assert sum(1 for x in lines if x == f"{d} MODIFY f") == 1, lines
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_inotifywait_on_one_file(zk, base, imount):
    zk.create(f"{base}/cfg", b"1")
    f = imount.path / base.lstrip("/") / "cfg"
    proc, out = inotifywait(f)
    try:
        zk.set(f"{base}/cfg", b"2")
        out.wait_for(lambda ls: f"{f} MODIFY " in ls, what="MODIFY on the file's own watch")
        zk.delete(f"{base}/cfg")
        out.wait_for(lambda ls: f"{f} DELETE_SELF " in ls, what="DELETE_SELF")
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_inotify_does_not_replay_the_mounts_own_changes(zk, base, imount):
    root = imount.path / base.lstrip("/")
    d = f"{root}/"
    proc, out = inotifywait(root)
    try:
        (root / "own").write_bytes(b"hello")
        (root / "own").rename(root / "moved")
        (root / "moved").unlink()
        (root / "dir").mkdir()
        (root / "job-@s").write_bytes(b"")  # a sequential name cannot be expected: its creation is replayed
        zk.create(f"{base}/marker", b"")  # a remote change after ours: once it shows, ours were handled
        lines = out.wait_for(lambda ls: f"{d} CREATE,ISDIR marker" in ls, what="the marker")
        time.sleep(0.3)
        lines = out.lines
        assert lines.count(f"{d} CREATE own") == 1, lines
        assert lines.count(f"{d} MOVED_FROM own") == 1 and lines.count(f"{d} MOVED_TO moved") == 1, lines
        assert not any(x.endswith(" own") and "DELETE" in x or x.endswith(" moved") and "CREATE" in x
                       for x in lines), lines
        assert lines.count(f"{d} DELETE moved") == 1, lines
        assert lines.count(f"{d} CREATE,ISDIR dir") == 1, lines
        assert f"{d} CREATE job-@s" in lines, lines
        (seq,) = [c for c in zk.get_children(base) if c.startswith("job-")]
        assert f"{d} CREATE {seq}" in lines, lines
        assert not zk.exists(f"{base}/own") and zk.exists(f"{base}/dir")
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# MARK: - Delay


def delays(zk, base: str, wait_change, n: int = 50) -> float:
    """Median seconds from the start of a kazoo setData to the moment `wait_change(i)` returns (the time it saw
    the change), over `n` changes."""
    samples = []
    for i in range(n):
        t0 = time.monotonic()
        zk.set(f"{base}/m", str(i).encode())
        samples.append(wait_change(i) - t0)
    return statistics.median(samples)


def test_delay_from_remote_change_to_event(zk, base, imount, target):
    zk.create(f"{base}/m", b"0")
    f = imount.path / base.lstrip("/") / "m"
    results = {"kazoo set alone": delays(zk, base, lambda i: time.monotonic())}

    fd = os.open(f, os.O_RDONLY)
    p = select.poll()
    p.register(fd, READY)

    def polled(i):
        assert p.poll(5000), f"poll: change {i} not seen"
        seen = time.monotonic()
        os.pread(fd, 10, 0)
        return seen

    results["poll"] = delays(zk, base, polled)
    os.close(fd)

    ev = os.open(imount.path / ".events", os.O_RDONLY)

    def streamed(i):
        assert read_lines(ev, 1, within=base) == [f"{imount.path}{base}/ MODIFY m"]
        return time.monotonic()

    results["events"] = delays(zk, base, streamed)
    os.close(ev)

    proc, out = inotifywait(imount.path / base.lstrip("/"))
    try:
        def notified(i):
            out.wait_for(lambda ls: sum(1 for x in ls if x.endswith(" MODIFY m")) > i, what=f"MODIFY {i}")
            return time.monotonic()

        results["inotify"] = delays(zk, base, notified)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    print(f"\n{target}: median over 50 setData, from the call: "
          + ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in results.items()))
    for k, v in results.items():
        assert v < 1.0, f"{k}: median {v}s"


def test_inotify_keeps_order_in_a_burst(zk, base, imount):
    """200 creations then 200 deletions sent without waiting (ZKFS_BURST=N for more): every one is reported,
    in order."""
    root = imount.path / base.lstrip("/")
    d = f"{root}/"
    proc, out = inotifywait(root)
    try:
        n = int(os.environ.get("ZKFS_BURST", "200"))
        for r in [zk.create_async(f"{base}/k{i:03}", b"v") for i in range(n)]:
            r.get(timeout=10)
        for r in [zk.delete_async(f"{base}/k{i:03}") for i in range(n)]:
            r.get(timeout=10)
        want = [f"{d} CREATE k{i:03}" for i in range(n)] + [f"{d} DELETE k{i:03}" for i in range(n)]
        lines = out.wait_for(lambda ls: sum(1 for x in ls if " DELETE k" in x) >= n, timeout=30,
                             what="all deletions")
        assert [x for x in lines if " CREATE k" in x or " DELETE k" in x] == want
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_options_rename_or_remove_the_stream(server, zk, base, tmp_path):
    renamed = Mount(server.hosts, tmp_path / "a", tmp_path / "a.log", options="events_name=_changes")
    none = Mount(server.hosts, tmp_path / "b", tmp_path / "b.log", options="noevents,ro")
    try:
        assert not (renamed.path / ".events").exists()
        fd = os.open(renamed.path / "_changes", os.O_RDONLY)
        try:
            zk.create(f"{base}/x", b"1")
            assert read_lines(fd, 1, within=base + "/") == [f"{renamed.path}{base}/ CREATE x"]
        finally:
            os.close(fd)
        assert not (none.path / ".events").exists()
    finally:
        renamed.close()
        none.close()


def test_missed_changes_are_announced_after_a_disconnection_and_an_expiry(server, zk, base, tmp_path):
    """Changes made while zkfs had no connection are lost (no watch resends them): readers of the stream get a
    `Q_OVERFLOW ` line without a count, and open files become ready so that their pollers re-read."""
    from tcpproxy import TcpProxy

    host, port = server.hosts.rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    m = Mount(proxy.hosts, tmp_path / "m", tmp_path / "m.log", options="session_timeout=4000")
    overflow = f"{m.path}/ Q_OVERFLOW "
    try:
        zk.create(f"{base}/f", b"1")
        fd = os.open(m.path / base.lstrip("/") / "f", os.O_RDONLY)
        ev = os.open(m.path / ".events", os.O_RDONLY | os.O_NONBLOCK)
        p = select.poll()
        p.register(fd, READY)
        proxy.cut()
        eventually(lambda: "disconnected" in m.log_tail(), what="the disconnection")
        proxy.restore()
        eventually(lambda: select.select([ev], [], [], 0.1)[0], timeout=15, what="the stream after reconnecting")
        assert os.read(ev, 4096).decode().splitlines()[-1] == overflow
        assert p.poll(0), "an open file counts as changed"
        assert os.pread(fd, 10, 0) == b"1"

        (m.path / base.lstrip("/") / "eph@e").write_bytes(b"")  # goes when the session does
        # An empty create after O_TRUNC is made at the last close (release), which close() does not wait for.
        eventually(lambda: zk.exists(f"{base}/eph"), what="the ephemeral created")
        m.proc.send_signal(signal.SIGSTOP)
        try:
            eventually(lambda: zk.exists(f"{base}/eph") is None, timeout=20, what="the session expired")
        finally:
            m.proc.send_signal(signal.SIGCONT)
        eventually(lambda: "new session" in m.log_tail(), timeout=20, what="a new session")
        # The expired session's own last events (its ephemeral's deletion) may be read before the new session
        # announces the gap: read until the announcement comes.
        seen: list[str] = []

        def announced() -> bool:
            if select.select([ev], [], [], 0.1)[0]:
                seen.extend(os.read(ev, 4096).decode().splitlines())
            return overflow in seen

        eventually(announced, timeout=5, what="Q_OVERFLOW after the expiry")
        os.close(ev)
        os.close(fd)
    finally:
        m.close()
        proxy.close()
