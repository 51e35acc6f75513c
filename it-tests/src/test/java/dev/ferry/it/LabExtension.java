package dev.ferry.it;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The lifecycle every lab-based IT shares, as a JUnit extension: before the class, a {@link LabFixture}
 * on its own subnet (and the daemons it asks for); after each test, its processes killed; after the
 * class, everything torn down. Register it as {@code @RegisterExtension static final LabExtension LAB}.
 */
final class LabExtension implements BeforeAllCallback, AfterEachCallback, AfterAllCallback {

    /** Which daemons to start before the tests. */
    enum Daemons { BOTH, PROXY_ONLY, NONE }

    private final int octet;
    private final Daemons daemons;
    private final boolean python;
    private final boolean clientNode;
    private LabFixture fixture;

    /**
     * @param octet   the third octet of the class's subnet, {@code 10.231.<octet>.0/24}, unique per class
     * @param daemons which daemons to start
     * @param python  whether the workloads need /usr/bin/python3 (checked, never skipped)
     */
    LabExtension(int octet, Daemons daemons, boolean python) {
        this(octet, daemons, python, false);
    }

    /** @param clientNode whether the lab gets a third node, {@code client}, for peers of the workload */
    LabExtension(int octet, Daemons daemons, boolean python, boolean clientNode) {
        this.octet = octet;
        this.daemons = daemons;
        this.python = python;
        this.clientNode = clientNode;
    }

    LabFixture fx() {
        if (fixture == null) {
            throw new IllegalStateException("the lab is not set up (LabExtension must be a static @RegisterExtension field)");
        }
        return fixture;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        fixture = LabFixture.create(context.getRequiredTestClass(), octet, clientNode);
        if (python) {
            ItEnvironment.requirePython();
        }
        switch (daemons) {
            case BOTH -> fixture.daemons().start();
            case PROXY_ONLY -> fixture.daemons().startProxy();
            case NONE -> { }
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        if (fixture != null) {
            fixture.killProcesses();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (fixture != null) {
            fixture.close();
            fixture = null;
        }
    }
}
