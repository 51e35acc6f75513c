/** The {@code ferry} command: picocli commands and all the wiring; nothing depends on it. */
package dev.ferry.cli;
