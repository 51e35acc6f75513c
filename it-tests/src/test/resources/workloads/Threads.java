import java.io.FileWriter;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * java -XX:-UsePerfData Threads.java LOG THREADS: THREADS worker threads each count up every 10 ms; every 50 ms the
 * main thread appends "tick C0 C1 ... UNIX_TIME" to LOG, the counters of all workers. A counter that stops or falls
 * back shows a thread that did not survive. Runs until killed.
 */
public class Threads {
    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[1]);
        AtomicLongArray counts = new AtomicLongArray(n);
        for (int i = 0; i < n; i++) {
            int me = i;
            Thread t = new Thread(() -> {
                while (true) {
                    counts.incrementAndGet(me);
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "counter-" + i);
            t.setDaemon(true);
            t.start();
        }
        try (FileWriter out = new FileWriter(args[0], true)) {
            while (true) {
                StringBuilder line = new StringBuilder("tick");
                for (int i = 0; i < n; i++) {
                    line.append(' ').append(counts.get(i));
                }
                out.write(line.append(' ').append(String.format("%.3f", System.currentTimeMillis() / 1000.0))
                        .append('\n').toString());
                out.flush();
                Thread.sleep(50);
            }
        }
    }
}
