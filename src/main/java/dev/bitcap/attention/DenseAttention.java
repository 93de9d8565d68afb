package dev.bitcap.attention;

import dev.bitcap.kv.F32KvCache;
import dev.bitcap.tensor.Ops;

/**
 * Exact causal attention of one query position over an fp32 KV cache: every query head attends to
 * positions {@code 0..position} of its KV head (GQA: {@code heads/kvHeads} query heads share one KV head).
 */
public final class DenseAttention {
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final float scale;

    public DenseAttention(int heads, int kvHeads, int headDim) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    /**
     * Attention output of query head {@code h}: reads {@code q[qOff + h*headDim ..]}, writes
     * {@code out[outOff + h*headDim ..]}. {@code scores} must hold at least position+1 floats.
     */
    public void attendHead(F32KvCache cache, int layer, int position, int h, float[] q, int qOff, float[] out, int outOff,
                           float[] scores) {
        int kvHead = h / (heads / kvHeads);
        int stride = cache.rowWidth();
        float[] keys = cache.keys(layer);
        float[] values = cache.values(layer);
        int qh = qOff + h * headDim;
        int kvOff = kvHead * headDim;
        int len = position + 1;
        for (int t = 0; t < len; t++) {
            scores[t] = Ops.dot(q, qh, keys, t * stride + kvOff, headDim) * scale;
        }
        Ops.softmax(scores, 0, len);
        int oh = outOff + h * headDim;
        java.util.Arrays.fill(out, oh, oh + headDim, 0f);
        for (int t = 0; t < len; t++) {
            Ops.axpy(scores[t], values, t * stride + kvOff, out, oh, headDim);
        }
    }

    public int heads() {
        return heads;
    }

    public int headDim() {
        return headDim;
    }
}
