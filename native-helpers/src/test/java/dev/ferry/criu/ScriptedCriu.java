package dev.ferry.criu;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Plays CRIU for an engine under test (shared by the dump and restore engine tests through the test-jar): a {@link CriuLauncher} whose "process" is a thread running a script. */
public final class ScriptedCriu implements CriuLauncher {

    public interface Script {
        /** Returns CRIU's exit code. */
        int run(Path workDir) throws Exception;
    }

    private final Script script;
    public volatile List<String> args;
    public volatile Path workDir;
    public volatile Throwable scriptFailure;
    public volatile boolean terminated;
    private volatile Thread thread;
    private volatile int exit = -1;

    public ScriptedCriu(Script script) {
        this.script = script;
    }

    @Override
    public CriuProcess start(List<String> args, Path workDir) {
        this.args = args;
        this.workDir = workDir;
        Thread t = new Thread(() -> {
            try {
                exit = script.run(workDir);
            } catch (InterruptedException e) {
                exit = 143;
            } catch (Throwable e) {
                scriptFailure = e;
                exit = 99;
            }
        }, "scripted-criu");
        t.setDaemon(true);
        thread = t;
        t.start();
        return new CriuProcess() {
            @Override
            public long pid() {
                return ProcessHandle.current().pid();
            }

            @Override
            public java.util.List<ProcessHandle> children() {
                return java.util.List.of(); // a thread, not a process: it started nothing
            }

            @Override
            public boolean isAlive() {
                return t.isAlive();
            }

            @Override
            public boolean waitFor(Duration timeout) throws InterruptedException {
                t.join(Math.max(1, timeout.toMillis()));
                return !t.isAlive();
            }

            @Override
            public int exitValue() {
                if (t.isAlive()) {
                    throw new IllegalThreadStateException("still running");
                }
                return exit;
            }

            @Override
            public void terminate() {
                terminated = true;
                t.interrupt();
            }

            @Override
            public void kill() {
                t.interrupt();
            }
        };
    }

    /** Fails the test with the script's own failure, if any. */
    public void assertScriptOk() throws Exception {
        Thread t = thread;
        if (t != null) {
            t.join(TimeUnit.SECONDS.toMillis(10));
        }
        if (scriptFailure != null) {
            throw new AssertionError("the scripted CRIU failed: " + scriptFailure, scriptFailure);
        }
    }
}
