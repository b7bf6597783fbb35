"""A read-only kazoo client run inside the isolated server's network namespace by test_readonly.py.

    python3 ro_client.py ISOLATED_HOST:PORT ALL_HOSTS

Prints one JSON line per phase on stdout:
1. once the isolated server answers `isro` with `ro`: whether a client that does not allow read-only sessions was
   refused, and what a read_only=True client (given every server) saw: its state, the data written before the
   partition, and the errors of each write it tried;
2. after a line `heal` on stdin: whether the client reached a read-write server (state CONNECTED) and wrote there
   within 60 s, the kazoo states it went through, and what it reads of the data the majority wrote meanwhile.
"""

from __future__ import annotations

import json
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NotReadOnlyCallError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KeeperState

from rawzk import four_letter


def attempt(fn) -> str:
    try:
        fn()
        return "ok"
    except KazooException as e:
        return type(e).__name__


def main() -> None:
    isolated, hosts = sys.argv[1], sys.argv[2]
    host, port = isolated.rsplit(":", 1)
    deadline = time.monotonic() + 30
    isro = None
    while time.monotonic() < deadline and isro != "ro":
        try:
            isro = four_letter(host, int(port), "isro", timeout=2.0)
        except OSError as e:
            isro = repr(e)
        time.sleep(0.1)
    out: dict = {"isro": isro, "srvr": four_letter(host, int(port), "srvr", timeout=2.0)}

    plain = KazooClient(hosts=isolated, timeout=4.0, connection_retry={"max_tries": 2})
    try:
        plain.start(timeout=4)
        out["plain"] = "connected"
    except KazooTimeoutError:
        out["plain"] = "refused"
    plain.stop()
    plain.close()

    states: list[str] = []
    ro = KazooClient(hosts=hosts, timeout=10.0, read_only=True)
    ro.add_listener(lambda s: states.append(str(s)))
    ro.start(timeout=30)
    out["client_state"] = str(ro.client_state)
    out["data"] = ro.get("/ro/data")[0].decode()
    out["create"] = attempt(lambda: ro.create("/ro/new", b"x"))
    out["set"] = attempt(lambda: ro.set("/ro/data", b"changed"))
    out["delete"] = attempt(lambda: ro.delete("/ro/data"))
    out["sync"] = attempt(lambda: ro.sync("/ro"))
    out["new_exists"] = ro.exists("/ro/new") is not None
    print(json.dumps(out), flush=True)

    if sys.stdin.readline().strip() != "heal":
        return
    out = {"moved": False}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ro.client_state == KeeperState.CONNECTED:
            try:
                ro.create("/ro/after", b"healed")
                out["moved"] = True
                break
            except (NotReadOnlyCallError, KazooException):
                pass
        time.sleep(0.1)
    out["states"] = states
    if out["moved"]:
        out["during"] = ro.get("/ro/during")[0].decode()
    print(json.dumps(out), flush=True)
    ro.stop()
    ro.close()


if __name__ == "__main__":
    main()
