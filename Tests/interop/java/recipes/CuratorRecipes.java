import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;

/**
 * Apache Curator's side of the Swift-recipes interop tests: one mode per recipe, each printing what the test
 * checks. The Swift side's znode layouts are compared against what these create, not against copied constants.
 *
 * Usage: CuratorRecipes <hosts> <mode> <args...>
 *   layout <base>                                 print the children each recipe creates under <base>/<recipe>
 *   lock <path> <rounds> <holdMs> <log> <label> <goFile>
 *                                                 InterProcessMutex: print "ready", wait for <goFile>, then
 *                                                 <rounds> critical sections logged to <log>
 *   rw <path> read|write <holdFile|-> <log> <label>  one read or write section of InterProcessReadWriteLock,
 *                                                 held until <holdFile> exists ("-": released at once)
 *   latch <path> <id> <log>                       LeaderLatch: log "elected <id>", then hold until killed
 *   register <base> <service> <id> <port>         ServiceDiscovery: register, print "registered", wait for stdin EOF
 *   discover <base> <service>                     print "instance <id> <address> <port> <payload>" per instance
 *   dbarrier <path> <members> <id> <log>          DistributedDoubleBarrier enter, log, leave, log
 *   queue-put <path> <item>                       DistributedQueue put of one UTF-8 item
 *   queue-take <path> <count>                     DistributedQueue consumer: print "item <text>" for count items
 *
 * The session timeout is CURATOR_SESSION_MS from the environment (default 10000).
 */
public final class CuratorRecipes {
    private static final int WAIT_S = 60;

