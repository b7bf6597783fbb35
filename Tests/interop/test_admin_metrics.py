"""Monitoring over HTTP: the AdminServer's `/commands/<name>` (JSON) and Prometheus `/metrics`.

Every AdminServer test runs against Apache ZooKeeper 3.8 (Debian's package, with the servlet API added to its
classpath so that its Jetty AdminServer loads) and Warren with the same expectations; the answers are compared
with the same server's four-letter words. `/metrics` runs against Warren only: Debian's zookeeper package ships
neither ZooKeeper's Prometheus provider (zookeeper-prometheus-metrics) nor the Prometheus simpleclient jars it
needs, so ZooKeeper cannot serve `/metrics` here. The metrics tests check ZooKeeper's metric names and types as
ZooKeeper 3.8 registers them (gauges named like mntr's keys without `zk_`) and parse the text with
prometheus_client's own parser.
"""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time
import urllib.error
import urllib.request
import uuid

import pytest
from kazoo.client import KazooClient
from prometheus_client.parser import text_string_to_metric_families

from servers import TICK_MS, ZK_MAIN, ServerProcess, free_port

PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
NO_ZK_METRICS = ("Debian's zookeeper package ships no Prometheus metrics provider (zookeeper-prometheus-metrics and "
                 "the simpleclient jars are not packaged), so ZooKeeper cannot serve /metrics here")

# Command names and aliases → the primary name ZooKeeper 3.8 answers with in `command`.
COMMANDS = {
    "ruok": "ruok", "srvr": "server_stats", "server_stats": "server_stats", "stat": "stats", "stats": "stats",
    "mntr": "monitor", "monitor": "monitor", "conf": "configuration", "configuration": "configuration",
    "config": "configuration", "cons": "connections", "connections": "connections", "dump": "dump",
    "envi": "environment", "environment": "environment", "env": "environment", "wchs": "watch_summary",
    "watch_summary": "watch_summary", "wchc": "watches", "watches": "watches", "wchp": "watches_by_path",
    "watches_by_path": "watches_by_path", "isro": "is_read_only", "is_read_only": "is_read_only",
    "leader": "leader", "lead": "leader", "voting_view": "voting_view", "zabstate": "zabstate", "hash": "hash",
    "dirs": "dirs", "last_snapshot": "last_snapshot", "lsnp": "last_snapshot", "stat_reset": "stat_reset",
    "srst": "stat_reset", "connection_stat_reset": "connection_stat_reset", "crst": "connection_stat_reset",
}

# ZooKeeper 3.8's gauges (ZooKeeperServer.registerMetrics) that Warren exports under the same names.
ZK_GAUGES = [
    "avg_latency", "max_latency", "min_latency", "packets_received", "packets_sent", "num_alive_connections",
    "outstanding_requests", "uptime", "znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
    "global_sessions", "local_sessions", "open_file_descriptor_count", "max_file_descriptor_count",
    "last_client_response_size", "max_client_response_size", "min_client_response_size",
]


def http(url: str, method: str = "GET", timeout: float = 10.0) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def admin_overrides(metrics: bool) -> dict:
    cfg = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1", "admin.serverPort": free_port()}
    if metrics:
        cfg.update({"metricsProvider.className": PROMETHEUS_PROVIDER, "metricsProvider.httpHost": "127.0.0.1",
                    "metricsProvider.httpPort": free_port(), "metricsProvider.exportJvmInfo": "false"})
    return cfg


