"""zkfs: real FUSE mounts of the server's znode tree, driven with shell tools and Python file calls, checked
with kazoo. Every test runs against each target (Apache ZooKeeper and Warren) with the same expectations.

Needs root (or a user allowed to mount FUSE), /dev/fuse, fusermount3, and the zkfs binary
(`swift build --product zkfs`; default `.build/debug/zkfs`, or point ZKFS_BIN at it).
Each mount lives in a temporary directory and is unmounted with `fusermount3 -u` in teardown, always.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from servers import REPO_ROOT

MOUNT_HELPER = REPO_ROOT / "mount-helpers" / "mount.zkfs"


def is_mounted(path: Path) -> bool:
    """Whether `path` is a mount point, from the mount table (stat-based checks fail on a mount whose server or
    daemon is gone)."""
    target = os.path.realpath(path).encode()
    with open("/proc/self/mounts", "rb") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 1 and fields[1].decode("unicode_escape").encode("latin-1") == target:
                return True
    return False


def zkfs_binary() -> Path:
    return Path(os.environ.get("ZKFS_BIN", REPO_ROOT / ".build" / "debug" / "zkfs"))


class Mount:
    """One zkfs process in the foreground with its mount point; `close()` unmounts and reaps it."""

    def __init__(self, hosts: str, mountpoint: Path, log_path: Path, options: str = "", env: dict | None = None,
                 launcher: list[str] = ()):
        binary = zkfs_binary()
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            pytest.fail(f"zkfs binary not found at {binary}: `swift build --product zkfs` or set ZKFS_BIN",
                        pytrace=False)
        if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
            pytest.fail("FUSE is not usable here: /dev/fuse or fusermount3 is missing", pytrace=False)
        self.path = mountpoint
        self.path.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        args = [*launcher, str(binary), hosts, str(mountpoint), "-f", "-o", "session_timeout=6000"]
        if options:
            args += ["-o", options]
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 20
        while not is_mounted(mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"zkfs did not mount {hosts} at {mountpoint}:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.05)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    def close(self) -> None:
        if is_mounted(self.path):
            r = subprocess.run(["fusermount3", "-u", str(self.path)], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["fusermount3", "-uz", str(self.path)], capture_output=True)
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def mounted(server, tmp_path_factory, name: str, options: str = ""):
    """For module fixtures: a mount of the server root in a fresh directory `name`, unmounted afterwards."""
    d = tmp_path_factory.mktemp(name)
    m = Mount(server.hosts, d / "mnt", d / "zkfs.log", options=options)
    try:
        yield m
    finally:
        m.close()


@pytest.fixture(scope="module")
def mount(server, tmp_path_factory):
    """A read-write mount of the module's server root."""
    yield from mounted(server, tmp_path_factory, "zkfs")


@pytest.fixture
def tree(mount, base):
    """The test's own directory inside the mount (the `base` node)."""
    return mount.path / base.lstrip("/")


