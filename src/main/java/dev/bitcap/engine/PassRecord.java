package dev.bitcap.engine;

/**
 * What one forward pass did, for the CAP benchmark: its mode, how many sequences and tokens it processed,
 * each sequence's context length after the pass, its wall time, and for every MoE layer the experts each
 * token was routed to.
 *
 * @param contextLengths per sequence, the positions it holds after this pass
 * @param routedExperts  per layer (null for dense layers), the top-k expert ids of each token, token-major
 *                       ({@code tokens * expertsPerToken} entries)
 */
public record PassRecord(Mode mode, int batchSize, int tokens, int[] contextLengths, long nanos, int expertsPerToken,
                         int[][] routedExperts) {
    public enum Mode { PREFILL, DECODE }

    /** Distinct experts the pass touched in layer {@code layer} (0 for a dense layer). */
    public int distinctExperts(int layer) {
        int[] ids = routedExperts == null ? null : routedExperts[layer];
        if (ids == null) return 0;
        return (int) java.util.Arrays.stream(ids).distinct().count();
    }
}
