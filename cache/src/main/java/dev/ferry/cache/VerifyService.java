package dev.ferry.cache;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.control.VerifyRequest;
import dev.ferry.protocol.image.SnapshotName;

import java.util.Optional;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * Answers {@code ferry images verify NAME}: re-checks a committed snapshot's held memory against the
 * manifest verified at its commit ({@link StoredSnapshot#verifyHeld()}). OK, INTEGRITY naming the first
 * bad image, or NOT_FOUND naming what the cache holds.
 */
final class VerifyService {

    private static final Logger LOG = Logger.getLogger(VerifyService.class.getName());

    private final SnapshotStore store;

    VerifyService(SnapshotStore store) {
        this.store = store;
    }

    Result verify(VerifyRequest request) {
        String problem = SnapshotName.problem(request.getSnapshot());
        if (problem != null) {
            return Results.failure(ExitCode.USAGE, problem);
        }
        SnapshotName name = SnapshotName.of(request.getSnapshot());
        Optional<StoredSnapshot> found = store.committed(name);
        if (found.isEmpty()) {
            return notFound(store, name);
        }
        long started = System.nanoTime();
        StoredSnapshot.HeldCheck check = found.get().verifyHeld();
        long millis = (System.nanoTime() - started) / 1_000_000;
        if (!check.ok()) {
            LOG.warning(() -> "snapshot " + name + ": verify failed: " + check.problem());
            return Results.failure(ExitCode.INTEGRITY, "snapshot " + name + " failed verification: " + check.problem()
                    + "; do not restore it: dump the process again under another name").toBuilder()
                    .setImages(check.images()).setBytes(check.bytes()).setDurationMillis(millis).build();
        }
        LOG.info(() -> "snapshot " + name + ": verified, " + check.images() + " images, " + check.bytes() + " bytes");
        return Results.success("snapshot " + name + ": " + check.images() + " images, " + check.bytes()
                        + " bytes, all checksums match")
                .setImages(check.images()).setBytes(check.bytes()).setDurationMillis(millis).build();
    }

    /** NOT_FOUND naming every snapshot the cache holds, and how to get one there. */
    static Result notFound(SnapshotStore store, SnapshotName name) {
        Optional<StoredSnapshot> bad = store.get(name).filter(s -> s.state() == StoredSnapshot.State.BAD);
        if (bad.isPresent()) {
            return Results.failure(ExitCode.INTEGRITY, "snapshot " + name + " failed verification when it arrived ("
                    + bad.get().badReason() + "); it is never served: dump the process again (the name may be reused)");
        }
        String held = store.list().stream().map(s -> s.name() + " (" + s.state() + ")").sorted()
                .collect(Collectors.joining(", "));
        return Results.failure(ExitCode.NOT_FOUND, "no committed snapshot " + name + " in this image-cache"
                + " (holds: " + (held.isEmpty() ? "nothing" : held) + "); dump it first with 'ferry dump -D "
                + name + " --remote' on the source node");
    }
}
