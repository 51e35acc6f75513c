package dev.ferry.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FdSocketTest {

    @TempDir
    Path dir;

    @Test
    void passesPipeEndOverSocketAndDataFlowsThroughIt() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"));
             FdSocket client = FdSocket.connect(dir.resolve("s.sock"));
             FdSocket server = listener.accept(Duration.ofSeconds(5))) {
            FileDescriptorHandle[] pipe = Pipes.pipe();
            client.sendFd(pipe[0]);
            pipe[0].close();
            FileDescriptorHandle received = server.receiveFd();
            assertTrue(received.fd() >= 0);
            try (FileChannel in = received.openChannel(false)) {
                received.close();
                try (FileChannel out = pipe[1].openChannel(true)) {
                    pipe[1].close();
                    out.write(ByteBuffer.wrap("hello through the pipe".getBytes()));
                }
                ByteBuffer buf = ByteBuffer.allocate(100);
                while (in.read(buf) >= 0) {
                    // until EOF: the only writer closed
                }
                assertEquals("hello through the pipe", new String(buf.array(), 0, buf.position()));
            }
        }
    }

    @Test
    void passesWriteEndAndServerWritesIntoIt() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"));
             FdSocket client = FdSocket.connect(dir.resolve("s.sock"));
             FdSocket server = listener.accept(Duration.ofSeconds(5))) {
            FileDescriptorHandle[] pipe = Pipes.pipe();
            client.sendFd(pipe[1]);
            pipe[1].close();
            try (FileDescriptorHandle writeEnd = server.receiveFd(); FileChannel out = writeEnd.openChannel(true)) {
                writeEnd.close();
                out.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            }
            try (FileChannel in = pipe[0].openChannel(false)) {
                pipe[0].close();
                ByteBuffer buf = ByteBuffer.allocate(10);
                while (in.read(buf) >= 0) {
                    // until EOF
                }
                assertEquals(3, buf.position());
            }
        }
    }

    @Test
    void requestBytesAndFdByteInOneBurstKeepTheFd() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"));
             FdSocket client = FdSocket.connect(dir.resolve("s.sock"));
             FdSocket server = listener.accept(Duration.ofSeconds(5))) {
            FileDescriptorHandle[] pipe = Pipes.pipe();
            byte[] request = {0x0d, 0, 0, 0, 0x0a, 0x0b, 's', 'e', 'c', 'c', 'o', 'm', 'p', '.', 'i', 'm', 'g'};
            // CRIU's order: the request, then the fd byte, both queued before the reader looks.
            client.write(request);
            client.sendFd(pipe[0]);
            client.write(request);
            client.sendFd(pipe[1]);
            pipe[0].close();
            pipe[1].close();
            waitUntil(() -> server.available() == 2 * (request.length + 1));
            for (int i = 0; i < 2; i++) {
                byte[] header = new byte[4];
                assertEquals(4, server.readFully(header, 0, 4));
                byte[] body = new byte[13];
                assertEquals(13, server.readFully(body, 0, 13));
                assertEquals("seccomp.img", new String(body, 2, 11));
                try (FileDescriptorHandle fd = server.receiveFd()) {
                    assertTrue(fd.fd() >= 0);
                }
            }
        }
    }

    @Test
    void passesThousandsOfFdsUnderGcChurnWithoutLosingOne() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"));
             FdSocket client = FdSocket.connect(dir.resolve("s.sock"));
             FdSocket server = listener.accept(Duration.ofSeconds(5))) {
            byte[] request = {0x0d, 0, 0, 0, 0x0a, 0x0b, 's', 'e', 'c', 'c', 'o', 'm', 'p', '.', 'i', 'm', 'g'};
            for (int i = 0; i < 3000; i++) {
                FileDescriptorHandle[] pipe = Pipes.pipe();
                client.write(request);
                client.sendFd(pipe[0]);
                pipe[0].close();
                byte[] got = new byte[request.length];
                assertEquals(request.length, server.readFully(got, 0, got.length));
                assertArrayEquals(request, got);
                try (FileDescriptorHandle received = server.receiveFd()) {
                    assertTrue(Files.readSymbolicLink(Path.of("/proc/self/fd/" + received.fd())).toString().startsWith("pipe:"));
                }
                pipe[1].close();
                if (i % 500 == 0) {
                    System.gc();
                }
                byte[][] churn = new byte[64][];
                for (int j = 0; j < churn.length; j++) {
                    churn[j] = new byte[1024];
                }
            }
        }
    }

    @Test
    void readFullyReturnsMinusOneAtCleanEofAndThrowsMidway() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"))) {
            FdSocket client = FdSocket.connect(dir.resolve("s.sock"));
            try (FdSocket server = listener.accept(Duration.ofSeconds(5))) {
                client.close();
                assertEquals(-1, server.readFully(new byte[4], 0, 4));
            }
            client = FdSocket.connect(dir.resolve("s.sock"));
            try (FdSocket server = listener.accept(Duration.ofSeconds(5))) {
                client.write(new byte[] {1, 2});
                client.close();
                assertThrows(EOFException.class, () -> server.readFully(new byte[4], 0, 4));
            }
        }
    }

    @Test
    void byteWithoutFdIsRefused() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"));
             FdSocket client = FdSocket.connect(dir.resolve("s.sock"));
             FdSocket server = listener.accept(Duration.ofSeconds(5))) {
            client.write(new byte[] {0});
            FdMissingException e = assertThrows(FdMissingException.class, server::receiveFd);
            assertTrue(e.getMessage().contains("without a file descriptor"), e.getMessage());
        }
    }

    @Test
    void acceptTimesOutWhenNobodyConnects() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"))) {
            long start = System.nanoTime();
            assertThrows(TimeoutException.class, () -> listener.accept(Duration.ofMillis(200)));
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(190));
        }
    }

    @Test
    void closeWakesAWaitingAcceptAndUnlinksThePath() throws Exception {
        Path path = dir.resolve("s.sock");
        UnixListener listener = UnixListener.bind(path);
        CompletableFuture<Throwable> outcome = CompletableFuture.supplyAsync(() -> {
            try {
                listener.accept(Duration.ofMinutes(1));
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Thread.sleep(100);
        listener.close();
        assertTrue(outcome.get(5, TimeUnit.SECONDS) instanceof AsynchronousCloseException);
        assertFalse(Files.exists(path));
    }

    @Test
    void closeWakesABlockedRead() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"));
             FdSocket client = FdSocket.connect(dir.resolve("s.sock"))) {
            FdSocket server = listener.accept(Duration.ofSeconds(5));
            CompletableFuture<Throwable> outcome = CompletableFuture.supplyAsync(() -> {
                try {
                    server.readFully(new byte[4], 0, 4);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Thread.sleep(100);
            server.close();
            assertTrue(outcome.get(5, TimeUnit.SECONDS) instanceof AsynchronousCloseException);
        }
    }

    @Test
    void bindReplacesAStaleSocketFile() throws Exception {
        Path path = dir.resolve("s.sock");
        Files.writeString(path, "stale");
        try (UnixListener listener = UnixListener.bind(path); FdSocket client = FdSocket.connect(path)) {
            client.write(new byte[] {7});
            try (FdSocket server = listener.accept(Duration.ofSeconds(5))) {
                byte[] b = new byte[1];
                server.readFully(b, 0, 1);
                assertArrayEquals(new byte[] {7}, b);
            }
        }
    }

    @Test
    void peerCredentialsShowThisProcess() throws Exception {
        try (UnixListener listener = UnixListener.bind(dir.resolve("s.sock"));
             FdSocket client = FdSocket.connect(dir.resolve("s.sock"));
             FdSocket server = listener.accept(Duration.ofSeconds(5))) {
            PeerCredentials credentials = server.peerCredentials();
            assertEquals(ProcessHandle.current().pid(), credentials.pid());
            assertEquals(NativeAccess.POSIX.getuid(), credentials.uid());
            assertEquals(NativeAccess.POSIX.getgid(), credentials.gid());
            assertEquals(ProcessHandle.current().pid(), client.peerCredentials().pid());
        }
    }

    @Test
    void refusesAPathLongerThanSunPath() {
        Path longPath = dir.resolve("x".repeat(120) + ".sock");
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> UnixListener.bind(longPath));
        assertTrue(e.getMessage().contains("expected: <= 107"), e.getMessage());
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void waitUntil(Check check) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!check.ok()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 5 s");
            }
            Thread.sleep(5);
        }
    }
}
