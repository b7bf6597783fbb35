"""The benchmark's real-client load generators against each target, briefly (behaviour only, no timing): the C
client's asynchronous API (`Tests/bench/cload.c`, built here with gcc against libzookeeper_mt) and kazoo's
(`Tests/bench/kload.py`, several worker processes). Each runs a write load that keeps its tree, which kazoo then
reads back: every key is there with a value the run wrote or created, and the keys' versions add up to the
generator's count of acknowledged setData (nothing lost, nothing applied twice). Then a mixed load with cleanup,
which must leave no tree behind. Throughput is measured by `Tests/bench/clients.py`, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
KEYS = 40
VALUE_BYTES = 1024
# Short but with real concurrency: 4 sessions × 8 in flight.
LOAD = ["--connections", "4", "--outstanding", "8", "--keys", str(KEYS), "--value-bytes", str(VALUE_BYTES),
        "--warmup", "0.3", "--duration", "1"]
RUN_TIMEOUT_S = 90
# Values the generators write: setup fills a key with one byte, the workload's setData with another.
SETUP_BYTE = {"cload": b"c", "kload": b"k"}
WRITE_BYTE = b"w"


@pytest.fixture(scope="module")
def cload(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cload") / "cload"
    build = subprocess.run(["gcc", "-O2", "-DTHREADED", "-Wall", "-o", str(out), str(BENCH / "cload.c"),
                            "-lzookeeper_mt", "-lpthread"], capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, f"cload.c did not build (is libzookeeper-mt-dev installed?):\n{build.stderr}"
    return out


def generate(tool: str, cload_bin: Path, hosts: str, *args: str) -> dict:
    cmd = ([str(cload_bin)] if tool == "cload" else [sys.executable, str(BENCH / "kload.py"), "--processes", "2"])
    p = subprocess.run([*cmd, "--hosts", hosts, *LOAD, *args], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"{tool} exited with {p.returncode}:\n{p.stderr[-2000:]}"
    r = json.loads(p.stdout)
    assert r["ops"] > 0 and r["opsPerSecond"] > 0, r
    assert r["errorsTotal"] == 0 and r["errors"] == {}, r["errors"]
    assert r["connectionErrors"] == 0 and r["undrained"] == 0, r
    assert r["latencyMicros"]["p50"] <= r["latencyMicros"]["p99"] <= r["latencyMicros"]["max"], r["latencyMicros"]
    return r


@pytest.mark.parametrize("tool", ["cload", "kload"])
def test_load_generator_writes_arrive_and_cleanup_removes_them(tool, cload, server, zk):
    root = f"/{tool}-{uuid.uuid4().hex[:8]}"
    r = generate(tool, cload, server.hosts, "--workload", "write", "--root", root, "--no-cleanup")
    assert r["setsTotal"] >= r["ops"] > 0

    versions = 0
    for i in range(KEYS):
        data, stat = zk.get(f"{root}/keys/k{i}")
        expected = (WRITE_BYTE if stat.version > 0 else SETUP_BYTE[tool]) * VALUE_BYTES
        assert data == expected, f"k{i} (version {stat.version}) holds {data[:16]!r}..."
        versions += stat.version
    assert sorted(zk.get_children(f"{root}/keys")) == sorted(f"k{i}" for i in range(KEYS))
    assert versions == r["setsTotal"], "the keys' versions do not add up to the acknowledged setData"

    # The same tree again: setup keeps existing keys, the mixed run reads and writes them, cleanup removes all.
    r = generate(tool, cload, server.hosts, "--workload", "mixed", "--read-percent", "50", "--root", root)
    assert r["setsTotal"] > 0, r
    assert zk.exists(root) is None, f"{tool} left {root} behind"
