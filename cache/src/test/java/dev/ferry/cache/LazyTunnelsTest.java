package dev.ferry.cache;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.posix.FileDescriptorHandle;
import dev.ferry.posix.SocketPair;
import dev.ferry.protocol.codec.ChannelClose;
import dev.ferry.protocol.tunnel.ChannelTunnel;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.channels.SocketChannel;
import org.junit.jupiter.api.Test;

/**
 * {@link LazyRestore.Tunnels}: the proxy's CHANNEL_CLOSE crosses the target's at the end of a post-copy, and is taken
 * even after the tunnel ended cleanly (a bench run once failed a finished migration on it); any other is refused.
 */
class LazyTunnelsTest {

    @Test
    void aLateCloseOfAFinishedTunnelIsTakenOnce_othersAreRefused() throws Exception {
        EmbeddedChannel link = new EmbeddedChannel();
        FileDescriptorHandle[] pair = SocketPair.stream();
        try (SocketChannel local = SocketPair.channel(pair[0])) {
            LazyRestore.Tunnels tunnels = new LazyRestore.Tunnels();
            ChannelTunnel tunnel = new ChannelTunnel(link, 1, local, n -> { });
            assertFalse(tunnels.close(link, new ChannelClose(1, null, "", 0)), "no tunnel was ever open");

            tunnels.open(link, tunnel);
            tunnels.finished(link, tunnel);
            assertFalse(tunnels.close(link, new ChannelClose(2, null, "", 0)), "another stream id");
            assertTrue(tunnels.close(link, new ChannelClose(1, null, "", 0)), "the proxy's close after ours");
            assertFalse(tunnels.close(link, new ChannelClose(1, null, "", 0)), "a second close");

            tunnels.open(link, tunnel);
            tunnels.finished(link, tunnel);
            link.close();
            assertFalse(tunnels.close(link, new ChannelClose(1, null, "", 0)), "forgotten with the connection");
        } finally {
            pair[1].close();
            link.finishAndReleaseAll();
        }
    }
}
