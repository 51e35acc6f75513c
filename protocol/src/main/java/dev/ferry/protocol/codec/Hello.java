package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import java.util.Objects;

/**
 * HELLO: the first frame from image-proxy, before anything else.
 *
 * @param version      the protocol version the sender speaks ({@link dev.ferry.protocol.Wire#VERSION})
 * @param node         the sender's node name, for logs
 * @param maxFrameSize the largest length field the sender accepts
 */
public record Hello(int version, String node, int maxFrameSize) implements WireMessage {
    public Hello {
        Objects.requireNonNull(node, "node");
    }

    @Override
    public FrameType type() {
        return FrameType.HELLO;
    }
}
