package dev.ferry.criu;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.ferry.posix.FdSocket;
import dev.ferry.posix.UnixListener;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Fuzzes the streamer's request loop ({@link StreamerConnection#readRequest}) over a real unix socket: a fake
 * CRIU writes the fuzz bytes and closes, the loop reads requests until the end. The only acceptable
 * failures are {@link StreamerProtocolException} and {@link EOFException} (a request cut short).
 *
 * <p>A normal build replays the corpus in {@code StreamerConnectionFuzzTestInputs/readsOrRefusesAnyRequests};
 * see docs/fuzzing.md for fuzzing with {@code -Pfuzz}.
 */
class StreamerConnectionFuzzTest {

    /** Below the unix socket buffer, so that the writer never blocks on the reader in the same thread. */
    private static final int MAX_INPUT = 64 * 1024;

    private static Path dir;
    private static UnixListener listener;

    @BeforeAll
    static void listen() throws IOException {
        dir = Files.createTempDirectory("ferry-streamer-fuzz");
        listener = UnixListener.bind(dir.resolve(StreamerConnection.CAPTURE_SOCKET));
    }

    @AfterAll
    static void close() throws IOException {
        listener.close();
        Files.deleteIfExists(dir.resolve(StreamerConnection.CAPTURE_SOCKET));
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "10m")
    void readsOrRefusesAnyRequests(byte[] input) throws Exception {
        byte[] bytes = input.length > MAX_INPUT ? Arrays.copyOf(input, MAX_INPUT) : input;
        FdSocket criu = FdSocket.connect(listener.path());
        try (StreamerConnection connection = new StreamerConnection(listener.accept(Duration.ofSeconds(5)))) {
            try {
                if (bytes.length > 0) {
                    criu.write(bytes);
                }
            } finally {
                criu.close();
            }
            // Each request consumes at least its 4 length bytes, so this ends within bytes.length / 4 + 1 rounds.
            for (int round = 0; round <= bytes.length / 4; round++) {
                String filename;
                try {
                    filename = connection.readRequest();
                } catch (StreamerProtocolException | EOFException refused) {
                    return;
                }
                if (filename == null) {
                    return;
                }
                assertNotNull(filename);
            }
            throw new AssertionError("the request loop did not end after " + bytes.length + " bytes");
        }
    }
}
