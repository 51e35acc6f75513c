/**
 * A two-node lab on one machine (network namespaces joined by a bridge), workload launchers and
 * ferry daemon runners, shared by {@code ferry demo} and the end-to-end tests; JDK only.
 */
package dev.ferry.cli.lab;
