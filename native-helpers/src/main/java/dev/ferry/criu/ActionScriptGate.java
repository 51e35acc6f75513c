package dev.ferry.criu;

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
import java.util.OptionalLong;

/**
 * CRIU's action script for one run, holding CRIU at one action until the engine gives its verdict, and the two
 * FIFOs through which the script asks and is answered.
 *
 * <p>The dump engine gates {@code post-dump} (every image written, the source still frozen: fail it and CRIU
 * resumes the source); a migration's restore gates {@code post-restore} (the tree restored, not yet resumed, the
 * network still locked: fail it and CRIU kills the tree before it ever ran).
 *
 * <p>How it works: CRIU runs {@code <workdir>/hook} for every action with {@code CRTOOLS_SCRIPT_ACTION} set. For
 * the gated action the script writes {@code <action> <CRTOOLS_INIT_PID>} into FIFO {@code gate.req}, then reads one
 * line from FIFO {@code gate.ack} and exits 0 only if it is {@code ok}; a non-zero exit fails CRIU's step. Every
 * other action exits 0 at once. The engine holds both FIFOs open read-write for the whole run, so neither side
 * ever blocks in open(2). The script opens {@code gate.ack} before it asks, so from the moment the engine has read
 * a request, the engine's death ends the script's read with EOF at once (no writer is left) and fails the step; an
 * engine that died before the script asked leaves its open of {@code gate.ack} blocked, which coreutils
 * {@code timeout} bounds, so a vanished engine cannot hold CRIU.
 *
 * <p>Ownership: owns the script, the FIFOs and the engine's channels on them; {@link #close()} deletes all of them,
 * only after CRIU has exited. {@link #awaitRequest()} is for one thread; {@link #answer} and {@link #cancel()} may
 * come from others.
 */
public final class ActionScriptGate implements Closeable {

    public static final String SCRIPT = "hook";
    public static final String POST_DUMP = "post-dump";
    public static final String POST_RESTORE = "post-restore";
    static final String REQUEST_FIFO = "gate.req";
    static final String VERDICT_FIFO = "gate.ack";
    private static final String CANCEL = "cancel";

    private final String action;
    private final Path script;
    private final Path requestFifo;
    private final Path verdictFifo;
    /** Read by {@link #awaitRequest()} only: a FileChannel serialises reads and writes, so cancel() has its own. */
    private final FileChannel requests;
    private final FileChannel cancels;
    private final FileChannel verdicts;

    private ActionScriptGate(String action, Path script, Path requestFifo, Path verdictFifo, FileChannel requests,
                             FileChannel cancels, FileChannel verdicts) {
        this.action = action;
        this.script = script;
        this.requestFifo = requestFifo;
        this.verdictFifo = verdictFifo;
        this.requests = requests;
        this.cancels = cancels;
        this.verdicts = verdicts;
    }

    /**
     * Creates the FIFOs and the script in {@code workDir}; the script holds CRIU at {@code action} and gives up
     * (fails the action) after {@code timeout}.
     */
    public static ActionScriptGate create(Path workDir, String action, Duration timeout) throws IOException {
        if (!action.matches("[a-z-]+")) {
            throw new IllegalArgumentException("action: '" + action + "' (expected: a CRIU action name such as post-dump)");
        }
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
            Files.writeString(script, script(workDir, action, timeout), StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
            return new ActionScriptGate(action, script, req, ack, requests, cancels, verdicts);
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

    static String script(Path workDir, String action, Duration timeout) {
        long seconds = Math.max(1, (timeout.toMillis() + 999) / 1000);
        return "#!/bin/sh\n"
                + "# CRIU action script written by ferry for one CRIU run; removed when the run ends.\n"
                + "# " + action + ": ask ferry for its verdict and exit 0 (CRIU goes on) only on \"ok\". Anything else\n"
                + "# fails CRIU's step. `timeout` bounds the wait, so a vanished ferry cannot hold CRIU here.\n"
                + "[ \"$CRTOOLS_SCRIPT_ACTION\" = " + action + " ] || exit 0\n"
                + "PATH=/usr/bin:/bin:$PATH\n"
                + "exec timeout -k 2 " + seconds + " sh -c '"
                + "exec 3< \"$1/" + VERDICT_FIFO + "\" && "
                + "echo \"" + action + " ${CRTOOLS_INIT_PID:-0}\" > \"$1/" + REQUEST_FIFO + "\" && "
                + "read -r verdict <&3 && "
                + "[ \"$verdict\" = ok ]' ferry-" + action + " " + shellQuote(workDir.toString()) + "\n";
    }

    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** The script to pass to CRIU as {@code --action-script}. */
    public Path script() {
        return script;
    }

    /**
     * Blocks until the script asks, and returns the pid CRIU gave it ({@code CRTOOLS_INIT_PID}: the root of the
     * tree; 0 if CRIU gave none); empty if {@link #cancel()} came first or the gate was closed.
     */
    public OptionalLong awaitRequest() throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(64);
        StringBuilder line = new StringBuilder();
        while (true) {
            buffer.clear();
            int n;
            try {
                n = requests.read(buffer);
            } catch (ClosedChannelException e) {
                return OptionalLong.empty();
            }
            if (n < 0) {
                return OptionalLong.empty();
            }
            for (int i = 0; i < n; i++) {
                char c = (char) (buffer.get(i) & 0xff);
                if (c != '\n') {
                    if (line.length() < 256) {
                        line.append(c);
                    }
                    continue;
                }
                String request = line.toString();
                if (request.equals(CANCEL)) {
                    return OptionalLong.empty();
                }
                if (request.equals(action) || request.startsWith(action + " ")) {
                    return OptionalLong.of(pidOf(request.substring(action.length()).strip()));
                }
                line.setLength(0); // unknown line: ignore it
            }
        }
    }

    private static long pidOf(String text) {
        try {
            return Math.max(0, Long.parseLong(text));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Wakes {@link #awaitRequest()} without a request (CRIU ended without reaching the action). */
    public void cancel() {
        try {
            cancels.write(ByteBuffer.wrap((CANCEL + "\n").getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException ignored) {
            // already closed: nobody is waiting
        }
    }

    /** Gives the script its verdict: {@code ok} lets CRIU go on, anything else fails CRIU's step. */
    public void answer(boolean ok) throws IOException {
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
