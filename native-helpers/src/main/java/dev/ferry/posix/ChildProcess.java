package dev.ferry.posix;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A child of this process started by {@link Spawn}. A daemon thread ({@code ferry-child-waiter}) waits for it with
 * {@code waitpid} and reaps it, so it never lingers as a zombie; signals go to the pid only until that thread has
 * reaped it, so not to a stranger that reused the number later.
 *
 * <p>Thread-safety: safe from any thread.
 */
public final class ChildProcess {

    /**
     * The threads that wait: reused, since a new thread costs ~0.6 ms here, on the path of a frozen process (the JDK
     * reaps its own children the same way).
     */
    private static final java.util.concurrent.ExecutorService WAITERS = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "ferry-child-waiter");
        t.setDaemon(true);
        return t;
    });
    private final long pid;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();

    ChildProcess(long pid) {
        this.pid = pid;
        WAITERS.execute(this::reap);
    }

    private void reap() {
        int[] status = new int[1];
        while (true) {
            long r = NativeAccess.POSIX.waitpid(pid, status, 0);
            if (r == pid) {
                exit.complete(decode(status[0]));
                return;
            }
            int errno = NativeAccess.posixErrno();
            if (r < 0 && errno != PosixException.EINTR) {
                exit.complete(-1); // ECHILD: someone else reaped it; the code is lost
                return;
            }
        }
    }

    /** waitpid's status as a shell reports it: the exit code, or 128 + the signal that ended it. */
    static int decode(int status) {
        int signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }

    public long pid() {
        return pid;
    }

    public boolean isAlive() {
        return !exit.isDone();
    }

    /** Waits up to {@code timeout} for the exit; true if it exited. */
    public boolean waitFor(Duration timeout) throws InterruptedException {
        try {
            exit.get(Math.max(0, timeout.toNanos()), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The exit code (128 + signal if a signal ended it, -1 if unknown). */
    public int exitValue() {
        Integer code = exit.getNow(null);
        if (code == null) {
            throw new IllegalStateException("pid " + pid + " has not exited");
        }
        return code;
    }

    /** Sends {@code signal} unless it has exited already. */
    public void signal(int signal) {
        if (isAlive()) {
            NativeAccess.POSIX.kill(pid, signal); // ESRCH: it exited in between, and is not reaped yet
        }
    }

    /** Completes with the exit code. */
    public CompletableFuture<Integer> onExit() {
        return exit.copy();
    }

    @Override
    public String toString() {
        return "pid " + pid + (isAlive() ? "" : " (exited " + exit.getNow(-1) + ")");
    }
}
