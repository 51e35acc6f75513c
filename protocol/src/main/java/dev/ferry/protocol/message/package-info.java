/**
 * The protobuf messages of ferry's wire protocol, generated from wire.proto; carried in frames and
 * mapped to {@link dev.ferry.protocol.codec.WireMessage} records by the codecs.
 */
package dev.ferry.protocol.message;
