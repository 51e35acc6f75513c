package dev.ferry.dump;

import dev.ferry.posix.Fifos;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

/**
 * CRIU's action script for one dump and the two FIFOs through which it asks the engine for the post-dump verdict.
 *
 * <p>How the barrier works: CRIU runs {@code <workdir>/hook} for every action with {@code CRTOOLS_SCRIPT_ACTION}
 * set. For {@code post-dump} (every image written, tasks still frozen) the hook writes {@code post-dump} into
 * FIFO {@code barrier.req}, then reads one line from FIFO {@code barrier.ack} and exits 0 only if it is
 * {@code ok}; any other exit makes CRIU roll back and resume the source. Every other action exits 0 at once.
 * The engine holds both FIFOs open read-write for the whole dump, so neither side ever blocks in open(2) and a
 * verdict written before the hook opens {@code barrier.ack} is not lost. If the engine dies, the hook's open of
 * {@code barrier.req} blocks (no reader) or its read of {@code barrier.ack} sees EOF; coreutils {@code timeout}
 * bounds the whole wait, so a vanished engine cannot keep the source frozen.
 *
 * <p>Ownership: owns the script, the FIFOs and the engine's channels on them; {@link #close()} deletes all of them.
 * {@link #awaitRequest()} is for one thread; {@link #answer} and {@link #cancel()} may come from others.
 */
final class PostDumpHook implements Closeable {

    static final String SCRIPT = "hook";
    static final String REQUEST_FIFO = "barrier.req";
    static final String VERDICT_FIFO = "barrier.ack";
    static final String POST_DUMP = "post-dump";
    private static final String CANCEL = "cancel";

    private final Path script;
    private final Path requestFifo;
    private final Path verdictFifo;
    /** Read by {@link #awaitRequest()} only: a FileChannel serialises reads and writes, so cancel() has its own. */
    private final FileChannel requests;
    private final FileChannel cancels;
    private final FileChannel verdicts;

    private PostDumpHook(Path script, Path requestFifo, Path verdictFifo, FileChannel requests, FileChannel cancels,
                         FileChannel verdicts) {
        this.script = script;
        this.requestFifo = requestFifo;
        this.verdictFifo = verdictFifo;
        this.requests = requests;
        this.cancels = cancels;
        this.verdicts = verdicts;
    }

    /** Creates the FIFOs and the script in {@code workDir}; the hook gives up after {@code hookTimeout}. */
    static PostDumpHook create(Path workDir, Duration hookTimeout) throws IOException {
        Path req = workDir.resolve(REQUEST_FIFO);
        Path ack = workDir.resolve(VERDICT_FIFO);
        Path script = workDir.resolve(SCRIPT);
        Fifos.mkfifo(req, 0600);
        Fifos.mkfifo(ack, 0600);
        FileChannel requests = null;
        FileChannel cancels = null;
        FileChannel verdicts = null;
        try {
            // O_RDWR on a FIFO never blocks and keeps both a reader and a writer alive; with that reader in
            // place the O_WRONLY open does not block either.
            requests = FileChannel.open(req, StandardOpenOption.READ, StandardOpenOption.WRITE);
            cancels = FileChannel.open(req, StandardOpenOption.WRITE);
            verdicts = FileChannel.open(ack, StandardOpenOption.READ, StandardOpenOption.WRITE);
            Files.writeString(script, script(workDir, hookTimeout), StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
            return new PostDumpHook(script, req, ack, requests, cancels, verdicts);
        } catch (IOException | RuntimeException e) {
            closeQuietly(requests);
            closeQuietly(cancels);
            closeQuietly(verdicts);
            Files.deleteIfExists(req);
            Files.deleteIfExists(ack);
            Files.deleteIfExists(script);
            throw e;
        }
    }

    static String script(Path workDir, Duration hookTimeout) {
        long seconds = Math.max(1, (hookTimeout.toMillis() + 999) / 1000);
        return "#!/bin/sh\n"
                + "# CRIU action script written by ferry's dump engine for one dump; removed when the dump ends.\n"
                + "# post-dump: every image is written and the tasks are still frozen. Ask the engine whether the\n"
                + "# snapshot is committed; exit 0 (CRIU goes on) only on \"ok\". Anything else makes CRIU roll back\n"
                + "# and resume the source. `timeout` bounds the wait, so a vanished engine cannot keep it frozen.\n"
                + "[ \"$CRTOOLS_SCRIPT_ACTION\" = " + POST_DUMP + " ] || exit 0\n"
                + "PATH=/usr/bin:/bin:$PATH\n"
                + "exec timeout -k 2 " + seconds + " sh -c '"
                + "echo " + POST_DUMP + " > \"$1/" + REQUEST_FIFO + "\" && "
                + "read -r verdict < \"$1/" + VERDICT_FIFO + "\" && "
                + "[ \"$verdict\" = ok ]' ferry-post-dump " + shellQuote(workDir.toString()) + "\n";
    }

    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    Path script() {
        return script;
    }

    /**
     * Blocks until the hook asks, and returns true for a post-dump request; false if {@link #cancel()} came first
     * or the hook was closed.
     */
    boolean awaitRequest() throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(64);
        StringBuilder line = new StringBuilder();
        while (true) {
            buffer.clear();
            int n;
            try {
                n = requests.read(buffer);
            } catch (ClosedChannelException e) {
                return false;
            }
            if (n < 0) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                char c = (char) (buffer.get(i) & 0xff);
                if (c != '\n') {
                    line.append(c);
                    continue;
                }
                String request = line.toString();
                if (request.equals(POST_DUMP)) {
                    return true;
                }
                if (request.equals(CANCEL)) {
                    return false;
                }
                line.setLength(0); // unknown line: ignore it
            }
        }
    }

    /** Wakes {@link #awaitRequest()} without a post-dump request (CRIU ended without reaching post-dump). */
    void cancel() {
        try {
            cancels.write(ByteBuffer.wrap((CANCEL + "\n").getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException ignored) {
            // already closed: nobody is waiting
        }
    }

    /** Gives the hook its verdict: {@code ok} lets CRIU finish the dump, {@code fail} makes it resume the source. */
    void answer(boolean ok) throws IOException {
        verdicts.write(ByteBuffer.wrap((ok ? "ok\n" : "fail\n").getBytes(StandardCharsets.US_ASCII)));
    }

    /** Closes the engine's ends and deletes the FIFOs and the script. Only after CRIU has exited. */
    @Override
    public void close() throws IOException {
        closeQuietly(cancels);
        closeQuietly(requests);
        closeQuietly(verdicts);
        Files.deleteIfExists(requestFifo);
        Files.deleteIfExists(verdictFifo);
        Files.deleteIfExists(script);
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing to flush on a FIFO
            }
        }
    }
}
