package dev.ferry.it;

import dev.ferry.protocol.ErrorCode;
import dev.ferry.protocol.FrameType;
import dev.ferry.protocol.Wire;
import dev.ferry.protocol.message.Error;
import dev.ferry.protocol.message.Hello;
import dev.ferry.protocol.message.ImageEnd;
import dev.ferry.protocol.message.ImageOpen;
import dev.ferry.protocol.message.SnapshotBegin;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;

import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * An authenticated but hostile image-proxy: run inside the source node (it holds a valid client
 * certificate from the lab's CA), it throws malformed and out-of-order frames at the image-cache for a
 * bounded time and prints one line per attack: {@code attack NAME: error CODE} or {@code attack NAME: closed}.
 * Exits 0 when every attack met an ERROR frame or a closed connection, 1 when one got no answer.
 *
 * <p>Usage: {@code HostileClient HOST PORT PKI_DIR SECONDS}
 */
public final class HostileClient {

    private static final int READ_TIMEOUT_MS = 15_000;

    private final String host;
    private final int port;
    private final SslContext tls;
    private final Random random = new Random(42);
    private final List<String> failures = new ArrayList<>();

    private HostileClient(String host, int port, SslContext tls) {
        this.host = host;
        this.port = port;
        this.tls = tls;
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        File pki = new File(args[2]);
        long seconds = Long.parseLong(args[3]);
        SslContext tls = SslContextBuilder.forClient().sslProvider(SslProvider.JDK).protocols("TLSv1.3")
                .keyManager(new File(pki, "source.pem"), new File(pki, "source-key.pem"))
                .trustManager(new File(pki, "ca.pem")).build();
        HostileClient client = new HostileClient(host, port, tls);
        System.out.println("attacking " + host + ":" + port);
        System.out.flush();
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        int rounds = 0;
        while (System.nanoTime() < deadline && rounds < 20) {
            client.round(rounds++);
        }
        System.out.println("rounds " + rounds + ", failures " + client.failures.size());
        for (String f : client.failures) {
            System.out.println("FAILED " + f);
        }
        System.exit(client.failures.isEmpty() ? 0 : 1);
    }

    private void round(int n) throws Exception {
        attack("garbage", s -> s.getOutputStream().write(randomBytes(65536)));
        attack("length-2^31", s -> s.getOutputStream().write(header(0x8000_0000L, 0x05, 1)));
        attack("unknown-type", s -> s.getOutputStream().write(frame(0x7F, 0, new byte[8])));
        attack("wrong-version", s -> s.getOutputStream().write(frame(FrameType.HELLO.wire(), 0,
                Hello.newBuilder().setVersion(99).setNode("hostile").setMaxFrameSize(Wire.DEFAULT_MAX_FRAME_SIZE).build().toByteArray())));
        attack("data-for-unopened-image", s -> {
            hello(s);
            begin(s, "hostile-" + n + "-a");
            s.getOutputStream().write(frame(FrameType.IMAGE_DATA.wire(), 9, randomBytes(4096)));
        });
        attack("duplicate-image-name", s -> {
            hello(s);
            begin(s, "hostile-" + n + "-b");
            byte[] open = ImageOpen.newBuilder().setName("pages-1.img").build().toByteArray();
            s.getOutputStream().write(frame(FrameType.IMAGE_OPEN.wire(), 1, open));
            s.getOutputStream().write(frame(FrameType.IMAGE_OPEN.wire(), 2, open));
        });
        attack("wrong-checksum", s -> {
            hello(s);
            begin(s, "hostile-" + n + "-c");
            s.getOutputStream().write(frame(FrameType.IMAGE_OPEN.wire(), 1,
                    ImageOpen.newBuilder().setName("core-1.img").build().toByteArray()));
            s.getOutputStream().write(frame(FrameType.IMAGE_DATA.wire(), 1, randomBytes(1000)));
            s.getOutputStream().write(frame(FrameType.IMAGE_END.wire(), 1,
                    ImageEnd.newBuilder().setSize(1000).setCrc32C(12345).build().toByteArray()));
        });
        attack("path-in-snapshot-name", s -> {
            hello(s);
            s.getOutputStream().write(frame(FrameType.SNAPSHOT_BEGIN.wire(), 0,
                    SnapshotBegin.newBuilder().setSnapshot("../../etc").build().toByteArray()));
        });
        // no TLS at all: the handshake fails, the connection is closed
        try (Socket plain = new Socket()) {
            plain.connect(new InetSocketAddress(host, port), 5000);
            plain.setSoTimeout(READ_TIMEOUT_MS);
            plain.getOutputStream().write(randomBytes(4096));
            report("plain-tcp", drainToEnd(plain.getInputStream()));
        } catch (IOException e) {
            report("plain-tcp", "closed (" + e.getClass().getSimpleName() + ")");
        }
        for (int i = 0; i < 50; i++) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 5000);
            }
        }
        System.out.println("attack connect-and-drop x50: done");
    }

    private interface Attack {
        void run(Socket s) throws Exception;
    }

    private void attack(String name, Attack attack) {
        try (SSLSocket s = (SSLSocket) ((JdkSslContext) tls).context().getSocketFactory().createSocket()) {
            s.connect(new InetSocketAddress(host, port), 5000);
            s.setSoTimeout(READ_TIMEOUT_MS);
            s.startHandshake();
            attack.run(s);
            s.getOutputStream().flush();
            report(name, answer(s.getInputStream()));
        } catch (SocketTimeoutException e) {
            report(name, "timeout");
        } catch (Exception e) {
            report(name, "closed (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
    }

    private void report(String name, String outcome) {
        System.out.println("attack " + name + ": " + outcome);
        if (outcome.startsWith("timeout")) {
            failures.add(name + " got no answer within " + READ_TIMEOUT_MS + " ms");
        }
    }

    /** Reads frames until an ERROR frame or the end of the connection. */
    private static String answer(InputStream in) throws IOException {
        DataInputStream data = new DataInputStream(in);
        while (true) {
            long length;
            try {
                length = data.readInt() & 0xffff_ffffL;
            } catch (EOFException e) {
                return "closed";
            }
            int type = data.readUnsignedByte();
            data.readUnsignedByte();
            data.readInt();
            byte[] payload = new byte[(int) Math.min(length - 6, 1 << 20)];
            data.readFully(payload);
            if (type == FrameType.ERROR.wire()) {
                Error e = Error.parseFrom(payload);
                return "error " + ErrorCode.fromWire(e.getCode()) + " — " + e.getMessage();
            }
        }
    }

    private static String drainToEnd(InputStream in) throws IOException {
        byte[] buf = new byte[4096];
        while (in.read(buf) >= 0) {
            // discard until the cache closes
        }
        return "closed";
    }

    private void hello(Socket s) throws IOException {
        s.getOutputStream().write(frame(FrameType.HELLO.wire(), 0, Hello.newBuilder().setVersion(Wire.VERSION)
                .setNode("hostile").setMaxFrameSize(Wire.DEFAULT_MAX_FRAME_SIZE).build().toByteArray()));
    }

    private void begin(Socket s, String name) throws IOException {
        s.getOutputStream().write(frame(FrameType.SNAPSHOT_BEGIN.wire(), 0,
                SnapshotBegin.newBuilder().setSnapshot(name).setExpectedBytes(0).setSourcePid(1).build().toByteArray()));
    }

    private static byte[] header(long length, int type, int stream) {
        return ByteBuffer.allocate(Wire.HEADER_LENGTH).putInt((int) length).put((byte) type).put((byte) 0)
                .putInt(stream).array();
    }

    private static byte[] frame(int type, int stream, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(header(6L + payload.length, type, stream));
        out.writeBytes(payload);
        return out.toByteArray();
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

}
