"""TLS on the client port (`secureClientPort` and ZooKeeper's `ssl.*` keys), against both servers with the same
expectations: kazoo (`use_ssl`, certificates checked both ways) and zkCli.sh (the Java client's Netty socket)
work over it; a client without a certificate, with one from another CA, or speaking plaintext is refused while
the server goes on serving the others. Warren also: PKCS#12 stores, a TLS-only server, the certificate reloaded
when its file changes, and set-ups that cannot work refused at start with the key to fix.

Certificates are made in the run with openssl (EC P-256, two days), each with 127.0.0.1 as its subject
alternative name so hostname checks pass on both sides."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

import rawzk
from servers import ZKCLI, free_port

ZK_NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


class Certs:
    """A CA and certificates it signs, as PEM files: `<name>.key`, `<name>.crt`, and `<name>.pem` (key + chain,
    ZooKeeper's PEM key store)."""

    def __init__(self, d: Path, ca_name: str):
        self.d = d
        d.mkdir(parents=True, exist_ok=True)
        self.ca = d / f"{ca_name}.crt"
        self.ca_key = d / f"{ca_name}.key"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(self.ca_key), "-out", str(self.ca), "-days", "2", "-subj", f"/CN={ca_name}")

    def issue(self, name: str) -> Path:
        key, csr, crt, ext = (self.d / f"{name}.{x}" for x in ("key", "csr", "crt", "ext"))
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                       "extendedKeyUsage=serverAuth,clientAuth\n")
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
                "-CAcreateserial", "-days", "2", "-out", str(crt), "-extfile", str(ext))
        pem = self.d / f"{name}.pem"
        pem.write_text(key.read_text() + crt.read_text() + self.ca.read_text())
        return pem

    def pkcs12(self, name: str, password: str) -> Path:
        out = self.d / f"{name}.p12"
        openssl("pkcs12", "-export", "-inkey", str(self.d / f"{name}.key"), "-in", str(self.d / f"{name}.crt"),
                "-certfile", str(self.ca), "-out", str(out), "-passout", f"pass:{password}")
        return out

    def key(self, name: str) -> Path:
        return self.d / f"{name}.key"

    def crt(self, name: str) -> Path:
        return self.d / f"{name}.crt"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("openssl missing: install Debian's openssl package (.ci/install)")
    d = tmp_path_factory.mktemp("tls")
    main = Certs(d / "main", "interop-ca")
    for name in ("server", "client"):
        main.issue(name)
    other = Certs(d / "other", "other-ca")
    other.issue("server")
    other.issue("client")
    return main, other


def tls_overrides(certs: Certs, secure_port: int, **extra) -> dict:
    return {"secureClientPort": secure_port, "serverCnxnFactory": ZK_NETTY,
            "ssl.keyStore.location": certs.d / "server.pem", "ssl.keyStore.type": "PEM",
            "ssl.trustStore.location": certs.ca, "ssl.trustStore.type": "PEM", **extra}


def tls_client(port: int, ca: Path, cert: Path | None = None, key: Path | None = None) -> KazooClient:
    return KazooClient(hosts=f"127.0.0.1:{port}", use_ssl=True, ca=str(ca), verify_certs=True, check_hostname=True,
                       certfile=str(cert) if cert else None, keyfile=str(key) if key else None, timeout=10)


def connects(client: KazooClient, timeout: float = 4.0) -> bool:
    try:
        client.start(timeout=timeout)
    except Exception:
        return False
    finally:
        client.stop()
        client.close()
    return True


@pytest.fixture
def tls_server(server_factory, target, certs):
    main, _ = certs
    port = free_port()
    s = server_factory.start(target, **tls_overrides(main, port))
    s.secure_port = port
    return s


def test_kazoo_over_tls_with_client_certificates_reads_writes_and_watches(tls_server, certs):
    main, _ = certs
    zk = tls_client(tls_server.secure_port, main.ca, main.crt("client"), main.key("client"))
    zk.start(timeout=15)
    try:
        zk.ensure_path("/tls")
        zk.create("/tls/a", b"over tls")
        assert zk.get("/tls/a")[0] == b"over tls"
        seen = []
        zk.DataWatch("/tls/a", lambda data, stat: seen.append(data))
        # A plaintext client on clientPort at the same time sees the same tree, and its write fires the watch.
        plain = KazooClient(hosts=tls_server.hosts, timeout=10)
        plain.start(timeout=15)
        try:
            assert plain.get("/tls/a")[0] == b"over tls"
            plain.set("/tls/a", b"changed in plaintext")
        finally:
            plain.stop()
            plain.close()
        deadline = time.monotonic() + 10
        while b"changed in plaintext" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen[-1] == b"changed in plaintext", seen
    finally:
        zk.stop()
        zk.close()


