package dev.bitcap.cap;

import dev.bitcap.engine.PassRecord;
import dev.bitcap.model.ModelConfig;
import java.util.List;

/**
 * Turns pass records into the bytes and FLOPs of each pass, sparsity-aware, in either {@link CountingMode}, and sums
 * them over a phase. Expert activation is what the router did in that pass (the recorded top-k ids), never a formula.
 */
public final class SparseUtilization {
    /** Auto-CAP treats prefill passes of at most this many context tokens as warm-up. */
    static final int COMPAT_MIN_PREFILL_CONTEXT = 11;

    private final ModelCosts costs;
    private final ModelConfig c;
    private final CountingMode mode;
    private final double compatBytesPerParam;

    /** @param compatBytesPerParam the MoE-CAP code's byte width for the weights' precision label (compat mode only) */
    public SparseUtilization(ModelCosts costs, CountingMode mode, double compatBytesPerParam) {
        this.costs = costs;
        this.c = costs.config();
        this.mode = mode;
        this.compatBytesPerParam = compatBytesPerParam;
    }

    /** The bytes and FLOPs of the passes of one phase, as rates over their time. */
    public PhaseUtilization phase(List<PassRecord> records, PassRecord.Mode phase) {
        int n = 0, devices = 1;
        double seconds = 0, bytes = 0, flops = 0, rateBytes = 0, rateFlops = 0, experts = 0, share = 0;
        for (PassRecord r : records) {
            if (r.mode() != phase) continue;
            if (mode == CountingMode.MOECAP_COMPAT && phase == PassRecord.Mode.PREFILL && contextSum(r) < COMPAT_MIN_PREFILL_CONTEXT) continue;
            double s = r.nanos() / 1e9;
            double b = bytes(r), f = flops(r);
            n++;
            devices = Math.max(devices, r.devices());
            seconds += s;
            bytes += b;
            flops += f;
            rateBytes += b / s;
            rateFlops += f / s;
            experts += meanDistinctExperts(r);
            share += activatedShare(r);
        }
        if (n == 0) return PhaseUtilization.NONE;
        // the paper divides what a phase moved by the time it took; the code averages per-pass ratios
        double bps = mode == CountingMode.PAPER ? bytes / seconds : rateBytes / n;
        double fps = mode == CountingMode.PAPER ? flops / seconds : rateFlops / n;
        return new PhaseUtilization(n, seconds, bps, fps, bytes / n, flops / n, experts / n, share / n, devices);
    }

    /** Bytes the pass reads: weights of the parts it used, and the KV cache. */
    public double bytes(PassRecord r) {
        return mode == CountingMode.PAPER ? paperBytes(r) : compatBytes(r);
    }

    /**
     * FLOPs of the pass. Paper: every token's projections with its top-k experts and the router, attention over its
     * own sequence's positions. Compat: FLOPs per token (one expert, no router, attention over the batch-summed
     * context) times the tokens the code's throughput counts (batch in decode, the summed context in prefill).
     */
    public double flops(PassRecord r) {
        return mode == CountingMode.PAPER ? paperFlops(r) : compatFlopsPerToken(r) * compatTokens(r);
    }

    private double paperBytes(PassRecord r) {
        double total = 0;
        for (int l = 0; l < costs.layers(); l++) {
            total += costs.attentionBytes()[l] + costs.routerBytes()[l] + costs.sharedBytes()[l] + costs.denseBytes()[l];
            if (costs.isMoeLayer(l)) {
                for (int e : distinct(r, l)) total += costs.expertBytes()[l][e];
            }
        }
        return total + contextSum(r) * costs.kvBytesPerPosition();
    }

