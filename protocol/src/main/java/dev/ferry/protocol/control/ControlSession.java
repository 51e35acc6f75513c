package dev.ferry.protocol.control;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The answering side of one control connection: progress events, then exactly one result. A client that
 * went away does not stop the work: sends after that are dropped silently. Thread-safe.
 */
public final class ControlSession {

    private final OutputStream out;
    private boolean open = true;
    private boolean resultSent;
    private long expectedBytes;

    ControlSession(OutputStream out) {
        this.out = out;
    }

    public synchronized void progress(Progress progress) {
        if (expectedBytes > 0 && progress.getExpectedBytes() == 0) {
            progress = progress.toBuilder().setExpectedBytes(expectedBytes).build();
        }
        send(Event.newBuilder().setProgress(progress).build());
    }

    /**
     * What the work should weigh in all, for the client's ETA: stamped on every later progress event that does not
     * carry its own {@code expected_bytes}. 0 = unknown.
     */
    public synchronized void expectBytes(long bytes) {
        expectedBytes = Math.max(0, bytes);
    }

    public void progress(String phase, long bytes, int images, String message) {
        progress(Progress.newBuilder().setPhase(phase).setBytes(bytes).setImages(images).setMessage(message).build());
    }

    public synchronized void result(Result result) {
        if (resultSent) {
            return;
        }
        resultSent = true;
        send(Event.newBuilder().setResult(result).build());
    }

    synchronized boolean resultSent() {
        return resultSent;
    }

    private void send(Event event) {
        if (!open) {
            return;
        }
        try {
            ControlFraming.write(out, event);
        } catch (IOException e) {
            open = false;
        }
    }
}
