package dev.ferry.criu;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A CRIU run failed. Carries the action ({@code dump}, {@code restore}), the exit code, where the log is and the
 * failing lines of it; the message shows all of them:
 *
 * <pre>
 * criu dump failed (exit 1); log: /var/lib/ferry/work/d-1a2b3c4d/dump.log
 *   (00.012) Error (criu/cr-dump.c:2100): Dumping FAILED.
 * </pre>
 */
public class CriuException extends IOException {

    private static final long serialVersionUID = 1L;
    /** Lines of the log put into the message by {@link #fromLog}. */
    public static final int EXCERPT_LINES = 20;

    private final String action;
    private final int exitCode;
    private final transient Path logPath;
    private final List<String> logExcerpt;

    /**
     * @param reason what ferry saw besides the exit code (e.g. "killed after PT5M"), or null
     * @param cause  an engine-side failure that made CRIU fail, or null
     */
    public CriuException(String action, int exitCode, Path logPath, List<String> logExcerpt, String reason, Throwable cause) {
        super(message(action, exitCode, logPath, logExcerpt, reason), cause);
        this.action = action;
        this.exitCode = exitCode;
        this.logPath = logPath;
        this.logExcerpt = List.copyOf(logExcerpt);
    }

    /** Builds the exception with the failing lines of {@code logPath}. */
    public static CriuException fromLog(String action, int exitCode, Path logPath, String reason, Throwable cause) {
        return new CriuException(action, exitCode, logPath, CriuLog.excerpt(logPath, EXCERPT_LINES), reason, cause);
    }

    public String action() {
        return action;
    }

    public int exitCode() {
        return exitCode;
    }

    public Path logPath() {
        return logPath;
    }

    public List<String> logExcerpt() {
        return logExcerpt;
    }

    private static String message(String action, int exitCode, Path logPath, List<String> excerpt, String reason) {
        StringBuilder b = new StringBuilder("criu ").append(action).append(" failed (exit ").append(exitCode).append(')');
        if (reason != null && !reason.isEmpty()) {
            b.append(": ").append(reason);
        }
        b.append("; log: ").append(logPath);
        for (String line : excerpt) {
            b.append("\n  ").append(line);
        }
        return b.toString();
    }
}
