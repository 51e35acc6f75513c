package dev.ferry.protocol.tunnel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.protocol.codec.ChannelData;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The tunnel between a local socket (CRIU's, played by the test) and CHANNEL_DATA frames of a link. */
class ChannelTunnelTest {

    /** [tunnel's end, CRIU's end] of a loopback TCP connection. */
    private static SocketChannel[] pair() throws Exception {
        try (ServerSocketChannel l = ServerSocketChannel.open()) {
            l.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            SocketChannel criu = SocketChannel.open(l.getLocalAddress());
            return new SocketChannel[] {l.accept(), criu};
        }
    }

    @Test
    void writesDeliveredBytesToCriuInOrder_thenEofAtRemoteClose_andCountsThem() throws Exception {
        EmbeddedChannel link = new EmbeddedChannel();
        SocketChannel[] s = pair();
        AtomicLong counted = new AtomicLong();
        ChannelTunnel tunnel = new ChannelTunnel(link, 1, s[0], counted::addAndGet);
        byte[] bytes = new byte[3 << 20];
        new Random(7).nextBytes(bytes);
        ByteBuf whole = Unpooled.wrappedBuffer(bytes);
        for (int off = 0; off < bytes.length; off += 100_000) {
            tunnel.deliver(new ChannelData(1, whole.retainedSlice(off, Math.min(100_000, bytes.length - off))));
        }
        whole.release();
        tunnel.remoteClosed();
        // only the writer thread runs: the reader would touch the EmbeddedChannel from another thread
        Thread writer = new Thread(tunnel::writeLocal);
        writer.start();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        while (s[1].read(buf.clear()) >= 0) {
            got.write(buf.array(), 0, buf.position());
        }
        assertArrayEquals(bytes, got.toByteArray());
        tunnel.remoteEnded().get(5, TimeUnit.SECONDS);
        assertEquals(bytes.length, tunnel.bytesIn());
        assertEquals(bytes.length, counted.get());
        assertEquals(0, whole.refCnt(), "every delivered buffer was released");
        tunnel.abort();
        s[1].close();
        assertFalse(link.finish());
    }

    @Test
    void abortReleasesWhatIsQueuedAndClosesCriusSocket() throws Exception {
        EmbeddedChannel link = new EmbeddedChannel();
        SocketChannel[] s = pair();
        ChannelTunnel tunnel = new ChannelTunnel(link, 1, s[0], n -> { });
        ByteBuf data = Unpooled.wrappedBuffer(new byte[1000]);
        tunnel.deliver(new ChannelData(1, data));
        tunnel.abort();
        assertEquals(0, data.refCnt());
        assertEquals(-1, s[1].read(ByteBuffer.allocate(10)), "CRIU reads EOF");
        assertTrue(tunnel.localEnded().isCompletedExceptionally());
        assertTrue(link.config().isAutoRead());
        s[1].close();
        assertFalse(link.finish());
    }
}