class Admin:
    """A server with its AdminServer (and, for Warren, its metrics listener) on loopback ports of its own."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.base = f"http://127.0.0.1:{server.cfg['admin.serverPort']}"
        port = server.cfg.get("metricsProvider.httpPort")
        self.metrics_url = f"http://127.0.0.1:{port}/metrics" if port else None

    def command(self, name: str) -> dict:
        status, headers, body = http(f"{self.base}/commands/{name}")
        assert status == 200, (name, status, body[:300])
        assert headers.get("Content-Type", "").startswith("application/json"), headers
        return json.loads(body)

    def metrics(self) -> dict:
        status, headers, body = http(self.metrics_url)
        assert status == 200, (status, body[:300])
        assert headers.get("Content-Type", "").startswith("text/plain"), headers
        return {f.name: f for f in text_string_to_metric_families(body.decode())}


def value(families: dict, name: str, **labels) -> float:
    for sample in families[name].samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise KeyError((name, labels))


def sample(families: dict, family: str, sample_name: str, **labels) -> float:
    for s in families[family].samples:
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((family, sample_name, labels))


@pytest.fixture(scope="module")
def admin(target, tmp_path_factory):
    s = ServerProcess(target, tmp_path_factory.mktemp(f"admin-{target}"), admin_overrides(target == "warren"))
    try:
        s.start()
        yield Admin(s)
    finally:
        s.kill9()


@pytest.fixture
def client(admin):
    zk = KazooClient(hosts=admin.server.hosts, timeout=10.0)
    zk.start(timeout=15)
    yield zk
    zk.stop()
    zk.close()


# -- AdminServer: both targets --------------------------------------------------------------------------------------

def test_command_index_links_every_primary_name(admin):
    status, _, body = http(f"{admin.base}/commands")
    assert status == 200
    for primary in set(COMMANDS.values()):
        assert f'href="/commands/{primary}"' in body.decode(), primary


def test_every_command_and_alias_answers_json_naming_its_primary(admin):
    for name, primary in COMMANDS.items():
        answer = admin.command(name)
        assert answer["command"] == primary, (name, answer)
        assert "error" in answer, (name, answer)
        if name not in ("leader", "lead"):
            assert answer["error"] is None, (name, answer)
    # A standalone server is no quorum peer: ZooKeeper's answers for that.
    assert admin.command("leader")["error"] == "server is not initialized"
    assert admin.command("zabstate") == {"voting": False, "zabstate": "", "command": "zabstate", "error": None}
    assert admin.command("voting_view")["current_config"] == {}
    assert admin.command("ruok") == {"command": "ruok", "error": None}


def test_unknown_command_is_a_json_error(admin):
    status, _, body = http(f"{admin.base}/commands/no_such_command")
    assert status == 200  # ZooKeeper 3.8 answers 200 with the error in the JSON
    assert json.loads(body) == {"command": "no_such_command", "error": "Unknown command: no_such_command"}


def test_monitor_has_mntr_keys_and_values(admin, client):
    client.create(f"/mon-{uuid.uuid4().hex[:8]}")
    mntr = admin.server.mntr()
    monitor = admin.command("monitor")
    for key in mntr:
        if key.startswith("zk_"):
            assert key[3:] in monitor, key
    for key in ("znode_count", "ephemerals_count", "approximate_data_size", "watch_count"):
        assert isinstance(monitor[key], int), (key, monitor[key])
        assert monitor[key] == int(mntr[f"zk_{key}"]), key
    assert monitor["server_state"] == "standalone"
    assert monitor["num_alive_connections"] >= 1
    assert isinstance(monitor["avg_latency"], float)


def test_server_stats_and_stats_agree_with_srvr(admin, client):
    client.create(f"/srvr-{uuid.uuid4().hex[:8]}")
    srvr = dict(line.split(": ", 1) for line in admin.server.four("srvr").splitlines() if ": " in line)
    for name in ("server_stats", "stats"):
        answer = admin.command(name)
        assert answer["version"] == srvr["Zookeeper version"]
        assert answer["read_only"] is False
        assert answer["node_count"] == int(srvr["Node count"])
        stats = answer["server_stats"]
        assert stats["server_state"] == "standalone"
        for key in ("packets_sent", "packets_received", "outstanding_requests", "num_alive_client_connections",
                    "max_latency", "min_latency", "uptime", "data_dir_size", "log_dir_size", "last_processed_zxid"):
            assert isinstance(stats[key], int), (key, stats)
        assert stats["last_processed_zxid"] >= int(srvr["Zxid"], 16)
        assert set(answer["client_response"]) == {"last_buffer_size", "min_buffer_size", "max_buffer_size"}
    stats = admin.command("stats")
    assert stats["secure_connections"] == []
    # `stat` lists connections briefly (no session fields), as the four-letter word does.
    assert stats["connections"] and all("session_id" not in c for c in stats["connections"]), stats["connections"]
    assert all(c["remote_socket_address"].rsplit(":", 1)[0].endswith("127.0.0.1") for c in stats["connections"])
    assert max(c["packets_received"] for c in stats["connections"]) >= 2


def test_configuration_matches_zoo_cfg(admin):
    conf = admin.command("configuration")
    cfg = admin.server.cfg
    assert conf["client_port"] == admin.server.port
    assert conf["tick_time"] == TICK_MS
    assert conf["max_client_cnxns"] == int(cfg["maxClientCnxns"])
    assert conf["min_session_timeout"] == int(cfg["minSessionTimeout"])
    assert conf["max_session_timeout"] == int(cfg["maxSessionTimeout"])
    assert conf["data_dir"] == f"{cfg['dataDir']}/version-2"
    assert conf["data_log_dir"] == f"{cfg['dataLogDir']}/version-2"
    assert conf["server_id"] == 0


def test_sessions_ephemerals_and_watches_are_reported(admin, client):
    sid = client.client_id[0]
    base = f"/adm-{uuid.uuid4().hex[:8]}"
    client.create(base)
    client.create(f"{base}/e", ephemeral=True)
    client.get(f"{base}/e", watch=lambda event: None)
    client.exists(f"{base}/missing", watch=lambda event: None)

    cons = admin.command("connections")
    mine = [c for c in cons["connections"] if c.get("session_id") == sid]
    assert len(mine) == 1, cons
    for key in ("remote_socket_address", "outstanding_requests", "packets_received", "packets_sent",
                "last_operation", "session_timeout", "last_zxid", "min_latency", "avg_latency", "max_latency"):
        assert key in mine[0], key
    assert mine[0]["packets_received"] >= 4

    dump = admin.command("dump")
    assert dump["session_id_to_ephemeral_paths"][str(sid)] == [f"{base}/e"]
    assert any(sid in ids for ids in dump["expiry_time_to_session_ids"].values()), dump

    watched = admin.command("watches")["session_id_to_watched_paths"][str(sid)]
    assert sorted(watched) == sorted([f"{base}/e", f"{base}/missing"])
    by_path = admin.command("watches_by_path")["path_to_session_ids"]
    assert by_path[f"{base}/e"] == [sid] and by_path[f"{base}/missing"] == [sid]

    summary = admin.command("watch_summary")
    four = admin.server.four("wchs")
    assert f"Total watches:{summary['num_total_watches']}" in four
    assert summary["num_connections"] >= 1 and summary["num_paths"] >= 2


def test_environment_and_dirs(admin):
    env = admin.command("environment")
    for key in ("zookeeper.version", "host.name", "os.name", "os.arch", "user.dir"):
        assert isinstance(env[key], str), key
    envi = admin.server.four("envi")
    assert f"zookeeper.version={env['zookeeper.version']}" in envi
    dirs = admin.command("dirs")
    assert dirs["datadir_size"] > 0 and dirs["logdir_size"] > 0


def test_hash_and_read_only(admin):
    assert admin.command("is_read_only")["read_only"] is False
    assert isinstance(admin.command("hash")["digests"], list)


def test_stat_reset_and_connection_stat_reset(admin, client):
    for _ in range(50):
        client.exists("/")
    assert admin.command("server_stats")["server_stats"]["packets_received"] >= 50
    assert admin.command("stat_reset") == {"command": "stat_reset", "error": None}
    assert admin.command("server_stats")["server_stats"]["packets_received"] < 10  # a ping may land in between
    assert admin.command("connection_stat_reset") == {"command": "connection_stat_reset", "error": None}
    for c in admin.command("connections")["connections"]:
        assert c["max_latency"] == 0 and c["min_latency"] == 0, c
    assert client.exists("/") is not None  # clients are served on


def test_last_snapshot_names_a_snapshot_file_in_data_dir(admin):
    answer = admin.command("last_snapshot")
    assert set(answer) == {"zxid", "timestamp", "command", "error"}, answer
    if answer["zxid"] == "ffffffffffffffff":  # no snapshot yet: ZooKeeper's -1 in hex
        assert answer["timestamp"] == -1, answer
        return
    assert (admin.server.data_dir / "version-2" / f"snapshot.{answer['zxid']}").exists(), answer
    assert abs(answer["timestamp"] - time.time()) < 3600, answer  # wall-clock seconds of the file


def test_a_snapshot_taken_shows_in_last_snapshot_and_snapshottime(target, tmp_path_factory):
    """A server with a small snapCount writes a snapshot after a few dozen creates (both systems draw the point in
    [snapCount/2, snapCount]); last_snapshot then names it, and Warren's snapshottime summary has counted it."""
    s = ServerProcess(target, tmp_path_factory.mktemp(f"admin-snap-{target}"),
                      {**admin_overrides(target == "warren"), "snapCount": 20})
    try:
        s.start()
        admin = Admin(s)
        zk = KazooClient(hosts=s.hosts, timeout=10.0)
        zk.start(timeout=15)
        try:
            for i in range(60):
                zk.create(f"/snap-{i}", b"v")
            last_zxid = zk.exists("/snap-59").czxid
        finally:
            zk.stop()
            zk.close()

        def taken():
            answer = admin.command("last_snapshot")
            return answer if answer["zxid"] != "ffffffffffffffff" and int(answer["zxid"], 16) > 0 else None

        answer = wait_for(taken, 20.0)
        assert answer, admin.command("last_snapshot")
        # The session's close is one more txn (last_zxid + 1): a snapshot may be drawn after it.
        assert 0 < int(answer["zxid"], 16) <= last_zxid + 1, (answer, last_zxid)
        assert (s.data_dir / "version-2" / f"snapshot.{answer['zxid']}").exists(), answer
        assert abs(answer["timestamp"] - time.time()) < 3600, answer
        if admin.metrics_url is not None:
            families = admin.metrics()
            assert sample(families, "snapshottime", "snapshottime_count") >= 1
            assert sample(families, "warren_snapshot_write_seconds", "warren_snapshot_write_seconds_count") >= 1
    finally:
        s.kill9()


