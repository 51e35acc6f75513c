package dev.ferry.protocol.codec;

import io.netty.channel.ChannelPipeline;

/**
 * Adds ferry's wire codecs to a channel pipeline, for both image-proxy and image-cache. Handlers that
 * speak {@link WireMessage}s go after them.
 */
public final class WireCodecs {

    public static final String FRAME_DECODER = "frameDecoder";
    public static final String FRAME_ENCODER = "frameEncoder";
    public static final String MESSAGE_DECODER = "messageDecoder";
    public static final String MESSAGE_ENCODER = "messageEncoder";

    private WireCodecs() {
    }

    /**
     * Adds the four codecs at the end of {@code p}.
     *
     * @param maxFrameSize the largest frame length this node accepts
     */
    public static void addTo(ChannelPipeline p, int maxFrameSize) {
        // Bytes in: frameDecoder cuts them into frames, messageDecoder turns frames into messages.
        // Messages out: messageEncoder turns them into frames, frameEncoder puts the header before each
        // payload. Outbound writes travel from the tail to the head, so the encoders run in reverse order.
        p.addLast(FRAME_DECODER, new FrameDecoder(maxFrameSize));
        p.addLast(FRAME_ENCODER, new FrameEncoder());
        p.addLast(MESSAGE_DECODER, new WireMessageDecoder());
        p.addLast(MESSAGE_ENCODER, new WireMessageEncoder());
    }
}