def sh(script: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        pytest.fail(f"`{script}` failed ({r.returncode}): {r.stderr}")
    return r


def eventually(predicate, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not hold within {timeout}s")
        time.sleep(0.02)


# -- reading and listing ----------------------------------------------------------------------------


def test_cat_and_ls_show_nodes(zk, base, tree):
    zk.create(f"{base}/config", b"max=3\n")
    zk.create(f"{base}/app/workers/w1", b"", makepath=True)
    assert sh("cat config", tree).stdout == "max=3\n"
    listing = sh("ls -l", tree).stdout
    lines = {line.split()[-1]: line for line in listing.splitlines()[1:]}
    assert lines["config"].startswith("-rw")
    assert lines["app"].startswith("d")
    assert sorted(os.listdir(tree / "app" / "workers")) == ["w1"]
    # An empty childless node is a directory; a node with data is a file.
    assert (tree / "app" / "workers" / "w1").is_dir()


def test_stat_matches_znode_stat(zk, base, tree):
    zk.create(f"{base}/s", b"12345")
    _, st = zk.get(f"{base}/s")
    s = os.stat(tree / "s")
    assert s.st_size == st.dataLength == 5
    assert int(s.st_mtime * 1000) == st.mtime
    assert s.st_nlink == 1
    out = sh("stat -c '%s %F' s", tree).stdout.strip()
    assert out == "5 regular file"


def test_find_walks_the_tree(zk, base, tree):
    for p in ("a/b/c", "a/d", "e"):
        zk.create(f"{base}/{p}", b"x", makepath=True)
    found = sh("find . | sort", tree).stdout.split()
    assert found == [".", "./a", "./a/b", "./a/b/c", "./a/d", "./e"]


# -- writing -----------------------------------------------------------------------------------------


def test_echo_redirect_and_append(zk, base, tree):
    sh("echo hello > greeting", tree)
    data, st = zk.get(f"{base}/greeting")
    assert data == b"hello\n"
    sh("echo world >> greeting", tree)
    data, st2 = zk.get(f"{base}/greeting")
    assert data == b"hello\nworld\n"
    assert st2.version == st.version + 1, "an append is one versioned setData"
    sh("echo replaced > greeting", tree)
    assert zk.get(f"{base}/greeting")[0] == b"replaced\n"
    v = zk.get(f"{base}/greeting")[1].version
    sh("echo -n > greeting", tree)
    # A truncation with nothing written is committed at the last close (release), which the kernel sends
    # without waiting for it.
    eventually(lambda: zk.get(f"{base}/greeting")[0] == b"", what="truncation committed")
    assert zk.get(f"{base}/greeting")[1].version == v + 1


def test_cp_in_and_out(zk, base, tree, tmp_path):
    src = tmp_path / "payload.bin"
    payload = os.urandom(300_000)
    src.write_bytes(payload)
    sh(f"cp {src} copied", tree)
    assert zk.get(f"{base}/copied")[0] == payload
    sh(f"cp copied {tmp_path}/back", tree)
    assert (tmp_path / "back").read_bytes() == payload


def test_mv_of_a_leaf_is_atomic_and_keeps_data_and_acl(zk, base, tree):
    from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE

    acl = [make_digest_acl("u", "p", all=True)] + list(OPEN_ACL_UNSAFE)
    zk.create(f"{base}/old", b"payload", acl=acl)
    zk.create(f"{base}/dir", b"")
    sh("mv old dir/new", tree)
    assert zk.exists(f"{base}/old") is None
    data, _ = zk.get(f"{base}/dir/new")
    assert data == b"payload"
    assert {(a.id.scheme, a.perms) for a in zk.get_acls(f"{base}/dir/new")[0]} == {("digest", 31), ("world", 31)}
    # Onto an existing leaf: replaced.
    zk.create(f"{base}/other", b"other")
    sh("mv other dir/new", tree)
    assert zk.get(f"{base}/dir/new")[0] == b"other"
    assert zk.exists(f"{base}/other") is None


def test_mv_of_a_directory_with_children_falls_back_to_copy(zk, base, tree):
    zk.create(f"{base}/d/x", b"1", makepath=True)
    zk.create(f"{base}/d/y", b"2")
    with pytest.raises(OSError) as e:
        os.rename(tree / "d", tree / "d2")
    assert e.value.errno == errno.EXDEV
    sh("mv d d2", tree)  # mv copies and deletes on EXDEV
    assert sorted(zk.get_children(f"{base}/d2")) == ["x", "y"]
    assert zk.exists(f"{base}/d") is None


def test_mkdir_p_rmdir_rm_r(zk, base, tree):
    sh("mkdir -p x/y/z", tree)
    assert zk.exists(f"{base}/x/y/z") is not None
    assert zk.get(f"{base}/x/y/z")[1].ephemeralOwner == 0
    assert (tree / "x" / "y" / "z").is_dir()
    with pytest.raises(OSError) as e:
        os.rmdir(tree / "x")
    assert e.value.errno == errno.ENOTEMPTY
    os.rmdir(tree / "x" / "y" / "z")
    assert zk.exists(f"{base}/x/y/z") is None
    sh("echo f > x/y/file && rm -r x", tree)
    assert zk.exists(f"{base}/x") is None


def test_touch_makes_a_file_and_attribute_changes_are_accepted(zk, base, tree):
    sh("touch empty && chmod 600 empty && touch empty", tree)
    data, st = zk.get(f"{base}/empty")
    assert data == b"" and st.version == 0, "chmod and touch change nothing on the server"
    time.sleep(0.3)  # the creation's watch event invalidates the name; the role must survive the re-lookup
    assert (tree / "empty").is_file()
    os.mkdir(tree / "dir")
    time.sleep(0.3)
    assert (tree / "dir").is_dir()
    with pytest.raises(PermissionError):
        os.mkfifo(tree / "fifo")
    with pytest.raises(OSError):
        os.symlink("empty", tree / "link")
    assert sorted(os.listdir(tree)) == ["dir", "empty"]


def test_rm_of_missing_and_mkdir_of_existing(zk, base, tree):
    with pytest.raises(FileNotFoundError):
        os.unlink(tree / "nope")
    zk.create(f"{base}/there", b"")
    with pytest.raises(FileExistsError):
        os.mkdir(tree / "there")


def test_directory_data_through_dot_data(zk, base, tree):
    zk.create(f"{base}/svc/child", b"c", makepath=True)
    assert ".data" not in os.listdir(tree / "svc"), "listed only when the node has data"
    (tree / "svc" / ".data").write_bytes(b"svc-config")
    assert zk.get(f"{base}/svc")[0] == b"svc-config"
    assert ".data" in os.listdir(tree / "svc")
    assert (tree / "svc" / ".data").read_bytes() == b"svc-config"
    assert (tree / "svc").is_dir()


def test_two_writers_race_one_gets_estale(zk, base, tree):
    zk.create(f"{base}/cfg", b"v0")
    a = open(tree / "cfg", "w")
    b = open(tree / "cfg", "w")
    a.write("from-a")
    b.write("from-b")
    a.close()
    with pytest.raises(OSError) as e:
        b.close()
    assert e.value.errno == errno.ESTALE
    data, st = zk.get(f"{base}/cfg")
    assert data == b"from-a" and st.version == 1


def test_write_to_a_node_deleted_since_open_is_enoent(zk, base, tree):
    zk.create(f"{base}/gone", b"x")
    f = open(tree / "gone", "w")
    f.write("y")
    zk.delete(f"{base}/gone")
    with pytest.raises(FileNotFoundError):
        f.close()


def test_version_suffix_writes_only_at_that_version(zk, base, tree):
    zk.create(f"{base}/config", b"a")
    for _ in range(7):
        zk.set(f"{base}/config", b"a")
    assert zk.get(f"{base}/config")[1].version == 7
    r = sh("echo stale > config@v=6", tree, check=False)
    assert r.returncode != 0 and "Stale file handle" in r.stderr
    assert zk.get(f"{base}/config")[0] == b"a"
    sh("echo new > config@v=7", tree)
    data, st = zk.get(f"{base}/config")
    assert data == b"new\n" and st.version == 8
    assert sorted(os.listdir(tree)) == ["config"], "magic names never stay visible"


def test_too_large_is_efbig(zk, base, tree):
    with pytest.raises(OSError) as e:
        with open(tree / "big", "wb") as f:
            f.write(b"x" * 1_100_000)
    assert e.value.errno == errno.EFBIG


# -- suffixes ----------------------------------------------------------------------------------------


def test_ephemeral_and_sequential_suffixes(zk, base, tree, mount):
    fd = os.open(tree / "worker-@e@s", os.O_CREAT | os.O_WRONLY)
    try:
        real = os.getxattr(fd, "user.zk.path").decode()
        os.write(fd, b"me")
    finally:
        os.close(fd)
    assert real.startswith(f"{base}/worker-") and len(real) == len(f"{base}/worker-") + 10
    data, st = zk.get(real)
    assert data == b"me"
    assert st.ephemeralOwner not in (0, zk.client_id[0]), "an ephemeral of zkfs's session"
    sh("echo p > plain@s", tree)
    seq = [c for c in zk.get_children(base) if c.startswith("plain")]
    assert len(seq) == 1 and seq[0] != "plain" and zk.get(f"{base}/{seq[0]}")[1].ephemeralOwner == 0
    sh("echo e > eph@e", tree)
    assert zk.get(f"{base}/eph")[1].ephemeralOwner == st.ephemeralOwner
    names = os.listdir(tree)
    assert not any("@" in n for n in names), names


def test_held_lock_is_released_when_the_holder_exits(zk, base, tree):
    holder = subprocess.Popen(["bash", "-c", "exec 3>lock@held; echo held; exec sleep 60"], cwd=tree,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        st = zk.exists(f"{base}/lock")
        assert st is not None and st.ephemeralOwner != 0
        # A second holder cannot take it.
        r = sh("exec 3>lock@held", tree, check=False)
        assert r.returncode != 0 and "File exists" in r.stderr
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        eventually(lambda: zk.exists(f"{base}/lock") is None, what="lock released after kill -9")
        sh("exec 3>lock@held", tree)  # free again; released again when that shell exits
        eventually(lambda: zk.exists(f"{base}/lock") is None, what="lock released after exit")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_held_release_spares_a_node_created_under_the_same_name_later(zk, base, tree):
    """A `@held` node deleted by another client and the name taken again (another registration, another lock):
    the holder's release deletes only the node it created, not the newcomer's."""
    holder = subprocess.Popen(["bash", "-c", "exec 3>reg@held; echo held; read -r _ || true"], cwd=tree,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        zk.delete(f"{base}/reg")
        zk.create(f"{base}/reg", b"theirs", ephemeral=True)
        holder.stdin.close()
        assert holder.wait(timeout=10) == 0
        time.sleep(0.5)  # room for a wrong deletion by the asynchronous release
        assert zk.get(f"{base}/reg")[0] == b"theirs"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_container_and_ttl_directories(zk, base, tree):
    os.mkdir(tree / "box@container")
    os.mkdir(tree / "short@ttl=60")
    assert (tree / "box").is_dir() and (tree / "short").is_dir()
    assert sorted(os.listdir(tree)) == ["box", "short"]
    with pytest.raises(OSError) as e:
        os.mkdir(tree / "eph@e")
    assert e.value.errno == errno.EINVAL


# -- metadata ----------------------------------------------------------------------------------------


def test_xattrs_show_every_stat_field_and_the_acl(zk, base, tree):
    zk.create(f"{base}/n", b"abc")
    zk.set(f"{base}/n", b"abcd")
    _, st = zk.get(f"{base}/n")
    out = sh("getfattr -d -m 'user.zk.*' n", tree).stdout
    attrs = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    attrs = {k: v.strip('"') for k, v in attrs.items()}
    assert attrs["user.zk.path"] == f"{base}/n"
    assert attrs["user.zk.version"] == "1"
    assert attrs["user.zk.dataLength"] == "4"
    assert attrs["user.zk.czxid"] == str(st.czxid)
    assert attrs["user.zk.mzxid"] == str(st.mzxid)
    assert attrs["user.zk.ctime"] == str(st.ctime)
    assert attrs["user.zk.numChildren"] == "0"
    assert attrs["user.zk.ephemeralOwner"] == "0x0"
    assert attrs["user.zk.acl"] == "world:anyone:cdrwa"
    sh("setfattr -n user.zk.acl -v 'world:anyone:r' n", tree)
    acl = zk.get_acls(f"{base}/n")[0]
    assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [("world", "anyone", 1)]
    r = sh("setfattr -n user.zk.version -v 9 n", tree, check=False)
    assert r.returncode != 0 and "not permitted" in r.stderr


def test_no_auth_is_eacces(zk, base, tree):
    from kazoo.security import make_digest_acl

    zk.create(f"{base}/secret", b"s", acl=[make_digest_acl("u", "p", all=True)])
    with pytest.raises(PermissionError):
        (tree / "secret").read_bytes()


# -- remote changes ----------------------------------------------------------------------------------


def test_remote_changes_are_visible_promptly(zk, base, tree):
    zk.create(f"{base}/live", b"one")
    assert (tree / "live").read_bytes() == b"one"
    assert os.stat(tree / "live").st_size == 3  # now cached in the kernel
    zk.set(f"{base}/live", b"three")
    # Opens are served from a cache the watch invalidates: as fresh as the watch (see test_zkfs_cache.py).
    eventually(lambda: (tree / "live").read_bytes() == b"three", timeout=1.0, what="new data after the watch event")
    eventually(lambda: os.stat(tree / "live").st_size == 5, timeout=1.0, what="size invalidated by the watch")
    zk.create(f"{base}/born", b"x")
    eventually(lambda: "born" in os.listdir(tree), timeout=1.0, what="new node listed")
    assert (tree / "born").exists()
    zk.delete(f"{base}/born")
    eventually(lambda: not (tree / "born").exists(), timeout=1.0, what="deleted node gone")


def test_file_that_gains_a_child_becomes_a_directory(zk, base, tree):
    zk.create(f"{base}/leaf", b"data")
    assert (tree / "leaf").is_file()
    zk.create(f"{base}/leaf/kid", b"k")
    eventually(lambda: (tree / "leaf").is_dir(), timeout=2.0, what="leaf shown as a directory")
    assert (tree / "leaf" / ".data").read_bytes() == b"data"
    assert sorted(os.listdir(tree / "leaf")) == [".data", "kid"]


# -- mount options -----------------------------------------------------------------------------------


def test_read_only_chrooted_mount_through_the_mount_helper(server, zk, base, tmp_path):
    zk.create(f"{base}/app/conf", b"c", makepath=True)
    mnt = tmp_path / "ro"
    mnt.mkdir()
    env = dict(os.environ, ZKFS=str(zkfs_binary()))
    try:
        r = subprocess.run([str(MOUNT_HELPER), f"{server.hosts}{base}/app", str(mnt), "-o",
                            "ro,session_timeout=6000"], env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert is_mounted(mnt)
        assert (mnt / "conf").read_bytes() == b"c"
        with pytest.raises(OSError) as e:
            (mnt / "conf").write_bytes(b"x")
        assert e.value.errno == errno.EROFS
        assert os.getxattr(mnt / "conf", "user.zk.path") == b"/conf"
    finally:
        if is_mounted(mnt):
            subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)
    eventually(lambda: not is_mounted(mnt), what="unmounted")


def as_user(uid: int, script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "bash", "-c", script],
                          cwd=cwd, capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_owner_umask_and_allow_other(server, zk, base, mount_factory):
    zk.create(f"{base}/f", b"data")
    private = mount_factory(server.hosts + base, "")
    r = as_user(65534, "cat f", private.path)
    assert r.returncode != 0, "without allow_other only the mounting user gets in"
    shared = mount_factory(server.hosts + base, "allow_other,uid=65534,gid=65534,umask=077")
    st = os.stat(shared.path / "f")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, 65534, 0o600)
    assert as_user(65534, "cat f", shared.path).stdout == "data"
    r = as_user(12345, "cat f", shared.path)
    assert r.returncode != 0 and "Permission denied" in r.stderr, "the kernel checks the mode bits"


def test_missing_chroot_fails_to_mount(server, tmp_path):
    mnt = tmp_path / "m"
    mnt.mkdir()
    r = subprocess.run([str(zkfs_binary()), f"{server.hosts}/no/such/chroot", str(mnt)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "chroot" in r.stderr
    assert not is_mounted(mnt)


# -- latency -----------------------------------------------------------------------------------------


def test_cat_latency_compared_with_get(zk, base, tree, record_property):
    zk.create(f"{base}/lat", b"x" * 100)
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        zk.get(f"{base}/lat")
    direct = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        with open(tree / "lat", "rb") as f:
            f.read()
    through = (time.perf_counter() - t0) / n
    record_property("get_us", int(direct * 1e6))
    record_property("open_read_close_us", int(through * 1e6))
    print(f"\nkazoo get {direct * 1e6:.0f} us; open+read+close through zkfs {through * 1e6:.0f} us")
    assert through < 0.05, "a cached-name read is one getData round trip plus FUSE overhead"


# -- sessions, credentials, failures -----------------------------------------------------------------


@pytest.fixture
def mount_factory(tmp_path):
    """Extra mounts with their own options; all unmounted at the end of the test."""
    mounts: list[Mount] = []

    def make(hosts: str, options: str = "") -> Mount:
        i = len(mounts)
        m = Mount(hosts, tmp_path / f"mnt{i}", tmp_path / f"zkfs{i}.log", options)
        mounts.append(m)
        return m

    yield make
    for m in mounts:
        m.close()


def test_one_shot_watches_keep_the_mount_fresh(server, zk, base, mount_factory):
    m = mount_factory(server.hosts + base, "oneshot_watches")
    zk.create(f"{base}/w", b"1")
    assert (m.path / "w").read_bytes() == b"1"
    assert os.stat(m.path / "w").st_size == 1
    zk.set(f"{base}/w", b"22")
    eventually(lambda: os.stat(m.path / "w").st_size == 2, timeout=1.0, what="size invalidated by a one-shot watch")
    zk.delete(f"{base}/w")
    eventually(lambda: not (m.path / "w").exists(), timeout=1.0, what="deleted node gone")


def test_digest_credentials_from_a_file(server, zk, base, mount_factory, tmp_path):
    from kazoo.security import make_digest_acl

    zk.create(f"{base}/private", b"secret", acl=[make_digest_acl("alice", "pw", all=True)])
    cred = tmp_path / "cred"
    cred.write_text("alice:pw\n")
    m = mount_factory(server.hosts + base, f"credentials={cred}")
    assert (m.path / "private").read_bytes() == b"secret"
    (m.path / "private").write_bytes(b"changed")
    zk.add_auth("digest", "alice:pw")
    assert zk.get(f"{base}/private")[0] == b"changed"


def test_session_expiry_reopens_a_session_and_keeps_the_mount(server, zk, base, mount_factory):
    m = mount_factory(server.hosts + base, "session_timeout=2000")
    sh("echo x > eph@e", m.path)
    owner = zk.get(f"{base}/eph")[1].ephemeralOwner
    m.proc.send_signal(signal.SIGSTOP)
    try:
        eventually(lambda: zk.exists(f"{base}/eph") is None, timeout=15, what="session expired on the server")
    finally:
        m.proc.send_signal(signal.SIGCONT)
    eventually(lambda: "new session" in m.log_tail(), timeout=15, what="a new session")
    assert "SESSION EXPIRED" in m.log_tail()
    sh("echo y > eph@e", m.path)
    new_owner = zk.get(f"{base}/eph")[1].ephemeralOwner
    assert new_owner not in (0, owner)
    assert sh("cat eph", m.path).stdout == "y\n"


def test_a_dead_server_gives_eio_within_the_session_timeout(server_factory, target, tmp_path, mount_factory):
    own = server_factory.start(target)
    m = mount_factory(own.hosts, "session_timeout=2000,retries=2")
    (m.path / "n").write_bytes(b"v")
    own.kill9()
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        (m.path / "n").read_bytes()
    assert e.value.errno == errno.EIO
    assert time.monotonic() - t0 < 10
