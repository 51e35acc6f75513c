package dev.ferry.bench;

import dev.ferry.protocol.Wire;
import dev.ferry.protocol.codec.FrameDecoder;
import dev.ferry.protocol.codec.FrameEncoder;
import dev.ferry.protocol.codec.ImageData;
import dev.ferry.protocol.codec.WireMessageDecoder;
import dev.ferry.protocol.codec.WireMessageEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * Throughput of ferry's wire codec for IMAGE_DATA frames of 1 MiB ({@link Wire#MAX_DATA_PAYLOAD}, what
 * the proxy sends), through {@link EmbeddedChannel}s with the same handlers and order as
 * {@code WireCodecs.addTo}. One operation moves one frame, so MB/s = ops/s x 1.048576 (bench/codec.sh
 * prints it).
 *
 * <ul>
 *   <li>{@link #encode}: ImageData → WireMessageEncoder → FrameEncoder → header + payload buffers.</li>
 *   <li>{@link #decode}: the encoded bytes arrive as socket reads of {@link Reads#readSize} bytes (slices of one
 *       buffer, as the epoll transport hands them on) → FrameDecoder → WireMessageDecoder → ImageData.</li>
 *   <li>{@link #roundTrip}: the encoder's output fed straight into the decoder.</li>
 *   <li>{@link #decodeCopyCrc32c}: decode, then what the image-cache does with each frame's bytes (copy
 *       into memory it owns and update the image's CRC32C) — not codec work, but it bounds the receive
 *       path per byte.</li>
 * </ul>
 *
 * <p>Ownership: every buffer a benchmark method gets from the channels is released in that method; the
 * shared payload and wire buffers are released in {@link #tearDown}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled",
        "-Dio.netty.allocator.directMemoryCacheAlignment=64"})
public class CodecBenchmark {

    static final int PAYLOAD = Wire.MAX_DATA_PAYLOAD;
    static final int STREAM = 7;

    private ByteBuf payload;
    private ByteBuf wire;
    private ByteBuf store;
    private EmbeddedChannel encoder;
    private EmbeddedChannel decoder;
    private final CRC32C crc = new CRC32C();

    @Setup(Level.Trial)
    public void setUp() {
        byte[] bytes = new byte[PAYLOAD];
        new SplittableRandom(42).nextBytes(bytes);
        payload = ByteBufAllocator.DEFAULT.directBuffer(PAYLOAD).writeBytes(bytes);
        store = ByteBufAllocator.DEFAULT.directBuffer(PAYLOAD);
        // Outbound runs tail to head: WireMessageEncoder first, then FrameEncoder (as in WireCodecs).
        encoder = new EmbeddedChannel(new FrameEncoder(), new WireMessageEncoder());
        decoder = new EmbeddedChannel(new FrameDecoder(Wire.DEFAULT_MAX_FRAME_SIZE), new WireMessageDecoder());
        wire = ByteBufAllocator.DEFAULT.directBuffer(Wire.HEADER_LENGTH + PAYLOAD);
        encoder.writeOutbound(new ImageData(STREAM, payload.retainedDuplicate()));
        for (ByteBuf part; (part = encoder.readOutbound()) != null; ) {
            wire.writeBytes(part);
            part.release();
        }
        if (wire.readableBytes() != Wire.HEADER_LENGTH + PAYLOAD) {
            throw new IllegalStateException("encoded frame: " + wire.readableBytes() + " bytes (expected: "
                    + (Wire.HEADER_LENGTH + PAYLOAD) + ")");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        encoder.finishAndReleaseAll();
        decoder.finishAndReleaseAll();
        payload.release();
        wire.release();
        store.release();
    }

    @Benchmark
    public int encode() {
        encoder.writeOutbound(new ImageData(STREAM, payload.retainedDuplicate()));
        int bytes = 0;
        for (ByteBuf part; (part = encoder.readOutbound()) != null; ) {
            bytes += part.readableBytes();
            part.release();
        }
        return bytes;
    }

    /** How the encoded bytes reach the decoder; only the decode benchmarks use it. */
    @State(Scope.Thread)
    public static class Reads {
        /** Bytes per socket read: 64 KiB (Netty's usual read size on this link) or the whole frame at once. */
        @Param({"65536", "1048586"})
        int readSize;
    }

    @Benchmark
    public int decode(Reads reads) {
        feedWire(reads.readSize);
        return readImageData(null);
    }

    @Benchmark
    public int roundTrip() {
        encoder.writeOutbound(new ImageData(STREAM, payload.retainedDuplicate()));
        for (ByteBuf part; (part = encoder.readOutbound()) != null; ) {
            decoder.writeInbound(part); // the decoder owns it now
        }
        return readImageData(null);
    }

    @Benchmark
    public void decodeCopyCrc32c(Reads reads, Blackhole bh) {
        feedWire(reads.readSize);
        readImageData(bh);
    }

    private void feedWire(int readSize) {
        int length = wire.readableBytes();
        for (int off = 0; off < length; off += readSize) {
            decoder.writeInbound(wire.retainedSlice(off, Math.min(readSize, length - off)));
        }
    }

    /** Reads the one ImageData the decoder made; with {@code bh}, copies and checksums it as the cache does. */
    private int readImageData(Blackhole bh) {
        ImageData data = decoder.readInbound();
        try {
            ByteBuf bytes = data.data();
            int n = bytes.readableBytes();
            if (n != PAYLOAD || data.streamId() != STREAM) {
                throw new IllegalStateException("decoded " + data);
            }
            if (bh != null) {
                for (var nio : bytes.nioBuffers()) {
                    crc.update(nio);
                }
                store.clear().writeBytes(bytes, bytes.readerIndex(), n);
                bh.consume(crc.getValue());
            }
            return n;
        } finally {
            data.release();
        }
    }
}
