package dev.bitcap.cap;

/**
 * The peaks S-MBU and S-MFU are divided by, and the roofline is drawn from: a datasheet's, or this machine's
 * measured ones. NaN where unknown.
 *
 * @param label e.g. {@code datasheet h100-sxm bf16} or {@code measured cpu fp32}
 */
public record Ceilings(String label, double bytesPerSecond, double flopsPerSecond) {
    public static final Ceilings NONE = new Ceilings("none", Double.NaN, Double.NaN);

    /** FLOPs per byte where the two roofs meet. */
    public double ridge() {
        return flopsPerSecond / bytesPerSecond;
    }
}
