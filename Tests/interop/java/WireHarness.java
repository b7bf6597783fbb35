import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

/**
 * Drives every operation the official Java client exposes against one server and prints one normalized line per
 * result or watch event, so that the output of a run against Apache ZooKeeper and one against Warren can be compared
 * line for line (test_java_client.py compares both with the committed expectations in expected/).
 *
 * Usage: java WireHarness host:port [relay]
 *   relay: the clients connect through a loopback relay inside this process, which the script cuts once to make
 *          the client reconnect and re-register its watches (setWatches / setWatches2).
 *
 * Normalization: the work happens under a fresh base path, printed as $B; zxids are printed relative to the czxid
 * of the base node (+N); times are left out (only whether ctime equals mtime); ephemeralOwner prints as "self",
 * "other" or 0. Everything else (versions, lengths, child counts, error codes, event order) prints as it is.
 */
public final class WireHarness {
    static final int SESSION_TIMEOUT_MS = 10_000;
    static final long WAIT_S = 10;

    static String base;
    static long baseZxid;
    static long selfSession;

    public static void main(String[] args) throws Exception {
        String hosts = args[0];
        boolean relay = args.length > 1 && args[1].equals("relay");
        base = "/wire-" + Long.toHexString(System.nanoTime());
        Relay r = relay ? Relay.start(hosts) : null;
        String connect = r == null ? hosts : r.address();
        int rc = 0;
        try {
            run(connect, hosts, r);
        } catch (Throwable t) {
            out("harness failed: " + t);
            t.printStackTrace(System.err);
            rc = 1;
        }
        System.out.flush();
        System.exit(rc);
    }

    // ---- output --------------------------------------------------------------------------------------------

    static void out(String line) {
        System.out.println(line.replace(base, "$B"));
    }

    static String z(long zxid) {
        return zxid == 0 ? "0" : "+" + (zxid - baseZxid);
    }

    static String stat(Stat s) {
        if (s == null) return "null";
        String owner = s.getEphemeralOwner() == 0 ? "0" : s.getEphemeralOwner() == selfSession ? "self" : "other";
        return "Stat(czxid=" + z(s.getCzxid()) + " mzxid=" + z(s.getMzxid()) + " pzxid=" + z(s.getPzxid())
            + " ctime==mtime=" + (s.getCtime() == s.getMtime()) + " version=" + s.getVersion()
            + " cversion=" + s.getCversion() + " aversion=" + s.getAversion() + " owner=" + owner
            + " dataLength=" + s.getDataLength() + " numChildren=" + s.getNumChildren() + ")";
    }

    static String data(byte[] b) {
        return b == null ? "null" : "'" + new String(b, StandardCharsets.UTF_8) + "'";
    }

    static String acl(List<ACL> acl) {
        List<String> parts = new ArrayList<>();
        for (ACL a : acl) parts.add(a.getId().getScheme() + ":" + a.getId().getId() + ":" + a.getPerms());
        return parts.toString();
    }

    static String err(KeeperException e) {
        return "ERR " + e.code() + (e.getPath() == null ? "" : " path=" + e.getPath());
    }

    static String result(OpResult r) {
        if (r instanceof OpResult.CreateResult c) return "create " + c.getPath() + " " + stat(c.getStat());
        if (r instanceof OpResult.SetDataResult s) return "setData " + stat(s.getStat());
        if (r instanceof OpResult.DeleteResult) return "delete";
        if (r instanceof OpResult.CheckResult) return "check";
        if (r instanceof OpResult.GetDataResult g) return "getData " + data(g.getData()) + " " + stat(g.getStat());
        if (r instanceof OpResult.GetChildrenResult g) {
            List<String> c = new ArrayList<>(g.getChildren());
            Collections.sort(c);
            return "getChildren " + c;
        }
        if (r instanceof OpResult.ErrorResult e) return "error " + KeeperException.Code.get(e.getErr());
        return "unknown " + r;
    }

    interface Step {
        String call() throws Exception;
    }

    /** Runs one call and prints its result or its KeeperException, labelled. */
    static void step(String label, Step s) throws Exception {
        String res;
        try {
            res = s.call();
        } catch (KeeperException e) {
            res = err(e);
        }
        out(label + " -> " + res);
    }