def test_clients_the_server_must_refuse_are_refused_and_others_still_served(tls_server, certs):
    """No client certificate (ssl.clientAuth defaults to need), a certificate from another CA, a client that does
    not trust the server's CA, and plaintext on the TLS port: each is refused; a good client is served after."""
    main, other = certs
    port = tls_server.secure_port
    assert not connects(tls_client(port, main.ca)), "a client without a certificate was let in"
    assert not connects(tls_client(port, main.ca, other.crt("client"), other.key("client"))), \
        "a client certificate from another CA was accepted"
    assert not connects(tls_client(port, other.ca, main.crt("client"), main.key("client"))), \
        "the client accepted a server certificate its CA did not sign"
    # Plaintext on the TLS port: the server closes it (the handshake bytes are not a TLS ClientHello).
    raw = rawzk.RawZK("127.0.0.1", port, io_timeout=5)
    with pytest.raises((rawzk.ConnectionClosed, OSError, ValueError)):
        raw.handshake()
    raw.sock.close()
    assert connects(tls_client(port, main.ca, main.crt("client"), main.key("client")), timeout=15)
    assert tls_server.is_running()


def test_client_auth_want_and_none_let_a_client_without_certificate_in(server_factory, target, certs):
    main, other = certs
    for auth in ("want", "none"):
        port = free_port()
        server_factory.start(target, **tls_overrides(main, port, **{"ssl.clientAuth": auth}))
        assert connects(tls_client(port, main.ca), timeout=15), f"clientAuth={auth}: refused a client without a certificate"
        if auth == "want":
            # A certificate that is presented must still be valid.
            assert not connects(tls_client(port, main.ca, other.crt("client"), other.key("client")))


