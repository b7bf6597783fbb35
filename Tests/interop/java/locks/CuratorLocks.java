import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.retry.RetryNTimes;

/**
 * A Curator lock holder for the zkfs lock tests.
 *
 * CuratorLocks HOSTS PATH mutex|read|write loop ROUNDS LOG WHO   — takes the lock ROUNDS times, appending
 *     "enter WHO <System.nanoTime()>" and "exit WHO <ns>" lines to LOG inside each hold;
 * CuratorLocks HOSTS PATH KIND hold                              — takes it, prints HELD, releases at end of stdin;
 * CuratorLocks HOSTS PATH KIND try MS                            — prints ACQUIRED or TIMEOUT (and releases).
 */
public class CuratorLocks {
    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1], kind = args[2], action = args[3];
        CuratorFramework client = CuratorFrameworkFactory.newClient(hosts, 6000, 5000, new RetryNTimes(3, 200));
        client.start();
        if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) throw new IllegalStateException("not connected");
        InterProcessLock lock;
        if (kind.equals("mutex")) {
            lock = new InterProcessMutex(client, path);
        } else {
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path);
            lock = kind.equals("read") ? rw.readLock() : rw.writeLock();
        }
        switch (action) {
            case "loop": {
                int rounds = Integer.parseInt(args[4]);
                String log = args[5], who = args[6];
                System.out.println("READY");
                System.out.flush();
                for (int i = 0; i < rounds; i++) {
                    lock.acquire();
                    record(log, "enter " + who + " " + System.nanoTime());
                    Thread.sleep(1);
                    record(log, "exit " + who + " " + System.nanoTime());
                    lock.release();
                }
                break;
            }
            case "hold": {
                lock.acquire();
                System.out.println("HELD");
                System.out.flush();
                while (System.in.read() >= 0) { }
                lock.release();
                break;
            }
            case "try": {
                boolean got = lock.acquire(Long.parseLong(args[4]), TimeUnit.MILLISECONDS);
                System.out.println(got ? "ACQUIRED" : "TIMEOUT");
                if (got) lock.release();
                break;
            }
            default:
                throw new IllegalArgumentException(action);
        }
        client.close();
    }

    static void record(String log, String line) throws Exception {
        Files.write(Paths.get(log), (line + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND,
                    StandardOpenOption.CREATE);
    }
}
