/**
 * The local control protocol between the {@code ferry} CLI and its daemons: control.proto messages
 * (generated here) and their blocking framing, {@link dev.ferry.protocol.control.ControlFraming}.
 */
package dev.ferry.protocol.control;
