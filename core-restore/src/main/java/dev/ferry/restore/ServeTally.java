package dev.ferry.restore;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Counters of one restore's serving, updated from the request thread and serving threads. */
final class ServeTally {

    private final AtomicLong bytesServed = new AtomicLong();
    private final AtomicInteger imagesServed = new AtomicInteger();
    private final AtomicInteger imagesMissing = new AtomicInteger();
    private final AtomicInteger brokenPipes = new AtomicInteger();

    void served(long bytes) {
        bytesServed.addAndGet(bytes);
        imagesServed.incrementAndGet();
    }

    void missing() {
        imagesMissing.incrementAndGet();
    }

    void brokenPipe() {
        brokenPipes.incrementAndGet();
    }

    long bytesServed() {
        return bytesServed.get();
    }

    int imagesServed() {
        return imagesServed.get();
    }

    int imagesMissing() {
        return imagesMissing.get();
    }

    int brokenPipes() {
        return brokenPipes.get();
    }
}
