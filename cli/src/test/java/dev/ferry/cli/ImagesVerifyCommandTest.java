package dev.ferry.cli;

import dev.ferry.cache.CacheConfig;
import dev.ferry.cache.ImageCache;
import dev.ferry.criu.Criu;
import dev.ferry.protocol.ExitCode;
import dev.ferry.protocol.image.ImageDigest;
import dev.ferry.protocol.image.ImageName;
import dev.ferry.protocol.image.ImageOutput;
import dev.ferry.protocol.image.SnapshotName;
import dev.ferry.proxy.CacheLink;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry images verify} through the real control socket of an in-process image-cache holding a
 * snapshot sent over loopback TCP by the image-proxy's {@link CacheLink}.
 */
class ImagesVerifyCommandTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path runDir;

    private ImageCache cache;
    private MultiThreadIoEventLoopGroup group;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void start() throws Exception {
        Criu criu = new Criu(Path.of("/bin/false"), "4.2.1"); // never run here: no restore in this test
        cache = ImageCache.start(new CacheConfig(new InetSocketAddress("127.0.0.1", 0), runDir, criu, 256L << 20,
                "target", Duration.ofSeconds(5), null, null));
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        cache.close();
    }

    private int run(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /** Sends and commits a snapshot of {@code sizes.length} random images; returns its total bytes. */
    private long send(String snapshot, int... sizes) throws Exception {
        long total = 0;
        try (CacheLink link = CacheLink.connect(group, NioSocketChannel.class, "127.0.0.1", cache.address().getPort(),
                "source", TIMEOUT)) {
            link.begin(SnapshotName.of(snapshot), 0, 1, TIMEOUT);
            List<ImageDigest> manifest = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                byte[] data = new byte[sizes[i]];
                new Random(i).nextBytes(data);
                CRC32C c = new CRC32C();
                c.update(data);
                ImageName image = ImageName.of("img-" + i + ".img");
                ImageOutput o = link.open(image);
                o.write(ByteBuffer.wrap(data));
                o.finish(data.length, (int) c.getValue());
                manifest.add(new ImageDigest(image, data.length, (int) c.getValue()));
                total += data.length;
            }
            link.commit(manifest).get(10, TimeUnit.SECONDS);
        }
        return total;
    }

    @Test
    void heldSnapshotVerifiesOk() throws Exception {
        long bytes = send("web1", 200_000, 1_000, 5);
        assertEquals(ExitCode.OK.code(), run("images", "verify", "web1", "--run-dir", runDir.toString()), err.toString());
        assertTrue(out.toString().contains("snapshot web1: 3 images, " + bytes + " bytes, all checksums match"), out.toString());
    }

    @Test
    void unknownSnapshotIsNotFoundAndNamesWhatIsHeld() throws Exception {
        send("web1", 10);
        assertEquals(ExitCode.NOT_FOUND.code(), run("images", "verify", "db7", "--run-dir", runDir.toString()), err.toString());
        assertTrue(err.toString().contains("no committed snapshot db7"), err.toString());
        assertTrue(err.toString().contains("holds: web1 (COMMITTED)"), err.toString());
    }

    @Test
    void lsListsHeldSnapshots() throws Exception {
        assertEquals(0, run("images", "ls", "--run-dir", runDir.toString()), err.toString());
        assertTrue(out.toString().contains("no snapshots held"), out.toString());
        out.getBuffer().setLength(0);
        send("web1", 1000, 24);
        send("db7", 10);
        assertEquals(0, run("images", "ls", "--run-dir", runDir.toString()), err.toString());
        String[] lines = out.toString().split("\\R");
        assertEquals(3, lines.length, out.toString());
        assertTrue(lines[0].startsWith("NAME"), out.toString());
        assertTrue(lines[1].matches("db7 +COMMITTED +1 .*source.*"), out.toString());
        assertTrue(lines[2].matches("web1 +COMMITTED +2 .*source.*"), out.toString());
    }

    @Test
    void imagesWithoutSubcommandOrWithBadNameIsUsageError() {
        assertEquals(ExitCode.USAGE.code(), run("images"));
        assertTrue(err.toString().contains("verify"), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(ExitCode.USAGE.code(), run("images", "verify", "../x", "--run-dir", runDir.toString()));
        assertTrue(err.toString().contains("snapshot name"), err.toString());
    }
}
