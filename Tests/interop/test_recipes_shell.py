"""Docs/recipes.md: the classic ZooKeeper use cases as shell recipes (`mount-helpers/recipes/`) over real zkfs
mounts, each run as several concurrent processes on two mounts (two sessions), with kazoo taking part where a
recipe promises interop, against each target (Apache ZooKeeper and Warren). Each test checks the property that
matters: no two lock holders (timestamped critical sections), one leader at a time and a new one after SIGKILL,
registrations that live exactly as long as their process (or mount), nobody past a barrier before all arrived,
each queue item consumed exactly once, a waiter that gets the published address, and Debian's unmodified nginx
serving a configuration changed with a kazoo `set`.

Every recipe process runs in a process group of its own and the group is killed at the end of its test, so
nothing outlives a test. Nothing asserts speed; every wait is bounded. Needs what test_zkfs.py needs, plus
inotify-tools, attr (getfattr) and nginx (`.ci/install`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from servers import REPO_ROOT
from test_zkfs import Mount, eventually
from test_zkfs_events import Lines
from test_zkfs_locks import mounts, overlaps  # noqa: F401  (mounts: two mounts of the module's server)

RECIPES = REPO_ROOT / "mount-helpers" / "recipes"
EXAMPLES = REPO_ROOT / "mount-helpers" / "examples"
# `date +%s%N` in a critical section: wall-clock ns, one clock for every process of this machine.
STAMP = "$(date +%s%N)"


class Procs:
    """Recipe processes, each the leader of a process group of its own (a recipe's COMMAND and its inotifywait
    are children); `close()` kills every group."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, script: str, **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(["bash", "-c", script], start_new_session=True, text=True,
                             env={**os.environ, "PATH": f"{RECIPES}:{os.environ['PATH']}"}, **kw)
        self.started.append(p)
        return p

    @staticmethod
    def kill(p: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        for p in self.started:
            self.kill(p, signal.SIGTERM)
        for p in self.started:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.kill(p)  # the group: children a recipe left behind
            p.wait(timeout=10)


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.close()


def run(script: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PATH": f"{RECIPES}:{os.environ['PATH']}"})


def finish(p: subprocess.Popen, timeout: float = 60) -> str:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"`{p.args[-1]}` exited {p.returncode}: {err[-2000:]}"
    return out


def dirs(mounts, base: str, name: str) -> tuple[Path, Path]:
    """`<base>/<name>` on each of the two mounts."""
    return tuple(m.path / base.lstrip("/") / name for m in mounts)


def children(zk, path: str) -> list[str]:
    return zk.get_children(path) if zk.exists(path) else []


def stamps(log: Path) -> list[tuple[str, str, int]]:
    """(kind, who, ns) lines of a log written by several processes."""
    return [(k, w, int(ns)) for k, w, ns in (line.split() for line in log.read_text().splitlines())]


# -- locks and leader election ----------------------------------------------------------------------------------


def test_lock_has_one_holder_at_a_time_and_is_handed_over_when_the_holder_is_killed(zk, base, mounts, procs,
                                                                                    tmp_path):
    a, b = dirs(mounts, base, "deploy")
    log = tmp_path / "holds.log"
    section = f'echo "enter $W {STAMP}" >> {log}; sleep 0.01; echo "exit $W {STAMP}" >> {log}'
    workers = [procs.start(f"set -e; for i in $(seq 10); do W={who} lock {f} bash -c '{section}'; done")
               for who, f in (("a1", a), ("a2", a), ("b1", b), ("b2", b))]
    for w in workers:
        finish(w)
    holds, bad = overlaps(log)
    assert holds == 40
    assert bad == [], f"{len(bad)} overlapping holds, first: {bad[:3]}"
    assert zk.get(f"{base}/deploy")[0] == b"deploy\n", "created with data: a file on every mount"

    # A holder killed with SIGKILL (the lock script and its COMMAND: the kernel closes their descriptors).
    holder = procs.start(f"lock {a} bash -c 'echo held; exec sleep 60'")
    assert holder.stdout.readline().strip() == "held"
    waiter = procs.start(f"lock {b} bash -c 'echo {STAMP}'")
    eventually(lambda: len(zk.get_children(f"{base}/deploy")) == 2, timeout=10, what="the waiter queued")
    assert run(f"lock -n {b} true").returncode == 1, "held: -n gives up"
    killed = time.time_ns()
    procs.kill(holder)
    granted = int(finish(waiter, timeout=20))
    assert granted > killed
    print(f"lock hand-over after SIGKILL of the holder: {(granted - killed) / 1e6:.1f} ms")
    eventually(lambda: zk.get_children(f"{base}/deploy") == [], timeout=10, what="every contender gone")


def test_racing_lockers_of_a_new_lock_file_on_two_mounts_all_get_the_lock_and_the_file_its_data(zk, base, mounts,
                                                                                                procs, tmp_path):
    """Four first users of a lock file, two per mount: each `lock` creates the file (`printf > f`, O_EXCL) unless
    it is there, and a `flock` can reach a file another process of its mount is still writing. The lock must wait
    for that writer's create (a node created empty would be shown as a directory elsewhere, which `lock` refuses)."""
    for n in range(20):
        a, b = dirs(mounts, base, f"race{n}")
        ws = [procs.start(f"lock {f} true") for f in (a, a, b, b)]
        for w in ws:
            finish(w)
        assert zk.get(f"{base}/race{n}")[0] == f"race{n}\n".encode()


def test_election_has_one_leader_and_elects_another_when_it_is_killed(zk, base, mounts, procs, tmp_path):
    a, b = dirs(mounts, base, "election")
    log = tmp_path / "leaders.log"
    candidates = {}
    for who, f in (("c1", a), ("c2", b), ("c3", a)):
        candidates[who] = procs.start(f"elect {f} bash -c 'echo \"leads {who} {STAMP}\" >> {log}; exec sleep 60'")

    def leaders():
        return stamps(log) if log.exists() else []

    eventually(lambda: len(children(zk, f"{base}/election")) == 3, timeout=20, what="three candidates in line")
    previous_death = 0
    for round_ in range(3):
        eventually(lambda: len(leaders()) == round_ + 1, timeout=20, what=f"leader {round_ + 1} elected")
        time.sleep(0.3)  # room for a wrong second leader to show
        assert len(leaders()) == round_ + 1, f"two leaders at once: {leaders()}"
        _, who, since = leaders()[-1]
        assert since > previous_death, "a new leader starts only after the previous one died"
        holder = run(f"elect -q {a}").stdout.splitlines()
        assert len(holder) == 3 - round_ and "pid " in holder[0], holder
        previous_death = time.time_ns()
        procs.kill(candidates.pop(who))
    assert sorted(w for _, w, _ in leaders()) == ["c1", "c2", "c3"]
    eventually(lambda: zk.get_children(f"{base}/election") == [], timeout=10, what="the last leader's node gone")


# -- service discovery, group membership, system state ----------------------------------------------------------


def test_registrations_live_as_long_as_their_process(zk, base, mounts, procs):
    a, b = dirs(mounts, base, "services/web")
    regs = {name: procs.start(f"register {d} {name} sleep 60")
            for name, d in (("10.0.0.1:80", a), ("10.0.0.2:80", a), ("10.0.0.3:80", b))}
    out = run(f"discover -n 3 -t 20 {b}").stdout.split()
    assert out == sorted(regs)
    for name in regs:
        assert zk.exists(f"{base}/services/web/{name}").ephemeralOwner != 0
    follower = procs.start(f"discover -f {a}")
    lines = Lines(follower.stdout)
    lines.wait_for(lambda ls: len(ls) >= 3, timeout=10, what="the first listing")

    procs.kill(regs.pop("10.0.0.2:80"))  # SIGKILL: the held file is closed by the kernel, the mount lives on
    eventually(lambda: zk.exists(f"{base}/services/web/10.0.0.2:80") is None, timeout=10,
               what="the killed process's registration gone")
    lines.wait_for(lambda ls: "10.0.0.1:80 10.0.0.3:80" in ls, timeout=10, what="the follower's new listing")
    # Taken: a second registration of a live name fails.
    assert run(f"register {b} 10.0.0.1:80 true").returncode == 3
    # COMMAND ending ends the registration.
    assert run(f"register {a} 10.0.0.4:80 true").returncode == 0
    # The kernel does not wait for the release of the last close: the node goes a moment after the script.
    eventually(lambda: zk.exists(f"{base}/services/web/10.0.0.4:80") is None, timeout=10, what="unregistered")
    # A kazoo client's ephemeral is a member like any other.
    zk.create(f"{base}/services/web/10.0.0.9:80", b"", ephemeral=True)
    lines.wait_for(lambda ls: "10.0.0.1:80 10.0.0.3:80 10.0.0.9:80" in ls, timeout=10, what="kazoo's member")
    # The registration vanishes while the process lives (as with an expired session): it is made again.
    zk.delete(f"{base}/services/web/10.0.0.1:80")
    eventually(lambda: zk.exists(f"{base}/services/web/10.0.0.1:80"), timeout=10, what="registered again")
    # SIGTERM to `register` alone reaches COMMAND, and the registration goes with it.
    regs["10.0.0.3:80"].send_signal(signal.SIGTERM)
    assert regs["10.0.0.3:80"].wait(timeout=10) != 0
    eventually(lambda: zk.exists(f"{base}/services/web/10.0.0.3:80") is None, timeout=10, what="unregistered")


def test_registrations_of_a_dead_mount_go_with_its_session(server, zk, base, procs, tmp_path):
    doomed = Mount(server.hosts, tmp_path / "m", tmp_path / "m.log")
    try:
        d = doomed.path / base.lstrip("/") / "members"
        procs.start(f"register {d} held-by-process sleep 60")
        assert run(f"mkdir -p {d} && echo 10.0.0.7:80 > {d}/by-mount@e && discover -n 2 -t 20 {d}").returncode == 0
        doomed.proc.kill()  # the machine's zkfs dies: the server ends its session after the timeout (6 s)
        eventually(lambda: zk.get_children(f"{base}/members") == [], timeout=30, what="the session's nodes gone")
    finally:
        procs.close()
        doomed.close()


def test_system_state_is_published_per_machine_and_listed(zk, base, mounts):
    a, b = dirs(mounts, base, "state")
    assert run(f"state set {a} hostA up && state set {b} hostB busy").returncode == 0
    zk.create(f"{base}/state/hostC", b"idle\n", ephemeral=True)  # a Java/Python service publishes the same way
    assert run(f"state set {a} hostA draining").returncode == 0
    assert run(f"state list {b}").stdout == "hostA draining\nhostB busy\nhostC idle\n"
    data, st = zk.get(f"{base}/state/hostA")
    assert (data, st.version) == (b"draining\n", 1) and st.ephemeralOwner != 0
    # Gone (as with an expired session): the next set publishes a new ephemeral, never a persistent node.
    zk.delete(f"{base}/state/hostA")
    assert run(f"state set {a} hostA up").returncode == 0
    assert zk.exists(f"{base}/state/hostA").ephemeralOwner != 0
    assert run(f"state get {b} hostA").stdout == "up\n"
    assert run(f"state get {b} nobody").returncode == 1


# -- barriers ---------------------------------------------------------------------------------------------------


def test_nobody_passes_a_barrier_before_all_arrived(zk, base, mounts, procs, tmp_path):
    a, b = dirs(mounts, base, "barrier-1")
    log = tmp_path / "barrier.log"
    ps = [procs.start(f"sleep 0.{i * 3}; echo \"arrive p{i} {STAMP}\" >> {log}; barrier -t 30 {d} 4; "
                      f"echo \"pass p{i} {STAMP}\" >> {log}")
          for i, d in enumerate((a, b, a, b))]
    for p in ps:
        finish(p)
    records = stamps(log)
    last_arrival = max(ns for k, _, ns in records if k == "arrive")
    passes = [ns for k, _, ns in records if k == "pass"]
    assert len(passes) == 4 and min(passes) > last_arrival, records
    # Too few: the wait ends with the timeout, and the participant no longer counts.
    assert run(f"barrier -t 1 {a.with_name('barrier-2')} 2").returncode == 1
    assert zk.get_children(f"{base}/barrier-2") == []


def test_double_barrier_brackets_every_participants_work(zk, base, mounts, procs, tmp_path):
    a, b = dirs(mounts, base, "round-1")
    log = tmp_path / "double.log"
    work = f'echo "start $W {STAMP}" >> {log}; sleep 0.$((RANDOM % 5)); echo "end $W {STAMP}" >> {log}'
    ps = [procs.start(f"sleep 0.{i * 2}; echo \"arrive p{i} {STAMP}\" >> {log}; "
                      f"W=p{i} double-barrier -t 30 {d} 3 bash -c '{work}'; echo \"left p{i} {STAMP}\" >> {log}")
          for i, d in enumerate((a, b, a))]
    for p in ps:
        finish(p)
    by_kind: dict[str, list[int]] = {}
    for k, _, ns in stamps(log):
        by_kind.setdefault(k, []).append(ns)
    assert all(len(v) == 3 for v in by_kind.values()), by_kind
    assert min(by_kind["start"]) > max(by_kind["arrive"]), "work started before everyone arrived"
    assert min(by_kind["left"]) > max(by_kind["end"]), "someone left before everyone finished"
    assert zk.get_children(f"{base}/round-1") == [], "the last one out deleted ready"


# -- work queue -------------------------------------------------------------------------------------------------


def test_queue_items_are_each_consumed_exactly_once(zk, base, mounts, procs, tmp_path):
    from kazoo.recipe.queue import Queue

    a, b = dirs(mounts, base, "jobs")
    items = 60
    kq = Queue(zk, f"{base}/jobs")
    # Producers: the shell on both mounts and kazoo's Queue (the same layout), interleaved.
    producers = [procs.start(f"for i in $(seq {k} 3 {items - 1}); do queue-put {d} job-$i > /dev/null; done")
                 for k, d in ((0, a), (1, b))]
    for i in range(2, items, 3):
        kq.put(f"job-{i}".encode())
    for p in producers:
        finish(p)
    assert len(zk.get_children(f"{base}/jobs")) == items
    # Consumers: two per mount (one through a COMMAND), until the queue stays empty for 2 s, and kazoo.
    logs = [tmp_path / f"c{k}.log" for k in range(4)]
    consumers = [
        procs.start(f"while queue-take -w 2 {a} >> {logs[0]}; do echo >> {logs[0]}; done"),
        procs.start(f"while queue-take -w 2 {b} >> {logs[1]}; do echo >> {logs[1]}; done"),
        procs.start(f"while queue-take -w 2 {a} sh -c 'cat; echo' >> {logs[2]}; do :; done"),
        procs.start(f"while queue-take -w 2 {b} >> {logs[3]}; do echo >> {logs[3]}; done"),
    ]
    # kazoo takes an item in one round trip, the shell in several processes: kazoo pauses between items so that
    # the shell consumers get their share.
    taken_by_kazoo = []
    while (item := kq.get()) is not None or any(c.poll() is None for c in consumers):
        if item is not None:
            taken_by_kazoo.append(item.decode())
        time.sleep(0.1)
    for c in consumers:
        c.communicate(timeout=30)
    per_consumer = [log.read_text().split() for log in logs] + [taken_by_kazoo]
    consumed = [x for taken in per_consumer for x in taken]
    assert sorted(consumed) == sorted(f"job-{i}" for i in range(items)), "every item exactly once"
    print("items per consumer (4 shell, kazoo):", [len(t) for t in per_consumer])
    assert zk.get_children(f"{base}/jobs") == [] and zk.get_children(f"{base}/jobs.taken") == []


# -- rendezvous -------------------------------------------------------------------------------------------------


def test_rendezvous_waiters_get_the_published_address(server, zk, base, mounts, procs, tmp_path):
    a, b = dirs(mounts, base, "rv")
    waiters = [procs.start(f"rendezvous wait -t 30 {b}/master") for _ in range(2)]
    time.sleep(0.5)  # the waiters start first
    publisher = procs.start(f"rendezvous publish {a}/master 10.1.1.1:9000 sleep 60")
    for w in waiters:
        assert finish(w) == "10.1.1.1:9000\n"
    assert zk.exists(f"{base}/rv/master").ephemeralOwner != 0
    publisher.send_signal(signal.SIGTERM)  # the script only: it passes the signal on to its COMMAND
    assert publisher.wait(timeout=10) != 0
    eventually(lambda: zk.exists(f"{base}/rv/master") is None, timeout=10, what="unpublished when it exits")

    # Another client creates the node empty and fills it later: the waiter waits for the data. Without inotify
    # (-o noinotify) the waiter falls back to polling.
    quiet = Mount(server.hosts, tmp_path / "q", tmp_path / "q.log", options="noinotify")
    try:
        waiter = procs.start(f"rendezvous wait -t 30 {quiet.path / base.lstrip('/')}/rv/worker")
        zk.create(f"{base}/rv/worker", b"")
        time.sleep(0.5)
        zk.set(f"{base}/rv/worker", b"10.2.2.2:7000")
        assert finish(waiter) == "10.2.2.2:7000\n"
        assert run(f"rendezvous wait -t 1 {b}/nobody").returncode == 1
    finally:
        procs.close()
        quiet.close()


# -- configuration: Debian's nginx reloaded when a ZooKeeper client changes its config ---------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def workers(master: subprocess.Popen) -> list[str]:
    try:
        return Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    except FileNotFoundError:
        return []


def serves(port: int, master: subprocess.Popen, body: str) -> bool:
    """nginx serves `body`, and only it: after a reload the old worker goes on serving the old configuration
    until the master tells it to quit (100 ms later in nginx 1.22)."""
    return fetch(port) == body and len(workers(master)) == 1 and fetch(port) == body


def nginx_conf(port: int, run_dir: Path, body: str) -> bytes:
    return f"""worker_processes 1;
error_log {run_dir}/error.log;
pid {run_dir}/nginx.pid;
events {{ worker_connections 16; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "{body}\\n"; }}
    }}
}}
""".encode()


def test_nginx_serves_the_new_config_after_a_kazoo_set(zk, base, mounts, procs, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        pytest.fail("nginx is not installed (`bash .ci/install` installs nginx-light)", pytrace=False)
    port, run_dir = free_port(), tmp_path / "nginx"
    run_dir.mkdir()
    zk.create(f"{base}/app/nginx.conf", nginx_conf(port, run_dir, "version 1"), makepath=True)
    conf = mounts[1].path / base.lstrip("/") / "app" / "nginx.conf"
    # The unmodified daemon, its configuration read from the mount; in the foreground under the test's control.
    master = procs.start(f"exec {nginx} -c {conf} -g 'daemon off;'", stdout=subprocess.DEVNULL)
    eventually(lambda: serves(port, master, "version 1\n"), timeout=20, what="nginx serving version 1")
    # The reload trigger: config-watch (inotifywait -m on the mount) runs `nginx -t` and then `nginx -s reload`.
    watcher = procs.start(f"config-watch {conf} sh -c '{nginx} -t -q -c \"$ZK_CONFIG_FILE\" && "
                          f"{nginx} -s reload -c \"$ZK_CONFIG_FILE\" && echo reloaded'",
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = Lines(watcher.stdout)
    time.sleep(0.5)  # config-watch's watch is set up
    zk.set(f"{base}/app/nginx.conf", nginx_conf(port, run_dir, "version 2"))
    eventually(lambda: serves(port, master, "version 2\n"), timeout=20, what="nginx serving version 2")
    # A broken configuration written by a client fails `nginx -t`: no reload, the last good one keeps serving.
    zk.set(f"{base}/app/nginx.conf", b"events {\n")
    out.wait_for(lambda ls: any("failed" in x for x in ls), timeout=20, what="the failed check reported")
    assert fetch(port) == "version 2\n"
    zk.set(f"{base}/app/nginx.conf", nginx_conf(port, run_dir, "version 3"))
    eventually(lambda: serves(port, master, "version 3\n"), timeout=20, what="nginx serving version 3")
    assert sum(1 for x in out.lines if x == "reloaded") == 2, out.lines


def test_the_systemd_units_of_the_nginx_example_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = [EXAMPLES / "zk-nginx-reload.path", EXAMPLES / "zk-nginx-reload.service"]
    for u in units:
        shutil.copy(u, tmp_path)
    # verify exits 0 even for unknown keys; anything it prints is a finding.
    r = subprocess.run([analyze, "verify", *(str(tmp_path / u.name) for u in units)], capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")
