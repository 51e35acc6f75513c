package dev.ferry.protocol;

/**
 * The exit codes of every {@code ferry} command, one table for all (docs/exit-codes.md mirrors it).
 * Carried in control-socket results so that the CLI exits with what the daemon decided.
 */
public enum ExitCode {
    OK(0, "success"),
    FAILURE(1, "unexpected internal error; see the daemon's log"),
    USAGE(2, "bad command line: unknown option, missing or invalid value"),
    CRIU_MISSING(3, "CRIU not found or older than 4.2; run scripts/install-criu"),
    CRIU_FAILED(4, "CRIU failed; the relevant lines of its log and its path are printed"),
    DAEMON_UNREACHABLE(5, "the local daemon's control socket cannot be reached (is it running? --run-dir?)"),
    PEER_UNREACHABLE(6, "the image-cache cannot be reached or broke the connection"),
    REFUSED(7, "the peer refused the request (bad name, snapshot exists, limit reached, ...)"),
    INTEGRITY(8, "the snapshot failed verification (size or CRC32C mismatch)"),
    NOT_FOUND(9, "no committed snapshot of that name"),
    PERMISSION(10, "not allowed: the control sockets take root, and members of the daemon's --control-group"),
    TIMEOUT(11, "a peer did not answer in time");

    private final int code;
    private final String meaning;

    ExitCode(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    public int code() {
        return code;
    }

    public String meaning() {
        return meaning;
    }

    public static ExitCode fromCode(int code) {
        for (ExitCode e : values()) {
            if (e.code == code) {
                return e;
            }
        }
        return FAILURE;
    }
}
