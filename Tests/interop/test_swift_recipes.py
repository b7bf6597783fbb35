"""WarrenRecipes (the Swift client's coordination recipes) against Apache Curator and kazoo, on both servers.

The Swift side runs as `warren recipe ...` processes (Sources/warren/RecipeCommand.swift), the Curator side as
`java/recipes/CuratorRecipes.java` (compiled here against Debian's Curator 5.4 jars), kazoo in this process.
Critical sections are appended as "enter <who>" / "exit <who>" lines to one shared log with O_APPEND, so the
order of the lines is the order in which holders entered and left: the checks read that order, never clocks.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kazoo.recipe.lock import Lock

from javac import compile_java
from rawzk import four_letter
from servers import warren_binary

JAVA_DIR = Path(__file__).resolve().parent / "java" / "recipes"
CLASSPATH = [Path("/usr/share/java/curator-recipes.jar"), Path("/usr/share/java/zookeeper.jar"),
             Path("/usr/share/java/curator-x-discovery.jar")]
LOG_BINDING = Path("/usr/share/java/slf4j-nop.jar")
RUN_TIMEOUT_S = 120
SESSION_MS = 4000
WAIT_STEP_S = 0.05

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LAYOUTS = {
    "mutex": rf"_c_{UUID_RE}-lock-\d{{10}}",
    "rw-write": rf"_c_{UUID_RE}-__WRIT__\d{{10}}",
    "rw-read": rf"_c_{UUID_RE}-__READ__\d{{10}}",
    "latch": rf"_c_{UUID_RE}-latch-\d{{10}}",
    "dbarrier": rf"({UUID_RE}|ready)",
    "queue": r"queue-\d{10}",
}


@pytest.fixture(scope="session")
def recipe_classes(tmp_path_factory) -> Path:
    return compile_java(list(JAVA_DIR.glob("*.java")), CLASSPATH, tmp_path_factory.mktemp("recipe-classes"))


class Participants:
    """Starts Swift and Curator participant processes and kills whatever is left at the end of the test."""

    def __init__(self, classes: Path, hosts: str):
        self.classes = classes
        self.hosts = hosts
        self.procs: list[subprocess.Popen] = []

    def swift_cmd(self, *args: str) -> list[str]:
        sub, rest = args[0], args[1:]
        return [str(warren_binary()), "recipe", sub, "--server", self.hosts, "--session-timeout-ms", str(SESSION_MS),
                *rest]

    def java_cmd(self, *args: str) -> list[str]:
        cp = ":".join(map(str, [self.classes, *CLASSPATH, LOG_BINDING]))
        return ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m", "-cp", cp, "CuratorRecipes",
                self.hosts, *args]

    def start(self, cmd: list[str], stdin=subprocess.DEVNULL) -> subprocess.Popen:
        env = dict(os.environ, CURATOR_SESSION_MS=str(SESSION_MS))
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, text=True, env=env)
        self.procs.append(p)
        return p

    def swift(self, *args: str, **kw) -> subprocess.Popen:
        return self.start(self.swift_cmd(*args), **kw)

    def java(self, *args: str, **kw) -> subprocess.Popen:
        return self.start(self.java_cmd(*args), **kw)

    @staticmethod
    def finish(p: subprocess.Popen, timeout: float = RUN_TIMEOUT_S) -> str:
        if p.stdin is not None and p.stdin.closed:
            p.stdin = None  # closed on purpose: communicate() would try to flush it
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, f"{p.args[:4]}... exited {p.returncode}:\n{out[-2000:]}\n{err[-3000:]}"
        return out

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            if p.stdin is not None and p.stdin.closed:
                p.stdin = None
            p.communicate()


@pytest.fixture
def parts(recipe_classes, server):
    ps = Participants(recipe_classes, server.hosts)
    yield ps
    ps.close()


def read_log(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(WAIT_STEP_S)
    raise AssertionError(f"timed out waiting for {what}")


def assert_exclusive(entries: list[list[str]]) -> int:
    """Every enter is followed by the exit of the same holder before any other enter; returns the sections."""
    holder = None
    sections = 0
    for words in entries:
        kind, who = words[0], words[1]
        if kind.startswith("enter"):
            assert holder is None, f"{who} entered while {holder} held the lock: {entries}"
            holder = who
            sections += 1
        elif kind.startswith("exit"):
            assert holder == who, f"{who} left while {holder} held the lock"
            holder = None
    assert holder is None
    return sections


class CuratorCompatibleKazooLock(Lock):
    """kazoo's lock under Curator's node name, so that Curator and WarrenRecipes sort its nodes with theirs;
    `extra_lock_patterns` lets kazoo see their `-lock-` nodes."""

    _NODE_NAME = "-lock-"


def test_znode_layouts_match_curators(parts, zk, base):
    """The names Curator itself creates, and the names the Swift recipes create, fit the same patterns."""
    out = parts.finish(parts.java("layout", base))
    seen: dict[str, list[str]] = {}
    for line in out.splitlines():
        label, name = line.split()[:2]
        seen.setdefault(label, []).append(name)
    rw = seen.pop("rw")
    assert re.fullmatch(LAYOUTS["rw-write"], rw[0]) and re.fullmatch(LAYOUTS["rw-read"], rw[1]), rw
    for label in ("mutex", "latch", "dbarrier", "queue"):
        assert seen[label] and all(re.fullmatch(LAYOUTS[label], n) for n in seen[label]), (label, seen[label])

    # The Swift side: hold each recipe while kazoo lists the children.
    release = Path(f"/tmp/swift-layout-{os.getpid()}-{time.monotonic_ns()}")
    log = release.with_suffix(".log")
    try:
        for label, args in [("mutex", ["lock", f"{base}/s-mutex"]), ("rw-write", ["rw", f"{base}/s-rw", "write"]),
                            ("rw-read", ["rw", f"{base}/s-rw2", "read"])]:
            p = parts.swift(*args, "--hold-until", str(release), "--log", str(log), "--label", label)
            wait_for(lambda: any(w[1] == label for w in read_log(log)), what=f"swift {label} held")
            node = args[1]
            children = zk.get_children(node)
            assert len(children) == 1 and re.fullmatch(LAYOUTS[label], children[0]), (label, children)
            release.touch()
            parts.finish(p)
            release.unlink()
        latch = parts.swift("leader", f"{base}/s-latch", "--id", "swift-a", "--log", str(log))
        wait_for(lambda: any(w[:2] == ["elected", "swift-a"] for w in read_log(log)), what="swift leader")
        children = zk.get_children(f"{base}/s-latch")
        assert len(children) == 1 and re.fullmatch(LAYOUTS["latch"], children[0]), children
        assert zk.get(f"{base}/s-latch/{children[0]}")[0] == b"swift-a"
        latch.kill()
        out = parts.finish(parts.swift("queue-put", f"{base}/s-queue", "hello"))
        assert re.fullmatch(LAYOUTS["queue"], out.strip().rsplit("/", 1)[1]), out
        data = zk.get(out.strip())[0]
        assert data.hex() == next(l.split()[2] for l in parts.finish(parts.java("layout", f"{base}/again")).splitlines()
                                  if l.startswith("queue "))
    finally:
        release.unlink(missing_ok=True)
        log.unlink(missing_ok=True)


def test_mixed_swift_curator_kazoo_lock_holders_never_overlap(parts, kazoo_factory, base, tmp_path):
    path = f"{base}/lock"
    log = tmp_path / "sections.log"
    go = tmp_path / "go"
    rounds = 30
    procs = [parts.swift("lock", path, "--rounds", str(rounds), "--hold-ms", "2", "--log", str(log),
                         "--label", f"swift-{i}", "--start-when", str(go)) for i in range(2)]
    procs += [parts.java("lock", path, str(rounds), "2", str(log), f"curator-{i}", str(go)) for i in range(2)]
    kazoo_error: list[BaseException] = []
    client = kazoo_factory()

    def kazoo_holder():
        try:
            lock = CuratorCompatibleKazooLock(client, path, "kazoo", extra_lock_patterns=["-lock-"])
            wait_for(go.exists, what="go")
            for _ in range(rounds):
                assert lock.acquire(timeout=RUN_TIMEOUT_S)
                with open(log, "a") as f:
                    f.write(f"enter kazoo {time.time_ns() // 1_000_000}\n")
                time.sleep(0.002)
                with open(log, "a") as f:
                    f.write(f"exit kazoo {time.time_ns() // 1_000_000}\n")
                lock.release()
        except BaseException as e:  # reported by the main thread
            kazoo_error.append(e)

    t = threading.Thread(target=kazoo_holder)
    t.start()
    # Everyone connected before anyone starts, so that all five contend from the first round.
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.args
    go.touch()
    for p in procs:
        parts.finish(p)
    t.join(RUN_TIMEOUT_S)
    assert not t.is_alive() and not kazoo_error, kazoo_error
    entries = read_log(log)
    sections = assert_exclusive(entries)
    assert sections == 5 * rounds
    holders = [w[1] for w in entries if w[0] == "enter"]
    # A released lock goes to the next waiter in sequence order; the releaser queues again behind the others.
    handovers = sum(1 for a, b in zip(holders, holders[1:]) if a != b)
    print(f"lock: {sections} sections, {handovers} hand-overs between different holders")
    assert handovers >= 100, f"{handovers} hand-overs between holders: {holders}"
    assert {h.split("-")[0] for h in holders} == {"swift", "curator", "kazoo"}
    assert zk_children_gone(kazoo_factory(), path)


def watchers_by_path(hosts: str) -> dict[str, list[str]]:
    """`wchp`: every watched path and the sessions watching it."""
    host, port = hosts.rsplit(":", 1)
    watched: dict[str, list[str]] = {}
    current = None
    for line in four_letter(host, int(port), "wchp").splitlines():
        if line.startswith("/"):
            current = line.strip()
            watched[current] = []
        elif line.strip() and current is not None:
            watched[current].append(line.strip())
    return watched


def test_lock_waiters_each_watch_only_their_predecessor(parts, zk, server, base, tmp_path):
    """No herd: with a holder and three waiters (Swift and Curator), each contender node but the last is watched by
    exactly one session, and nobody watches the lock's children."""
    path = f"{base}/herd"
    log = tmp_path / "herd.log"
    release = tmp_path / "release"
    go = tmp_path / "go"
    go.touch()
    procs = [parts.swift("lock", path, "--hold-until", str(release), "--log", str(log), "--label", "swift-0")]
    wait_for(lambda: read_log(log), what="holder in")
    for i, start in enumerate([
        lambda: parts.swift("lock", path, "--log", str(log), "--label", "swift-1"),
        lambda: parts.java("lock", path, "1", "0", str(log), "curator-2", str(go)),
        lambda: parts.swift("lock", path, "--log", str(log), "--label", "swift-3"),
    ]):
        procs.append(start())
        wait_for(lambda: len(zk.get_children(path)) == i + 2, what=f"waiter {i + 1} queued")
    contenders = sorted(zk.get_children(path), key=lambda n: n[-10:])

    def chain_complete():
        w = watchers_by_path(server.hosts)
        return w if all(w.get(f"{path}/{n}") for n in contenders[:-1]) else None

    watched = wait_for(chain_complete, what="every waiter watching")
    sessions = [watched[f"{path}/{n}"] for n in contenders[:-1]]
    assert all(len(s) == 1 for s in sessions), sessions
    assert len({s[0] for s in sessions}) == 3, sessions
    assert f"{path}/{contenders[-1]}" not in watched and path not in watched, watched
    release.touch()
    for p in procs:
        parts.finish(p)
    assert [w[1] for w in read_log(log) if w[0] == "enter"] == ["swift-0", "swift-1", "curator-2", "swift-3"]
    assert_exclusive(read_log(log))


