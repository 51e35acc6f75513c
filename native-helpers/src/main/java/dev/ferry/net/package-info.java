/** Host network operations a migration needs around CRIU: the service address handed over between nodes. */
package dev.ferry.net;
