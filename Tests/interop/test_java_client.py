"""The official Java client (Debian's zookeeper.jar) and Apache Curator's persistent-watch recipes against each
server, with the same expectations.

`java/WireHarness.java` calls every operation the Java API exposes, in success and in each error case, every watch
kind and event type, multi and multiRead with mixed results, a reconnect that re-registers watches (setWatches and
setWatches2) and a chroot; it prints one normalized line per result and event. Its output must equal
`java/expected/wire.txt` line for line, on Apache ZooKeeper and on Warren (standalone and a follower of a Warren
ensemble), so the two servers are compared through the client's own decoding of every reply.

`java/CuratorWatchCheck.java` starts Curator's CuratorCache, its TreeCache bridge, TreeCache and PersistentWatcher
20 times each and has a second client change the tree right after each start: every change must reach the recipe
within 5 s and the Curator client must never be disconnected.

Both programs are compiled here with javac against the jars of Debian's zookeeper and libcurator-*-java packages.
To regenerate the expectations after a deliberate change of the script, run it against Apache ZooKeeper:
`WIRE_EXPECT_WRITE=1 INTEROP_TARGETS=zookeeper python3 -m pytest -q Tests/interop/test_java_client.py -k wire`.
"""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

import pytest

from javac import compile_java
from test_ensemble import Ensemble

JAVA_DIR = Path(__file__).resolve().parent / "java"
EXPECTED_WIRE = JAVA_DIR / "expected" / "wire.txt"
# The manifests of these jars name the rest of the client's dependencies (zookeeper, jute, guava, slf4j-api).
CLASSPATH = [Path("/usr/share/java/curator-recipes.jar"), Path("/usr/share/java/zookeeper.jar")]
LOG_BINDING = Path("/usr/share/java/slf4j-nop.jar")
JAVA_RUN_TIMEOUT_S = 100
CURATOR_REPEATS = 20
RECIPES = ["cache", "bridge", "tree", "persistent"]


@pytest.fixture(scope="session")
def java_classes(tmp_path_factory) -> Path:
    """The two programs, compiled once per run."""
    return compile_java(list(JAVA_DIR.glob("*.java")), CLASSPATH, tmp_path_factory.mktemp("java-classes"))


def run_java(classes: Path, main: str, *args: str) -> subprocess.CompletedProcess:
    cp = ":".join(map(str, [classes, *CLASSPATH, LOG_BINDING]))
    return subprocess.run(
        ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m", "-cp", cp, main, *args],
        capture_output=True, text=True, timeout=JAVA_RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)


def check_wire_script(classes: Path, hosts: str, label: str) -> None:
    p = run_java(classes, "WireHarness", hosts, "relay")
    got = p.stdout.splitlines()
    if os.environ.get("WIRE_EXPECT_WRITE") == "1" and label == "zookeeper":
        EXPECTED_WIRE.write_text(p.stdout)
    want = EXPECTED_WIRE.read_text().splitlines()
    diff = "\n".join(difflib.unified_diff(want, got, "expected/wire.txt", label, lineterm="", n=2))
    assert p.returncode == 0 and not diff, (
        f"Java client script on {label} (exit {p.returncode}) differs from the expectations:\n{diff}\n"
        f"--- stderr tail ---\n{p.stderr[-3000:]}")


def check_curator(classes: Path, hosts: str, recipe: str) -> None:
    p = run_java(classes, "CuratorWatchCheck", hosts, recipe, str(CURATOR_REPEATS))
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and lines[-1:] == [f"RESULT misses=0 disconnects=0 repeats={CURATOR_REPEATS}"], (
        f"Curator {recipe} (exit {p.returncode}):\n{p.stdout[-3000:]}\n--- stderr tail ---\n{p.stderr[-3000:]}")
    assert sum(1 for line in lines if line.endswith(" ok")) == CURATOR_REPEATS


def test_java_client_wire_script_matches_expectations(server, target, java_classes):
    check_wire_script(java_classes, server.hosts, target)


@pytest.mark.parametrize("recipe", RECIPES)
def test_curator_recipe_sees_every_change_without_disconnecting(server, java_classes, recipe):
    check_curator(java_classes, server.hosts, recipe)


@pytest.fixture(scope="module")
def warren_ensemble(tmp_path_factory, target):
    # TTL nodes, as on the standalone servers of this suite (servers.py).
    yield from Ensemble(tmp_path_factory.mktemp("java-ensemble"), extra="extendedTypesEnabled=true\n").run_all()


@pytest.mark.only_targets("warren")
@pytest.mark.parametrize("role", ["leader", "follower"])
def test_java_client_wire_script_on_an_ensemble_member(warren_ensemble, java_classes, role):
    """On the leader every write, failed ones included, is a Zab proposal; on a follower writes are forwarded and
    a sync is ZooKeeper's SYNC through the leader (no txn): the replies must not change either way."""
    modes = warren_ensemble.wait_serving(warren_ensemble.ids)
    member = next(i for i, m in modes.items() if m == role)
    check_wire_script(java_classes, warren_ensemble.hosts([member]), f"warren {role} {member}")


@pytest.mark.only_targets("warren")
@pytest.mark.parametrize("recipe", ["cache", "persistent"])
def test_curator_recipe_on_an_ensemble(warren_ensemble, java_classes, recipe):
    check_curator(java_classes, warren_ensemble.hosts(), recipe)
