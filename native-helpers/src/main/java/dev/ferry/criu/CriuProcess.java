package dev.ferry.criu;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A running CRIU invocation as the engines see it: a pid, an exit code, and two ways to stop it. Engines own the
 * process they start and make sure it has exited before they return. Tests implement it with a scripted peer.
 */
public interface CriuProcess {

    long pid();

    boolean isAlive();

    /** Waits up to {@code timeout} for the exit; true if it exited. */
    boolean waitFor(Duration timeout) throws InterruptedException;

    /** The exit code (128 + signal if a signal ended it); only valid once {@link #isAlive()} is false. */
    int exitValue();

    /** Asks it to stop (SIGTERM). */
    void terminate();

    /** Stops it at once (SIGKILL). */
    void kill();

    /**
     * The processes it started that still run: during a restore, the half-restored tree. Taken before CRIU is stopped,
     * since they are reparented once it is gone.
     */
    default java.util.List<ProcessHandle> children() {
        return ProcessHandle.of(pid()).map(h -> h.descendants().toList()).orElse(java.util.List.of());
    }

    /**
     * Stops it if it still runs: {@link #terminate()}, then {@link #kill()} if it has not exited after
     * {@code grace}, and waits up to {@code grace} again. Keeps the caller's interrupt status.
     */
    default void stop(Duration grace) {
        if (!isAlive()) {
            return;
        }
        boolean interrupted = Thread.interrupted();
        try {
            terminate();
            if (!waitFor(grace)) {
                kill();
                waitFor(grace);
            }
        } catch (InterruptedException e) {
            kill();
            interrupted = true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Wraps a {@link Process}; {@link #terminate()} and {@link #kill()} signal its pid. */
    static CriuProcess of(Process process) {
        return new CriuProcess() {
            @Override
            public long pid() {
                return process.pid();
            }

            @Override
            public boolean isAlive() {
                return process.isAlive();
            }

            @Override
            public boolean waitFor(Duration timeout) throws InterruptedException {
                return process.waitFor(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS);
            }

            @Override
            public int exitValue() {
                return process.exitValue();
            }

            @Override
            public void terminate() {
                process.destroy();
            }

            @Override
            public void kill() {
                process.destroyForcibly();
            }

            @Override
            public String toString() {
                return "criu pid " + process.pid();
            }
        };
    }

    /** Wraps a process {@link dev.ferry.posix.Spawn} started. */
    static CriuProcess of(dev.ferry.posix.ChildProcess child) {
        return new CriuProcess() {
            @Override
            public long pid() {
                return child.pid();
            }

            @Override
            public boolean isAlive() {
                return child.isAlive();
            }

            @Override
            public boolean waitFor(Duration timeout) throws InterruptedException {
                return child.waitFor(timeout);
            }

            @Override
            public int exitValue() {
                return child.exitValue();
            }

            @Override
            public void terminate() {
                child.signal(dev.ferry.posix.Processes.SIGTERM);
            }

            @Override
            public void kill() {
                child.signal(dev.ferry.posix.Processes.SIGKILL);
            }

            @Override
            public String toString() {
                return "criu " + child;
            }
        };
    }
}
