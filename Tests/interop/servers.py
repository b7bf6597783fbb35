"""Starting and stopping the servers under test: Apache ZooKeeper (Debian's package) and Warren.

Both get the same zoo.cfg (ZooKeeper's format). ZooKeeper additionally gets the system properties it
reads only from the JVM command line. Everything listens on 127.0.0.1 on a free port; every file lives
in a per-server temporary directory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

from rawzk import four_letter

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGETS_ALL = ("zookeeper", "warren")

ZK_JAR = Path("/usr/share/java/zookeeper.jar")
# zookeeper.jar's manifest lists its dependencies; slf4j-simple gives the server a log we can read; the servlet API
# (Debian's libservlet-api-java, pulled in with Jetty) is the one jar its AdminServer needs that the manifest omits.
# Its Netty TLS (secureClientPort) needs netty-codec and netty-resolver, which the manifest omits too.
ZK_CLASSPATH = [ZK_JAR, Path("/usr/share/java/slf4j-simple.jar"), Path("/usr/share/java/servlet-api.jar"),
                Path("/usr/share/java/netty-codec.jar"), Path("/usr/share/java/netty-resolver.jar")]
ZK_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
ZKCLI = Path("/usr/share/zookeeper/bin/zkCli.sh")
CLI_MT = Path("/usr/lib/zookeeper/bin/cli_mt")

SUPER_USER = "super"
SUPER_PASSWORD = "interop-super-secret"

SESSION_TIMEOUT_MIN_MS = 1000
SESSION_TIMEOUT_MAX_MS = 20000
TICK_MS = 200
JUTE_MAXBUFFER_BYTES = 1048575
CONTAINER_CHECK_INTERVAL_MS = 1000


def digest(user: str, password: str) -> str:
    """ZooKeeper's digest scheme id: user:base64(sha1(user:password))."""
    h = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(h).decode()}"


def warren_binary() -> Path:
    return Path(os.environ.get("WARREN_BIN", REPO_ROOT / ".build" / "debug" / "warren"))


