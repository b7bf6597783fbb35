"""zkfs cluster-wide locks: flock(1)/flock(2)/fcntl/lockf on files of two real mounts, Apache Curator's
InterProcessMutex and InterProcessReadWriteLock (java/locks/CuratorLocks.java, compiled here with javac),
kazoo's Lock and the Swift recipe's lock (`warren recipe lock`), all on one znode, against each target (Apache
ZooKeeper and Warren).

Holders are separate processes (`lock_holder.py`, the Java program, flock(1), warren); the mutual-exclusion test has
each append "enter WHO ..." / "exit WHO ..." lines (O_APPEND) inside its hold and checks, in file order, that no hold
begins before the previous one ended. Nothing asserts speed; every wait is bounded.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from javac import compile_java
from test_java_client import CLASSPATH, JAVA_DIR, LOG_BINDING
from servers import warren_binary
from test_zkfs import Mount, eventually

HOLDER = Path(__file__).resolve().parent / "lock_holder.py"
JAVA_SOURCES = JAVA_DIR / "locks"
# Hand-overs in the mutual-exclusion test: flock on each of two mounts, Curator, kazoo and the Swift recipe.
ROUNDS = {"flockA": 50, "flockB": 50, "curator": 40, "kazoo": 40, "swift": 40}


@pytest.fixture(scope="session")
def curator_classes(tmp_path_factory) -> Path:
    return compile_java(list(JAVA_SOURCES.glob("*.java")), CLASSPATH, tmp_path_factory.mktemp("curator-locks"))


def curator(classes: Path, *args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    cp = ":".join(map(str, [classes, *CLASSPATH, LOG_BINDING]))
    return subprocess.Popen(["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m", "-cp", cp,
                             "CuratorLocks", *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def holder(*args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HOLDER), *args], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


class Held:
    """A process holding a lock until `release()` (end of its stdin) or `kill()`."""

    def __init__(self, proc: subprocess.Popen, timeout: float = 30):
        self.proc = proc
        line = self._first_line(timeout)
        if line != "HELD":
            proc.kill()
            pytest.fail(f"holder did not get the lock: {line!r} {proc.stderr.read() if proc.stderr else ''}")

    def _first_line(self, timeout: float) -> str:
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return "(timeout)"
        return self.proc.stdout.readline().strip()

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=20)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def hold(path: Path, how: str) -> Held:
    return Held(holder("hold", str(path), how, stdin=subprocess.PIPE))


def hold_curator(classes: Path, hosts: str, zpath: str, kind: str) -> Held:
    return Held(curator(classes, hosts, zpath, kind, "hold", stdin=subprocess.PIPE), timeout=60)


def contenders(zk, zpath: str) -> list[str]:
    return [c for c in zk.get_children(zpath) if "lock" in c or "__READ__" in c or "__WRIT__" in c]


@pytest.fixture(scope="module")
def mounts(server, tmp_path_factory):
    """Two mounts of the same server: two zkfs processes, two sessions."""
    d = tmp_path_factory.mktemp("zkfs-locks")
    a = Mount(server.hosts, d / "a", d / "a.log")
    try:
        b = Mount(server.hosts, d / "b", d / "b.log")
    except BaseException:
        a.close()
        raise
    try:
        yield a, b
    finally:
        b.close()
        a.close()


@pytest.fixture
def lockfile(zk, base, mounts):
    """The znode `<base>/deploy` with data, as the file it is on each mount."""
    zk.create(f"{base}/deploy", b"v1\n")
    a, b = mounts
    return f"{base}/deploy", a.path / base.lstrip("/") / "deploy", b.path / base.lstrip("/") / "deploy"


def overlaps(log: Path) -> tuple[int, list[str]]:
    """(holds, violations) from the enter/exit lines. Every holder appends them with O_APPEND inside its hold, so
    the file's order is the order of the holds, whatever clock each writer stamps: an enter must follow the
    previous holder's exit."""
    holds, holder, bad = 0, None, []
    for n, line in enumerate(log.read_text().splitlines(), 1):
        kind, who = line.split()[:2]
        if kind == "enter":
            if holder is not None:
                bad.append(f"line {n}: {who} entered while {holder} held the lock")
            holder = who
        else:
            if holder != who:
                bad.append(f"line {n}: {who} left a hold that was {holder}'s")
            holder, holds = None, holds + 1
    return holds, bad