def raw_request(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends `data` as is and returns what comes back before the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer and close before it has read everything
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def test_bad_requests_get_http_errors_and_the_server_keeps_serving(admin, client):
    port = int(admin.server.cfg["admin.serverPort"])
    assert http(f"{admin.base}/no/such/path")[0] == 404
    assert http(f"{admin.base}/commands/ruok", method="POST")[0] == 405
    assert http(f"{admin.base}/commands/ruok", method="DELETE")[0] == 405
    huge = b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"
    assert raw_request(port, huge).split(b"\r\n", 1)[0] in (b"HTTP/1.1 431 Request Header Fields Too Large",
                                                          b"HTTP/1.1 400 Bad Request")
    assert raw_request(port, b"NOT-HTTP\r\n\r\n").startswith(b"HTTP/1.1 400")
    # A client that connects and says nothing holds nothing but its socket; others are answered meanwhile.
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        assert admin.command("ruok")["error"] is None
    assert admin.command("ruok")["error"] is None
    path = client.create(f"/still-{uuid.uuid4().hex[:8]}", b"v")
    assert client.get(path)[0] == b"v"
    assert admin.server.four("ruok") == "imok"


@pytest.mark.only_targets("warren")
def test_connections_beyond_the_bound_are_closed_and_the_rest_keep_working(admin, client):
    """Warren's own bound (WarrenAdmin.MonitoringService.connectionsMax = 64) on open HTTP connections."""
    port = int(admin.server.cfg["admin.serverPort"])
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
    try:
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        with extra:
            extra.sendall(b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                assert extra.recv(100) == b""  # closed on arrival, unanswered
            except ConnectionResetError:
                pass
        path = client.create(f"/cap-{uuid.uuid4().hex[:8]}", b"v")  # clients are not affected
        assert client.get(path)[0] == b"v"
    finally:
        for s in held:
            s.close()
    def answered():
        try:
            return http(f"{admin.base}/commands/ruok")[0] == 200
        except OSError:  # urllib's errors for a connection closed unanswered are OSErrors
            return False

    assert wait_for(answered, 10.0)


def test_admin_port_that_cannot_be_bound(target, tmp_path_factory):
    """Warren logs the error and serves clients without its AdminServer. ZooKeeper 3.8's standalone server exits
    instead ("Unable to start AdminServer, exiting abnormally"; its quorum peers only log): the one deliberate
    difference, checked here for both so that it stays known."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        s = ServerProcess(target, tmp_path_factory.mktemp(f"admin-taken-{target}"),
                          {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1", "admin.serverPort": port})
        try:
            if target == "zookeeper":
                code, log = s.run_expecting_exit()
                assert code not in (None, 0) and "Unable to start AdminServer" in log, (code, log[-2000:])
                return
            s.start()
            zk = KazooClient(hosts=s.hosts, timeout=10.0)
            zk.start(timeout=15)
            try:
                zk.create("/served", b"x")
                assert zk.get("/served")[0] == b"x"
            finally:
                zk.stop()
                zk.close()
            log = s.log_tail(200)
            assert f"AdminServer not started: cannot bind 127.0.0.1:{port}" in log, log
        finally:
            s.kill9()


# -- /metrics: Warren only ------------------------------------------------------------------------------------------

def test_metrics_have_zookeepers_gauges_and_warrens_own(admin, client):
    if admin.metrics_url is None:
        pytest.skip(NO_ZK_METRICS)
    client.create(f"/m-{uuid.uuid4().hex[:8]}", b"x")
    families = admin.metrics()
    for name in ZK_GAUGES:
        assert name in families, name
        assert families[name].type == "gauge", (name, families[name].type)
    assert value(families, "warren_server_role", role="standalone") == 1
    assert value(families, "warren_server_role", role="leader") == 0
    for name in ("warren_fsync_seconds", "warren_request_seconds", "warren_group_commit_batch_size"):
        assert families[name].type == "histogram", name
    assert sample(families, "warren_fsync_seconds", "warren_fsync_seconds_count") >= 1
    assert sample(families, "warren_request_seconds", "warren_request_seconds_count", op="create") >= 1
    assert sample(families, "warren_group_commit_batch_size", "warren_group_commit_batch_size_sum") >= 1
    # ZooKeeper's summaries (milliseconds, BASIC level: the median, _count, _sum), as its Prometheus provider names them.
    for name in ("fsynctime", "snapshottime"):
        assert families[name].type == "summary", (name, families[name].type)
    assert sample(families, "fsynctime", "fsynctime_count") >= 1
    assert sample(families, "fsynctime", "fsynctime_sum") > 0
    assert sample(families, "fsynctime", "fsynctime", quantile="0.5") >= 0
    # The two shapes count the same fsyncs (one may land between the exporter's two reads).
    assert abs(sample(families, "fsynctime", "fsynctime_count")
               - sample(families, "warren_fsync_seconds", "warren_fsync_seconds_count")) <= 1


def test_metrics_values_move_with_the_tree_and_agree_with_mntr(admin, client):
    if admin.metrics_url is None:
        pytest.skip(NO_ZK_METRICS)
    before = admin.metrics()
    base = f"/mv-{uuid.uuid4().hex[:8]}"
    client.create(base)
    for i in range(5):
        client.create(f"{base}/n{i}", b"12345")
    client.create(f"{base}/eph", ephemeral=True)
    for i in range(3):
        client.get(f"{base}/n{i}", watch=lambda event: None)
    after = admin.metrics()
    assert value(after, "znode_count") == value(before, "znode_count") + 7
    assert value(after, "ephemerals_count") == value(before, "ephemerals_count") + 1
    assert value(after, "watch_count") >= value(before, "watch_count") + 3
    assert value(after, "approximate_data_size") > value(before, "approximate_data_size")
    assert value(after, "packets_received") > value(before, "packets_received")
    creates = "warren_request_seconds_count"
    assert (sample(after, "warren_request_seconds", creates, op="create")
            >= sample(before, "warren_request_seconds", creates, op="create") + 7)
    mntr = admin.server.mntr()
    assert value(after, "znode_count") == int(mntr["zk_znode_count"])
    assert value(after, "ephemerals_count") == int(mntr["zk_ephemerals_count"])


def test_metrics_listener_rejects_what_it_does_not_serve(admin):
    if admin.metrics_url is None:
        pytest.skip(NO_ZK_METRICS)
    base = admin.metrics_url.rsplit("/", 1)[0]
    assert http(f"{base}/commands/ruok")[0] == 404  # commands live on the AdminServer's port only
    assert http(admin.metrics_url, method="POST")[0] == 405
    assert http(admin.metrics_url, method="HEAD")[0] == 200


# -- three-server ensemble: both targets ----------------------------------------------------------------------------

class QuorumMember(ServerProcess):
    """An ensemble member: ZooKeeper runs QuorumPeerMain instead of the standalone main class."""

    def server_command(self) -> list[str]:
        cmd = super().server_command()
        if self.kind == "zookeeper":
            cmd[cmd.index(ZK_MAIN)] = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
        return cmd


@pytest.fixture(scope="module")
def ensemble(target, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"admin-ens-{target}")
    ids = [1, 2, 3]
    servers_cfg = {f"server.{i}": f"127.0.0.1:{free_port()}:{free_port()}" for i in ids}
    members = {}
    for i in ids:
        m = QuorumMember(target, base / f"s{i}", {**admin_overrides(target == "warren"), **servers_cfg,
                                                  "initLimit": 10, "syncLimit": 5})
        m.data_dir.mkdir(parents=True, exist_ok=True)
        (m.data_dir / "myid").write_text(f"{i}\n")
        members[i] = m
    try:
        with concurrent.futures.ThreadPoolExecutor(len(ids)) as pool:
            for f in [pool.submit(m.start, 60.0) for m in members.values()]:
                f.result()
        yield {i: Admin(m) for i, m in members.items()}
    finally:
        for m in members.values():
            m.kill9()


def wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_ensemble_leader_zabstate_and_voting_view(ensemble):
    def settled():
        leaders = [i for i, a in ensemble.items() if a.command("leader").get("is_leader")]
        states = [a.command("zabstate").get("zabstate") for a in ensemble.values()]
        return leaders if len(leaders) == 1 and states == ["broadcast"] * 3 else None

    leaders = wait_for(settled)
    assert leaders, {i: (a.command("leader"), a.command("zabstate")) for i, a in ensemble.items()}
    leader = leaders[0]
    for i, a in ensemble.items():
        lead = a.command("leader")
        assert lead["error"] is None and lead["leader_id"] == leader, (i, lead)
        assert lead["leader_ip"] == "127.0.0.1", lead
        zab = a.command("zabstate")
        assert zab["myid"] == i and zab["voting"] is True and zab["is_leader"] == (i == leader), zab
        zxid = int(zab["last_zxid"], 16)
        assert zab["zab_epoch"] == zxid >> 32 and zab["zab_counter"] == zxid & 0xFFFFFFFF, zab
        quorum, election = a.server.cfg[f"server.{i}"].rsplit(":", 1)
        assert zab["quorum_address"]["all_addresses"] == [quorum], zab
        assert zab["election_address"]["one"] == f"127.0.0.1:{election}", zab
        assert zab["client_address"] == a.server.hosts, zab
        view = a.command("voting_view")["current_config"]
        assert sorted(view) == ["1", "2", "3"], view
        assert all(v["learner_type"] == "participant" for v in view.values()), view
        for j in ensemble:
            q, e = ensemble[j].server.cfg[f"server.{j}"].rsplit(":", 1)
            assert view[str(j)]["server_addresses"] == [q] and view[str(j)]["election_addresses"] == [f"127.0.0.1:{e}"]
            # Without a `;client` part in server.N, a server knows only its own client address.
            assert view[str(j)]["client_address"] == (a.server.hosts if j == i else ""), view
        assert a.command("server_stats")["server_stats"]["server_state"] == ("leader" if i == leader else "follower")
        mode = "leader" if i == leader else "follower"
        assert f"Mode: {mode}" in a.server.four("srvr")


def test_ensemble_metrics_show_roles_quorum_and_synced_followers(ensemble):
    if any(a.metrics_url is None for a in ensemble.values()):
        pytest.skip(NO_ZK_METRICS)
    leader = next(i for i, a in ensemble.items() if a.command("leader").get("is_leader"))
    for i, a in ensemble.items():
        families = a.metrics()
        role = "leader" if i == leader else "follower"
        assert value(families, "warren_server_role", role=role) == 1, i
        assert value(families, "warren_server_role", role="standalone") == 0, i
        assert value(families, "quorum_size") == 3
        assert value(families, "warren_zab_leader_id") == leader
    leader_metrics = wait_for(lambda: (lambda f: f if value(f, "synced_followers") == 2 else None)(
        ensemble[leader].metrics()))
    assert leader_metrics, "the leader never reported 2 synced followers"
    # A write through a follower shows up in every member's znode_count.
    follower = next(i for i in ensemble if i != leader)
    zk = KazooClient(hosts=ensemble[follower].server.hosts, timeout=10.0)
    zk.start(timeout=15)
    try:
        before = {i: value(a.metrics(), "znode_count") for i, a in ensemble.items()}
        zk.create(f"/ens-{uuid.uuid4().hex[:8]}")
        zk.sync("/")
        assert wait_for(lambda: all(value(a.metrics(), "znode_count") == before[i] + 1
                                    for i, a in ensemble.items()), 10.0)
    finally:
        zk.stop()
        zk.close()


def _listening(server: ServerProcess) -> bool:
    try:
        socket.create_connection(("127.0.0.1", int(server.cfg["admin.serverPort"])), timeout=1).close()
        return True
    except OSError:
        return False


# -- online backup: Warren only (ZooKeeper 3.8 has no `snapshot` command; 3.9 does) ----------------------------------

@pytest.mark.only_targets("warren")
def test_online_snapshot_backup_restores_into_an_empty_data_dir(target, tmp_path_factory):
    """`/commands/snapshot` (ZooKeeper 3.9's command, `admin.snapshot.enabled`) hands out the committed tree as a
    snapshot file while the server serves; that file alone in an empty dataDir's version-2/ starts a server with
    exactly the tree of the moment it was taken (later writes absent). A second request within
    `admin.snapshot.intervalInMS` is refused (429); a server without the key refuses every request (403)."""
    s = ServerProcess(target, tmp_path_factory.mktemp("backup-src"),
                      {**admin_overrides(False), "admin.snapshot.enabled": "true"})
    restored = ServerProcess(target, tmp_path_factory.mktemp("backup-dst"))
    try:
        s.start()
        base = Admin(s).base
        zk = KazooClient(hosts=s.hosts, timeout=10.0)
        zk.start(timeout=15)
        try:
            zk.create("/backup", b"root")
            for i in range(200):
                zk.create(f"/backup/n{i:03}", bytes([i % 256]) * (i * 10))
            zk.set("/backup/n007", b"seven")
            taken_zxid = zk.exists("/backup/n007").mzxid
            status, headers, body = http(f"{base}/commands/snapshot?streaming=true")
            assert status == 200, (status, body[:300])
            assert headers["Content-Type"] == "application/octet-stream", headers
            name = headers["Content-Disposition"].split('filename="')[1].rstrip('"')
            assert name == f"snapshot.{taken_zxid:x}", (name, hex(taken_zxid))
            assert int(headers["last_zxid"], 16) == taken_zxid, headers
            again, again_headers, _ = http(f"{base}/commands/snapshot")
            assert again == 429 and int(again_headers["Retry-After"]) > 0, (again, again_headers)
            zk.create("/after-backup", b"later")
            expected = {p: zk.get(f"/backup/{p}") for p in zk.get_children("/backup")}
        finally:
            zk.stop()
            zk.close()
        s.kill9()

        (restored.data_dir / "version-2").mkdir(parents=True)
        (restored.data_dir / "version-2" / name).write_bytes(body)
        restored.start()
        zk = KazooClient(hosts=restored.hosts, timeout=10.0)
        zk.start(timeout=15)
        try:
            assert zk.get("/backup")[0] == b"root"
            assert zk.exists("/after-backup") is None, "a write after the backup is not in it"
            got = {p: zk.get(f"/backup/{p}") for p in zk.get_children("/backup")}
            assert sorted(got) == sorted(expected)
            for p, (data, stat) in expected.items():
                assert got[p][0] == data and got[p][1].version == stat.version and got[p][1].mzxid == stat.mzxid, p
        finally:
            zk.stop()
            zk.close()
    finally:
        s.kill9()
        restored.kill9()

    off = ServerProcess(target, tmp_path_factory.mktemp("backup-off"), admin_overrides(False))
    try:
        off.start()
        # The AdminServer binds after the client port answers ruok: wait for it.
        wait_for(lambda: http(f"{Admin(off).base}/commands/ruok")[0] == 200 if _listening(off) else False, 10.0)
        status, _, body = http(f"{Admin(off).base}/commands/snapshot")
        assert status == 403 and b"admin.snapshot.enabled" in body, (status, body)
    finally:
        off.kill9()
