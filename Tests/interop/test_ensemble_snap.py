"""SNAP sync of a wiped follower, streamed in chunks: three Warren servers whose leader sends snapshots in 64 KiB
chunks (`warren.snapshotChunkBytes`), a tree of a few MB, and a follower whose dataDir is wiped after kill -9.

More txns than the leader keeps for DIFF (500) make the leader send the rejoining follower a snapshot; the mntr
counters `warren_snapshot_chunks_sent`/`_received` show it went as many chunks. A follower killed while chunks
arrive keeps nothing of the stream and syncs from scratch on restart. Warren only.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from kazoo.exceptions import KazooException

from rawzk import four_letter
from test_ensemble import Ensemble, mntr
from test_ensemble_netns import tree_of, wait_same_hash

pytestmark = pytest.mark.only_targets("warren")

CHUNK_BYTES = 64 << 10
NODES = 3000
VALUE_BYTES = 2048


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory, target):
    yield from Ensemble(tmp_path_factory.mktemp("snap"), extra=f"warren.snapshotChunkBytes={CHUNK_BYTES}\n").run_all()


def value(n: int) -> bytes:
    """Incompressible enough and different per node, so a misplaced chunk cannot go unnoticed."""
    return os.urandom(16) + n.to_bytes(4, "big") * ((VALUE_BYTES - 16) // 4)


def wipe(e: Ensemble, i: int) -> None:
    """Everything of server i's state but its myid, as after a disk replacement."""
    data = e.base / f"s{i}" / "data"
    for entry in data.iterdir():
        if entry.name != "myid":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def counter(e: Ensemble, i: int, name: str) -> int:
    return int(mntr(e, i).get(name, "0"))


def rejoin_wiped(e: Ensemble, follower: int) -> None:
    e.kill(follower)
    wipe(e, follower)
    e.start(follower)
    e.wait_serving(e.ids, timeout_s=30)


def tree_through(e: Ensemble, server: int, path: str) -> dict:
    """The subtree at `path` as `server` alone serves it, after a sync (so every acknowledged write is in it)."""
    only = e.client([server])
    try:
        only.sync(path)
        return tree_of(only, path)
    finally:
        only.stop()
        only.close()


def hashes(e: Ensemble) -> dict:
    out = {}
    for i in e.ids:
        try:
            out[i] = four_letter("127.0.0.1", e.client_ports[i], "hash")
        except OSError:
            out[i] = None
    return out


def test_wiped_follower_rejoins_by_a_chunked_snapshot(ensemble):
    zk = ensemble.client()
    expected = {}
    try:
        zk.ensure_path("/big")
        pending = []
        for n in range(NODES):
            expected[f"/big/n{n}"] = value(n)
            pending.append(zk.create_async(f"/big/n{n}", expected[f"/big/n{n}"]))
        for p in pending:
            p.get(timeout=30)
    finally:
        zk.stop()
        zk.close()
    leader = ensemble.leader()
    follower = next(i for i in ensemble.ids if i != leader)
    sent_before = counter(ensemble, leader, "warren_snapshot_chunks_sent")

    rejoin_wiped(ensemble, follower)

    state_bytes = NODES * VALUE_BYTES
    assert counter(ensemble, leader, "warren_snapshot_chunks_sent") - sent_before >= state_bytes // CHUNK_BYTES
    assert counter(ensemble, follower, "warren_snapshot_chunks_received") >= state_bytes // CHUNK_BYTES
    assert counter(ensemble, follower, "warren_snapshot_bytes_received") >= state_bytes
    tree = tree_through(ensemble, follower, "/big")
    del tree["/big"]
    assert tree == expected
    wait_same_hash(lambda: hashes(ensemble))


def test_wiped_follower_rejoins_while_the_others_take_writes(ensemble):
    leader = ensemble.leader()
    follower = next(i for i in ensemble.ids if i != leader)
    others = [i for i in ensemble.ids if i != follower]
    zk = ensemble.client(others)
    written: dict[str, bytes] = {}
    stop = threading.Event()
    errors: list[Exception] = []

    def write_loop():
        n = 0
        while not stop.is_set():
            path, data = f"/load/w{n}", value(n)[:256]
            try:
                zk.create(path, data, makepath=True)
                written[path] = data
            except KazooException as e:  # a write in doubt is simply not expected afterwards
                errors.append(e)
            n += 1

    writer = threading.Thread(target=write_loop)
    writer.start()
    try:
        time.sleep(0.5)
        sent_before = counter(ensemble, leader, "warren_snapshot_chunks_sent")
        rejoin_wiped(ensemble, follower)
        time.sleep(0.5)  # writes keep landing while the follower is back
    finally:
        stop.set()
        writer.join(timeout=10)
        zk.stop()
        zk.close()
    assert len(written) > 100, errors
    assert counter(ensemble, leader, "warren_snapshot_chunks_sent") - sent_before >= NODES * VALUE_BYTES // CHUNK_BYTES
    assert ensemble.mode(follower) == "follower"
    tree = tree_through(ensemble, follower, "/load")
    for path, data in written.items():
        assert tree.get(path) == data, path
    wait_same_hash(lambda: hashes(ensemble))


def test_follower_killed_mid_transfer_keeps_nothing_and_rejoins_on_restart(ensemble):
    """kill -9 while chunks are arriving: no snapshot file is left behind, and the next start syncs from scratch."""
    leader = ensemble.leader()
    follower = next(i for i in ensemble.ids if i != leader)
    data = ensemble.base / f"s{follower}" / "data"
    chunks_total = NODES * VALUE_BYTES // CHUNK_BYTES
    caught = None
    for _ in range(5):  # the window is a fraction of a second: try until a kill lands inside it
        ensemble.kill(follower)
        wipe(ensemble, follower)
        ensemble.start(follower)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                got = int(dict(line.split("\t", 1) for line in four_letter(
                    "127.0.0.1", ensemble.client_ports[follower], "mntr").splitlines() if "\t" in line)
                    .get("warren_snapshot_chunks_received", "0"))
            except OSError:
                continue
            if got > 0 or ensemble.mode(follower) == "follower":
                break
        if 0 < got < chunks_total:
            ensemble.kill(follower)
            caught = got
            break
    assert caught is not None, "no kill landed inside a transfer in five tries"
    # A fresh server may write an empty snapshot.0 of its own; nothing of the leader's tree may be there (a Warren
    # follower writes the leader's snapshot to a temp file while it arrives; that is not a snapshot).
    installed = [p for p in data.rglob("snapshot.*") if p.name != "snapshot.0" and not p.name.endswith(".tmp")]
    assert not installed, sorted(str(p) for p in data.rglob("*"))
    ensemble.start(follower)
    ensemble.wait_serving(ensemble.ids, timeout_s=30)
    leftovers = [p for p in data.rglob("*.sync.tmp")]
    assert not leftovers, f"the interrupted transfer's temp file outlived the restart: {leftovers}"
    only = ensemble.client([follower])
    try:
        only.sync("/big")
        assert len(only.get_children("/big")) == NODES
    finally:
        only.stop()
        only.close()
    wait_same_hash(lambda: hashes(ensemble))
