package dev.bitcap.attention;

import dev.bitcap.kv.F32KvCache;
import dev.bitcap.tensor.Ops;
import java.util.Arrays;

/**
 * Causal attention of one query over chosen key blocks of an fp32 KV cache: keys are grouped in blocks of
 * {@code block} positions, and only the listed blocks are read (GQA: each query head reads its KV head's rows in
 * place, nothing is copied). Scores of the visited keys are gathered in ascending position order and go through
 * the same dot, softmax and accumulation as {@link DenseAttention}, so a list of every causal block reproduces
 * dense attention bit for bit.
 */
public final class BlockSparseAttention {
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int block;
    private final float scale;

    public BlockSparseAttention(int heads, int kvHeads, int headDim, int block) {
        if (block < 1) throw new IllegalArgumentException("block size must be >= 1, got " + block);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.block = block;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    public int block() {
        return block;
    }

    /**
     * Output of query head {@code h} at {@code position} over key blocks {@code blocks[0..count)} (ascending; keys
     * after {@code position} are skipped). A query that selects no key gets a zero output, the limit of attending
     * nothing. {@code scores} must hold at least position+1 floats.
     */
    public void attendHead(F32KvCache cache, int layer, int position, int h, int[] blocks, int count,
                           float[] q, int qOff, float[] out, int outOff, float[] scores) {
        int stride = cache.rowWidth();
        float[] keys = cache.keys(layer);
        float[] values = cache.values(layer);
        int qh = qOff + h * headDim;
        int kvOff = (h / (heads / kvHeads)) * headDim;
        int len = 0;
        for (int b = 0; b < count; b++) {
            int from = blocks[b] * block, to = Math.min(from + block, position + 1);
            for (int t = from; t < to; t++) scores[len++] = Ops.dot(q, qh, keys, t * stride + kvOff, headDim) * scale;
        }
        int oh = outOff + h * headDim;
        Arrays.fill(out, oh, oh + headDim, 0f);
        if (len == 0) return;
        Ops.softmax(scores, 0, len);
        int i = 0;
        for (int b = 0; b < count; b++) {
            int from = blocks[b] * block, to = Math.min(from + block, position + 1);
            for (int t = from; t < to; t++) Ops.axpy(scores[i++], values, t * stride + kvOff, out, oh, headDim);
        }
    }

    /**
     * Dense causal attention of query head {@code h} (the same arithmetic as {@link DenseAttention}) that also
     * writes, for every key block {@code j <= position/block}, the largest attention probability of this row in
     * that block to {@code blockMax[bmOff + j]}. {@code out} may be null when only the block maxima are wanted.
     */
    public void attendHeadRecordingBlockMax(F32KvCache cache, int layer, int position, int h, float[] q, int qOff,
                                            float[] out, int outOff, float[] scores, double[] blockMax, int bmOff) {
        int stride = cache.rowWidth();
        float[] keys = cache.keys(layer);
        int qh = qOff + h * headDim;
        int kvOff = (h / (heads / kvHeads)) * headDim;
        int len = position + 1;
        for (int t = 0; t < len; t++) scores[t] = Ops.dot(q, qh, keys, t * stride + kvOff, headDim) * scale;
        Ops.softmax(scores, 0, len);
        for (int j = 0, blocks = position / block + 1; j < blocks; j++) {
            float m = 0;
            for (int t = j * block, end = Math.min(t + block, len); t < end; t++) m = Math.max(m, scores[t]);
            blockMax[bmOff + j] = m;
        }
        if (out == null) return;
        float[] values = cache.values(layer);
        int oh = outOff + h * headDim;
        Arrays.fill(out, oh, oh + headDim, 0f);
        for (int t = 0; t < len; t++) Ops.axpy(scores[t], values, t * stride + kvOff, out, oh, headDim);
    }
}