def zk_children_gone(client, path: str) -> bool:
    return client.get_children(path) == []


def test_read_write_lock_compatible_across_swift_and_curator(parts, zk, base, tmp_path):
    path = f"{base}/rw"
    log = tmp_path / "rw.log"
    release = tmp_path / "release"
    swift_reader = parts.swift("rw", path, "read", "--hold-until", str(release), "--log", str(log),
                               "--label", "swift-r1")
    wait_for(lambda: ["enter-read", "swift-r1"] in [w[:2] for w in read_log(log)], what="swift reader in")
    # A second reader, of the other implementation, gets in and out while the first still reads.
    parts.finish(parts.java("rw", path, "read", "-", str(log), "curator-r"))
    # A writer queues behind the reader; a reader that comes after the waiting writer queues behind it.
    writer = parts.java("rw", path, "write", "-", str(log), "curator-w")
    wait_for(lambda: any("__WRIT__" in c for c in zk.get_children(path)), what="curator writer waiting")
    late_reader = parts.swift("rw", path, "read", "--log", str(log), "--label", "swift-r2")
    wait_for(lambda: sum("__READ__" in c for c in zk.get_children(path)) == 2, what="late reader waiting")
    release.touch()
    for p in (swift_reader, writer, late_reader):
        parts.finish(p)
    order = [" ".join(w[:2]) for w in read_log(log)]
    assert order == ["enter-read swift-r1", "enter-read curator-r", "exit-read curator-r", "exit-read swift-r1",
                     "enter-write curator-w", "exit-write curator-w", "enter-read swift-r2", "exit-read swift-r2"]

    # And the other way round: a Swift writer holds off a Curator reader.
    log2 = tmp_path / "rw2.log"
    release2 = tmp_path / "release2"
    swift_writer = parts.swift("rw", path, "write", "--hold-until", str(release2), "--log", str(log2),
                               "--label", "swift-w")
    wait_for(lambda: read_log(log2), what="swift writer in")
    reader = parts.java("rw", path, "read", "-", str(log2), "curator-r2")
    wait_for(lambda: any("__READ__" in c for c in zk.get_children(path)), what="curator reader waiting")
    release2.touch()
    parts.finish(swift_writer)
    parts.finish(reader)
    assert [" ".join(w[:2]) for w in read_log(log2)] == [
        "enter-write swift-w", "exit-write swift-w", "enter-read curator-r2", "exit-read curator-r2"]
    assert zk.get_children(path) == []


