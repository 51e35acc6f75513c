package dev.ferry.cache;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.RemoveRequest;
import dev.ferry.protocol.control.ShowRequest;
import dev.ferry.protocol.control.SnapshotDetail;
import dev.ferry.protocol.criu.CriuImageReader.CriuImageException;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.protocol.control.ControlServer;
import dev.ferry.protocol.control.ControlSession;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.control.SnapshotInfo;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The image-cache's control socket handler: routes each request to the service for its kind (restore to
 * {@link RestoreService}, verify to {@link VerifyService}; list, show and rm answered here) and refuses the rest.
 */
final class CacheControl implements ControlServer.Handler {

    private static final Logger LOG = Logger.getLogger(CacheControl.class.getName());

    private final SnapshotStore store;
    private final RestoreService restore;
    private final VerifyService verify;

    CacheControl(SnapshotStore store, RestoreService restore, VerifyService verify) {
        this.store = store;
        this.restore = restore;
        this.verify = verify;
    }

    /** Every snapshot held, by name, in any state. */
    static Result list(SnapshotStore store) {
        List<StoredSnapshot> held = new ArrayList<>(store.list());
        held.sort(Comparator.comparing(s -> s.name().value()));
        Result.Builder r = Results.success(held.size() + " snapshot(s)");
        for (StoredSnapshot s : held) {
            r.addSnapshots(info(s));
        }
        return r.build();
    }

    private static SnapshotInfo info(StoredSnapshot s) {
        return SnapshotInfo.newBuilder()
                .setName(s.name().value())
                .setState(s.state().name())
                .setImages(s.imageCount())
                .setBytes(s.bytes())
                .setCreatedMillis(s.created().toEpochMilli())
                .setSource(s.source() == null ? "" : s.source())
                .setLazy(s.isLazy())
                .build();
    }

    /** The process tree of a committed snapshot, from its images in memory. */
    static Result show(SnapshotStore store, ShowRequest request) {
        String problem = SnapshotName.problem(request.getSnapshot());
        if (problem != null) {
            return Results.failure(ExitCode.USAGE, problem);
        }
        SnapshotName name = SnapshotName.of(request.getSnapshot());
        Optional<StoredSnapshot> held = store.get(name);
        if (held.isPresent() && held.get().state() == StoredSnapshot.State.RECEIVING) {
            return Results.failure(ExitCode.REFUSED, "snapshot " + name + " is still being received ("
                    + held.get().imageCount() + " images, " + held.get().bytes() + " bytes so far); show it once it is"
                    + " committed");
        }
        Optional<StoredSnapshot> found = store.committed(name);
        if (found.isEmpty()) {
            return VerifyService.notFound(store, name);
        }
        StoredSnapshot s = found.get();
        try {
            SnapshotDetail detail = SnapshotInspector.inspect(s, s.imageSizes()).setInfo(info(s)).build();
            return Results.success("snapshot " + name + ": " + detail.getProcessesCount() + " process(es)")
                    .setDetail(detail).build();
        } catch (CriuImageException e) {
            LOG.warning(() -> "snapshot " + name + ": show failed: " + e.getMessage());
            return Results.failure(ExitCode.INTEGRITY, "snapshot " + name + ": its CRIU images do not parse: "
                    + e.getMessage());
        } catch (RuntimeException e) {
            // a concurrent rm released the memory while it was read
            return Results.failure(ExitCode.NOT_FOUND, "snapshot " + name + " was removed while it was read ("
                    + e.getMessage() + ")");
        }
    }

    /** Removes a snapshot that is not being received or restored, freeing its memory. */
    static Result remove(SnapshotStore store, RemoveRequest request) {
        return remove(store, request, s -> { });
    }

    /** {@link #remove(SnapshotStore, RemoveRequest)}, then {@code removed} with the snapshot it removed. */
    static Result remove(SnapshotStore store, RemoveRequest request, java.util.function.Consumer<StoredSnapshot> removed) {
        String problem = SnapshotName.problem(request.getSnapshot());
        if (problem != null) {
            return Results.failure(ExitCode.USAGE, problem);
        }
        SnapshotName name = SnapshotName.of(request.getSnapshot());
        long freedBefore = store.budget().free();
        Optional<SnapshotStore.Removal> removal = store.remove(name);
        if (removal.isEmpty()) {
            return Results.failure(ExitCode.NOT_FOUND, "no snapshot " + name + " in this image-cache (holds: "
                    + heldNames(store) + ")");
        }
        StoredSnapshot s = removal.get().snapshot();
        if (!removal.get().removed()) {
            String why = s.state() == StoredSnapshot.State.RESTORING
                    ? "it is being restored; wait for 'ferry restore' to finish (a failed restore keeps it for a retry)"
                    : "it is still being received; wait for the dump to commit or fail";
            return Results.failure(ExitCode.REFUSED, "snapshot " + name + " is " + s.state() + ": not removed, " + why);
        }
        removed.accept(s);
        long freed = Math.max(0, store.budget().free() - freedBefore);
        LOG.info(() -> "snapshot " + name + ": removed (" + s.state() + ", " + s.imageCount() + " images), " + freed
                + " bytes of cache memory freed");
        return Results.success("removed snapshot " + name + " (" + s.imageCount() + " images, " + freed
                + " bytes of cache memory freed)").setImages(s.imageCount()).setBytes(freed)
                .addSnapshots(info(s)).build();
    }

    private static String heldNames(SnapshotStore store) {
        String held = store.list().stream().map(x -> x.name() + " (" + x.state() + ")").sorted()
                .collect(java.util.stream.Collectors.joining(", "));
        return held.isEmpty() ? "nothing" : held;
    }

    @Override
    public void handle(Request request, ControlSession session) {
        switch (request.getKindCase()) {
            case RESTORE -> restore.handle(request, session);
            case VERIFY -> session.result(verify.verify(request.getVerify()));
            case LIST -> session.result(list(store));
            case SHOW -> session.result(show(store, request.getShow()));
            case REMOVE -> session.result(remove(store, request.getRemove(), restore::snapshotRemoved));
            default -> session.result(Results.failure(ExitCode.USAGE, "the image-cache takes restore, verify, list, show and rm"
                    + " requests (found: " + request.getKindCase() + "); send dumps to the image-proxy on the source node"));
        }
    }
}