    // ---- watches ---------------------------------------------------------------------------------------------

    /** Collects the events of one client in order; printed only at `drain`, so output order is deterministic. */
    static final class Events implements Watcher {
        final String name;
        final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        final CountDownLatch connected = new CountDownLatch(1);
        final java.util.concurrent.atomic.AtomicInteger connects = new java.util.concurrent.atomic.AtomicInteger();

        Events(String name) {
            this.name = name;
        }

        @Override
        public void process(WatchedEvent e) {
            if (e.getType() == Event.EventType.None) {
                if (e.getState() == Event.KeeperState.SyncConnected) {
                    connects.incrementAndGet();
                    connected.countDown();
                }
                return;
            }
            queue.add("event " + name + " " + e.getType() + " " + e.getPath() + " " + e.getState());
        }
    }

    /**
     * Prints every event delivered to `zk` so far. An event is sent before the reply to any later request of the
     * same session, and the client hands events and async callbacks to its event thread in arrival order, so once
     * the callback of a request made now has run, every earlier event has been processed.
     */
    static void drain(ZooKeeper zk, Events ev) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        zk.exists("/", false, (rc, path, ctx, st) -> done.countDown(), null);
        if (!done.await(WAIT_S, TimeUnit.SECONDS)) throw new IllegalStateException("drain timed out");
        List<String> lines = new ArrayList<>();
        ev.queue.drainTo(lines);
        for (String l : lines) out(l);
    }

    static ZooKeeper connect(String hosts, Events ev) throws Exception {
        ZooKeeper zk = new ZooKeeper(hosts, SESSION_TIMEOUT_MS, ev);
        if (!ev.connected.await(WAIT_S, TimeUnit.SECONDS)) throw new IllegalStateException("no connection to " + hosts);
        return zk;
    }

    // ---- the script --------------------------------------------------------------------------------------------

    static void run(String hosts, String direct, Relay relay) throws Exception {
        Events ev = new Events("A");
        ZooKeeper a = connect(hosts, ev);
        selfSession = a.getSessionId();
        Events evB = new Events("B");
        ZooKeeper b = connect(direct, evB);
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        String B = base;

        a.create(B, "base".getBytes(), open, CreateMode.PERSISTENT);
        baseZxid = a.exists(B, false).getCzxid();
        out("session timeout within limits -> " + (a.getSessionTimeout() > 0));

        // create in every mode, create2, and their errors
        step("create persistent", () -> a.create(B + "/p", "v0".getBytes(), open, CreateMode.PERSISTENT));
        step("create null data", () -> a.create(B + "/nul", null, open, CreateMode.PERSISTENT));
        step("create2 persistent", () -> {
            Stat s = new Stat();
            String p = a.create(B + "/p2", "two".getBytes(), open, CreateMode.PERSISTENT, s);
            return p + " " + stat(s);
        });
        step("create ephemeral", () -> a.create(B + "/e", "eph".getBytes(), open, CreateMode.EPHEMERAL));
        step("create persistent sequential", () -> a.create(B + "/s-", new byte[0], open, CreateMode.PERSISTENT_SEQUENTIAL));
        step("create ephemeral sequential", () -> a.create(B + "/s-", new byte[0], open, CreateMode.EPHEMERAL_SEQUENTIAL));
        step("create container", () -> {
            Stat s = new Stat();
            return a.create(B + "/c", "box".getBytes(), open, CreateMode.CONTAINER, s) + " " + stat(s);
        });
        step("create ttl", () -> {
            Stat s = new Stat();
            return a.create(B + "/t", "ttl".getBytes(), open, CreateMode.PERSISTENT_WITH_TTL, s, 60_000) + " " + stat(s);
        });
        step("create sequential ttl", () -> {
            Stat s = new Stat();
            return a.create(B + "/ts-", new byte[0], open, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, s, 60_000) + " " + stat(s);
        });
        step("create exists", () -> a.create(B + "/p", new byte[0], open, CreateMode.PERSISTENT));
        step("create no parent", () -> a.create(B + "/missing/x", new byte[0], open, CreateMode.PERSISTENT));
        step("create under ephemeral", () -> a.create(B + "/e/x", new byte[0], open, CreateMode.PERSISTENT));
        step("create empty acl", () -> a.create(B + "/noacl", new byte[0], new ArrayList<>(), CreateMode.PERSISTENT));
        step("create2 exists", () -> a.create(B + "/p2", new byte[0], open, CreateMode.PERSISTENT, new Stat()));

        // reads
        step("exists", () -> stat(a.exists(B + "/p", false)));
        step("exists missing", () -> stat(a.exists(B + "/nope", false)));
        step("getData", () -> {
            Stat s = new Stat();
            return data(a.getData(B + "/p", false, s)) + " " + stat(s);
        });
        step("getData null", () -> data(a.getData(B + "/nul", false, null)));
        step("getData ephemeral", () -> {
            Stat s = new Stat();
            return data(a.getData(B + "/e", false, s)) + " " + stat(s);
        });
        step("getData container", () -> {
            Stat s = new Stat();
            return data(a.getData(B + "/c", false, s)) + " " + stat(s);
        });
        step("getData missing", () -> data(a.getData(B + "/nope", false, null)));
        step("getChildren", () -> sorted(a.getChildren(B, false)));
        step("getChildren2", () -> {
            Stat s = new Stat();
            return sorted(a.getChildren(B, false, s)) + " " + stat(s);
        });
        step("getChildren missing", () -> sorted(a.getChildren(B + "/nope", false)));
        step("getChildren2 missing", () -> sorted(a.getChildren(B + "/nope", false, new Stat())));
        step("getAllChildrenNumber", () -> String.valueOf(a.getAllChildrenNumber(B)));
        step("getAllChildrenNumber missing", () -> String.valueOf(a.getAllChildrenNumber(B + "/nope")));
        step("getEphemerals prefix", () -> sorted(a.getEphemerals(B)));
        step("getEphemerals other session", () -> sorted(b.getEphemerals(B)));
        step("getEphemerals all", () -> String.valueOf(a.getEphemerals().stream().filter(p -> p.startsWith(B)).count()));
        step("sync", () -> {
            CountDownLatch l = new CountDownLatch(1);
            AtomicReference<String> res = new AtomicReference<>();
            a.sync(B + "/p", (rc, path, ctx) -> {
                res.set(KeeperException.Code.get(rc) + " " + path);
                l.countDown();
            }, null);
            l.await(WAIT_S, TimeUnit.SECONDS);
            return res.get();
        });

        // setData, delete, versions
        step("setData", () -> stat(a.setData(B + "/p", "v1".getBytes(), 0)));
        step("setData any version", () -> stat(a.setData(B + "/p", "v2".getBytes(), -1)));
        step("setData bad version", () -> stat(a.setData(B + "/p", "x".getBytes(), 7)));
        step("setData missing", () -> stat(a.setData(B + "/nope", "x".getBytes(), -1)));
        step("delete bad version", () -> { a.delete(B + "/p2", 5); return "ok"; });
        step("delete not empty", () -> { a.delete(B, -1); return "ok"; });
        step("delete missing", () -> { a.delete(B + "/nope", -1); return "ok"; });
        step("delete", () -> { a.delete(B + "/p2", 0); return "ok"; });

        // ACLs and auth
        List<ACL> readOnly = Arrays.asList(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        step("getACL", () -> {
            Stat s = new Stat();
            return acl(a.getACL(B + "/p", s)) + " " + stat(s);
        });
        step("getACL missing", () -> acl(a.getACL(B + "/nope", new Stat())));
        step("setACL read-only", () -> stat(a.setACL(B + "/p", readOnly, 0)));
        step("setACL bad version", () -> stat(a.setACL(B + "/p", open, 0)));
        step("setACL missing", () -> stat(a.setACL(B + "/nope", open, -1)));
        step("setData no auth", () -> stat(a.setData(B + "/p", "x".getBytes(), -1)));
        step("create child no auth", () -> a.create(B + "/p/x", new byte[0], open, CreateMode.PERSISTENT));
        step("setACL no auth", () -> stat(a.setACL(B + "/p", open, -1)));
        step("whoAmI before auth", () -> clientInfo(a.whoAmI()));
        a.addAuthInfo("digest", "alice:secret".getBytes());
        step("whoAmI after auth", () -> clientInfo(a.whoAmI()));
        step("create with auth acl", () -> a.create(B + "/mine", "m".getBytes(), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
        step("getACL auth acl", () -> acl(a.getACL(B + "/mine", new Stat())));
        step("getACL auth acl other session", () -> acl(b.getACL(B + "/mine", new Stat())));
        step("getData other session no auth", () -> data(b.getData(B + "/mine", false, null)));
        step("create creator acl without auth", () -> b.create(B + "/theirs", new byte[0], ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
        step("create invalid acl scheme", () -> a.create(B + "/bad", new byte[0],
            Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("nosuchscheme", "x"))), CreateMode.PERSISTENT));

        // multi (writes) and multiRead
        step("multi ok", () -> results(a.multi(Arrays.asList(
            Op.create(B + "/m1", "a".getBytes(), open, CreateMode.PERSISTENT),
            Op.create(B + "/m2", "b".getBytes(), open, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.setData(B + "/m1", "c".getBytes(), 0),
            Op.check(B + "/m1", 1),
            Op.delete(B + "/m1", 1)))));
        step("multi fails on check", () -> results(a.multi(Arrays.asList(
            Op.create(B + "/m3", new byte[0], open, CreateMode.PERSISTENT),
            Op.check(B + "/c", 9),
            Op.delete(B + "/c", -1)))));
        step("multi fails (results)", () -> {
            try {
                a.multi(Arrays.asList(Op.setData(B + "/c", "z".getBytes(), -1), Op.delete(B + "/nope", -1)));
                return "no error";
            } catch (KeeperException e) {
                return err(e) + " " + results(e.getResults());
            }
        });
        step("multi empty", () -> results(a.multi(new ArrayList<>())));
        step("multiRead mixed", () -> results(a.multi(Arrays.asList(
            Op.getData(B + "/c"), Op.getChildren(B), Op.getData(B + "/nope"), Op.getChildren(B + "/nope"),
            Op.getData(B + "/mine")))));
        step("multiRead no auth", () -> results(b.multi(Arrays.asList(Op.getData(B + "/mine"), Op.getData(B + "/c")))));

        // one-shot watches: every kind and event type; B makes the changes, A sees them
        step("watch exists missing", () -> stat(a.exists(B + "/w", true)));
        step("B create w", () -> b.create(B + "/w", "0".getBytes(), open, CreateMode.PERSISTENT));
        drain(a, ev);
        step("watch getData", () -> data(a.getData(B + "/w", true, null)));
        step("watch exists present", () -> stat(a.exists(B + "/w", true)));
        step("watch getChildren", () -> sorted(a.getChildren(B + "/w", true)));
        step("B setData w", () -> stat(b.setData(B + "/w", "1".getBytes(), -1)));
        drain(a, ev);
        step("B create w/k", () -> b.create(B + "/w/k", new byte[0], open, CreateMode.PERSISTENT));
        drain(a, ev);
        step("watch getData again", () -> data(a.getData(B + "/w", true, null)));
        step("watch getChildren2 again", () -> sorted(a.getChildren(B + "/w", true, new Stat())));
        step("B delete w/k", () -> { b.delete(B + "/w/k", -1); return "ok"; });
        step("B delete w", () -> { b.delete(B + "/w", -1); return "ok"; });
        drain(a, ev);

        // persistent and persistent recursive watches (addWatch), removeWatches, checkWatches
        step("addWatch persistent", () -> { a.addWatch(B + "/pw", AddWatchMode.PERSISTENT); return "ok"; });
        step("addWatch persistent recursive", () -> { a.addWatch(B + "/rw", AddWatchMode.PERSISTENT_RECURSIVE); return "ok"; });
        step("addWatch recursive missing parent", () -> { a.addWatch(B + "/rw/deep/er", AddWatchMode.PERSISTENT_RECURSIVE); return "ok"; });
        step("B create pw", () -> b.create(B + "/pw", new byte[0], open, CreateMode.PERSISTENT));
        step("B create pw/k", () -> b.create(B + "/pw/k", new byte[0], open, CreateMode.PERSISTENT));
        step("B setData pw", () -> stat(b.setData(B + "/pw", "x".getBytes(), -1)));
        step("B create rw", () -> b.create(B + "/rw", new byte[0], open, CreateMode.PERSISTENT));
        step("B create rw/k", () -> b.create(B + "/rw/k", new byte[0], open, CreateMode.PERSISTENT));
        step("B setData rw/k", () -> stat(b.setData(B + "/rw/k", "y".getBytes(), -1)));
        step("B delete rw/k", () -> { b.delete(B + "/rw/k", -1); return "ok"; });
        drain(a, ev);
        Watcher extra = e -> { };
        step("getData with own watcher", () -> data(a.getData(B + "/c", extra, null)));
        step("removeWatches data (checkWatches)", () -> { a.removeWatches(B + "/c", extra, Watcher.WatcherType.Data, false); return "ok"; });
        step("removeWatches again", () -> { a.removeWatches(B + "/c", extra, Watcher.WatcherType.Data, false); return "ok"; });
        step("removeAllWatches persistent", () -> { a.removeAllWatches(B + "/pw", Watcher.WatcherType.Any, false); return "ok"; });
        step("removeAllWatches none", () -> { a.removeAllWatches(B + "/nothing", Watcher.WatcherType.Any, false); return "ok"; });
        step("B setData pw after remove", () -> stat(b.setData(B + "/pw", "z".getBytes(), -1)));
        drain(a, ev);

        // watches survive a reconnect: the client re-registers them (setWatches / setWatches2)
        if (relay != null) {
            // A holds persistent watches too, so it re-registers with setWatches2; D holds one-shot watches only, so
            // it re-registers with setWatches.
            Events evD = new Events("D");
            ZooKeeper d = connect(hosts, evD);
            step("watch getData for reconnect", () -> data(a.getData(B + "/c", true, null)));
            step("watch exists for reconnect", () -> stat(a.exists(B + "/later", true)));
            step("D watch getChildren for reconnect", () -> sorted(d.getChildren(B + "/c", true)));
            step("D watch exists for reconnect", () -> stat(d.exists(B + "/later", true)));
            int connectsA = ev.connects.get(), connectsD = evD.connects.get();
            relay.cutAll();
            if (!waitReconnected(ev, connectsA) || !waitReconnected(evD, connectsD)) {
                throw new IllegalStateException("no reconnect");
            }
            step("B create c/k after reconnect", () -> b.create(B + "/c/k", new byte[0], open, CreateMode.PERSISTENT));
            step("B setData c after reconnect", () -> stat(b.setData(B + "/c", "again".getBytes(), -1)));
            step("B create later", () -> b.create(B + "/later", new byte[0], open, CreateMode.PERSISTENT));
            step("B create rw/after", () -> b.create(B + "/rw/after", new byte[0], open, CreateMode.PERSISTENT));
            drain(a, ev);
            drain(d, evD);
            d.close();
        }

        // chroot: the same calls through host:port/base
        Events evC = new Events("C");
        ZooKeeper c = connect(hosts + B, evC);
        step("chroot create", () -> c.create("/inner", "i".getBytes(), open, CreateMode.PERSISTENT));
        step("chroot create sequential", () -> c.create("/q-", new byte[0], open, CreateMode.PERSISTENT_SEQUENTIAL));
        step("chroot getChildren contains inner", () -> String.valueOf(c.getChildren("/", false).contains("inner")));
        step("chroot exists base view", () -> String.valueOf(a.exists(B + "/inner", false) != null));
        step("chroot multiRead", () -> results(c.multi(Arrays.asList(Op.getData("/inner"), Op.getChildren("/nope")))));
        step("chroot multi write", () -> results(c.multi(Arrays.asList(
            Op.create("/mc", new byte[0], open, CreateMode.PERSISTENT), Op.setData("/inner", "j".getBytes(), -1)))));
        step("chroot addWatch", () -> { c.addWatch("/inner", AddWatchMode.PERSISTENT); return "ok"; });
        step("chroot getData watch", () -> data(c.getData("/mc", true, null)));
        step("B setData inner", () -> stat(b.setData(B + "/inner", "k".getBytes(), -1)));
        step("B delete mc", () -> { b.delete(B + "/mc", -1); return "ok"; });
        drain(c, evC);
        step("chroot getEphemerals", () -> sorted(c.getEphemerals()));
        step("chroot sync", () -> {
            CountDownLatch l = new CountDownLatch(1);
            AtomicReference<String> res = new AtomicReference<>();
            c.sync("/inner", (rc, path, ctx) -> { res.set(KeeperException.Code.get(rc) + " " + path); l.countDown(); }, null);
            l.await(WAIT_S, TimeUnit.SECONDS);
            return res.get();
        });
        c.close();

        // reconfig and getConfig on a server without dynamic reconfiguration
        step("getConfig", () -> {
            try {
                a.getConfig(false, null);
                return "ok";
            } catch (KeeperException e) {
                return err(e);
            }
        });
        ZooKeeperAdmin admin = new ZooKeeperAdmin(direct, SESSION_TIMEOUT_MS, e -> { });
        step("reconfig", () -> data(admin.reconfigure(null, null, "server.99=127.0.0.1:1:2", -1, new Stat())));
        admin.close();

        // ephemerals of a closed session are gone; close is answered
        step("B getEphemerals before close", () -> sorted(b.getEphemerals(B)));
        a.close();
        step("exists ephemeral after close", () -> stat(b.exists(B + "/e", false)));
        step("getChildren after close", () -> sorted(b.getChildren(B, false)));
        b.close();
    }

    /** Waits until the client has connected again since it had connected `before` times. */
    static boolean waitReconnected(Events ev, int before) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (System.nanoTime() < deadline) {
            if (ev.connects.get() > before) return true;
            Thread.sleep(20);
        }
        return false;
    }

    static String sorted(List<String> l) {
        List<String> c = new ArrayList<>(l);
        Collections.sort(c);
        return c.toString();
    }

    static String results(List<OpResult> rs) {
        List<String> parts = new ArrayList<>();
        for (OpResult r : rs) parts.add(result(r));
        return parts.toString();
    }

    static String clientInfo(List<ClientInfo> infos) {
        List<String> parts = new ArrayList<>();
        for (ClientInfo i : infos) parts.add(i.getAuthScheme() + ":" + (i.getAuthScheme().equals("ip") ? "<ip>" : i.getUser()));
        Collections.sort(parts);
        return parts.toString();
    }

    /** A loopback TCP relay the script can cut, so the client loses its connection but not its session. */
    static final class Relay {
        final ServerSocket listener;
        final String target;
        final List<Socket> open = Collections.synchronizedList(new ArrayList<>());

        private Relay(ServerSocket listener, String target) {
            this.listener = listener;
            this.target = target;
        }

        static Relay start(String target) throws Exception {
            ServerSocket s = new ServerSocket();
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            Relay r = new Relay(s, target);
            Thread t = new Thread(r::accept, "relay");
            t.setDaemon(true);
            t.start();
            return r;
        }

        String address() {
            return "127.0.0.1:" + listener.getLocalPort();
        }

        void accept() {
            String[] hp = target.split(":");
            while (true) {
                try {
                    Socket in = listener.accept();
                    Socket up = new Socket(hp[0], Integer.parseInt(hp[1]));
                    open.add(in);
                    open.add(up);
                    pump(in, up);
                    pump(up, in);
                } catch (Exception e) {
                    return;
                }
            }
        }

        static void pump(Socket from, Socket to) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65536];
                try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
                    int n;
                    while ((n = i.read(buf)) > 0) {
                        o.write(buf, 0, n);
                        o.flush();
                    }
                } catch (Exception e) {
                    // the other direction or cutAll closed the socket
                }
                try {
                    from.close();
                    to.close();
                } catch (Exception e) {
                    // closing twice is harmless
                }
            }, "relay-pump");
            t.setDaemon(true);
            t.start();
        }

        void cutAll() throws Exception {
            synchronized (open) {
                for (Socket s : open) s.close();
                open.clear();
            }
        }
    }
}
