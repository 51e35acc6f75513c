/** Mutual TLS settings and contexts for the proxy ↔ cache link. */
package dev.ferry.protocol.tls;
