package dev.ferry.protocol.control;

import dev.ferry.protocol.ExitCode;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** The CLI's side of a control socket: one request, its progress events, its result. */
public final class ControlClient {

    private ControlClient() {
    }

    /**
     * Sends {@code request} to the daemon at {@code socket}, hands every progress event to
     * {@code onProgress} and returns the result. A missing or dead daemon becomes a DAEMON_UNREACHABLE
     * result whose message names the socket and the daemon that should be there.
     */
    public static Result call(Path socket, String daemon, Request request, Consumer<Progress> onProgress) {
        if (!Files.exists(socket)) {
            return Results.failure(ExitCode.DAEMON_UNREACHABLE, "no " + daemon + " control socket at " + socket
                    + " (expected: a running 'ferry " + daemon + " --run-dir " + socket.getParent()
                    + "'); start it, or point --run-dir / FERRY_RUN_DIR at its run dir");
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ControlFraming.write(Channels.newOutputStream(ch), request);
            InputStream in = Channels.newInputStream(ch);
            while (true) {
                Event event = ControlFraming.read(in, Event.parser());
                if (event == null) {
                    return Results.failure(ExitCode.DAEMON_UNREACHABLE, "the " + daemon + " at " + socket
                            + " closed the control connection without a result; see its log");
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
                    + (code == ExitCode.PERMISSION ? " (expected: run as root)" : " (is it running?)"));
        }
    }
}
