#!/usr/bin/env python3
"""Capture the java-* fixtures: the official Java client (JavaSession.java) through a recording relay.

Like capture.py this starts no server: it relays to an already running ZooKeeper given with --zk. Each TCP connection
the client makes becomes one pair of files, java-<n>-c2s.bin and java-<n>-s2c.bin (n = 1, 2, 3: the first connection,
then the two reconnects JavaSession asks for by printing CUT, on which the relay drops the current connection).

Usage: python3 capture_java.py --zk 127.0.0.1:22181 --out DIR
Needs javac and Debian's zookeeper package (zookeeper.jar and its dependencies).
"""

import argparse
import os
import socket
import subprocess
import tempfile
import threading

from capture import pump

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSPATH = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-nop.jar"]


def relay_forever(listener, target, out_dir, live):
    """Relays connection after connection, numbering their file pairs; `live` holds the current sockets."""
    n = 0
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        n += 1
        server = socket.create_connection(target)
        live[:] = [client, server]
        lock = threading.Lock()
        prefix = os.path.join(out_dir, f"java-{n}")
        for src, dst, suffix in ((client, server, "-c2s.bin"), (server, client, "-s2c.bin")):
            threading.Thread(target=pump, args=(src, dst, prefix + suffix, lock), daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zk", required=True, help="host:port of a running ZooKeeper")
    parser.add_argument("--out", required=True, help="directory for the captured .bin files")
    args = parser.parse_args()
    host, port = args.zk.rsplit(":", 1)
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        if name.startswith("java-") and name.endswith(".bin"):
            os.remove(os.path.join(args.out, name))

    classes = tempfile.mkdtemp(prefix="java-session-")
    subprocess.run(["javac", "--release", "17", "-cp", ":".join(CLASSPATH), "-d", classes,
                    os.path.join(HERE, "JavaSession.java")], check=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    live = []
    threading.Thread(target=relay_forever, args=(listener, (host, int(port)), args.out, live), daemon=True).start()
    java = subprocess.Popen(
        ["java", "-cp", ":".join([classes, *CLASSPATH]), "JavaSession", "127.0.0.1:%d" % listener.getsockname()[1]],
        stdout=subprocess.PIPE, text=True)
    for line in java.stdout:
        if line.strip() == "CUT":
            for s in live:
                s.shutdown(socket.SHUT_RDWR)
    rc = java.wait(60)
    listener.close()
    if rc != 0:
        raise SystemExit(f"JavaSession exited {rc}")


if __name__ == "__main__":
    main()
