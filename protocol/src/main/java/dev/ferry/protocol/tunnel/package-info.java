/** Byte channels over the ferry link: a local socket of CRIU's joined to CHANNEL_* frames (post-copy's page server). */
package dev.ferry.protocol.tunnel;