def test_leader_election_across_swift_and_curator_survives_kill9(parts, base, tmp_path):
    path = f"{base}/election"
    log = tmp_path / "leaders.log"
    procs = {f"swift-{i}": parts.swift("leader", path, "--id", f"swift-{i}", "--log", str(log)) for i in range(2)}
    procs.update({f"curator-{i}": parts.java("latch", path, f"curator-{i}", str(log)) for i in range(2)})

    def elected() -> list[str]:
        return [w[1] for w in read_log(log) if w[0] == "elected"]

    leaders: list[str] = []
    for round_ in range(len(procs)):
        wait_for(lambda: len(elected()) == round_ + 1, what=f"leader {round_ + 1}")
        leaders = elected()
        assert len(set(leaders)) == len(leaders), f"someone was elected twice: {leaders}"
        current = leaders[-1]
        assert procs[current].poll() is None, f"{current} was elected after it was killed"
        assert not [w for w in read_log(log) if w[0] == "lost"], read_log(log)
        # kill -9: no goodbye, so the others take over only when the server expires the leader's session.
        procs[current].send_signal(signal.SIGKILL)
        procs[current].wait()
    kinds = {leader.split("-")[0] for leader in leaders}
    assert kinds == {"swift", "curator"} and len(leaders) == 4


