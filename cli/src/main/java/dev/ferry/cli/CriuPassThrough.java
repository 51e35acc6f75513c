package dev.ferry.cli;

import dev.ferry.protocol.control.CriuOptions;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** CRIU options passed through to {@code criu dump}/{@code criu restore} under CRIU's own names. */
final class CriuPassThrough {

    @Option(names = "--shell-job", description = "Allow dumping/restoring shell jobs (CRIU --shell-job).")
    boolean shellJob;

    @Option(names = "--tcp-established", description = "Checkpoint/restore established TCP connections (CRIU --tcp-established).")
    boolean tcpEstablished;

    @Option(names = "--ext-unix-sk", description = "Allow external unix sockets (CRIU --ext-unix-sk).")
    boolean extUnixSk;

    @Option(names = "--file-locks", description = "Handle file locks (CRIU --file-locks).")
    boolean fileLocks;

    @Option(names = "--tcp-close", description = "Restore TCP connections closed (CRIU --tcp-close).")
    boolean tcpClose;

    @Option(names = "--manage-cgroups", paramLabel = "MODE",
            description = "CRIU --manage-cgroups mode: none, props, soft, full, strict, ignore.")
    String manageCgroups;

    @Option(names = "--cgroup-root", paramLabel = "[CTRL:]PATH", description = "CRIU --cgroup-root (repeatable).")
    List<String> cgroupRoots = new ArrayList<>();

    CriuOptions.Builder toProto() {
        return CriuOptions.newBuilder()
                .setShellJob(shellJob)
                .setTcpEstablished(tcpEstablished)
                .setExtUnixSk(extUnixSk)
                .setFileLocks(fileLocks)
                .setTcpClose(tcpClose)
                .setManageCgroups(manageCgroups == null ? "" : manageCgroups)
                .addAllCgroupRoot(cgroupRoots);
    }
}
