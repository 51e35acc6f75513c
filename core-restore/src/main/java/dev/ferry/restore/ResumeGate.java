package dev.ferry.restore;

/**
 * Decides whether a restored tree may resume. A migration's restore asks it at CRIU's {@code post-restore}: the
 * tree is restored but has not run, and CRIU's network lock still holds. Answering false makes CRIU kill the tree
 * before it ever ran.
 *
 * <p>Called once per restore, on a thread of the restore engine, while CRIU waits; it may block, but CRIU's action
 * script gives up after the gate's timeout (the job's restore timeout).
 */
@FunctionalInterface
public interface ResumeGate {

    /** @param pid the root pid of the restored tree, as CRIU gave it (0 if it did not) */
    boolean mayResume(long pid) throws InterruptedException;
}