def test_flock_on_two_mounts_curator_kazoo_and_swift_never_overlap(server, zk, lockfile, curator_classes, tmp_path):
    zpath, file_a, file_b = lockfile
    log = tmp_path / "holds.log"
    procs = {
        "flockA": holder("flock", str(file_a), str(ROUNDS["flockA"]), str(log), "flockA"),
        "flockB": holder("flock", str(file_b), str(ROUNDS["flockB"]), str(log), "flockB"),
        "curator": curator(curator_classes, server.hosts, zpath, "mutex", "loop", str(ROUNDS["curator"]), str(log),
                           "curator"),
        "kazoo": holder("kazoo", server.hosts, zpath, str(ROUNDS["kazoo"]), str(log), "kazoo"),
        "swift": subprocess.Popen([str(warren_binary()), "recipe", "lock", "--server", server.hosts, zpath,
                                   "--rounds", str(ROUNDS["swift"]), "--log", str(log), "--label", "swift"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    }
    try:
        for who, p in procs.items():
            out, err = p.communicate(timeout=100)
            assert p.returncode == 0, f"{who} failed: {err[-2000:]}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    holds, bad = overlaps(log)
    assert holds == sum(ROUNDS.values()) >= 200
    assert bad == [], f"{len(bad)} overlapping holds, first: {bad[:3]}"
    # The kernel does not wait for the release of a last close: the last node goes a moment after its process.
    eventually(lambda: contenders(zk, zpath) == [], timeout=5, what="every contender node gone")
    assert file_a.read_bytes() == b"v1\n", "the data of the locked file is untouched"


def test_waiting_is_first_come_first_served(zk, lockfile, tmp_path):
    zpath, file_a, file_b = lockfile
    order = tmp_path / "order"
    first = hold(file_a, "flock-ex")
    waiters = []
    try:
        for i in range(6):
            f = file_a if i % 2 == 0 else file_b
            waiters.append(subprocess.Popen(["flock", str(f), "-c", f"echo {i} >> {order}"]))
            # The next contender starts only once this one queued its node.
            eventually(lambda: len(contenders(zk, zpath)) == i + 2, timeout=10, what=f"contender {i} queued")
    finally:
        first.release()
    for w in waiters:
        assert w.wait(timeout=30) == 0
    assert order.read_text().split() == [str(i) for i in range(6)]


def test_sigkill_of_a_holder_hands_the_lock_over(zk, lockfile, tmp_path):
    zpath, file_a, file_b = lockfile
    for holder_file in (file_a, file_b):  # same mount as the waiter, then the other mount
        h = hold(holder_file, "flock-ex")
        waiter = subprocess.Popen(["flock", str(file_a), "-c", "true"])
        eventually(lambda: len(contenders(zk, zpath)) == 2, timeout=10, what="waiter queued")
        assert waiter.poll() is None
        h.kill()
        assert waiter.wait(timeout=15) == 0
        eventually(lambda: contenders(zk, zpath) == [], timeout=10, what="nodes gone")


def test_a_dead_mount_loses_its_locks_with_its_session(server, zk, base, tmp_path_factory, mounts):
    zk.create(f"{base}/svc", b"leader\n")
    d = tmp_path_factory.mktemp("zkfs-doomed")
    doomed = Mount(server.hosts, d / "m", d / "m.log")
    try:
        h = hold(doomed.path / base.lstrip("/") / "svc", "flock-ex")
        leader = mounts[0].path / base.lstrip("/") / "svc"
        waiter = subprocess.Popen(["flock", str(leader), "-c", "true"])
        eventually(lambda: len(contenders(zk, f"{base}/svc")) == 2, timeout=10, what="waiter queued")
        doomed.proc.kill()  # the zkfs process dies: its session ends by timeout (6 s)
        assert waiter.wait(timeout=30) == 0
        h.proc.kill()
    finally:
        doomed.close()


def test_nonblocking_and_interrupted_waits_leave_no_contender(zk, lockfile):
    zpath, file_a, file_b = lockfile
    h = hold(file_b, "flock-ex")
    try:
        r = subprocess.run(["flock", "-n", str(file_a), "-c", "true"], capture_output=True, timeout=20)
        assert r.returncode == 1
        r = subprocess.run(["timeout", "-s", "INT", "1", "flock", str(file_a), "-c", "true"], capture_output=True,
                           timeout=20)
        assert r.returncode == 124
        eventually(lambda: len(contenders(zk, zpath)) == 1, timeout=5, what="interrupted contender removed")
        killed = subprocess.Popen(["flock", str(file_a), "-c", "true"])
        eventually(lambda: len(contenders(zk, zpath)) == 2, timeout=10, what="waiter queued")
        killed.kill()
        killed.wait(timeout=10)
        eventually(lambda: len(contenders(zk, zpath)) == 1, timeout=5, what="killed waiter's contender removed")
        fd = os.open(file_a, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError) as e:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert e.value.errno == errno.EWOULDBLOCK
        finally:
            os.close(fd)
    finally:
        h.release()
    eventually(lambda: contenders(zk, zpath) == [], timeout=5, what="holder's node gone")


def test_shared_locks_coexist_and_exclude_exclusive_and_curator_rw(server, zk, lockfile, curator_classes):
    zpath, file_a, file_b = lockfile
    s1 = hold(file_a, "flock-sh")
    s2 = hold(file_b, "flock-sh")
    try:
        assert subprocess.run(["flock", "-n", "-x", str(file_a), "-c", "true"], timeout=20).returncode == 1
        assert subprocess.run(["flock", "-n", "-s", str(file_b), "-c", "true"], timeout=20).returncode == 0
        w = curator(curator_classes, server.hosts, zpath, "write", "try", "1500")
        assert w.communicate(timeout=60)[0].strip() == "TIMEOUT"
        r = curator(curator_classes, server.hosts, zpath, "read", "try", "1500")
        assert r.communicate(timeout=60)[0].strip() == "ACQUIRED"
    finally:
        s1.release()
        s2.release()
    # A Curator writer excludes flock's shared and exclusive locks; a Curator reader admits shared ones.
    writer = hold_curator(curator_classes, server.hosts, zpath, "write")
    try:
        assert subprocess.run(["flock", "-n", "-s", str(file_a), "-c", "true"], timeout=20).returncode == 1
    finally:
        writer.release()
    reader = hold_curator(curator_classes, server.hosts, zpath, "read")
    try:
        assert subprocess.run(["flock", "-n", "-s", str(file_a), "-c", "true"], timeout=20).returncode == 0
        assert subprocess.run(["flock", "-n", "-x", str(file_b), "-c", "true"], timeout=20).returncode == 1
    finally:
        reader.release()
    eventually(lambda: contenders(zk, zpath) == [], timeout=10, what="all nodes gone")


def getlk(fd: int, cmd: int = fcntl.F_GETLK, kind: int = fcntl.F_WRLCK) -> tuple[int, int]:
    """(l_type, l_pid) of F_GETLK/F_OFD_GETLK for a whole-file lock of `kind`."""
    raw = fcntl.fcntl(fd, cmd, struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 0, 0))
    l_type, _, _, _, l_pid = struct.unpack("hhqqi4x", raw)
    return l_type, l_pid


PROBE_GETLK = """
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
raw = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
l_type, _, _, _, l_pid = struct.unpack("hhqqi4x", raw)
print(l_type, l_pid)
"""


def test_fcntl_record_locks(zk, lockfile):
    zpath, file_a, file_b = lockfile
    h = hold(file_b, "lockf")  # a process on the other mount
    fd = os.open(file_a, os.O_RDWR)
    try:
        with pytest.raises(OSError) as e:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert e.value.errno in (errno.EAGAIN, errno.EACCES)
        assert getlk(fd) == (fcntl.F_WRLCK, 0), "a remote holder's pid is unknown (0)"
        h.release()
        fcntl.lockf(fd, fcntl.LOCK_EX)  # F_SETLKW, granted now
        assert getlk(fd)[0] == fcntl.F_UNLCK, "the owner's own lock does not conflict"
        # Another process of this mount learns the holder's pid.
        probe = subprocess.run([sys.executable, "-c", PROBE_GETLK, str(file_a)], capture_output=True, text=True,
                               timeout=20)
        assert probe.stdout.split() == [str(fcntl.F_WRLCK), str(os.getpid())], probe.stderr
        other = os.open(file_a, os.O_RDWR)
        # Another open file description conflicts with this process's lock (OFD queries report pid -1).
        assert getlk(other, fcntl.F_OFD_GETLK) == (fcntl.F_WRLCK, -1)
        # Closing any descriptor of the file drops the process's record locks (POSIX), not just the locking one.
        os.close(other)
        eventually(lambda: contenders(zk, zpath) == [], timeout=5, what="record lock released on close")
        # An OFD lock (F_OFD_SETLKW) of a process on the other mount excludes this one's lockf.
        ofd = hold(file_b, "ofd")
        try:
            with pytest.raises(OSError) as e:
                fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            assert e.value.errno in (errno.EAGAIN, errno.EACCES)
        finally:
            ofd.release()
        os.close(fd)
        fd = -1
    finally:
        if fd >= 0:
            os.close(fd)
        h.release()


def test_a_locked_file_stays_a_file_with_holder_xattrs(zk, lockfile, curator_classes, server):
    zpath, file_a, file_b = lockfile
    h = hold(file_a, "flock-ex")
    w = subprocess.Popen(["flock", str(file_b), "-c", "true"])
    try:
        eventually(lambda: len(contenders(zk, zpath)) == 2, timeout=10, what="waiter queued")
        for f in (file_a, file_b):
            assert f.is_file() and not f.is_dir()
            assert f.read_bytes() == b"v1\n"
        listing = subprocess.run(["ls", "-l", str(file_a.parent)], capture_output=True, text=True).stdout
        assert any(line.startswith("-") and line.endswith(" deploy") for line in listing.splitlines())
        holder_line = subprocess.run(["getfattr", "--only-values", "-n", "user.zk.lock.holder", str(file_b)],
                                     capture_output=True, text=True).stdout
        kids = sorted(zk.get_children(zpath), key=lambda c: c[-10:])
        assert holder_line.split()[0] == kids[0]
        assert f"pid {h.proc.pid}" in holder_line
        waiters = os.getxattr(file_a, "user.zk.lock.waiters").decode()
        assert waiters.split()[0] == kids[1]
    finally:
        h.release()
        assert w.wait(timeout=15) == 0
    # A node whose only children are another recipe's contenders is a file too. It is created empty first (shown
    # as a directory, which the default inotify replay may already have told the kernel) and gains its contender
    # right after, so the mount flips it to a file, as it flips a file that gains a child (Docs/zkfs.md).
    zk.create(f"{zpath}2/_c_0b1e6f3a-3c2d-4f1e-9a8b-1234567890ab-lock-", b"", ephemeral=True, sequence=True,
              makepath=True)
    eventually(lambda: file_a.with_name("deploy2").is_file(), timeout=10, what="deploy2 shown as a file")
    with pytest.raises(OSError) as e:
        os.getxattr(file_a, "user.zk.lock.holder")
    assert e.value.errno == errno.ENODATA


def test_a_lock_lost_to_session_expiry_is_logged_and_its_unlock_spares_the_next_holder(
        server, zk, base, tmp_path, mounts):
    zk.create(f"{base}/job", b"x")
    zpath = f"{base}/job"
    m = Mount(server.hosts, tmp_path / "m", tmp_path / "m.log", "session_timeout=2000")
    try:
        old = hold(m.path / base.lstrip("/") / "job", "flock-ex")
        newer = holder("hold", str(mounts[0].path / base.lstrip("/") / "job"), "flock-ex", stdin=subprocess.PIPE)
        eventually(lambda: len(contenders(zk, zpath)) == 2, timeout=10, what="second contender queued")
        m.proc.send_signal(signal.SIGSTOP)
        try:
            eventually(lambda: len(contenders(zk, zpath)) == 1, timeout=20, what="the old session expired")
        finally:
            m.proc.send_signal(signal.SIGCONT)
        newer_held = Held(newer)
        eventually(lambda: "LOCK LOST" in m.log_tail(), timeout=20, what="the loss logged")
        (kept,) = contenders(zk, zpath)
        old.release()  # its unlock (the last close) must not touch the newer holder's node
        r = subprocess.run(["flock", "-n", str(m.path / base.lstrip("/") / "job"), "-c", "true"], timeout=20)
        assert r.returncode == 1, "the newer holder still holds it"
        time.sleep(0.5)  # room for a wrong deletion by the asynchronous release to show
        assert contenders(zk, zpath) == [kept]
        newer_held.release()
    finally:
        m.close()


def test_a_read_only_mount_takes_locks_too(server, zk, lockfile, tmp_path):
    zpath, file_a, _ = lockfile
    ro = Mount(server.hosts, tmp_path / "ro", tmp_path / "ro.log", "ro")
    try:
        file_ro = ro.path / zpath.lstrip("/")
        h = hold(file_a, "flock-ex")
        try:
            r = subprocess.run(["flock", "-n", "-s", str(file_ro), "-c", "true"], timeout=20)
            assert r.returncode == 1
        finally:
            h.release()
        r = subprocess.run(["flock", "-s", str(file_ro), "cat", str(file_ro)], capture_output=True, timeout=20)
        assert (r.returncode, r.stdout) == (0, b"v1\n")
    finally:
        ro.close()


def test_contenders_under_a_file_raise_no_events(zk, lockfile, mounts):
    zpath, file_a, file_b = lockfile
    assert file_a.is_file()  # the mount knows the node as a file
    fd = os.open(mounts[0].path / ".events", os.O_RDONLY | os.O_NONBLOCK)
    try:
        subprocess.run(["flock", str(file_b), "-c", "true"], check=True, timeout=20)
        h = hold(file_a, "flock-sh")
        h.release()
        zk.set(zpath, b"v2\n")
        eventually(lambda: select.select([fd], [], [], 0.1)[0], timeout=5, what="the MODIFY line")
        time.sleep(0.2)  # any contender line would have been queued before the MODIFY
        lines = [line for line in os.read(fd, 65536).decode().splitlines() if str(file_a.parent) in line]
        assert lines == [f"{file_a.parent}/ MODIFY deploy"]
    finally:
        os.close(fd)


def test_flock_of_a_new_file_creates_it_and_locks_it(zk, base, mounts):
    """flock(1) opens the file it locks with O_CREAT: the new file is created for the lock (it failed with ENOENT
    while the create was still pending), and the lock excludes another open of it."""
    a = mounts[0].path / base.lstrip("/") / "fresh"
    r = subprocess.run(["flock", str(a), "-c", f"flock -n {a} -c true; echo $?"], capture_output=True, text=True,
                       timeout=20)
    assert (r.returncode, r.stdout) == (0, "1\n"), r.stderr
    assert zk.exists(f"{base}/fresh") is not None
