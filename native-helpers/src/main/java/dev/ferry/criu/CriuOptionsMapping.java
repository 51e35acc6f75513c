package dev.ferry.criu;

/** Turns the control protocol's CRIU options (what a client asked for) into validated {@link CriuOptions}. */
public final class CriuOptionsMapping {

    private CriuOptionsMapping() {
    }

    /** Throws IllegalArgumentException, naming the option, for a value CRIU would not take. */
    public static CriuOptions from(dev.ferry.protocol.control.CriuOptions o) {
        return new CriuOptions(o.getLeaveRunning(), o.getShellJob(), o.getTcpEstablished(), o.getExtUnixSk(),
                o.getFileLocks(), o.getTcpClose(), o.getNetworkLock(), o.getManageCgroups(), o.getCgroupRootList());
    }
}