def test_service_registered_by_swift_is_discovered_by_curator_and_back(parts, base):
    services = f"{base}/services"
    swift = parts.swift("register", services, "web", "swift-1", "9090", stdin=subprocess.PIPE)
    assert swift.stdout.readline().strip() == "registered"
    curator = parts.java("register", services, "web", "curator-1", "8080", stdin=subprocess.PIPE)
    assert curator.stdout.readline().strip() == "registered"
    want = {"instance curator-1 127.0.0.1 8080 from-curator DYNAMIC",
            "instance swift-1 127.0.0.1 9090 from-swift DYNAMIC"}
    assert set(parts.finish(parts.java("discover", services, "web")).splitlines()) == want
    assert set(parts.finish(parts.swift("discover", services, "web")).splitlines()) == want
    # A closed Swift registration (session closed) disappears for Curator.
    swift.stdin.close()
    parts.finish(swift)
    assert parts.finish(parts.java("discover", services, "web")).splitlines() == [
        "instance curator-1 127.0.0.1 8080 from-curator DYNAMIC"]
    curator.stdin.close()
    parts.finish(curator)


def test_double_barrier_across_swift_and_curator(parts, zk, base, tmp_path):
    path = f"{base}/dbarrier"
    log = tmp_path / "barrier.log"
    members = 4
    procs = [parts.swift("dbarrier", path, str(members), f"swift-{i}", "--log", str(log)) for i in range(2)]
    procs += [parts.java("dbarrier", path, str(members), f"curator-{i}", str(log)) for i in range(2)]
    for p in procs:
        parts.finish(p)
    entries = [w[:2] for w in read_log(log)]
    kinds = [w[0] for w in entries]
    assert kinds == ["entered"] * members + ["left"] * members, entries
    assert zk.get_children(path) == []


def test_queue_items_pass_between_swift_and_curator(parts, base):
    path = f"{base}/queue"
    parts.finish(parts.java("queue-put", path, "from-curator"))
    assert parts.finish(parts.swift("queue-take", path)).splitlines() == ["item from-curator"]
    parts.finish(parts.swift("queue-put", path, "from-swift"))
    assert parts.finish(parts.java("queue-take", path, "1")).splitlines() == ["item from-swift"]
