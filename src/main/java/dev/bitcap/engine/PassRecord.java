package dev.bitcap.engine;

/**
 * What one forward pass did, for the CAP benchmark: its mode, how many sequences and tokens it processed,
 * each sequence's context length after the pass, its wall time, and for every MoE layer the experts each
 * token was routed to.
 *
 * @param contextLengths per sequence, the positions it holds after this pass
 * @param routedExperts  per layer (null for dense layers), the top-k expert ids of each token, token-major
 *                       ({@code tokens * expertsPerToken} entries)
 * @param devices        how many devices (GPUs, or CPU ranks) ran the pass together; utilisation is per their total peak
 */
public record PassRecord(Mode mode, int batchSize, int tokens, int[] contextLengths, long nanos, int expertsPerToken,
                         int[][] routedExperts, int devices) {
    public enum Mode { PREFILL, DECODE }

    public PassRecord {
        if (devices < 1) throw new IllegalArgumentException("a pass runs on at least one device, got " + devices);
    }

    /** A pass run on one device. */
    public PassRecord(Mode mode, int batchSize, int tokens, int[] contextLengths, long nanos, int expertsPerToken, int[][] routedExperts) {
        this(mode, batchSize, tokens, contextLengths, nanos, expertsPerToken, routedExperts, 1);
    }

    /** Distinct experts the pass touched in layer {@code layer} (0 for a dense layer). */
    public int distinctExperts(int layer) {
        int[] ids = routedExperts == null ? null : routedExperts[layer];
        if (ids == null) return 0;
        return (int) java.util.Arrays.stream(ids).distinct().count();
    }
}
