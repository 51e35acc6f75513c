package dev.ferry.criu;

import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.Spawn;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A CRIU executable of a supported version (>= {@value #MIN_VERSION}): where it is, which version it says it is,
 * and how to start it.
 *
 * <p>Child processes are started with {@link ProcessBuilder}, which closes every inherited descriptor above 2 in
 * the child (jspawnhelper closes them before exec). CRIU therefore never inherits the JVM's sockets, pipes or jar
 * files, even though jnr opens some of them without O_CLOEXEC; nothing here has to close them by hand. The one
 * exception is {@link #spawn}, for a CRIU that takes a socket of ours as a descriptor: {@link Spawn} closes the
 * others itself.
 */
public record Criu(Path executable, String version) {

    /** Linux >= 6.16 needs CRIU 4.2: 4.1 cannot dump inet sockets there, 3.17 fails on the vDSO. */
    public static final String MIN_VERSION = "4.2";
    public static final String ENV_CRIU = "FERRY_CRIU";
    /** Where {@code scripts/install-criu} puts its launcher, relative to the project root. */
    public static final String PREFIX_LAUNCHER = ".criu/bin/criu";
    /** CRIU's stdout and stderr go to this file in the work directory (its log proper is {@code -o}). */
    public static final String OUTPUT_FILE = "criu.out";
    private static final String SHELL = "/bin/sh";
    /** {@code sh -c} script: $1 is the terminal, opened read-write as stdin; the rest is CRIU's command line. */
    private static final String ON_TERMINAL = "exec 0<>\"$1\" || exit 126; shift; exec \"$@\"";
    private static final Pattern VERSION_LINE = Pattern.compile("(?m)^Version:\\s*(\\S+)");
    private static final long VERSION_TIMEOUT_SECONDS = 20;
    private static final long CHECK_TIMEOUT_SECONDS = 120;
    private static final String HOW_TO_FIX = "run scripts/install-criu (as root) to install CRIU " + MIN_VERSION
            + " into .criu/, or pass --criu PATH / set " + ENV_CRIU;

    public Criu {
        Objects.requireNonNull(executable, "executable");
        Objects.requireNonNull(version, "version");
    }

    /** The result of {@code criu check}: whether it exited 0, and what it printed. */
    public record CheckResult(boolean ok, String output) {
    }

    /**
     * Finds CRIU, in this order: {@code explicitOrNull} ({@code --criu PATH}), {@code $FERRY_CRIU},
     * {@code <projectRoot>/.criu/bin/criu}, then {@code criu} in each directory of {@code $PATH}. An explicit
     * path or {@code $FERRY_CRIU} must work; the prefix and PATH candidates are skipped when missing or too old.
     *
     * @param projectRoot may be null (no project-local prefix)
     * @throws CriuNotFoundException listing every candidate and why it was refused
     */
    public static Criu locate(Path explicitOrNull, Map<String, String> env, Path projectRoot) throws CriuNotFoundException {
        List<String> refused = new ArrayList<>();
        if (explicitOrNull != null) {
            return probeOrThrow(explicitOrNull, "--criu " + explicitOrNull);
        }
        String fromEnv = env.get(ENV_CRIU);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return probeOrThrow(Path.of(fromEnv), ENV_CRIU + "=" + fromEnv);
        }
        List<Path> candidates = new ArrayList<>();
        if (projectRoot != null) {
            candidates.add(projectRoot.resolve(PREFIX_LAUNCHER));
        }
        String path = env.getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty()) {
                candidates.add(Path.of(dir, "criu"));
            }
        }
        for (Path candidate : candidates) {
            if (!Files.exists(candidate)) {
                continue;
            }
            try {
                return probe(candidate);
            } catch (CriuNotFoundException e) {
                refused.add(e.getMessage());
            }
        }
        StringBuilder message = new StringBuilder("CRIU >= " + MIN_VERSION + " not found");
        if (refused.isEmpty()) {
            message.append(": no criu at ")
                    .append(projectRoot == null ? "" : projectRoot.resolve(PREFIX_LAUNCHER) + " or ")
                    .append("in PATH (").append(path).append(")");
        } else {
            message.append(": ").append(String.join("; ", refused));
        }
        throw new CriuNotFoundException(message.append("; ").append(HOW_TO_FIX).toString());
    }

    private static Criu probeOrThrow(Path candidate, String source) throws CriuNotFoundException {
        try {
            return probe(candidate);
        } catch (CriuNotFoundException e) {
            throw new CriuNotFoundException("CRIU from " + source + " is not usable: " + e.getMessage() + "; " + HOW_TO_FIX);
        }
    }

    /** Runs {@code candidate --version} and checks the version; the message says what is wrong with it. */
    static Criu probe(Path candidate) throws CriuNotFoundException {
        Path absolute = candidate.toAbsolutePath();
        if (!Files.exists(absolute)) {
            throw new CriuNotFoundException(absolute + ": no such file");
        }
        if (Files.isDirectory(absolute) || !Files.isExecutable(absolute)) {
            throw new CriuNotFoundException(absolute + ": not an executable file");
        }
        String output;
        int exit;
        try {
            Process process = new ProcessBuilder(absolute.toString(), "--version")
                    .redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            output = readAll(process.getInputStream());
            if (!process.waitFor(VERSION_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new CriuNotFoundException(absolute + ": `--version` did not finish within " + VERSION_TIMEOUT_SECONDS + " s");
            }
            exit = process.exitValue();
        } catch (IOException e) {
            throw new CriuNotFoundException(absolute + ": cannot run `--version`: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CriuNotFoundException(absolute + ": interrupted while running `--version`");
        }
        Matcher m = VERSION_LINE.matcher(output);
        if (exit != 0 || !m.find()) {
            throw new CriuNotFoundException(absolute + ": `--version` printed no 'Version:' line (exit " + exit + ")");
        }
        String version = m.group(1);
        if (compareVersions(version, MIN_VERSION) < 0) {
            throw new CriuNotFoundException(absolute + ": version " + version + " (expected: >= " + MIN_VERSION + ")");
        }
        return new Criu(absolute, version);
    }

    /** Compares dotted versions numerically ({@code 4.10 > 4.2}); a non-digit suffix of a part is ignored. */
    static int compareVersions(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(leadingNumber(x, i), leadingNumber(y, i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    private static int leadingNumber(String[] parts, int i) {
        if (i >= parts.length) {
            return 0;
        }
        int n = 0;
        for (char c : parts[i].toCharArray()) {
            if (c < '0' || c > '9' || n > 100_000) {
                break;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    /** {@code [executable, args...]}, to start with the caller's own redirections. */
    public ProcessBuilder command(String... args) {
        List<String> command = new ArrayList<>(args.length + 1);
        command.add(executable.toString());
        command.addAll(List.of(args));
        return new ProcessBuilder(command);
    }

    /**
     * Starts CRIU in a work directory with stdin from {@code /dev/null} and stdout and stderr appended to
     * {@code <workDir>/criu.out}. With a terminal ({@link CriuLauncher#start(List, Path, Path)}) the terminal is
     * CRIU's stdin instead. It is opened by a {@code /bin/sh} in the child, which then execs CRIU (same pid): the
     * JVM never opens it, because a JVM that is a session leader without a terminal (a systemd service is) would
     * take the terminal as its own controlling terminal on open, and be sent SIGHUP once the terminal hangs up.
     * The shell is not a session leader, so its open makes it nobody's controlling terminal.
     */
    public CriuLauncher launcher() {
        return new CriuLauncher() {
            @Override
            public CriuProcess start(List<String> args, Path workDir) throws IOException {
                return startIn(command(args.toArray(String[]::new)), workDir, new File("/dev/null"));
            }

            @Override
            public CriuProcess start(List<String> args, Path workDir, Path terminal) throws IOException {
                List<String> command = new ArrayList<>(List.of(SHELL, "-c", ON_TERMINAL, "ferry-criu",
                        terminal.toString(), executable.toString()));
                command.addAll(args);
                return startIn(new ProcessBuilder(command), workDir, new File("/dev/null")); // sh replaces stdin
            }
        };
    }

    /**
     * Starts CRIU with descriptors of this process at the numbers CRIU is told ({@code criu swrk 3},
     * {@code --ps-socket 3}), stdin from {@code /dev/null}, output appended to {@code <workDir>/criu.out}. CRIU's
     * working directory is not {@code workDir}: pass it (-W, or work_dir_fd over RPC).
     */
    public CriuProcess spawn(List<String> args, Path workDir, Map<Integer, FileDescriptorHandle> fds) throws IOException {
        List<String> argv = new ArrayList<>(args.size() + 1);
        argv.add(executable.toString());
        argv.addAll(args);
        return CriuProcess.of(Spawn.start(argv, workDir.resolve(OUTPUT_FILE), fds));
    }

    private static CriuProcess startIn(ProcessBuilder builder, Path workDir, File stdin) throws IOException {
        builder.directory(workDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(stdin))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(workDir.resolve(OUTPUT_FILE).toFile()));
        return CriuProcess.of(builder.start());
    }

    /** Runs {@code criu check}: ok when it exits 0; the output holds what it printed (warnings included). */
    public CheckResult check() throws IOException {
        Process process = command("check")
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        String output = readAll(process.getInputStream());
        try {
            if (!process.waitFor(CHECK_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return new CheckResult(false, output + "\n`criu check` did not finish within " + CHECK_TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for `criu check`", e);
        }
        return new CheckResult(process.exitValue() == 0, output.strip());
    }

    private static String readAll(InputStream in) throws IOException {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
