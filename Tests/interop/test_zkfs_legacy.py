"""The issue's "legacy program" over a real zkfs mount: a script that only knows files reads its config at start
and reloads it when another ZooKeeper client (kazoo) changes the znode. Runs against both servers."""

from __future__ import annotations

import queue
import subprocess
import threading
import time

from test_zkfs import mount, tree  # noqa: F401  (fixtures: a real mount of the module's server, the test's dir)
from servers import REPO_ROOT

LEGACY = REPO_ROOT / "mount-helpers" / "examples" / "legacy-config-reader"


def read_lines(proc: subprocess.Popen, out: "queue.Queue[str]") -> None:
    for line in proc.stdout:
        out.put(line.rstrip("\n"))


def next_line(out: "queue.Queue[str]", timeout: float = 10.0) -> str:
    return out.get(timeout=timeout)


def test_legacy_program_reloads_when_another_client_changes_its_config(zk, base, tree):  # noqa: F811
    zk.create(f"{base}/config.ini", b"threads=4\n")
    proc = subprocess.Popen([str(LEGACY), str(tree / "config.ini"), "0.1"], stdout=subprocess.PIPE, text=True)
    out: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=read_lines, args=(proc, out), daemon=True).start()
    try:
        assert next_line(out) == "loaded: threads=4"
        time.sleep(0.3)  # a change within the same clock tick as the first read must still be seen: mtime is in ms
        zk.set(f"{base}/config.ini", b"threads=8\n")
        assert next_line(out) == "reloaded: threads=8"
        zk.set(f"{base}/config.ini", b"threads=16\nlog=debug\n")
        assert next_line(out) == "reloaded: threads=16"
    finally:
        proc.kill()
        proc.wait(timeout=5)
