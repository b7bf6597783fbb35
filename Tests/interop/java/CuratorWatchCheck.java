import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheBridge;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

/**
 * Apache Curator's recipes that rest on persistent watches, driven against one server: each repeat starts a fresh
 * recipe and has a second, plain ZooKeeper client change the tree right after it started; the recipe must see every
 * change within WAIT_S, and the Curator client must never lose its connection.
 *
 * Usage: java CuratorWatchCheck host:port (cache|bridge|tree|persistent) repeats
 * Prints one line per repeat and a last line "RESULT misses=N disconnects=N repeats=N"; exits 1 on any miss.
 */
public final class CuratorWatchCheck {
    static final long WAIT_S = 5;

    public static void main(String[] args) throws Exception {
        String hosts = args[0];
        String recipe = args[1];
        int repeats = Integer.parseInt(args[2]);
        AtomicInteger disconnects = new AtomicInteger();
        CuratorFramework client = CuratorFrameworkFactory.newClient(hosts, 10_000, 5_000, new RetryNTimes(5, 200));
        client.getConnectionStateListenable().addListener((c, state) -> {
            if (state == ConnectionState.SUSPENDED || state == ConnectionState.LOST) {
                disconnects.incrementAndGet();
                System.out.println("connection " + state);
            }
        });
        client.start();
        if (!client.blockUntilConnected(10, TimeUnit.SECONDS)) throw new IllegalStateException("curator: no connection");
        CountDownLatch writerUp = new CountDownLatch(1);
        ZooKeeper writer = new ZooKeeper(hosts, 10_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) writerUp.countDown();
        });
        if (!writerUp.await(10, TimeUnit.SECONDS)) throw new IllegalStateException("writer: no connection");

        String base = "/curator-" + recipe + "-" + Long.toHexString(System.nanoTime());
        client.create().forPath(base, "0".getBytes());
        int misses = 0;
        for (int i = 0; i < repeats; i++) {
            String child = base + "/n" + i;
            String miss = switch (recipe) {
                case "cache" -> cacheRepeat(CuratorCache.build(client, base), writer, base, child, i);
                case "bridge" -> cacheRepeat(CuratorCache.bridgeBuilder(client, base).build(), writer, base, child, i);
                case "tree" -> treeRepeat(client, writer, base, child, i);
                case "persistent" -> persistentRepeat(client, writer, base, child, i);
                default -> throw new IllegalArgumentException("unknown recipe " + recipe);
            };
            if (miss != null) misses++;
            System.out.println("repeat " + i + " " + (miss == null ? "ok" : "MISS " + miss));
        }
        writer.close();
        client.close();
        System.out.println("RESULT misses=" + misses + " disconnects=" + disconnects.get() + " repeats=" + repeats);
        System.exit(misses == 0 && disconnects.get() == 0 ? 0 : 1);
    }

    /** Waits until `check` holds; returns null, or `what` if it never did. */
    static String await(String what, Supplier<Boolean> check) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (System.nanoTime() < deadline) {
            if (check.get()) return null;
            Thread.sleep(5);
        }
        return what;
    }

    static boolean hasData(Optional<ChildData> d, String want) {
        return d.isPresent() && want.equals(new String(d.get().getData(), StandardCharsets.UTF_8));
    }

    /** The changes every repeat makes right after its recipe started: set the base, create, set, delete a child. */
    static String changes(ZooKeeper writer, String base, String child, int i, Lookup seen) throws Exception {
        String v = "v" + i;
        writer.setData(base, v.getBytes(), -1);
        String miss = await("setData " + base, () -> seen.has(base, v));
        if (miss != null) return miss;
        writer.create(child, "a".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        if ((miss = await("create " + child, () -> seen.has(child, "a"))) != null) return miss;
        writer.setData(child, "b".getBytes(), -1);
        if ((miss = await("setData " + child, () -> seen.has(child, "b"))) != null) return miss;
        writer.delete(child, -1);
        return await("delete " + child, () -> seen.gone(child));
    }

    interface Lookup {
        boolean has(String path, String data);

        boolean gone(String path);
    }

    static String cacheRepeat(CuratorCache cache, ZooKeeper writer, String base, String child, int i) throws Exception {
        CountDownLatch initialized = new CountDownLatch(1);
        cache.listenable().addListener(CuratorCacheListener.builder().forInitialized(initialized::countDown).build());
        cache.start();
        try {
            if (!initialized.await(WAIT_S, TimeUnit.SECONDS)) return "not initialized";
            return changes(writer, base, child, i, new Lookup() {
                public boolean has(String p, String d) { return hasData(cache.get(p), d); }

                public boolean gone(String p) { return cache.get(p).isEmpty(); }
            });
        } finally {
            cache.close();
        }
    }

    static String treeRepeat(CuratorFramework client, ZooKeeper writer, String base, String child, int i) throws Exception {
        TreeCache cache = TreeCache.newBuilder(client, base).build();
        CountDownLatch initialized = new CountDownLatch(1);
        cache.getListenable().addListener((c, event) -> {
            if (event.getType() == org.apache.curator.framework.recipes.cache.TreeCacheEvent.Type.INITIALIZED) {
                initialized.countDown();
            }
        });
        cache.start();
        try {
            if (!initialized.await(WAIT_S, TimeUnit.SECONDS)) return "not initialized";
            return changes(writer, base, child, i, new Lookup() {
                public boolean has(String p, String d) { return hasData(Optional.ofNullable(cache.getCurrentData(p)), d); }

                public boolean gone(String p) { return cache.getCurrentData(p) == null; }
            });
        } finally {
            cache.close();
        }
    }

    /** PersistentWatcher (recursive) reports events, not data: each change must arrive as its event. */
    static String persistentRepeat(CuratorFramework client, ZooKeeper writer, String base, String child, int i) throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        PersistentWatcher watcher = new PersistentWatcher(client, base, true);
        CountDownLatch registered = new CountDownLatch(1);
        watcher.getResetListenable().addListener(registered::countDown);
        watcher.getListenable().addListener((WatchedEvent e) -> events.add(e.getType() + " " + e.getPath()));
        watcher.start();
        try {
            if (!registered.await(WAIT_S, TimeUnit.SECONDS)) return "watch not registered";
            String v = "v" + i;
            writer.setData(base, v.getBytes(), -1);
            writer.create(child, "a".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            writer.setData(child, "b".getBytes(), -1);
            writer.delete(child, -1);
            String[] want = {
                "NodeDataChanged " + base, "NodeCreated " + child, "NodeDataChanged " + child, "NodeDeleted " + child,
            };
            for (String w : want) {
                String got = events.poll(WAIT_S, TimeUnit.SECONDS);
                if (!w.equals(got)) return "expected " + w + ", got " + got;
            }
            return null;
        } finally {
            watcher.close();
        }
    }
}
