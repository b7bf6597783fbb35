"""Four-letter words: the formats monitoring scripts parse (keys, line structure), identical between
ZooKeeper and Warren wherever the values do not naturally differ."""

from __future__ import annotations

import re

import pytest

from servers import SESSION_TIMEOUT_MAX_MS, SESSION_TIMEOUT_MIN_MS, TICK_MS

SRVR_LINES = [
    r"Zookeeper version: \S.*",
    r"Latency min/avg/max: \d+/\d+(\.\d+)?/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: 0x[0-9a-f]+",
    r"Mode: standalone",
    r"Node count: \d+",
]

MNTR_KEYS = [
    "zk_version",
    "zk_server_state",
    "zk_avg_latency",
    "zk_max_latency",
    "zk_min_latency",
    "zk_packets_received",
    "zk_packets_sent",
    "zk_num_alive_connections",
    "zk_outstanding_requests",
    "zk_znode_count",
    "zk_watch_count",
    "zk_ephemerals_count",
    "zk_approximate_data_size",
    "zk_open_file_descriptor_count",
    "zk_max_file_descriptor_count",
    "zk_uptime",
]

# ` /127.0.0.1:port[interest](queued=..,recved=..,sent=..[,sid=0x..,...])`
CONS_LINE = re.compile(r"^ /127\.0\.0\.1:(\d+)\[\d+\]\(queued=\d+,recved=\d+,sent=\d+(,(.*))?\)$")