def test_protocol_and_cipher_suite_lists_are_enforced(server_factory, target, certs):
    """ssl.enabledProtocols=TLSv1.3 refuses a TLS 1.2-only client; ssl.protocol=TLSv1.2 with one cipher suite
    refuses a client offering only another suite and serves one offering it."""
    main, _ = certs
    tls13 = free_port()
    # ZooKeeper 3.8 also needs ssl.protocol=TLSv1.3 (its SSLContext is made for ssl.protocol, default TLSv1.2) and
    # TLS 1.3 suites listed (its default suite list has TLS 1.2's only); Warren takes the same file.
    server_factory.start(target, **tls_overrides(main, tls13, **{
        "ssl.protocol": "TLSv1.3", "ssl.enabledProtocols": "TLSv1.3",
        "ssl.ciphersuites": "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384"}))
    tls12_only = ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_NO_TLSv1_3
    assert not connects_tls(tls13, main, options=tls12_only), "a TLS 1.2 client got into a TLSv1.3-only server"
    assert connects_tls(tls13, main)

    one_suite = free_port()
    server_factory.start(target, **tls_overrides(main, one_suite, **{
        "ssl.protocol": "TLSv1.2", "ssl.ciphersuites": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}))
    assert not connects_tls(one_suite, main, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"), \
        "a client without the one allowed suite got in"
    assert connects_tls(one_suite, main, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")


def connects_tls(port: int, certs: Certs, options: int | None = None, ciphers: str | None = None) -> bool:
    """kazoo with a client certificate, its SSL context given `options` (e.g. no TLS 1.3) and `ciphers`."""
    import kazoo.handlers.utils as kazoo_utils

    real = kazoo_utils.create_tcp_connection

    def with_options(*args, **kw):
        if options is not None:
            kw["options"] = options
        if ciphers is not None:
            kw["ciphers"] = ciphers
        return real(*args, **kw)

    c = tls_client(port, certs.ca, certs.crt("client"), certs.key("client"))
    kazoo_utils.create_tcp_connection = with_options
    try:
        return connects(c, timeout=6)
    finally:
        kazoo_utils.create_tcp_connection = real


def run_zkcli(port: int, certs: Certs, *args: str) -> tuple[int, str]:
    jars = ["/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar", "/usr/share/java/netty-codec.jar",
            "/usr/share/java/netty-resolver.jar"]
    flags = [
        # zkEnv.sh's classpath lacks two jars Netty's TLS needs; java takes the last -cp.
        "-cp", ":".join(jars), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty", "-Dzookeeper.client.secure=true",
        f"-Dzookeeper.ssl.keyStore.location={certs.d / 'client.pem'}", "-Dzookeeper.ssl.keyStore.type=PEM",
        f"-Dzookeeper.ssl.trustStore.location={certs.ca}", "-Dzookeeper.ssl.trustStore.type=PEM",
    ]
    env = {**os.environ, "CLIENT_JVMFLAGS": " ".join(flags)}
    p = subprocess.run([str(ZKCLI), "-server", f"127.0.0.1:{port}", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=90, env=env)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return p.returncode, "\n".join(l for l in out.splitlines() if not l.startswith("SLF4J:"))


def test_zkcli_over_tls_with_the_netty_socket(tls_server, certs):
    main, _ = certs
    if not ZKCLI.exists():
        pytest.fail(f"{ZKCLI} missing: install Debian's zookeeper package (.ci/install)")
    rc, out = run_zkcli(tls_server.secure_port, main, "create", "/tls-cli", "from zkCli")
    assert rc == 0 and "Created /tls-cli" in out, out
    rc, out = run_zkcli(tls_server.secure_port, main, "get", "/tls-cli")
    assert rc == 0 and "from zkCli" in out.splitlines(), out


def test_tls_only_server_serves_no_plaintext(server_factory, target, certs):
    """secureClientPort without clientPort: TLS only (nothing listens in plaintext)."""
    main, _ = certs
    s = server_factory.create(target, **tls_overrides(main, 0))
    port = s.port  # the port picked for clientPort becomes the TLS port
    s.cfg.pop("clientPort")
    s.cfg.pop("clientPortAddress")  # ZooKeeper refuses an address without a port
    s.cfg["secureClientPort"] = port
    s.cfg["secureClientPortAddress"] = "127.0.0.1"
    s.start(ready=lambda: connects(tls_client(port, main.ca, main.crt("client"), main.key("client")), timeout=2))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.sendall(b"ruok")
    raw.settimeout(5)
    try:
        answer = raw.recv(16)
    except OSError:
        answer = b""
    raw.close()
    assert answer != b"imok", "the TLS port answered a plaintext four-letter word"


@pytest.mark.only_targets("warren")
def test_pkcs12_key_and_trust_stores_with_passwords(server_factory, target, certs):
    main, _ = certs
    ks = main.pkcs12("server", "store-secret")
    port = free_port()
    server_factory.start(target, **tls_overrides(main, port, **{
        "ssl.keyStore.location": ks, "ssl.keyStore.type": "PKCS12", "ssl.keyStore.password": "store-secret"}))
    assert connects(tls_client(port, main.ca, main.crt("client"), main.key("client")), timeout=15)


@pytest.mark.only_targets("warren")
def test_a_renewed_certificate_is_used_for_new_connections_without_a_restart(server_factory, target, certs, tmp_path):
    """The key store file replaced by one signed by another CA: new connections get the new certificate (a
    client trusting only the new CA gets in, one trusting only the old does not); a store that does not load
    is reported and the previous one kept."""
    main, other = certs
    store = tmp_path / "server.pem"
    shutil.copy(main.d / "server.pem", store)
    port = free_port()
    s = server_factory.start(target, **tls_overrides(main, port, **{"ssl.keyStore.location": store}))
    old = main.ca
    both = tmp_path / "both-cas.crt"
    both.write_text(main.ca.read_text() + other.ca.read_text())

    # Broken file first: kept the old certificate.
    store.write_text("not a certificate\n")
    deadline = time.monotonic() + 15
    while "does not load" not in s.log_tail(200) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "does not load" in s.log_tail(200), s.log_tail(40)
    assert connects(tls_client(port, old, main.crt("client"), main.key("client")), timeout=10)

    tmp = tmp_path / "server.pem.new"
    shutil.copy(other.d / "server.pem", tmp)
    os.replace(tmp, store)
    # The client certificate is still checked against the trust store, which still holds the main CA only.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if connects(tls_client(port, other.ca, main.crt("client"), main.key("client")), timeout=3):
            break
        time.sleep(0.3)
    else:
        pytest.fail("the renewed certificate was not served within 15 s:\n" + s.log_tail(40))
    assert not connects(tls_client(port, old, main.crt("client"), main.key("client")), timeout=3)
    assert "reloaded" in s.log_tail(200)


@pytest.mark.only_targets("warren")
@pytest.mark.parametrize("keys, says, code", [
    ({"ssl.keyStore.location": None}, "needs ssl.keyStore.location", 2),
    ({"ssl.keyStore.location": "/etc/keystore.jks", "ssl.keyStore.type": None}, "keytool -importkeystore", 2),
    ({"ssl.clientAuth": "sometimes"}, "ssl.clientAuth=sometimes", 2),
    ({"ssl.enabledProtocols": "SSLv3"}, "ssl.enabledProtocols=SSLv3", 2),
    ({"ssl.ciphersuites": "TLS_FANCY_WITH_NOTHING"}, "TLS_FANCY_WITH_NOTHING", 2),
    ({"ssl.keyStore.location": "/nonexistent/server.pem"}, "cannot read the key store /nonexistent/server.pem", 1),
])
def test_tls_set_ups_that_cannot_work_stop_the_server_with_the_key_to_fix(server_factory, target, certs, keys, says, code):
    main, _ = certs
    s = server_factory.create(target, **{**tls_overrides(main, free_port()), **keys})
    got, output = s.run_expecting_exit(timeout=20)
    assert got == code, f"exit {got}:\n{output[-2000:]}"
    assert says in output, output[-2000:]


def test_zkfs_mounts_over_tls(tls_server, certs, tmp_path):
    """zkfs with `-o tls_ca=,tls_cert=,tls_key=`: the mount reads and writes over the TLS port; a mount that does
    not trust the server's CA fails to mount with the reason."""
    from test_zkfs import Mount

    main, other = certs
    hosts = f"127.0.0.1:{tls_server.secure_port}"
    opts = f"tls_ca={main.ca},tls_cert={main.crt('client')},tls_key={main.key('client')}"
    m = Mount(hosts, tmp_path / "mnt", tmp_path / "zkfs.log", options=opts)
    try:
        (m.path / "tls-file").write_text("written through zkfs over tls\n")
        assert (m.path / "tls-file").read_text() == "written through zkfs over tls\n"
        zk = tls_client(tls_server.secure_port, main.ca, main.crt("client"), main.key("client"))
        zk.start(timeout=15)
        try:
            assert zk.get("/tls-file")[0] == b"written through zkfs over tls\n"
        finally:
            zk.stop()
            zk.close()
    finally:
        m.close()
    from test_zkfs import zkfs_binary
    (tmp_path / "mnt2").mkdir()
    bad = subprocess.run(
        [str(zkfs_binary()), hosts, str(tmp_path / "mnt2"), "-f", "-o",
         f"tls_ca={other.ca},tls_cert={main.crt('client')},tls_key={main.key('client')},session_timeout=3000"],
        capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0, bad.stdout + bad.stderr
    missing = subprocess.run(
        [str(zkfs_binary()), hosts, str(tmp_path / "mnt2"), "-f", "-o", "tls_ca=/nonexistent/ca.crt"],
        capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "/nonexistent/ca.crt" in missing.stdout + missing.stderr, missing.stderr


def quorum_tls(certs: Certs, key_store: Path | None = None) -> dict:
    return {"sslQuorum": "true", "serverCnxnFactory": ZK_NETTY,
            "ssl.quorum.keyStore.location": key_store or certs.d / "server.pem", "ssl.quorum.keyStore.type": "PEM",
            "ssl.quorum.trustStore.location": certs.ca, "ssl.quorum.trustStore.type": "PEM"}


def test_quorum_tls_replicates_and_keeps_out_a_server_with_a_foreign_certificate(target, certs, tmp_path):
    """sslQuorum=true: a 3-server ensemble forms and replicates over TLS; server 3 restarted with a certificate
    from another CA cannot rejoin while the other two go on committing; given its own CA's certificate again it
    rejoins with every write."""
    from quorum import Quorum

    main, other = certs
    q = Quorum(target, tmp_path, voters=3, cfg=quorum_tls(main))
    try:
        q.start(timeout=90)
        zk = KazooClient(hosts=q.hosts([1, 2]), timeout=10)
        zk.start(timeout=20)
        try:
            # kazoo's retry: a write may meet a connection loss while the ensemble settles (ZooKeeper, once here).
            zk.retry(zk.ensure_path, "/qtls")
            q.kill(3)
            q.servers[3].cfg["ssl.quorum.keyStore.location"] = other.d / "server.pem"
            q.servers[3].spawn()
            for n in range(20):
                zk.retry(zk.set, "/qtls", f"write {n}".encode())
            time.sleep(3)
            assert q.servers[3].mode() not in ("leader", "follower"), \
                f"server 3 joined with a foreign certificate:\n{q.servers[3].log_tail(20)}"
            q.kill(3)
            q.servers[3].cfg["ssl.quorum.keyStore.location"] = main.d / "server.pem"
            q.servers[3].spawn()
            q.wait_serving([3], timeout=60)
            three = KazooClient(hosts=q.servers[3].hosts, timeout=10)
            three.start(timeout=20)
            try:
                three.sync("/qtls")
                assert three.get("/qtls")[0] == b"write 19"
            finally:
                three.stop()
                three.close()
        finally:
            zk.stop()
            zk.close()
    finally:
        q.close()
