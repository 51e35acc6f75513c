/** Names of snapshots and images, and the ports through which engines and daemons exchange images. */
package dev.ferry.protocol.image;