    private double paperFlops(PassRecord r) {
        long perTokenParams = 0;
        for (int l = 0; l < costs.layers(); l++) {
            perTokenParams += costs.attentionParams();
            perTokenParams += costs.isMoeLayer(l)
                    ? costs.routerParams() + (long) r.expertsPerToken() * costs.expertParams() + costs.sharedParams()
                    : costs.denseParams();
        }
        // QKᵀ and attention-weighted V: 2·h·d_h multiply-adds per attended position per layer
        double attended = 0;
        int[] tokens = tokensPerSequence(r);
        for (int s = 0; s < tokens.length; s++) {
            long ctx = r.contextLengths()[s], t = tokens[s];
            attended += t * ctx - t * (t - 1) / 2.0; // positions ctx-t+1 .. ctx, each attending its prefix
        }
        return 2.0 * perTokenParams * r.tokens() + 4.0 * c.layers() * c.qDim() * attended;
    }

    private double compatBytes(PassRecord r) {
        double a = meanDistinctExperts(r);
        double params = 0;
        for (int l = 0; l < costs.layers(); l++) {
            params += costs.attentionParams();
            params += costs.isMoeLayer(l) ? a * costs.expertParams() + compatSharedParams() : costs.denseParams();
        }
        double kvPerToken = 2.0 * c.layers() * c.kvDim();
        return (params + contextSum(r) * kvPerToken) * compatBytesPerParam;
    }

    private double compatFlopsPerToken(PassRecord r) {
        double params = 0;
        for (int l = 0; l < costs.layers(); l++) {
            params += costs.attentionParams();
            params += costs.isMoeLayer(l) ? costs.expertParams() + compatSharedParams() : costs.denseParams();
        }
        return 2 * (params + 2.0 * c.layers() * c.qDim() * contextSum(r));
    }

    /** The code's shared expert: its three matrices, without the sigmoid gate's row. */
    private long compatSharedParams() {
        return c.hasSharedExpert() ? 3L * c.hiddenSize() * c.sharedExpertIntermediate() : 0;
    }

    private static double compatTokens(PassRecord r) {
        return r.mode() == PassRecord.Mode.DECODE ? r.batchSize() : contextSum(r);
    }

    /** Mean over MoE layers of the distinct experts this pass routed to (0 for a dense model). */
    public double meanDistinctExperts(PassRecord r) {
        int layers = 0;
        double sum = 0;
        for (int l = 0; l < costs.layers(); l++) {
            if (!costs.isMoeLayer(l)) continue;
            layers++;
            sum += distinct(r, l).length;
        }
        return layers == 0 ? 0 : sum / layers;
    }

    /** Share of the decoder layers' parameters this pass touched. */
    public double activatedShare(PassRecord r) {
        double used = 0;
        for (int l = 0; l < costs.layers(); l++) {
            used += costs.attentionParams();
            used += costs.isMoeLayer(l)
                    ? costs.routerParams() + costs.sharedParams() + (double) distinct(r, l).length * costs.expertParams()
                    : costs.denseParams();
        }
        return used / costs.totalLayerParams();
    }

    private static int[] distinct(PassRecord r, int layer) {
        int[] ids = r.routedExperts() == null ? null : r.routedExperts()[layer];
        return ids == null ? new int[0] : java.util.Arrays.stream(ids).distinct().toArray();
    }

    static long contextSum(PassRecord r) {
        long sum = 0;
        for (int ctx : r.contextLengths()) sum += ctx;
        return sum;
    }

    /**
     * Tokens each sequence received in the pass. A record holds only the total: decode is one each; a prefill of
     * fresh sequences gives each its whole context; otherwise the tokens are taken as split evenly (the runner
     * prefills equal-length prompts together).
     */
    static int[] tokensPerSequence(PassRecord r) {
        int b = r.batchSize();
        int[] t = new int[b];
        if (r.mode() == PassRecord.Mode.DECODE) {
            java.util.Arrays.fill(t, 1);
        } else if (contextSum(r) == r.tokens()) {
            t = r.contextLengths().clone();
        } else {
            java.util.Arrays.fill(t, r.tokens() / b);
            t[b - 1] += r.tokens() % b;
        }
        return t;
    }
}
