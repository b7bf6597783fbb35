#!/usr/bin/env python3
"""A wiped follower rejoining a large tree (manual scale check, not in CI; see Docs/performance.md section 11).

    python3 Tests/bench/snap_rejoin.py ZNODES [DIR]     (TICK=2000 INIT=10 WARREN_BIN=.build/release/warren)

Starts 3 Warren servers in DIR (default /tmp/snapscale, deleted at the end), loads ZNODES znodes of 100 B with
`warren bench`, kill -9s a follower, wipes its dataDir but myid, restarts it and prints the seconds until `srvr`
says follower, the peak RSS of leader and follower meanwhile (sampled every 50 ms), the chunks received and every
server's `hash`.
"""
import os, shutil, signal, socket, subprocess, sys, threading, time
from pathlib import Path

BIN = os.environ.get("WARREN_BIN", str(Path(__file__).resolve().parents[2] / ".build/release/warren"))
N = int(sys.argv[1])
ROOT = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/snapscale")
TICK = int(os.environ.get("TICK", "2000"))
INIT = int(os.environ.get("INIT", "10"))
BASE = 24181
shutil.rmtree(ROOT, ignore_errors=True)
servers = "\n".join(f"server.{i}=127.0.0.1:{BASE+1000+i}:{BASE+2000+i}" for i in (1, 2, 3))
for i in (1, 2, 3):
    d = ROOT / f"s{i}"
    (d / "data").mkdir(parents=True)
    (d / "data" / "myid").write_text(f"{i}\n")
    (d / "zoo.cfg").write_text(f"tickTime={TICK}\ninitLimit={INIT}\nsyncLimit=5\ndataDir={d/'data'}\nclientPort={BASE+i}\n"
                               f"clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n{servers}\n")
procs = {}
def start(i):
    log = open(ROOT / f"s{i}" / "server.log", "ab")
    procs[i] = subprocess.Popen([BIN, "server", "--config", str(ROOT / f"s{i}" / "zoo.cfg")], stdout=log, stderr=log)
def fourlw(i, w):
    try:
        with socket.create_connection(("127.0.0.1", BASE + i), timeout=2) as s:
            s.sendall(w.encode()); out = b""
            while True:
                b = s.recv(65536)
                if not b: break
                out += b
            return out.decode()
    except OSError:
        return ""
def mode(i):
    for l in fourlw(i, "srvr").splitlines():
        if l.startswith("Mode: "): return l[6:]
def rss_kb(pid, field="VmRSS"):
    try:
        for l in open(f"/proc/{pid}/status"):
            if l.startswith(field + ":"): return int(l.split()[1])
    except OSError:
        return 0
    return 0
try:
    for i in (1, 2, 3): start(i)
    t0 = time.time()
    while not (sorted(mode(i) or "" for i in (1, 2, 3)) == ["follower", "follower", "leader"]):
        time.sleep(0.2)
        assert time.time() - t0 < 60
    hosts = ",".join(f"127.0.0.1:{BASE+i}" for i in (1, 2, 3))
    t = time.time()
    subprocess.run([BIN, "bench", "--hosts", hosts, "--keys", str(N), "--value-bytes", "100", "--duration", "0",
                    "--no-cleanup"], check=True, stdout=subprocess.DEVNULL)
    print(f"loaded {N} znodes in {time.time()-t:.1f}s", flush=True)
    leader = next(i for i in (1, 2, 3) if mode(i) == "leader")
    follower = next(i for i in (1, 2, 3) if i != leader)
    print("leader", leader, "follower", follower, "leader RSS before", rss_kb(procs[leader].pid) // 1024, "MiB", flush=True)
    procs[follower].send_signal(signal.SIGKILL); procs[follower].wait()
    d = ROOT / f"s{follower}" / "data"
    for e in d.iterdir():
        if e.name != "myid": shutil.rmtree(e) if e.is_dir() else e.unlink()
    peak = {"leader": 0, "follower": 0}
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak["leader"] = max(peak["leader"], rss_kb(procs[leader].pid))
            if follower in procs: peak["follower"] = max(peak["follower"], rss_kb(procs[follower].pid))
            time.sleep(0.05)
    th = threading.Thread(target=sample); th.start()
    t = time.time()
    start(follower)
    while mode(follower) != "follower":
        time.sleep(0.1)
        if time.time() - t > 600: raise SystemExit("no rejoin in 600 s")
    rejoin = time.time() - t
    done.set(); th.join()
    m = dict(l.split("\t", 1) for l in fourlw(follower, "mntr").splitlines() if "\t" in l)
    hwm = rss_kb(procs[follower].pid, "VmHWM")
    print(f"rejoin {rejoin:.1f}s; peak RSS leader {peak['leader']//1024} MiB, follower {peak['follower']//1024} MiB "
          f"(VmHWM {hwm//1024} MiB); chunks {m.get('warren_snapshot_chunks_received')} bytes {m.get('warren_snapshot_bytes_received')}",
          flush=True)
    hashes = {i: fourlw(i, "hash").strip() for i in (1, 2, 3)}
    print("hash", hashes, flush=True)
    os.system(f"grep -h 'snapshot sent\\|snapshot received\\|bad snapshot\\|looking\\|following\\|installed\\|restor' {ROOT}/s*/server.log | tail -20")
finally:
    for p in procs.values():
        p.send_signal(signal.SIGKILL); p.wait()
    shutil.rmtree(ROOT, ignore_errors=True)
