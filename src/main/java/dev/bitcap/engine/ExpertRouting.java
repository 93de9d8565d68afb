package dev.bitcap.engine;

import dev.bitcap.model.ModelConfig;
import dev.bitcap.tensor.Ops;
import dev.bitcap.tensor.TopK;

/**
 * The top-k softmax routing of n tokens, as every supported MoE family does it: softmax over the router logits,
 * the k largest, renormalised over the k when the config says so. Shared by the backends so that a GPU run routes
 * exactly as the CPU does.
 *
 * @param chosen the k expert ids of each token, token-major ({@code n * k})
 * @param weight the weight of each choice, in the same order
 * @param perExpert how many tokens chose each expert
 */
public record ExpertRouting(int[] chosen, float[] weight, int[] perExpert) {
    /** Routes the tokens whose router logits are {@code logits} ({@code n x experts}); the logits become probabilities. */
    public static ExpertRouting route(ModelConfig c, float[] logits, int n) {
        int e = c.experts(), k = c.expertsPerToken();
        int[] chosen = new int[n * k];
        float[] weight = new float[n * k];
        int[] idx = new int[k];
        float[] val = new float[k];
        int[] perExpert = new int[e];
        for (int t = 0; t < n; t++) {
            Ops.softmax(logits, t * e, e);
            TopK.select(logits, t * e, e, k, idx, val);
            float sum = 0;
            for (int j = 0; j < k; j++) sum += val[j];
            for (int j = 0; j < k; j++) {
                chosen[t * k + j] = idx[j];
                weight[t * k + j] = c.normTopK() ? val[j] / sum : val[j];
                perExpert[idx[j]]++;
            }
        }
        return new ExpertRouting(chosen, weight, perExpert);
    }
}