# Listening ports come from below the kernel's ephemeral range (32768-60999 by default): a port the kernel hands out
# for bind(0) is also what it hands out as the source port of outgoing connections (every kazoo client, every
# quorum dial), so a server started a moment later could find it taken ("Address already in use").
_PORT_LOW, _PORT_HIGH = 20000, 32000
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on now, outside the ephemeral range, not handed out before by this process."""
    for _ in range(1000):
        port = random.randrange(_PORT_LOW, _PORT_HIGH)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORT_LOW}-{_PORT_HIGH}")


class ServerStartError(Exception):
    """The server did not come up (binary missing, exited early, or never answered ruok)."""


class ServerProcess:
    """One server process of `kind` ("zookeeper" or "warren") with its own zoo.cfg and data dirs.

    `overrides` replace or add zoo.cfg keys; a value of None removes a key. `env` adds to (or replaces in) the
    environment the process starts with; `launcher` is a command prefix that execs the server (e.g. `env`).
    """

    def __init__(self, kind: str, base_dir: Path, overrides: dict | None = None, env: dict | None = None,
                 launcher: list[str] | None = None):
        if kind not in TARGETS_ALL:
            raise ValueError(f"unknown server kind {kind!r}")
        self.kind = kind
        self.base_dir = Path(base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.data_dir = self.base_dir / "data"
        self.data_log_dir = self.base_dir / "datalog"
        self.cfg_path = self.base_dir / "zoo.cfg"
        self.log_path = self.base_dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.env = dict(env or {})
        self.launcher = list(launcher or [])
        self.cfg = {
            "tickTime": TICK_MS,
            "dataDir": self.data_dir,
            "dataLogDir": self.data_log_dir,
            "clientPort": self.port,
            "clientPortAddress": "127.0.0.1",
            "maxClientCnxns": 60,
            "minSessionTimeout": SESSION_TIMEOUT_MIN_MS,
            "maxSessionTimeout": SESSION_TIMEOUT_MAX_MS,
            "snapCount": 10000,
            "autopurge.snapRetainCount": 3,
            "autopurge.purgeInterval": 0,
            "jute.maxbuffer": JUTE_MAXBUFFER_BYTES,
            "4lw.commands.whitelist": "*",
            # ZooKeeper turns unknown zoo.cfg keys into "zookeeper.<key>" system properties, so these two
            # work for it from zoo.cfg alone; Warren reads them from zoo.cfg by the same names.
            "extendedTypesEnabled": "true",
            "DigestAuthenticationProvider.superDigest": digest(SUPER_USER, SUPER_PASSWORD),
            # ZooKeeper reads this one only as a JVM property (passed below); Warren reads it from zoo.cfg.
            "znode.container.checkIntervalMs": CONTAINER_CHECK_INTERVAL_MS,
            # Off for both (Warren's default, not ZooKeeper's): every server would otherwise want port 8080.
            # Tests of the AdminServer turn it on with a port of their own (test_admin_metrics.py).
            "admin.enableServer": "false",
        }
        for k, v in (overrides or {}).items():
            if v is None:
                self.cfg.pop(k, None)
            else:
                self.cfg[k] = v

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_log_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{k}={v}" for k, v in self.cfg.items()]
        self.cfg_path.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return [*self.launcher, *self.server_command()]

    def server_command(self) -> list[str]:
        if self.kind == "zookeeper":
            props = {
                "zookeeper.extendedTypesEnabled": "true",
                "znode.container.checkIntervalMs": self.cfg.get("znode.container.checkIntervalMs", 1000),
                "jute.maxbuffer": self.cfg.get("jute.maxbuffer", JUTE_MAXBUFFER_BYTES),
                "zookeeper.admin.enableServer": self.cfg.get("admin.enableServer", "false"),
                "org.slf4j.simpleLogger.defaultLogLevel": "info",
                "org.slf4j.simpleLogger.showDateTime": "true",
            }
            return [
                "java", "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                *[f"-D{k}={v}" for k, v in props.items()],
                "-cp", ":".join(str(p) for p in ZK_CLASSPATH),
                ZK_MAIN, str(self.cfg_path),
            ]
        return [str(warren_binary()), "server", "--config", str(self.cfg_path)]

    def check_installed(self) -> None:
        if self.kind == "zookeeper":
            if not ZK_JAR.exists():
                raise ServerStartError(f"Apache ZooKeeper not installed: {ZK_JAR} missing (run .ci/install)")
        else:
            b = warren_binary()
            if not (b.is_file() and os.access(b, os.X_OK)):
                raise ServerStartError(
                    f"Warren binary not found or not executable at {b}: build it with `swift build` "
                    f"or point WARREN_BIN at it (or run only ZooKeeper with INTEROP_TARGETS=zookeeper)"
                )

    def start(self, timeout: float = 40.0, ready=None) -> "ServerProcess":
        """Starts the process and returns once it answers `ruok` with `imok` (or, given `ready`, once that returns
        true: for a server without a plaintext client port)."""
        self.check_installed()
        self.write_config()
        log = open(self.log_path, "ab")
        log.write(f"\n===== start {' '.join(self.command())}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.base_dir, start_new_session=True, env={**os.environ, **self.env},
        )
        log.close()
        # ZooKeeper answers ruok as soon as it listens, before it serves sessions; srvr says
        # "Mode: ..." only once it serves. Both must hold.
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServerStartError(
                    f"{self.kind} exited with code {code} before serving on {self.hosts}.\n"
                    f"command: {' '.join(self.command())}\n--- log tail ---\n{self.log_tail()}"
                )
            if ready is not None:
                if ready():
                    return self
                time.sleep(0.2)
                continue
            try:
                last = four_letter("127.0.0.1", self.port, "ruok", timeout=1.0)
                if last == "imok":
                    last = four_letter("127.0.0.1", self.port, "srvr", timeout=1.0)
                    if "\nMode: " in last:
                        return self
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        self.kill9()
        raise ServerStartError(
            f"{self.kind} did not answer ruok with imok and srvr with a Mode line on {self.hosts} "
            f"within {timeout:.0f}s; last answer: {last!r}\n--- log tail ---\n{self.log_tail()}"
        )

    def run_expecting_exit(self, timeout: float = 20.0) -> tuple[int | None, str]:
        """Starts the process when it is expected to refuse to start. Returns (exit code or None if it
        was still running at the deadline, and then killed; log text of this run)."""
        self.check_installed()
        self.write_config()
        before = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.base_dir, start_new_session=True, env={**os.environ, **self.env},
            )
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            self.kill9()
        self.proc = None
        return code, self.log_path.read_bytes()[before:].decode(errors="replace")

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds. Safe to call repeatedly."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def kill9(self) -> None:
        """SIGKILL the whole process group and reap it."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def restart(self, timeout: float = 40.0) -> "ServerProcess":
        self.stop()
        return self.start(timeout=timeout)

    # -- inspection ------------------------------------------------------------------------------

    def four(self, cmd: str, timeout: float = 5.0) -> str:
        return four_letter("127.0.0.1", self.port, cmd, timeout=timeout)

    def mntr(self) -> dict[str, str]:
        out = {}
        for line in self.four("mntr").splitlines():
            if "\t" in line:
                k, v = line.split("\t", 1)
                out[k] = v
        return out

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    def txn_log_files(self) -> list[Path]:
        """Transaction log files (`log.<hex zxid>`) anywhere under the data dirs, oldest zxid first."""
        found = set()
        for root in (self.data_dir, self.data_log_dir):
            if root.exists():
                found.update(p for p in root.rglob("log.*") if p.is_file())

        def zxid(p: Path) -> int:
            try:
                return int(p.name.split(".", 1)[1], 16)
            except ValueError:
                return -1

        return sorted(found, key=zxid)
