package dev.bitcap.model.synth;

import dev.bitcap.model.TensorInventory;
import dev.bitcap.model.WeightRole;
import java.util.SplittableRandom;

/**
 * Deterministic random values for synthetic weights. Each tensor has a seed derived from its identity and
 * the model seed; values come in fixed chunks of {@value #CHUNK} elements, each chunk with its own seeded
 * generator, so any range can be produced independently (in parallel, or one expert of a stack) and always
 * gives the same numbers.
 */
public final class SyntheticValues {
    public static final int CHUNK = 4096;

    private SyntheticValues() {}

    public static long seedOf(TensorInventory.Entry e, long modelSeed) {
        long h = modelSeed * 0x9E3779B97F4A7C15L;
        h = mix(h ^ e.role().ordinal());
        h = mix(h ^ (e.layer() + 1));
        return mix(h ^ (e.expert() + 1));
    }

    /**
     * Values of elements {@code [start, start+count)} of a tensor into {@code dst[off..]}. Norm weights are 1,
     * biases small, matrices uniform with variance 1/fan-in (so activations keep their scale through a random
     * network), embeddings uniform in [-1, 1).
     */
    public static void fill(TensorInventory.Entry e, long seed, long start, int count, float[] dst, int off) {
        WeightRole r = e.role();
        if (r == WeightRole.ATTN_NORM || r == WeightRole.MLP_NORM || r == WeightRole.FINAL_NORM
                || r == WeightRole.Q_NORM || r == WeightRole.K_NORM) {
            java.util.Arrays.fill(dst, off, off + count, 1.0f);
            return;
        }
        float bound = switch (r) {
            case EMBED -> 1.0f;
            case Q_BIAS, K_BIAS, V_BIAS -> 0.1f;
            default -> (float) Math.sqrt(3.0 / e.fanIn());
        };
        long end = start + count;
        long chunk = start / CHUNK;
        while (chunk * CHUNK < end) {
            SplittableRandom rnd = new SplittableRandom(mix(seed + chunk * 0xD1B54A32D192ED03L));
            long c0 = chunk * CHUNK;
            for (long i = c0; i < c0 + CHUNK && i < end; i++) {
                float v = (float) ((rnd.nextDouble() * 2 - 1) * bound);
                if (i >= start) dst[off + (int) (i - start)] = v;
            }
            chunk++;
        }
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