    public static void main(String[] args) throws Exception {
        int sessionMs = Integer.parseInt(System.getenv().getOrDefault("CURATOR_SESSION_MS", "10000"));
        try (CuratorFramework client = CuratorFrameworkFactory.newClient(args[0], sessionMs, 5_000,
                new RetryNTimes(20, 200))) {
            client.start();
            if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) throw new IllegalStateException("no connection");
            String mode = args[1];
            switch (mode) {
                case "layout": layout(client, args[2]); break;
                case "lock":
                    lock(client, args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]), args[5], args[6], args[7]);
                    break;
                case "rw": rw(client, args[2], args[3], args[4], args[5], args[6]); break;
                case "latch": latch(client, args[2], args[3], args[4]); break;
                case "register": register(client, args[2], args[3], args[4], Integer.parseInt(args[5])); break;
                case "discover": discover(client, args[2], args[3]); break;
                case "dbarrier": dbarrier(client, args[2], Integer.parseInt(args[3]), args[4], args[5]); break;
                case "queue-put": queuePut(client, args[2], args[3]); break;
                case "queue-take": queueTake(client, args[2], Integer.parseInt(args[3])); break;
                default: throw new IllegalArgumentException("unknown mode " + mode);
            }
        }
        System.out.flush();
    }

    /** Appends one line to the shared log; O_APPEND keeps lines of concurrent writers whole and ordered. */
    static void log(String file, String line) throws Exception {
        try (FileOutputStream out = new FileOutputStream(file, true)) {
            out.write((line + " " + System.currentTimeMillis() + "\n").getBytes(StandardCharsets.UTF_8));
        }
    }

    static void children(CuratorFramework client, String label, String path) throws Exception {
        for (String child : new TreeSet<>(client.getChildren().forPath(path))) {
            byte[] data = client.getData().forPath(path + "/" + child);
            StringBuilder hex = new StringBuilder();
            for (byte b : data) hex.append(String.format("%02x", b));
            System.out.println(label + " " + child + " " + hex);
        }
    }

    static void layout(CuratorFramework client, String base) throws Exception {
        InterProcessMutex mutex = new InterProcessMutex(client, base + "/mutex");
        mutex.acquire();
        children(client, "mutex", base + "/mutex");
        mutex.release();

        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, base + "/rw");
        rw.writeLock().acquire();
        children(client, "rw", base + "/rw");
        rw.writeLock().release();
        rw.readLock().acquire();
        children(client, "rw", base + "/rw");
        rw.readLock().release();

        try (LeaderLatch latch = new LeaderLatch(client, base + "/latch", "curator-id")) {
            latch.start();
            latch.await(WAIT_S, TimeUnit.SECONDS);
            children(client, "latch", base + "/latch");
        }

        DistributedDoubleBarrier barrier = new DistributedDoubleBarrier(client, base + "/dbarrier", 1);
        barrier.enter(WAIT_S, TimeUnit.SECONDS);
        children(client, "dbarrier", base + "/dbarrier");
        barrier.leave(WAIT_S, TimeUnit.SECONDS);

        // Put only: a queue without a consumer leaves the item for us to list.
        try (DistributedQueue<String> queue = QueueBuilder.builder(client, null, new Utf8(), base + "/queue")
                .buildQueue()) {
            queue.start();
            queue.put("hello");
            queue.flushPuts(WAIT_S, TimeUnit.SECONDS);
            children(client, "queue", base + "/queue");
        }

        ServiceDiscovery<String> discovery = ServiceDiscoveryBuilder.builder(String.class).client(client)
                .basePath(base + "/services").build();
        discovery.start();
        discovery.registerService(ServiceInstance.<String>builder().name("web").id("curator-1")
                .address("127.0.0.1").port(8080).payload("hello").build());
        for (String child : client.getChildren().forPath(base + "/services/web")) {
            byte[] data = client.getData().forPath(base + "/services/web/" + child);
            System.out.println("service " + child + " " + new String(data, StandardCharsets.UTF_8));
        }
        discovery.close();
    }

    static final class Utf8 implements QueueSerializer<String> {
        public byte[] serialize(String item) { return item.getBytes(StandardCharsets.UTF_8); }
        public String deserialize(byte[] bytes) { return new String(bytes, StandardCharsets.UTF_8); }
    }

    static void lock(CuratorFramework client, String path, int rounds, long holdMs, String file, String label,
            String goFile) throws Exception {
        InterProcessMutex mutex = new InterProcessMutex(client, path);
        System.out.println("ready");
        System.out.flush();
        waitForFile(goFile);
        for (int i = 0; i < rounds; i++) {
            if (!mutex.acquire(WAIT_S, TimeUnit.SECONDS)) throw new IllegalStateException("lock timed out");
            log(file, "enter " + label);
            Thread.sleep(holdMs);
            log(file, "exit " + label);
            mutex.release();
        }
        System.out.println("done " + rounds);
    }

    static void rw(CuratorFramework client, String path, String kind, String holdFile, String file, String label)
            throws Exception {
        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path);
        InterProcessMutex lock = kind.equals("read") ? rw.readLock() : rw.writeLock();
        if (!lock.acquire(WAIT_S, TimeUnit.SECONDS)) throw new IllegalStateException("lock timed out");
        log(file, "enter-" + kind + " " + label);
        if (!holdFile.equals("-")) waitForFile(holdFile);
        log(file, "exit-" + kind + " " + label);
        lock.release();
        System.out.println("done");
    }

    /** Polls for another process's signal file, for at most WAIT_S. */
    static void waitForFile(String path) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (!new java.io.File(path).exists()) {
            if (System.nanoTime() > deadline) throw new IllegalStateException(path + " did not appear");
            Thread.sleep(20);
        }
    }

    static void latch(CuratorFramework client, String path, String id, String file) throws Exception {
        LeaderLatch latch = new LeaderLatch(client, path, id);
        latch.start();
        latch.await();
        log(file, "elected " + id);
        System.out.println("elected");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    static void register(CuratorFramework client, String base, String service, String id, int port)
            throws Exception {
        ServiceDiscovery<String> discovery = ServiceDiscoveryBuilder.builder(String.class).client(client)
                .basePath(base).build();
        discovery.start();
        discovery.registerService(ServiceInstance.<String>builder().name(service).id(id)
                .address("127.0.0.1").port(port).payload("from-curator").build());
        System.out.println("registered");
        System.out.flush();
        while (System.in.read() >= 0) { }
        discovery.close();
    }

    static void discover(CuratorFramework client, String base, String service) throws Exception {
        ServiceDiscovery<String> discovery = ServiceDiscoveryBuilder.builder(String.class).client(client)
                .basePath(base).build();
        discovery.start();
        Collection<ServiceInstance<String>> all = discovery.queryForInstances(service);
        for (ServiceInstance<String> i : all) {
            System.out.println("instance " + i.getId() + " " + i.getAddress() + " " + i.getPort() + " "
                    + i.getPayload() + " " + i.getServiceType());
        }
        discovery.close();
    }

    static void queuePut(CuratorFramework client, String path, String item) throws Exception {
        try (DistributedQueue<String> queue = QueueBuilder.builder(client, null, new Utf8(), path).buildQueue()) {
            queue.start();
            queue.put(item);
            if (!queue.flushPuts(WAIT_S, TimeUnit.SECONDS)) throw new IllegalStateException("put not flushed");
        }
        System.out.println("put");
    }

    static void queueTake(CuratorFramework client, String path, int count) throws Exception {
        java.util.concurrent.BlockingQueue<String> got = new java.util.concurrent.LinkedBlockingQueue<>();
        QueueConsumer<String> consumer = new QueueConsumer<String>() {
            public void consumeMessage(String message) { got.add(message); }
            public void stateChanged(CuratorFramework c, ConnectionState s) {}
        };
        try (DistributedQueue<String> queue = QueueBuilder.builder(client, consumer, new Utf8(), path).buildQueue()) {
            queue.start();
            for (int i = 0; i < count; i++) {
                String item = got.poll(WAIT_S, TimeUnit.SECONDS);
                if (item == null) throw new IllegalStateException("queue empty");
                System.out.println("item " + item);
            }
        }
    }

    static void dbarrier(CuratorFramework client, String path, int members, String id, String file)
            throws Exception {
        DistributedDoubleBarrier barrier = new DistributedDoubleBarrier(client, path, members);
        if (!barrier.enter(WAIT_S, TimeUnit.SECONDS)) throw new IllegalStateException("enter timed out");
        log(file, "entered " + id);
        if (!barrier.leave(WAIT_S, TimeUnit.SECONDS)) throw new IllegalStateException("leave timed out");
        log(file, "left " + id);
        System.out.println("done");
    }
}
