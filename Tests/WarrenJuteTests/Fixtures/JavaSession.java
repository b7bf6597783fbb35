import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.Stat;

/**
 * The Java client's half of the java-* fixtures: one session, through capture_java.py's relay, that sends every
 * request kazoo never sends. It prints CUT when the relay should drop the connection (the client then reconnects
 * and re-registers its watches) and waits for the reconnect itself. See README.md for the order of operations.
 *
 * Usage: java JavaSession host:port
 */
public final class JavaSession {
    static final AtomicInteger connects = new AtomicInteger();

    public static void main(String[] args) throws Exception {
        Watcher defaultWatcher = e -> {
            if (e.getType() == Watcher.Event.EventType.None && e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connects.incrementAndGet();
            }
        };
        ZooKeeperAdmin zk = new ZooKeeperAdmin(args[0], 4000, defaultWatcher);
        awaitConnects(1);
        var open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        zk.create("/jx", "j".getBytes(), open, CreateMode.PERSISTENT); // create
        zk.create("/jx/c", "c".getBytes(), open, CreateMode.CONTAINER, new Stat()); // createContainer
        zk.create("/jx/t", "t".getBytes(), open, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 60_000); // createTTL
        zk.create("/jx/e", "e".getBytes(), open, CreateMode.EPHEMERAL); // create, ephemeral
        zk.getChildren("/jx", false); // getChildren (no stat)
        zk.getEphemerals("/jx"); // getEphemerals with a prefix
        zk.getEphemerals(); // getEphemerals of the whole tree
        zk.getAllChildrenNumber("/jx"); // getAllChildrenNumber
        zk.whoAmI(); // whoAmI, no auth yet
        zk.addAuthInfo("digest", "alice:secret".getBytes()); // auth (xid -4)
        zk.whoAmI(); // whoAmI with a digest identity
        zk.multi(Arrays.asList(Op.getData("/jx"), Op.getChildren("/jx"), Op.getData("/jx/missing"))); // multiRead
        CountDownLatch synced = new CountDownLatch(1);
        zk.sync("/jx", (rc, path, ctx) -> synced.countDown(), null); // sync
        synced.await(5, TimeUnit.SECONDS);
        zk.getConfig(false, new Stat()); // getData /zookeeper/config
        try {
            zk.reconfigure(null, null, "server.9=127.0.0.1:1:2", -1, new Stat()); // reconfig: ReconfigDisabled
        } catch (KeeperException e) {
            // expected on a standalone server
        }
        Watcher own = e -> { };
        zk.getData("/jx/c", own, null); // getData with a data watch
        zk.removeWatches("/jx/c", own, Watcher.WatcherType.Data, false); // checkWatches
        try {
            zk.removeAllWatches("/jx/c", Watcher.WatcherType.Data, false); // removeWatches: NoWatcher
        } catch (KeeperException e) {
            // expected: the watch is gone
        }

        // One-shot watches only: the reconnect re-registers them with setWatches.
        zk.exists("/jx/later", true);
        zk.getChildren("/jx", true);
        zk.getData("/jx/c", true, null);
        cut(2);
        zk.create("/jx/later", new byte[0], open, CreateMode.PERSISTENT); // fires the exist and child watches

        // Persistent watches too: the next reconnect uses setWatches2.
        zk.addWatch("/jx", AddWatchMode.PERSISTENT); // addWatch, persistent
        zk.addWatch("/jx/c", AddWatchMode.PERSISTENT_RECURSIVE); // addWatch, persistent recursive
        cut(3);
        zk.setData("/jx/c", "c2".getBytes(), -1); // fires the data watch and the recursive one
        zk.removeAllWatches("/jx", Watcher.WatcherType.Any, false); // removeWatches
        Thread.sleep(2000); // idle: the client pings
        zk.close(); // closeSession
    }

    static void cut(int connectsWanted) throws Exception {
        System.out.println("CUT");
        System.out.flush();
        awaitConnects(connectsWanted);
    }

    static void awaitConnects(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (connects.get() < n) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("no connection " + n);
            Thread.sleep(10);
        }
    }
}