def srvr_fields(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def visible_node_count(raw) -> int:
    return raw.get_all_children_number("/") + 1


def test_ruok(server):
    assert server.four("ruok") == "imok"


def test_isro(server):
    assert server.four("isro") == "rw"


def test_srvr_format(server, zk, base):
    _, stat = zk.create(f"{base}/n", include_data=True)
    text = server.four("srvr")
    assert text.endswith("\n")
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == len(SRVR_LINES), text
    for line, pattern in zip(lines, SRVR_LINES):
        assert re.fullmatch(pattern, line), f"{line!r} !~ {pattern}"
    fields = srvr_fields(text)
    assert int(fields["Zxid"], 16) == stat.czxid, "Zxid is the last applied transaction"


def test_node_count_matches_tree(server, raw, zk, base):
    before = int(srvr_fields(server.four("srvr"))["Node count"])
    for i in range(3):
        zk.create(f"{base}/c{i}")
    after = int(srvr_fields(server.four("srvr"))["Node count"])
    assert after == before + 3
    assert int(server.mntr()["zk_znode_count"]) == after
    # ZooKeeper's count is one more than the nodes a client can reach from "/" (including "/"):
    # scripts comparing counts across servers see ZooKeeper's number.
    assert after == visible_node_count(raw) + 1


def test_stat_format(server, zk):
    sid = zk.client_id[0]
    text = server.four("stat")
    lines = text.split("\n")
    assert re.fullmatch(SRVR_LINES[0], lines[0])
    assert lines[1] == "Clients:"
    blank = lines.index("", 2)
    clients = lines[2:blank]
    assert len(clients) >= 2, "at least the kazoo client and this four-letter connection"
    for line in clients:
        m = CONS_LINE.match(line)
        assert m and m.group(2) is None, f"stat lists clients without session details: {line!r}"
    rest = lines[blank + 1 :]
    assert rest[-1] == ""
    for line, pattern in zip(rest[:-1], SRVR_LINES[1:]):
        assert re.fullmatch(pattern, line), f"{line!r} !~ {pattern}"
    assert f"{sid:x}" not in text


def test_mntr_format_and_values(server, zk, kazoo_factory, base):
    text = server.four("mntr")
    lines = text.rstrip("\n").split("\n")
    for line in lines:
        assert re.fullmatch(r"zk_\S+\t\S.*", line), f"bad mntr line {line!r}"
    m = server.mntr()
    for key in MNTR_KEYS:
        assert key in m, f"mntr lacks {key}"
    assert m["zk_server_state"] == "standalone"
    assert m["zk_version"] == srvr_fields(server.four("srvr"))["Zookeeper version"]
    for key in MNTR_KEYS[2:]:
        float(m[key])
    assert int(m["zk_outstanding_requests"]) == 0

    other = kazoo_factory()
    eph_before = int(server.mntr()["zk_ephemerals_count"])
    other.create(f"{base}/e1", ephemeral=True)
    other.create(f"{base}/e2", ephemeral=True)
    assert int(server.mntr()["zk_ephemerals_count"]) == eph_before + 2
    conns = int(server.mntr()["zk_num_alive_connections"])
    other.stop()
    after = server.mntr()
    assert int(after["zk_ephemerals_count"]) == eph_before
    assert int(after["zk_num_alive_connections"]) == conns - 1


def test_mntr_watch_count_and_data_size(server, zk, base):
    m0 = server.mntr()
    zk.create(f"{base}/sized", b"x" * 1000)
    m1 = server.mntr()
    grew = int(m1["zk_approximate_data_size"]) - int(m0["zk_approximate_data_size"])
    # ZooKeeper counts data bytes plus the path's length.
    assert grew == 1000 + len(f"{base}/sized")
    zk.get(f"{base}/sized", watch=lambda e: None)
    zk.get_children(f"{base}/sized", watch=lambda e: None)
    assert int(server.mntr()["zk_watch_count"]) == int(m1["zk_watch_count"]) + 2


def test_conf(server):
    conf = dict(line.split("=", 1) for line in server.four("conf").splitlines() if "=" in line)
    assert conf["clientPort"] == str(server.port)
    assert conf["dataDir"] == f"{server.data_dir}/version-2"
    assert conf["dataLogDir"] == f"{server.data_log_dir}/version-2"
    assert conf["tickTime"] == str(TICK_MS)
    assert conf["maxClientCnxns"] == "60"
    assert conf["minSessionTimeout"] == str(SESSION_TIMEOUT_MIN_MS)
    assert conf["maxSessionTimeout"] == str(SESSION_TIMEOUT_MAX_MS)
    assert conf["serverId"] == "0"


def test_cons(server, zk):
    sid = zk.client_id[0]
    text = server.four("cons")
    assert text.endswith("\n\n")
    lines = text.rstrip("\n").split("\n")
    details = {}
    for line in lines:
        m = CONS_LINE.match(line)
        assert m, f"bad cons line {line!r}"
        if m.group(3):
            kv = dict(part.split("=", 1) for part in m.group(3).split(","))
            details[kv["sid"]] = kv
    mine = details[f"0x{sid:x}"]
    for key in ("lop", "est", "to", "lcxid", "lzxid", "lresp", "llat", "minlat", "avglat", "maxlat"):
        assert key in mine, f"cons lacks {key}"
    assert mine["to"] == "10000"
    assert re.fullmatch(r"0x[0-9a-f]+", mine["lzxid"])


def test_dump_lists_sessions_and_ephemerals(server, zk, base):
    sid = zk.client_id[0]
    eph = zk.create(f"{base}/e", ephemeral=True)
    text = server.four("dump")
    assert text.startswith("SessionTracker dump:\n")
    assert "\nephemeral nodes dump:\n" in text
    m = re.search(r"\nSessions with Ephemerals \((\d+)\):\n", text)
    assert m and int(m.group(1)) >= 1
    assert f"\n0x{sid:x}:\n\t{eph}\n" in text
    assert f"\t0x{sid:x}\n" in text, "the session tracker lists the live session"


def test_watch_commands(server, zk, base):
    sid = zk.client_id[0]
    a = zk.create(f"{base}/a")
    b = zk.create(f"{base}/b")
    zk.get(a, watch=lambda e: None)
    zk.exists(b, watch=lambda e: None)

    wchs = server.four("wchs")
    m = re.fullmatch(r"(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n", wchs)
    assert m, repr(wchs)
    assert int(m.group(1)) >= 1 and int(m.group(2)) >= 2 and int(m.group(3)) >= 2

    wchc = server.four("wchc")
    assert wchc.endswith("\n\n")
    by_session: dict[str, list[str]] = {}
    current = None
    for line in wchc.rstrip("\n").split("\n"):
        if line.startswith("\t"):
            by_session[current].append(line[1:])
        else:
            current = line
            by_session[current] = []
    assert sorted(by_session[f"0x{sid:x}"]) == sorted([a, b])

    wchp = server.four("wchp")
    by_path: dict[str, list[str]] = {}
    for line in wchp.rstrip("\n").split("\n"):
        if line.startswith("\t"):
            by_path[current].append(line[1:])
        else:
            current = line
            by_path[current] = []
    assert by_path[a] == [f"0x{sid:x}"]
    assert by_path[b] == [f"0x{sid:x}"]


def test_envi(server):
    lines = server.four("envi").splitlines()
    assert lines[0] == "Environment:"
    env = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    for key in ("zookeeper.version", "host.name", "os.name", "os.arch", "os.version", "user.name", "user.dir"):
        assert key in env, f"envi lacks {key}"
    assert env["os.name"] == "Linux"


def test_reset_commands(server):
    assert server.four("srst") == "Server stats reset.\n"
    assert server.four("crst") == "Connection stats reset.\n"
    fields = srvr_fields(server.four("srvr"))
    # The srvr connection itself is the only packet counted since the reset.
    assert int(fields["Received"]) <= 2


def test_dirs(server, zk, base):
    zk.create(f"{base}/d", b"x" * 100)
    m = re.fullmatch(r"datadir_size: (\d+)\nlogdir_size: (\d+)\n", server.four("dirs"))
    assert m
    assert int(m.group(2)) > 0, "the transaction log holds at least the writes just made"


def test_command_not_in_whitelist(server_factory, target):
    limited = server_factory.start(target, **{"4lw.commands.whitelist": "ruok,srvr"})
    assert limited.four("ruok") == "imok"
    assert "Mode: standalone" in limited.four("srvr")
    for cmd in ("mntr", "stat", "conf", "dump", "envi"):
        assert limited.four(cmd) == f"{cmd} is not executed because it is not in the whitelist.\n"
