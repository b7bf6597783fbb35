"""zkfs atomic creates: a file created through the mount becomes a znode with its first content in one create,
so no other client ever reads it empty or partial. Real FUSE mounts against each target (Apache ZooKeeper and
Warren); the readers are kazoo clients.

Needs what test_zkfs.py needs (root, /dev/fuse, fusermount3, the zkfs binary via ZKFS_BIN).
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import threading

import pytest

from test_zkfs import eventually, mount, sh, tree  # noqa: F401 (mount, tree: fixtures)

CREATES = int(os.environ.get("ZKFS_CREATES", "1000"))
PAYLOAD = re.compile(rb"^(\d+):(x*)\n$")


def payload(i: int) -> bytes:
    """Self-describing content: `i:` then a length that depends on i, so a reader can tell whole from partial."""
    return f"{i}:".encode() + b"x" * (1 + i * 37 % 3000) + b"\n"


def whole(data: bytes) -> bool:
    m = PAYLOAD.match(data)
    return bool(m) and data == payload(int(m.group(1)))


class ChildReader:
    """Reads every new child of `path` as soon as a ChildrenWatch reports it, keeping what it read."""

    def __init__(self, zk, path: str):
        self.zk = zk
        self.path = path
        self.read: dict[str, bytes] = {}
        self.lock = threading.Lock()
        zk.ChildrenWatch(path, self._changed)

    def _changed(self, children):
        for name in children:
            if name in self.read:
                continue
            try:
                data, _ = self.zk.get(f"{self.path}/{name}")
            except Exception:  # deleted meanwhile: nothing was read
                continue
            with self.lock:
                self.read[name] = data

    def bad(self) -> dict[str, bytes]:
        with self.lock:
            return {n: d for n, d in self.read.items() if not whole(d)}


def test_readers_never_see_a_new_file_empty_or_partial(zk, base, tree, tmp_path):
    """echo >, cp, Python writes in several pieces and `@e@s` names, each read by a kazoo ChildrenWatch as it
    appears: every value read is a whole payload."""
    zk.create(f"{base}/probe", b"")
    reader = ChildReader(zk, f"{base}/probe")
    probe = tree / "probe"
    sources = tmp_path / "src"
    sources.mkdir()
    script = []
    python_writes = []
    for i in range(CREATES):
        kind = i % 4
        if kind == 0:
            script.append(f"echo '{payload(i).decode().rstrip()}' > p{i}")
        elif kind == 1:
            (sources / f"s{i}").write_bytes(payload(i))
            script.append(f"cp {sources}/s{i} p{i}")
        else:
            python_writes.append(i)
    (tmp_path / "creates.sh").write_text("set -e\n" + "\n".join(script) + "\n")
    shell = subprocess.Popen(["bash", str(tmp_path / "creates.sh")], cwd=probe, stderr=subprocess.PIPE, text=True)
    for i in python_writes:
        name = "inst-@e@s" if i % 4 == 3 else f"p{i}"
        data = payload(i)
        with open(probe / name, "wb", buffering=0) as f:  # one write(2) per piece
            for start in range(0, len(data), 700):
                f.write(data[start:start + 700])
    _, err = shell.communicate(timeout=300)
    assert shell.returncode == 0, err
    eventually(lambda: len(reader.read) >= CREATES, timeout=60, what=f"{CREATES} children read")
    assert reader.bad() == {}, f"{len(reader.bad())} of {len(reader.read)} read empty or partial"
    assert len(reader.read) == CREATES
    assert sum(1 for n in reader.read if n.startswith("inst-")) == CREATES // 4
    for name in ("p0", "p1", "p2"):
        data, st = zk.get(f"{base}/probe/{name}")
        assert data == payload(int(name[1:])) and st.version == 0, "created with its data: no setData"


WRITER = """
import sys
f = open(sys.argv[1], "wb", buffering=0)
f.write(b"a=1\\n"); f.seek(100); f.write(b"b=2\\n"); f.seek(4); f.write(b"#")
print("written", flush=True)
sys.stdin.readline()
f.close()
"""


def test_a_pending_file_is_seen_on_the_mount_but_not_on_the_server(zk, base, tree):
    # The writer is a process of its own: every close(2) of its descriptor commits, and a fork of the test
    # process would close an inherited copy (close-on-exec) and so create the file early.
    writer = subprocess.Popen(["python3", "-c", WRITER, str(tree / "cfg")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "written"
        assert zk.exists(f"{base}/cfg") is None, "nothing reaches the server before the close"
        # Other processes on the mount see the file, with nothing to read yet.
        assert sh("ls", tree).stdout.split() == ["cfg"]
        assert sh("test -f cfg && cat cfg", tree).stdout == ""
        assert zk.exists(f"{base}/cfg") is None
        writer.communicate("close\n", timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == 0
    data, st = zk.get(f"{base}/cfg")
    assert data == b"a=1\n#" + b"\0" * 95 + b"b=2\n" and st.version == 0
    assert (tree / "cfg").read_bytes() == data


def test_touch_and_empty_redirect_still_create(zk, base, tree):
    sh("touch t", tree)
    data, st = zk.get(f"{base}/t")  # a flush with nothing written, no O_TRUNC: created by close itself
    assert data == b"" and st.version == 0
    sh(": > e", tree)  # O_TRUNC: the shell closes a duplicate first, so the create waits for the last close
    eventually(lambda: zk.exists(f"{base}/e"), what="the empty file created at release")
    assert zk.get(f"{base}/e")[0] == b""
    assert (tree / "t").is_file() and (tree / "e").is_file()


def test_o_excl_fails_at_open_and_a_create_raced_at_close(zk, base, tree):
    zk.create(f"{base}/there", b"x")
    with pytest.raises(FileExistsError):
        os.open(tree / "there", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    zk.create(f"{base}/eph", b"e")
    with pytest.raises(FileExistsError):
        os.open(tree / "eph@e", os.O_CREAT | os.O_WRONLY)
    fd = os.open(tree / "race", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    try:
        os.write(fd, b"mine")
        zk.create(f"{base}/race", b"theirs")  # someone else creates it between open and close
    finally:
        with pytest.raises(OSError) as e:
            os.close(fd)
    assert e.value.errno == errno.EEXIST
    assert zk.get(f"{base}/race")[0] == b"theirs", "the other writer's node is kept"


def test_existing_files_are_still_written_with_set_data(zk, base, tree):
    zk.create(f"{base}/f", b"old content")
    with open(tree / "f", "r+b") as f:
        f.seek(4)
        f.write(b"CONTENT")
    data, st = zk.get(f"{base}/f")
    assert data == b"old CONTENT" and st.version == 1
    sh("echo new > f", tree)  # O_TRUNC on an existing file
    data, st = zk.get(f"{base}/f")
    assert data == b"new\n" and st.version == 2


def test_sequential_names_are_known_once_created(zk, base, tree):
    fd = os.open(tree / "job-@s", os.O_CREAT | os.O_WRONLY)
    try:
        os.write(fd, b"task")
        os.fsync(fd)  # creates the node with what is written
        real = os.getxattr(fd, "user.zk.path").decode()
    finally:
        os.close(fd)
    assert re.fullmatch(re.escape(base) + r"/job-\d{10}", real), real
    data, st = zk.get(real)
    assert data == b"task" and st.version == 0
    sh("echo p > job-@s", tree)
    jobs = sorted(c for c in zk.get_children(base) if c.startswith("job-"))
    assert len(jobs) == 2 and zk.get(f"{base}/{jobs[1]}")[0] == b"p\n"
    assert sorted(os.listdir(tree)) == jobs, "magic names never stay visible"


def test_empty_redirect_then_append_at_once(zk, base, tree):
    """`: > f; echo x >> f`: the append opens the file while the empty create may still be on its way (the kernel
    does not wait for the first close's release); it must append to it, not fail or lose a create."""
    script = "\n".join(f": > log{i}; echo x >> log{i}; echo y >> log{i}" for i in range(50))
    sh(script, tree)
    for i in range(50):
        eventually(lambda: zk.exists(f"{base}/log{i}"), what=f"log{i}")
        assert zk.get(f"{base}/log{i}")[0] == b"x\ny\n", f"log{i}"


def test_service_registrations_seen_whole_by_a_tree_cache(zk, base, tree):
    """`echo host:port > services/web/inst-@e@s` from the shell, followed by a kazoo TreeCache (a recursive
    reader): every node it adds comes with its whole content."""
    from kazoo.recipe.cache import TreeCache, TreeEvent

    zk.create(f"{base}/services/web", b"", makepath=True)
    added: list[bytes] = []
    lock = threading.Lock()

    def listener(event):
        if event.event_type == TreeEvent.NODE_ADDED and event.event_data.path.startswith(f"{base}/services/web/"):
            with lock:
                added.append(event.event_data.data)

    cache = TreeCache(zk, f"{base}/services")
    cache.listen(listener)
    cache.start()
    try:
        n = 200
        sh("\n".join(f"echo 10.0.0.{i % 250}:{8000 + i} > services/web/inst-@e@s" for i in range(n)), tree)
        eventually(lambda: len(added) >= n, timeout=30, what=f"{n} registrations seen")
        with lock:
            bad = [d for d in added if not re.fullmatch(rb"10\.0\.0\.\d+:\d+\n", d)]
        assert bad == [], f"{len(bad)} of {len(added)} registrations seen empty or partial: {bad[:5]}"
    finally:
        cache.close()


def test_noclobber_redirect_creates_with_content(zk, base, tree):
    """Under `set -C` bash opens `>` with O_EXCL and without O_TRUNC, and closes a duplicate before writing: that
    close must not create the node empty (a kazoo reader saw it empty; another mount took it for a directory)."""
    zk.create(f"{base}/nc", b"")
    reader = ChildReader(zk, f"{base}/nc")
    n = 100
    sh("set -C\n" + "\n".join(f"echo '{payload(i).decode().rstrip()}' > p{i}" for i in range(n)), tree / "nc")
    eventually(lambda: len(reader.read) >= n, timeout=30, what=f"{n} children read")
    assert reader.bad() == {}, f"{len(reader.bad())} of {n} read empty or partial"
    assert sh("set -C; echo again > p0", tree / "nc", check=False).returncode != 0, "noclobber still refuses"
    sh("set -C; : > empty", tree / "nc")  # nothing written: created at the last close
    eventually(lambda: zk.exists(f"{base}/nc/empty"), what="the empty file created at release")
