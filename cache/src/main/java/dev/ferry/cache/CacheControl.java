package dev.ferry.cache;

import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.control.ControlServer;
import dev.ferry.protocol.control.ControlSession;
import dev.ferry.protocol.control.Request;
import dev.ferry.protocol.control.Result;
import dev.ferry.protocol.control.Results;
import dev.ferry.protocol.control.SnapshotInfo;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The image-cache's control socket handler: routes each request to the service for its kind (restore to
 * {@link RestoreService}, verify to {@link VerifyService}, list answered here) and refuses the rest.
 */
final class CacheControl implements ControlServer.Handler {

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
            r.addSnapshots(SnapshotInfo.newBuilder()
                    .setName(s.name().value())
                    .setState(s.state().name())
                    .setImages(s.imageCount())
                    .setBytes(s.bytes())
                    .setCreatedMillis(s.created().toEpochMilli())
                    .setSource(s.source() == null ? "" : s.source()));
        }
        return r.build();
    }

    @Override
    public void handle(Request request, ControlSession session) {
        switch (request.getKindCase()) {
            case RESTORE -> restore.handle(request, session);
            case VERIFY -> session.result(verify.verify(request.getVerify()));
            case LIST -> session.result(list(store));
            default -> session.result(Results.failure(ExitCode.USAGE, "the image-cache takes restore, verify and list"
                    + " requests (found: " + request.getKindCase() + "); send dumps to the image-proxy on the source node"));
        }
    }
}
