import java.io.FileWriter;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * java -XX:-UsePerfData State.java LOG: a JVM with state. Every 20 ms it adds entry N to a HashMap and appends
 * "ok N SIZE UNIX_TIME" to LOG, SIZE being the map's size (N while the state is intact), plus 32 MiB of touched
 * ballast so the heap is not trivial. Runs until killed.
 */
public class State {
    public static void main(String[] args) throws Exception {
        byte[] ballast = new byte[32 << 20];
        for (int i = 0; i < ballast.length; i += 4096) {
            ballast[i] = (byte) i;
        }
        Map<Integer, String> state = new HashMap<>();
        try (FileWriter out = new FileWriter(args[0], true)) {
            for (int n = 1; ; n++) {
                state.put(n, "value-" + n);
                out.write("ok " + n + " " + state.size() + " " + String.format("%.3f", System.currentTimeMillis() / 1000.0) + "\n");
                out.flush();
                Thread.sleep(20);
                if (ballast[4096] != (byte) 4096) {
                    throw new IOException("ballast changed");
                }
            }
        }
    }
}
