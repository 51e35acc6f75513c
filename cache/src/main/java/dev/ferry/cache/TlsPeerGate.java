package dev.ferry.cache;

import dev.ferry.protocol.tls.PeerNames;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.logging.Logger;

/**
 * Sits right after the {@link SslHandler} of an image-proxy connection and lets nothing through until
 * the peer is authenticated: it logs and closes a connection whose TLS handshake fails (no certificate,
 * one not from {@code --tls-ca}, expired, not on {@code --tls-allow}), checks the peer's names once more
 * against {@code --tls-allow}, and then removes itself. Frames never reach the codecs before that, because
 * the SslHandler hands on no application byte before its handshake completes.
 */
final class TlsPeerGate extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = Logger.getLogger(TlsPeerGate.class.getName());

    private final List<String> allowed;
    private boolean failed;

    private TlsPeerGate(List<String> allowed) {
        this.allowed = allowed;
    }

    /** Adds the SslHandler and the gate at the head of {@code pipeline}, before everything else. */
    static void addFirst(ChannelPipeline pipeline, SslContext context, List<String> allowed) {
        pipeline.addFirst("tls-gate", new TlsPeerGate(allowed));
        pipeline.addFirst("tls", context.newHandler(pipeline.channel().alloc()));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (!(evt instanceof SslHandshakeCompletionEvent done)) {
            super.userEventTriggered(ctx, evt);
            return;
        }
        if (!done.isSuccess()) {
            refuse(ctx, "TLS handshake failed: " + rootMessage(done.cause()));
            return;
        }
        X509Certificate peer = (X509Certificate) ctx.pipeline().get(SslHandler.class).engine().getSession()
                .getPeerCertificates()[0];
        if (!PeerNames.allowed(peer, allowed)) {
            refuse(ctx, "peer certificate names " + PeerNames.of(peer) + " (expected: one of --tls-allow " + allowed + ")");
            return;
        }
        LOG.fine(() -> "connection " + ctx.channel().remoteAddress() + ": TLS peer " + PeerNames.of(peer));
        ctx.pipeline().remove(this);
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // cannot happen while the SslHandler is before us; never let a byte pass unauthenticated anyway
        ReferenceCountUtil.release(msg);
        refuse(ctx, "data before the TLS handshake completed");
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a failing handshake also raises its exception here; the completion event logs it once
        if (!failed) {
            LOG.fine(() -> "connection " + ctx.channel().remoteAddress() + ": " + rootMessage(cause));
        }
        ctx.close();
    }

    private void refuse(ChannelHandlerContext ctx, String why) {
        if (!failed) {
            failed = true;
            LOG.warning(() -> "refused image-proxy connection from " + ctx.channel().remoteAddress() + ": " + why);
        }
        ctx.close();
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String top = String.valueOf(t.getMessage());
        return root == t || top.contains(String.valueOf(root.getMessage())) ? top : top + " (" + root.getMessage() + ")";
    }
}
