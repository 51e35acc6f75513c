package dev.ferry.cli;

import java.io.PrintWriter;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

/**
 * Runs a started daemon in the foreground: prints its {@code ready} line on stdout (what scripts and
 * tests wait for), stops it on SIGTERM/SIGINT through a shutdown hook, and returns once it has stopped.
 */
final class DaemonRunner {

    private DaemonRunner() {
    }

    static int run(AutoCloseable daemon, CompletableFuture<Void> terminated, PrintWriter out, String readyLine) {
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            try {
                daemon.close();
            } catch (Exception ignored) {
                // exiting anyway
            }
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "ferry-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println(readyLine);
        out.flush();
        terminated.join();
        stopped.countDown();
        return 0;
    }

    static String hostname() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "node";
        }
    }
}
