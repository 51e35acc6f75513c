package dev.ferry.cli;

import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** One line per log record on stderr: time, level, logger, message. Level from {@code FERRY_LOG_LEVEL}. */
final class LogSetup {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

    private LogSetup() {
    }

    static void configure() {
        Logger root = Logger.getLogger("");
        for (var h : root.getHandlers()) {
            root.removeHandler(h);
        }
        Level level = Level.INFO;
        String env = System.getenv("FERRY_LOG_LEVEL");
        if (env != null && !env.isBlank()) {
            try {
                level = Level.parse(env.trim().toUpperCase());
            } catch (IllegalArgumentException ignored) {
                // keep INFO
            }
        }
        ConsoleHandler h = new ConsoleHandler();
        h.setLevel(level);
        h.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String name = r.getLoggerName() == null ? "" : r.getLoggerName().substring(r.getLoggerName().lastIndexOf('.') + 1);
                StringBuilder b = new StringBuilder()
                        .append(LocalTime.now().format(TIME)).append(' ').append(r.getLevel().getName()).append(' ')
                        .append(name).append(": ").append(formatMessage(r)).append('\n');
                if (r.getThrown() != null) {
                    var sw = new java.io.StringWriter();
                    r.getThrown().printStackTrace(new java.io.PrintWriter(sw));
                    b.append(sw);
                }
                return b.toString();
            }
        });
        root.addHandler(h);
        root.setLevel(level);
        Logger.getLogger("io.netty").setLevel(Level.WARNING);
    }
}
