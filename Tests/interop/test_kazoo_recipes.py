"""kazoo's recipes, which real applications use: they combine sequential ephemerals, versioned writes
and watches, so they exercise the server the way production clients do."""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.exceptions import LockTimeout
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock, Semaphore
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.recipe.watchers import ChildrenWatch, DataWatch


def test_lock_is_exclusive_and_handed_over(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    lock_a = Lock(a, f"{base}/lock", "a")
    lock_b = Lock(b, f"{base}/lock", "b")
    assert lock_a.acquire(timeout=5)
    with pytest.raises(LockTimeout):
        lock_b.acquire(timeout=0.5)
    assert lock_b.contenders() == ["a"]
    got = threading.Event()

    def wait_for_lock():
        if lock_b.acquire(timeout=10):
            got.set()

    t = threading.Thread(target=wait_for_lock, daemon=True)
    t.start()
    time.sleep(0.3)
    assert not got.is_set()
    lock_a.release()
    assert got.wait(10), "the waiting contender was not woken when the lock was released"
    lock_b.release()
    t.join(5)


def test_lock_released_when_holder_session_closes(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    assert Lock(a, f"{base}/lock").acquire(timeout=5)
    waiter = Lock(b, f"{base}/lock")
    result = []
    t = threading.Thread(target=lambda: result.append(waiter.acquire(timeout=10)), daemon=True)
    t.start()
    time.sleep(0.3)
    a.stop()
    t.join(12)
    assert result == [True]
    waiter.release()


def test_counter_under_concurrent_increments(kazoo_factory, base):
    clients = [kazoo_factory() for _ in range(3)]
    per_client = 20

    def bump(c):
        counter = Counter(c, f"{base}/counter")
        for _ in range(per_client):
            counter += 1

    threads = [threading.Thread(target=bump, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert Counter(clients[0], f"{base}/counter").value == 3 * per_client


def test_election_picks_one_leader_and_fails_over(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    leaders: list[str] = []
    lead_a = threading.Event()
    lead_b = threading.Event()

    def run_a():
        leaders.append("a")
        lead_a.set()
        while a.connected:
            time.sleep(0.05)

    def run_b():
        leaders.append("b")
        lead_b.set()

    def quietly(election, func):
        # The stopped client's election thread ends with a connection error; that is expected.
        try:
            election.run(func)
        except Exception:  # noqa: BLE001
            pass

    ea = Election(a, f"{base}/election", "a")
    eb = Election(b, f"{base}/election", "b")
    threading.Thread(target=quietly, args=(ea, run_a), daemon=True).start()
    assert lead_a.wait(5)
    threading.Thread(target=quietly, args=(eb, run_b), daemon=True).start()
    time.sleep(0.5)
    assert leaders == ["a"]
    assert sorted(eb.contenders()) == ["a", "b"]
    a.stop()
    assert lead_b.wait(10), "b did not take over after a's session closed"
    assert leaders == ["a", "b"]


def test_semaphore_limits_holders(kazoo_factory, base):
    clients = [kazoo_factory() for _ in range(3)]
    sems = [Semaphore(c, f"{base}/sem", identifier=str(i), max_leases=2) for i, c in enumerate(clients)]
    assert sems[0].acquire(timeout=5)
    assert sems[1].acquire(timeout=5)
    with pytest.raises(LockTimeout):
        sems[2].acquire(timeout=0.5)
    assert sorted(sems[2].lease_holders()) == ["0", "1"]
    sems[0].release()
    assert sems[2].acquire(timeout=5)
    sems[1].release()
    sems[2].release()


def test_queues_keep_order(kazoo_factory, base):
    producer, consumer = kazoo_factory(), kazoo_factory()
    q = Queue(producer, f"{base}/queue")
    for i in range(10):
        q.put(f"item-{i}".encode())
    cq = Queue(consumer, f"{base}/queue")
    assert len(cq) == 10
    assert [cq.get() for _ in range(10)] == [f"item-{i}".encode() for i in range(10)]
    assert cq.get() is None

    lq = LockingQueue(producer, f"{base}/lqueue")
    lq.put(b"low", priority=100)
    lq.put(b"high", priority=1)
    clq = LockingQueue(consumer, f"{base}/lqueue")
    assert clq.get(timeout=5) == b"high"
    assert clq.consume()
    assert clq.get(timeout=5) == b"low"
    assert clq.consume()


def test_data_and_children_watch_recipes(zk, kazoo_factory, base):
    other = kazoo_factory()
    path = zk.create(f"{base}/watched", b"v0")
    seen_data: list[bytes] = []
    seen_children: list[list[str]] = []
    data_changed = threading.Condition()

    def on_data(data, stat):
        with data_changed:
            seen_data.append(data)
            data_changed.notify_all()

    def on_children(children):
        with data_changed:
            seen_children.append(sorted(children))
            data_changed.notify_all()

    DataWatch(zk, path, on_data)
    ChildrenWatch(zk, path, on_children)

    def wait_for(pred):
        with data_changed:
            assert data_changed.wait_for(pred, timeout=5)

    wait_for(lambda: seen_data == [b"v0"] and seen_children == [[]])
    for i in range(1, 4):
        other.set(path, f"v{i}".encode())
        wait_for(lambda i=i: seen_data[-1] == f"v{i}".encode())
    other.create(f"{path}/c1")
    wait_for(lambda: seen_children[-1] == ["c1"])
    other.create(f"{path}/c2")
    wait_for(lambda: seen_children[-1] == ["c1", "c2"])
    other.delete(f"{path}/c1")
    wait_for(lambda: seen_children[-1] == ["c2"])
    other.delete(f"{path}/c2")
    other.delete(path)
    wait_for(lambda: seen_data[-1] is None)
