package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.control.NodeFacts;
import java.util.Objects;

/**
 * HELLO_ACK: image-cache's answer to {@link Hello}.
 *
 * @param version      the protocol version the cache speaks ({@link dev.ferry.protocol.Wire#VERSION})
 * @param node         the cache's node name, for logs
 * @param maxFrameSize the largest length field the cache accepts; the proxy's frames stay below it
 * @param facts        the cache's CRIU version and the kinds of state it supports, when the hello asked; else null
 */
public record HelloAck(int version, String node, int maxFrameSize, NodeFacts facts) implements WireMessage {
    public HelloAck {
        Objects.requireNonNull(node, "node");
    }

    /** An answer without facts. */
    public HelloAck(int version, String node, int maxFrameSize) {
        this(version, node, maxFrameSize, null);
    }

    @Override
    public FrameType type() {
        return FrameType.HELLO_ACK;
    }
}
