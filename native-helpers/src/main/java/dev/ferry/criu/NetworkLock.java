package dev.ferry.criu;

import dev.ferry.posix.HostCommand;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CRIU's network lock on the source after a successful {@code dump --tcp-established}: CRIU leaves it in place on
 * purpose, so the source's kernel drops the peers' retransmits instead of answering them with a reset. Once the
 * target runs the tree, the orchestrator removes it. This class finds exactly the lock of one dump from its log
 * and removes it, leaving the locks of other dumps alone:
 *
 * <ul>
 *   <li>nftables: a table {@code inet CRIU-<prefix of the run id>}; the run id is on the log's first line
 *       ({@code CRIU run id = <uuid>});</li>
 *   <li>iptables: the rules the log lists as {@code Running iptables [iptables -w -t filter -I CHAIN ...]}
 *       (also ip6tables), deleted with {@code -D}.</li>
 * </ul>
 * Run it in the network namespace CRIU ran in.
 */
public final class NetworkLock {

    private static final Pattern RUN_ID = Pattern.compile("CRIU run id = ([0-9a-fA-F-]+)");
    private static final Pattern IPTABLES = Pattern.compile("Running (ip6?tables) \\[(ip6?tables .* -I .*)]\\s*$");
    private static final Pattern TABLE = Pattern.compile("^table inet (CRIU-[0-9a-fA-F-]+)\\s*$");

    private NetworkLock() {
    }

    /** What {@link #removeLeftovers} removed. */
    public record Removed(List<String> nftTables, int iptablesRules) {
        public boolean any() {
            return !nftTables.isEmpty() || iptablesRules > 0;
        }
    }

    /** The run id CRIU logged on the first lines of {@code log}. */
    static Optional<String> runId(List<String> lines) {
        for (int i = 0; i < Math.min(lines.size(), 20); i++) {
            Matcher m = RUN_ID.matcher(lines.get(i));
            if (m.find()) {
                return Optional.of(m.group(1));
            }
        }
        return Optional.empty();
    }

    /** The iptables commands that locked connections in this dump, turned into the commands that unlock them. */
    static List<List<String>> iptablesUnlocks(List<String> lines) {
        List<List<String>> out = new ArrayList<>();
        for (String line : lines) {
            Matcher m = IPTABLES.matcher(line);
            if (m.find()) {
                List<String> argv = new ArrayList<>(List.of(m.group(2).trim().split("\\s+")));
                int i = argv.indexOf("-I");
                argv.set(i, "-D");
                out.add(argv);
            }
        }
        return out;
    }

    /** Whether an nftables table name is the lock table of the dump with this run id (nft shortens the name). */
    static boolean isTableOf(String table, String runId) {
        String suffix = table.substring("CRIU-".length());
        return suffix.length() >= 8 && runId.startsWith(suffix);
    }

    /**
     * Removes the lock that the dump logged in {@code dumpLog} left in this network namespace.
     *
     * @throws IOException if the log cannot be read or a removal failed (the message says which rule remains)
     */
    public static Removed removeLeftovers(Path dumpLog) throws IOException {
        List<String> lines = Files.readAllLines(dumpLog, StandardCharsets.UTF_8);
        List<String> tables = new ArrayList<>();
        Optional<String> runId = runId(lines);
        List<String> problems = new ArrayList<>();
        if (runId.isPresent()) {
            HostCommand.Outcome list = HostCommand.run("nft", "list", "tables");
            if (list.ok()) {
                for (String l : list.output().split("\n")) {
                    Matcher m = TABLE.matcher(l.trim());
                    if (m.matches() && isTableOf(m.group(1), runId.get())) {
                        HostCommand.Outcome del = HostCommand.run("nft", "delete", "table", "inet", m.group(1));
                        if (del.ok()) {
                            tables.add(m.group(1));
                        } else {
                            problems.add(del.describe());
                        }
                    }
                }
            } // no nft on this node: CRIU cannot have used nftables either
        }
        int rules = 0;
        for (List<String> unlock : iptablesUnlocks(lines)) {
            HostCommand.Outcome del = HostCommand.run(unlock.toArray(String[]::new));
            if (del.ok()) {
                rules++;
            } else {
                problems.add(del.describe());
            }
        }
        if (!problems.isEmpty()) {
            throw new IOException("removing CRIU's network lock failed: " + String.join("; ", problems));
        }
        return new Removed(tables, rules);
    }
}
