/**
 * What both daemons share for metrics: the Prometheus registry with the JVM and Netty meters, the
 * {@code /metrics} HTTP endpoint, and {@link dev.ferry.protocol.metrics.FerryMeters}, the one list of ferry's
 * meters. Engines never import this package; the daemons' {@code *Metrics} classes bind their meters here.
 */
package dev.ferry.protocol.metrics;
