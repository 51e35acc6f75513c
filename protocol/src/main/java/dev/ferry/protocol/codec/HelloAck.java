package dev.ferry.protocol.codec;

import dev.ferry.protocol.FrameType;
import java.util.Objects;

/**
 * HELLO_ACK: image-cache's answer to {@link Hello}.
 *
 * @param version      the protocol version the cache speaks ({@link dev.ferry.protocol.Wire#VERSION})
 * @param node         the cache's node name, for logs
 * @param maxFrameSize the largest length field the cache accepts; the proxy's frames stay below it
 */
public record HelloAck(int version, String node, int maxFrameSize) implements WireMessage {
    public HelloAck {
        Objects.requireNonNull(node, "node");
    }

    @Override
    public FrameType type() {
        return FrameType.HELLO_ACK;
    }
}
