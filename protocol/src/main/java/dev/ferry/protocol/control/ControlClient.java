package dev.ferry.protocol.control;

import dev.ferry.protocol.ExitCode;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.function.Consumer;

/** The CLI's side of a control socket: one request, its progress events, its result. */
public final class ControlClient {

    private static final String REMEDY = "run ferry as root, or start the daemon with --control-group GROUP"
            + " and add the user to GROUP (docs/security.md, Control sockets)";

    private ControlClient() {
    }

    /** What to do about a refused socket; names the run dir's group when the daemon has a control group. */
    private static String remedy(Path socket) {
        try {
            Path runDir = socket.toAbsolutePath().getParent();
            String group = Files.readAttributes(runDir, PosixFileAttributes.class).group().getName();
            if (!"root".equals(group)) {
                return "run ferry as root, or join group " + group + " (the group of " + runDir
                        + "): usermod -aG " + group + " " + System.getProperty("user.name") + ", then log in again";
            }
        } catch (IOException | RuntimeException ignored) {
            // fall back to the general advice
        }
        return REMEDY;
    }

    /**
     * Sends {@code request} to the daemon at {@code socket}, hands every progress event to
     * {@code onProgress} and returns the result. A missing or dead daemon becomes a DAEMON_UNREACHABLE
     * result whose message names the socket and the daemon that should be there.
     */
    public static Result call(Path socket, String daemon, Request request, Consumer<Progress> onProgress) {
        try {
            Files.readAttributes(socket, BasicFileAttributes.class);
        } catch (AccessDeniedException e) {
            return Results.failure(ExitCode.PERMISSION, "cannot reach the " + daemon + " control socket at " + socket
                    + ": permission denied for user " + System.getProperty("user.name") + " (expected: root, or a member"
                    + " of the daemon's --control-group); " + remedy(socket));
        } catch (IOException e) {
            return Results.failure(ExitCode.DAEMON_UNREACHABLE, "no " + daemon + " control socket at " + socket
                    + " (expected: a running 'ferry " + daemon + " --run-dir " + socket.getParent()
                    + "'); start it, or point --run-dir / FERRY_RUN_DIR at its run dir");
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            InputStream in = Channels.newInputStream(ch);
            try {
                ControlFraming.write(Channels.newOutputStream(ch), request);
            } catch (IOException writeFailed) {
                // a daemon that refuses the caller (SO_PEERCRED) answers and closes without reading the request, so
                // the write can fail (EPIPE) while its answer waits unread: that answer is what the user must see
                Result answered = answerAlreadySent(in);
                if (answered != null) {
                    return answered;
                }
                throw writeFailed;
            }
            while (true) {
                Event event = ControlFraming.read(in, Event.parser());
                if (event == null) {
                    return Results.failure(ExitCode.DAEMON_UNREACHABLE, "the " + daemon + " at " + socket
                            + " closed the control connection without a result (it stopped or died); see its log"
                            + (daemon.equals("image-proxy") ? ". A dump it was running fails without it, and CRIU"
                            + " then resumes the source on its own: check the process" : ""));
                }
                if (event.hasProgress()) {
                    onProgress.accept(event.getProgress());
                } else if (event.hasResult()) {
                    return event.getResult();
                }
            }
        } catch (IOException e) {
            String m = e.getMessage();
            ExitCode code = m != null && m.contains("Permission denied") ? ExitCode.PERMISSION : ExitCode.DAEMON_UNREACHABLE;
            return Results.failure(code, "cannot talk to the " + daemon + " at " + socket + ": " + m
                    + (code == ExitCode.PERMISSION ? " for user " + System.getProperty("user.name")
                    + " (expected: root, or a member of the daemon's --control-group); " + remedy(socket) : " (is it running?)"));
        }
    }

    /** The result the daemon sent before the connection broke, or null (nothing readable, or no result). */
    private static Result answerAlreadySent(InputStream in) {
        try {
            Event event;
            while ((event = ControlFraming.read(in, Event.parser())) != null) {
                if (event.hasResult()) {
                    return event.getResult();
                }
            }
        } catch (IOException | RuntimeException e) {
            // nothing usable was sent: report the write's failure
        }
        return null;
    }
}
