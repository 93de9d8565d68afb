package dev.bitcap.cap;

/**
 * Bytes and FLOPs one phase (prefill or decode) moved and did, as rates: divide by a peak to get S-MBU and S-MFU.
 *
 * @param passes           passes counted
 * @param seconds          their total wall time
 * @param bytesPerSecond   achieved memory traffic rate (S-MBU's numerator)
 * @param flopsPerSecond   achieved FLOP rate (S-MFU's numerator)
 * @param bytesPerPass     mean bytes one pass reads
 * @param flopsPerPass     mean FLOPs one pass does
 * @param meanExperts      mean distinct experts per MoE layer per pass (0 for a dense model)
 * @param activatedShare   mean share of the decoder layers' parameters a pass touched (attention, routers, shared and
 *                         dense parts, and the experts that were routed to)
 */
public record PhaseUtilization(int passes, double seconds, double bytesPerSecond, double flopsPerSecond, double bytesPerPass,
                               double flopsPerPass, double meanExperts, double activatedShare) {
    public static final PhaseUtilization NONE = new PhaseUtilization(0, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);

    /** Sparsity-aware memory-bandwidth utilisation against a peak in bytes/s. */
    public double smbu(double peakBytesPerSecond) {
        return bytesPerSecond / peakBytesPerSecond;
    }

    /** Sparsity-aware FLOPs utilisation against a peak in FLOP/s. */
    public double smfu(double peakFlopsPerSecond) {
        return flopsPerSecond / peakFlopsPerSecond;
    }

    /** FLOPs per byte: where the phase sits on a roofline. */
    public double arithmeticIntensity() {
        return flopsPerSecond / bytesPerSecond;
    }
}
