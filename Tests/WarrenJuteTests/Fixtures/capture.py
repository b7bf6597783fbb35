#!/usr/bin/env python3
"""Capture ZooKeeper client-protocol frames for WarrenJute's byte-exact fixture tests.

This script starts no server. It listens on 127.0.0.1 (an ephemeral port), relays every connection to an already
running ZooKeeper given with --zk, and appends each direction's bytes, frame by frame, to
<out>/<name>-c2s.bin and <out>/<name>-s2c.bin. Each file is the raw stream: 4-byte big-endian length, then the
payload, repeated. While the relay runs, a kazoo client connects through it and performs a fixed script of operations.

Usage: python3 capture.py --zk 127.0.0.1:22181 --out DIR
"""

import argparse
import os
import socket
import struct
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE


def read_exact(sock, n):
    """n bytes from sock, or None if the peer closed first."""
    chunks = []
    while n > 0:
        chunk = sock.recv(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def pump(src, dst, path, lock):
    """Copy frames from src to dst until either side closes, appending each complete frame to path."""
    try:
        while True:
            prefix = read_exact(src, 4)
            if prefix is None:
                break
            (length,) = struct.unpack(">i", prefix)
            payload = read_exact(src, length)
            if payload is None:
                break
            with lock, open(path, "ab") as f:
                f.write(prefix + payload)
            dst.sendall(prefix + payload)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listener, target, out_dir, name):
    """Relays exactly one client connection; the fixtures describe a single session."""
    client, _ = listener.accept()
    server = socket.create_connection(target)
    lock = threading.Lock()
    threads = [
        threading.Thread(target=pump, args=(client, server, os.path.join(out_dir, name + "-c2s.bin"), lock)),
        threading.Thread(target=pump, args=(server, client, os.path.join(out_dir, name + "-s2c.bin"), lock)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    server.close()


def drive(port):
    """The operations whose frames become fixtures. Their order is what the README and the tests describe."""
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=4.0)
    zk.start()  # connect
    zk.create("/fx", b"hello")  # create, persistent
    zk.create("/fx/eph", b"e", ephemeral=True)  # create, ephemeral
    zk.create("/fx/seq-", b"s", sequence=True)  # create, persistent sequential
    zk.create("/fx/c2", b"", include_data=True)  # create2
    zk.get("/fx")  # getData
    zk.set("/fx", b"world")  # setData
    zk.exists("/fx")  # exists, node present
    zk.exists("/fx/missing")  # exists, NoNode: header only
    zk.get_children("/fx", include_data=True)  # getChildren2
    zk.delete("/fx/seq-0000000001")  # delete

    t = zk.transaction()  # multi that succeeds
    t.create("/fx/m1", b"1")
    t.set_data("/fx", b"multi")
    t.check("/fx", 2)
    t.delete("/fx/m1")
    t.commit()

    t = zk.transaction()  # multi that fails on its check
    t.create("/fx/m2", b"2")
    t.check("/fx", 999)
    t.delete("/fx/c2")
    t.commit()

    zk.get_acls("/fx")  # getACL
    zk.set_acls("/fx", [make_digest_acl("bob", "secret", all=True)] + list(OPEN_ACL_UNSAFE))  # setACL

    fired = threading.Event()
    zk.get("/fx", watch=lambda event: fired.set())  # getData leaving a data watch
    zk.set("/fx", b"watched")  # fires the watch: a notification frame
    fired.wait(5)

    try:
        zk.get("/fx/missing")  # getData, NoNode
    except NoNodeError:
        pass
    try:
        zk.set("/fx", b"stale", version=0)  # setData, BadVersion
    except BadVersionError:
        pass

    time.sleep(3.5)  # idle long enough for kazoo to ping (it pings after a third of the negotiated timeout)
    zk.stop()  # closeSession
    zk.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zk", required=True, help="host:port of a running ZooKeeper, e.g. 127.0.0.1:22181")
    parser.add_argument("--out", required=True, help="directory for the captured .bin files")
    parser.add_argument("--name", default="session", help="file name prefix")
    args = parser.parse_args()
    host, port = args.zk.rsplit(":", 1)
    os.makedirs(args.out, exist_ok=True)
    for suffix in ("-c2s.bin", "-s2c.bin"):
        path = os.path.join(args.out, args.name + suffix)
        if os.path.exists(path):
            os.remove(path)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    relay = threading.Thread(target=serve, args=(listener, (host, int(port)), args.out, args.name))
    relay.start()
    drive(listener.getsockname()[1])
    relay.join(10)
    listener.close()


if __name__ == "__main__":
    main()
