package dev.ferry.criu;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Starts CRIU with the given arguments (everything after the executable) in a work directory. The real one is
 * {@link Criu#launcher()}; tests pass a scripted peer that plays CRIU. The caller owns the returned process.
 */
@FunctionalInterface
public interface CriuLauncher {

    CriuProcess start(List<String> args, Path workDir) throws IOException;

    /**
     * Starts CRIU with {@code terminal} (a pty slave, {@code /dev/pts/N}) as its stdin: a {@code --shell-job}
     * restore gives the restored job the terminal on CRIU's stdin. A launcher that cannot attach a terminal (a
     * scripted peer) starts without one.
     */
    default CriuProcess start(List<String> args, Path workDir, Path terminal) throws IOException {
        return start(args, workDir);
    }
}
