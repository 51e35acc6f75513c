package dev.ferry.protocol.control;

import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A daemon's local control socket: a unix stream socket, mode 0600 in a 0700 run dir, accepting only
 * root callers (checked with SO_PEERCRED). With a control group ({@link ControlAccess#forGroup}) the
 * socket is 0660 in a 0750 run dir, both of that group, and members of the group are accepted too.
 * Each connection carries one {@link Request}, answered with zero or more progress events and one
 * result (framing: {@link ControlFraming}).
 *
 * <p>Owns the listening socket, its accept thread and one thread per connection; {@link #close()} stops
 * accepting, removes the socket file and waits briefly for running requests' threads.
 */
public final class ControlServer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ControlServer.class.getName());

    /** Handles one request; reports through the session. Runs on the connection's own thread. */
    @FunctionalInterface
    public interface Handler {
        void handle(Request request, ControlSession session) throws Exception;
    }

    private final Path socket;
    private final ServerSocketChannel server;
    private final Handler handler;
    private final ControlAccess access;
    private final ExecutorService workers;
    private final Thread acceptor;
    private volatile boolean closed;

    private ControlServer(Path socket, ServerSocketChannel server, Handler handler, String name, ControlAccess access) {
        this.socket = socket;
        this.access = access;
        this.server = server;
        this.handler = handler;
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, name + "-control-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.acceptor = new Thread(this::acceptLoop, name + "-control-accept");
        this.acceptor.setDaemon(true);
    }

    /** Creates the run dir (0700) if needed, binds {@code runDir/fileName} (0600) and starts accepting; root only. */
    public static ControlServer start(Path runDir, String fileName, String name, Handler handler) throws IOException {
        return start(runDir, fileName, name, ControlAccess.rootOnly(), handler);
    }

    /**
     * Creates the run dir if needed and binds {@code runDir/fileName}: run dir 0700 and socket 0600 for
     * {@link ControlAccess#rootOnly()}; run dir 0750 and socket 0660, both of the control group, otherwise.
     * Then starts accepting the callers {@code access} allows.
     */
    public static ControlServer start(Path runDir, String fileName, String name, ControlAccess access, Handler handler)
            throws IOException {
        boolean grouped = access.group() != null;
        Files.createDirectories(runDir);
        Files.setPosixFilePermissions(runDir, PosixFilePermissions.fromString(grouped ? "rwxr-x---" : "rwx------"));
        if (grouped) {
            setGroup(runDir, access);
        }
        Path socket = runDir.resolve(fileName);
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString(grouped ? "rw-rw----" : "rw-------"));
            if (grouped) {
                setGroup(socket, access);
            }
        } catch (IOException e) {
            server.close();
            throw new IOException("control socket " + socket + ": " + e.getMessage()
                    + " (expected: a writable --run-dir; is another daemon using it?)", e);
        }
        ControlServer s = new ControlServer(socket, server, handler, name, access);
        s.acceptor.start();
        return s;
    }

    private static void setGroup(Path path, ControlAccess access) throws IOException {
        try {
            Files.setAttribute(path, "posix:group", access.groupPrincipal());
        } catch (IOException e) {
            throw new IOException("--control-group " + access.group() + ": cannot give " + path + " to the group: " + e
                    + " (expected: the daemon runs as root)", e);
        }
    }

    /** Who this socket accepts. */
    public ControlAccess access() {
        return access;
    }

    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(Level.WARNING, "control socket " + socket + ": accept failed", e);
                }
                return;
            }
            try {
                workers.execute(() -> serve(ch));
            } catch (RuntimeException e) {
                close(ch);
            }
        }
    }

    private void serve(SocketChannel ch) {
        try (ch) {
            InputStream in = Channels.newInputStream(ch);
            OutputStream out = Channels.newOutputStream(ch);
            ControlSession session = new ControlSession(out);
            UnixDomainPrincipal who = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
            String user = who.user().getName();
            String group = who.group().getName();
            if (!access.allows(user, group)) {
                LOG.warning(() -> "control socket " + socket + ": refused caller user=" + user + " group=" + group
                        + " (allowed: " + access.describe() + ")");
                session.result(Results.failure(dev.ferry.protocol.ExitCode.PERMISSION, "control socket " + socket
                        + " refused user " + user + " (group " + group + "; expected: " + access.describe() + "); "
                        + access.remedy(user)));
                return;
            }
            Request request;
            try {
                request = ControlFraming.read(in, Request.parser());
            } catch (RuntimeException | IOException e) {
                LOG.warning(() -> "control socket " + socket + ": bad request: " + e.getMessage());
                session.result(Results.failure(dev.ferry.protocol.ExitCode.USAGE,
                        "bad control request: " + e.getMessage() + " (expected: a ferry client of the same version)"));
                return;
            }
            if (request == null) {
                return;
            }
            try {
                handler.handle(request, session);
            } catch (Exception e) {
                LOG.log(Level.WARNING, "control request failed", e);
                session.result(Results.failure(dev.ferry.protocol.ExitCode.FAILURE, "internal error: " + e));
            }
            if (!session.resultSent()) {
                session.result(Results.failure(dev.ferry.protocol.ExitCode.FAILURE, "internal error: no result"));
            }
        } catch (IOException e) {
            LOG.warning(() -> "control connection: " + e + (e.getCause() == null ? "" : " (" + e.getCause() + ")"));
        }
    }

    private static void close(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException ignored) {
            // best effort
        }
        workers.shutdown();
        try {
            workers.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
