package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import java.util.Objects;

/**
 * HELLO: the first frame from image-proxy, before anything else.
 *
 * @param version      the protocol version the sender speaks ({@link dev.ferry.protocol.Wire#VERSION})
 * @param node         the sender's node name, for logs
 * @param maxFrameSize the largest length field the sender accepts
 * @param wantFacts    whether the cache should put its {@link dev.ferry.protocol.control.NodeFacts} in HELLO_ACK
 *                     ({@code ferry check --target})
 */
public record Hello(int version, String node, int maxFrameSize, boolean wantFacts) implements WireMessage {
    public Hello {
        Objects.requireNonNull(node, "node");
    }

    /** A hello that asks for no facts: every snapshot's connection. */
    public Hello(int version, String node, int maxFrameSize) {
        this(version, node, maxFrameSize, false);
    }

    @Override
    public FrameType type() {
        return FrameType.HELLO;
    }
}
