package dev.ferry.restore;

import dev.ferry.posix.PseudoTerminal;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The terminal a restored shell job runs on: a pseudo-terminal whose slave is CRIU's stdin during a
 * {@code --shell-job} restore (CRIU gives the job the terminal on its stdin) and whose master a drain thread reads
 * for as long as any process has the slave open, appending what the job writes to a log file. So the job never
 * blocks on a full terminal and never sees its terminal hang up while it runs.
 *
 * <p>Lifecycle: {@link #open} starts the drain thread; {@link #attach()} says the restore succeeded, after which
 * the terminal ends by itself once no process has the slave open any more (the restored tree exited or closed its
 * terminal); {@link #close()} ends it at once (a failed restore, the daemon's shutdown). Either way the drain
 * thread reads what is left, closes the master and completes {@link #closed()}. Before {@link #attach()} a
 * hang-up is ignored: the slave is not open yet while CRIU starts.
 *
 * <p>The log is cut at {@value #LOG_LIMIT} bytes: the full file becomes {@code <log>.1} (replacing an older one)
 * and a new one starts. If the log cannot be written the output is still read, and dropped.
 *
 * <p>Ownership: the drain thread owns the master fd and the log's stream, and is the only one to close them;
 * whoever opened the terminal (the {@link JobTerminals} of the daemon) owns the terminal. Thread-safety: all
 * methods are safe from any thread.
 */
public final class JobTerminal {

    /** Bytes a log holds before it is cut. */
    public static final long LOG_LIMIT = 16L << 20;
    private static final int POLL_MILLIS = 200;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    /** After {@link #close()}, at most this many reads (of 8 KiB) of what the job wrote before. */
    private static final int READS_AFTER_STOP = 64;
    private static final System.Logger LOG = System.getLogger(JobTerminal.class.getName());

    private final PseudoTerminal pty;
    private final Path log;
    private final Thread drain;
    private final AtomicLong logged = new AtomicLong();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private volatile boolean attached;
    private volatile boolean stop;

    private JobTerminal(PseudoTerminal pty, Path log, String name, Consumer<JobTerminal> onClosed) {
        this.pty = pty;
        this.log = log;
        this.drain = new Thread(() -> drain(onClosed), name);
        this.drain.setDaemon(true);
    }

    /**
     * Opens a new pseudo-terminal and starts draining it into {@code log} (created, or appended to).
     *
     * @param onClosed called once on the drain thread after the master is closed, before {@link #closed()} completes
     */
    public static JobTerminal open(Path log, String threadName, Consumer<JobTerminal> onClosed) throws IOException {
        Objects.requireNonNull(log, "log");
        Objects.requireNonNull(onClosed, "onClosed");
        Files.createDirectories(log.toAbsolutePath().getParent());
        PseudoTerminal pty = PseudoTerminal.open();
        JobTerminal t = new JobTerminal(pty, log, threadName, onClosed);
        t.drain.start();
        return t;
    }

    /** The slave, {@code /dev/pts/N}: the job's terminal. */
    public Path slave() {
        return pty.slave();
    }

    /** Where the job's terminal output goes. */
    public Path log() {
        return log;
    }

    /** Bytes of the job's output read so far. */
    public long bytesRead() {
        return logged.get();
    }

    /** The restore succeeded and its tree holds the slave: a hang-up from now on ends the terminal. */
    public void attach() {
        attached = true;
    }

    /** Completes once the master is closed and the drain thread ends. */
    public CompletableFuture<Void> closed() {
        return closed;
    }

    public boolean isOpen() {
        return !closed.isDone();
    }

    /**
     * Ends the terminal now: the drain thread reads what is there, closes the master (the slave's processes see a
     * hang-up) and ends. Waits up to 5 s for it; idempotent.
     */
    public void close() {
        stop = true;
        if (Thread.currentThread() == drain) {
            return;
        }
        try {
            closed.get(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
            LOG.log(Level.WARNING, "the terminal " + pty.slave() + " did not close within " + CLOSE_WAIT);
        }
    }

    private void drain(Consumer<JobTerminal> onClosed) {
        byte[] buf = new byte[8192];
        LogFile out = new LogFile(log);
        try {
            int readsAfterStop = 0;
            while (true) {
                boolean stopping = stop;
                int n = pty.read(buf, stopping ? 0 : POLL_MILLIS);
                if (n > 0) {
                    logged.addAndGet(n);
                    out.write(buf, n);
                    if (stopping && ++readsAfterStop >= READS_AFTER_STOP) {
                        break; // a job that keeps writing must not keep its terminal open past close()
                    }
                } else if (n == PseudoTerminal.HANGUP) {
                    if (attached || stop) {
                        break;
                    }
                    Thread.sleep(POLL_MILLIS); // nobody has opened the slave yet; the kernel says hang-up at once
                } else if (stopping) {
                    break; // nothing left to read
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "reading the terminal " + pty.slave() + " failed: " + e.getMessage()
                    + "; closing it");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            out.close();
            try {
                pty.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "closing " + pty + ": " + e.getMessage());
            }
            try {
                onClosed.accept(this); // first, so whoever sees closed() complete sees it unlisted too
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "after closing " + pty + ": " + e);
            }
            closed.complete(null);
        }
    }

    @Override
    public String toString() {
        return "terminal " + pty.slave() + " -> " + log + (isOpen() ? "" : " (closed)");
    }

    /** The log as the drain thread writes it: cut at {@link #LOG_LIMIT}; a write failure drops output, once logged. */
    private static final class LogFile {
        private final Path path;
        private OutputStream out;
        private long size;
        private boolean failed;

        LogFile(Path path) {
            this.path = path;
        }

        void write(byte[] buf, int n) {
            if (failed) {
                return;
            }
            try {
                if (out == null) {
                    out = Files.newOutputStream(path, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                    size = Files.size(path);
                }
                if (size >= LOG_LIMIT) {
                    out.close();
                    Files.move(path, path.resolveSibling(path.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
                    out = Files.newOutputStream(path, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                    size = 0;
                }
                out.write(buf, 0, n);
                out.flush();
                size += n;
            } catch (IOException e) {
                failed = true;
                LOG.log(Level.WARNING, "writing the terminal log " + path + " failed: " + e.getMessage()
                        + "; the job's further terminal output is read and dropped");
                close();
            }
        }

        void close() {
            if (out != null) {
                try {
                    out.close();
                } catch (IOException ignored) {
                    // the output is dropped either way
                }
                out = null;
            }
        }
    }
}
