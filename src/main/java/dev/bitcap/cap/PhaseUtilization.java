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
 * @param devices          devices that ran the passes together (the most any pass used): the peaks are per device, so
 *                         S-MBU and S-MFU divide by {@code devices} times the peak
 */
public record PhaseUtilization(int passes, double seconds, double bytesPerSecond, double flopsPerSecond, double bytesPerPass,
                               double flopsPerPass, double meanExperts, double activatedShare, int devices) {
    public static final PhaseUtilization NONE = new PhaseUtilization(0, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);

    /** Passes on one device. */
    public PhaseUtilization(int passes, double seconds, double bytesPerSecond, double flopsPerSecond, double bytesPerPass,
                            double flopsPerPass, double meanExperts, double activatedShare) {
        this(passes, seconds, bytesPerSecond, flopsPerSecond, bytesPerPass, flopsPerPass, meanExperts, activatedShare, 1);
    }

    /** Sparsity-aware memory-bandwidth utilisation against one device's peak in bytes/s (times the devices used). */
    public double smbu(double peakBytesPerSecond) {
        return bytesPerSecond / (peakBytesPerSecond * devices);
    }

    /** Sparsity-aware FLOPs utilisation against one device's peak in FLOP/s (times the devices used). */
    public double smfu(double peakFlopsPerSecond) {
        return flopsPerSecond / (peakFlopsPerSecond * devices);
    }

    /** FLOPs per byte: where the phase sits on a roofline. */
    public double arithmeticIntensity() {
        return flopsPerSecond / bytesPerSecond;
    }
}
