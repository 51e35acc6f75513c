package dev.ferry.cli;

import picocli.CommandLine.IVersionProvider;

/** {@code ferry --version}: ferry's version and the wire protocol it speaks. */
final class FerryVersion implements IVersionProvider {

    @Override
    public String[] getVersion() {
        String v = FerryVersion.class.getPackage().getImplementationVersion();
        return new String[] {"ferry " + (v == null ? "0.1.0-SNAPSHOT" : v) + ", wire protocol v" + dev.ferry.protocol.Wire.VERSION};
    }
}
