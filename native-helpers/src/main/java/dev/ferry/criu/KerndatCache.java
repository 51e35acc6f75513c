package dev.ferry.criu;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * CRIU's cache of its kernel probes, {@code /run/criu.kdat}. Every CRIU run first probes the kernel (pagemap, vDSO,
 * CPU features, netns, nftables, ...: 40-60 ms here) unless that file holds an earlier run's result, and CRIU writes
 * the file only where {@code /run} is a tmpfs, so that a reboot (a new kernel) clears it. On a stock Debian {@code /run}
 * is a tmpfs; where it is a plain directory (some VMs and containers, this project's CI machine) CRIU never keeps the
 * cache, and every {@code criu restore} and {@code criu lazy-pages} on the target probes inside the migration's
 * downtime.
 *
 * <p>There {@link #prime} makes what CRIU would have made: it runs {@code criu check} once in a private mount
 * namespace whose {@code /run} is a tmpfs, and installs the file CRIU wrote as {@code /run/criu.kdat}, next to
 * {@code /run/criu.kdat.ferry-boot-id} holding the kernel's boot id. A cache ferry made in an earlier boot is replaced
 * (a reboot may have brought another kernel); a cache ferry did not make is never touched. CRIU loads the file
 * wherever it lies: only its write refuses a non-tmpfs.
 *
 * <p>Ownership: the two files in {@code /run} belong to whichever daemon primed them first (per boot); nothing
 * removes them, as CRIU's own file on a tmpfs stays until the reboot. Thread-safe: files are replaced atomically.
 */
public final class KerndatCache {

    /** What {@link #prime} found or did, for the daemon's log. */
    public enum Outcome {
        /** {@code /run} is a tmpfs: CRIU keeps its own cache. */
        CRIU_KEEPS_IT("/run is a tmpfs: CRIU keeps its kernel-probe cache itself"),
        /** A cache ferry made in this boot is in place. */
        PRIMED_BEFORE("CRIU's kernel-probe cache /run/criu.kdat was primed earlier in this boot"),
        /** ferry made the cache now. */
        PRIMED("primed CRIU's kernel-probe cache /run/criu.kdat (/run is not a tmpfs, so CRIU would probe the"
                + " kernel on every start)"),
        /** A cache someone else made is in place: left as it is. */
        NOT_OURS("/run/criu.kdat exists and was not made by ferry: left as it is"),
        /** The cache could not be made; CRIU probes the kernel on every start. */
        FAILED("could not prime CRIU's kernel-probe cache; every CRIU start probes the kernel (~50 ms)");

        private final String message;

        Outcome(String message) {
            this.message = message;
        }

        public String message() {
            return message;
        }
    }

    static final String CACHE_NAME = "criu.kdat";
    static final String MARK_NAME = "criu.kdat.ferry-boot-id";
    private static final Path RUN = Path.of("/run");
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");
    private static final long GENERATE_TIMEOUT_SECONDS = 30;
    /** In a private mount namespace: a tmpfs on /run, `criu check` (which saves its probes there), copy them out. */
    private static final String GENERATE = "mount -t tmpfs -o size=1m,mode=0755 ferry-kdat /run || exit 97; "
            + "\"$0\" check >/dev/null 2>&1; cp /run/" + CACHE_NAME + " \"$1\"";

    /** Makes the cache file at {@code target} (not in {@code run}); false if CRIU did not write one. */
    @FunctionalInterface
    interface Generator {
        boolean generate(Path target) throws IOException, InterruptedException;
    }

    private final Path run;
    private final Path bootIdFile;
    private final Generator generator;

    KerndatCache(Path run, Path bootIdFile, Generator generator) {
        this.run = run;
        this.bootIdFile = bootIdFile;
        this.generator = generator;
    }

    /** Primes {@code /run/criu.kdat} for {@code criu} if {@code /run} is not a tmpfs; never throws. */
    public static Outcome prime(Criu criu) {
        return new KerndatCache(RUN, BOOT_ID, target -> generateWith(criu, target)).prime();
    }

    Outcome prime() {
        try {
            if (isTmpfs(run)) {
                return Outcome.CRIU_KEEPS_IT;
            }
            Path cache = run.resolve(CACHE_NAME);
            Path mark = run.resolve(MARK_NAME);
            String bootId = Files.readString(bootIdFile, StandardCharsets.US_ASCII).strip();
            if (Files.exists(cache)) {
                if (!Files.exists(mark)) {
                    return Outcome.NOT_OURS;
                }
                if (Files.readString(mark, StandardCharsets.US_ASCII).strip().equals(bootId)) {
                    return Outcome.PRIMED_BEFORE;
                }
                Files.deleteIfExists(cache); // ours, from an earlier boot: maybe another kernel
            }
            Path scratch = Files.createTempFile("ferry-kdat", ".tmp");
            try {
                if (!generator.generate(scratch) || Files.size(scratch) == 0) {
                    return Outcome.FAILED;
                }
                Path markTmp = run.resolve(MARK_NAME + ".tmp-" + ProcessHandle.current().pid());
                Files.writeString(markTmp, bootId + "\n", StandardCharsets.US_ASCII);
                move(markTmp, mark);
                Path cacheTmp = run.resolve(CACHE_NAME + ".ferry-tmp-" + ProcessHandle.current().pid());
                Files.copy(scratch, cacheTmp, StandardCopyOption.REPLACE_EXISTING);
                move(cacheTmp, cache); // last: CRIU only ever sees a complete file
                return Outcome.PRIMED;
            } finally {
                Files.deleteIfExists(scratch);
            }
        } catch (IOException | RuntimeException e) {
            return Outcome.FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Outcome.FAILED;
        }
    }

    static boolean isTmpfs(Path dir) throws IOException {
        String type = Files.getFileStore(dir).type();
        return type.equals("tmpfs") || type.equals("ramfs");
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static boolean generateWith(Criu criu, Path target) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                GENERATE, criu.executable().toString(), target.toString()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectErrorStream(true)
                .start();
        if (!p.waitFor(GENERATE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return false;
        }
        return p.exitValue() == 0;
    }
}
