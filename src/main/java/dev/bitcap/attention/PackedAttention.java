package dev.bitcap.attention;

import dev.bitcap.kv.GroupQuantizer;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvLayout;
import dev.bitcap.kv.PagedKvCache;
import dev.bitcap.tensor.Ops;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Causal decode attention of one position over a paged fp16 or low-bit cache, read in place: for each KV head,
 * every query head that shares it (GQA) is served from one widening of each group, so the codes are unpacked
 * once per KV head, never per query head, and never the whole cache.
 *
 * <p>Per-channel keys are decoded one channel run (g tokens) at a time and accumulated into the scores of those
 * g tokens; per-token keys and values one token row at a time (its channel groups), then dotted with or added
 * to each query head. The residual block is fp32 rows.
 */
public final class PackedAttention {
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final float scale;

    /** Work arrays of one thread, grown on demand. */
    public static final class Scratch {
        float[] scores = new float[0];
        /** One decoded run or row. */
        float[] codes = new float[0];
        /** Block-sparse masks: per head and block, and per position. */
        boolean[] visible = new boolean[0], any = new boolean[0];

        private void ensureMasks(int blockFlags, int positions) {
            if (visible.length < blockFlags) visible = new boolean[Math.max(blockFlags, visible.length * 2)];
            if (any.length < positions) any = new boolean[Math.max(positions, any.length * 2)];
        }

        private void ensure(int scoreFloats, int codeFloats) {
            if (scores.length < scoreFloats) scores = new float[Math.max(scoreFloats, scores.length * 2)];
            if (codes.length < codeFloats) codes = new float[codeFloats];
        }
    }

    public PackedAttention(int heads, int kvHeads, int headDim) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    /**
     * Attention of the query heads that share {@code kvHead}, at {@code position} (over positions 0..position):
     * reads {@code q[qOff + h*headDim ..]} and writes {@code out[outOff + h*headDim ..]} for those heads h.
     */
    public void attendGroup(PagedKvCache cache, int layer, int position, int kvHead, float[] q, int qOff, float[] out, int outOff,
                            Scratch scratch) {
        attend(cache, layer, position, kvHead, q, qOff, out, outOff, scratch, null);
    }

    /**
     * {@link #attendGroup}, block-sparse: query head {@code firstHead + i} of the group attends only the positions of
     * the blocks {@code lists[i][0 .. counts[i])} (blocks of {@code block} positions, each list holding the token's own
     * block). Only positions some head of the group attends are decoded; the others weigh nothing.
     */
    public void attendGroupSparse(PagedKvCache cache, int layer, int position, int kvHead, float[] q, int qOff, float[] out, int outOff,
                                  Scratch scratch, int block, int[][] lists, int[] counts) {
        int gq = heads / kvHeads, len = position + 1, nb = position / block + 1;
        scratch.ensureMasks(gq * nb, len);
        boolean[] visible = scratch.visible, any = scratch.any;
        java.util.Arrays.fill(visible, 0, gq * nb, false);
        java.util.Arrays.fill(any, 0, len, false);
        for (int i = 0; i < gq; i++) {
            for (int x = 0; x < counts[i]; x++) {
                int j = lists[i][x];
                visible[i * nb + j] = true;
                java.util.Arrays.fill(any, j * block, Math.min(len, (j + 1) * block), true);
            }
        }
        attend(cache, layer, position, kvHead, q, qOff, out, outOff, scratch, new Mask(block, nb, visible, any));
    }

    /** Which positions each head of a group attends: block j is visible to head i when visible[i·nb + j]; any: to some head. */
    private record Mask(int block, int nb, boolean[] visible, boolean[] any) {}

    private void attend(PagedKvCache cache, int layer, int position, int kvHead, float[] q, int qOff, float[] out, int outOff, Scratch scratch,
                        Mask mask) {
        KvLayout lay = cache.layout();
        int gq = heads / kvHeads, firstHead = kvHead * gq;
        int len = position + 1;
        int g = lay.spec().format().quantized() ? lay.group() : 1;
        int stride = (len + g - 1) / g * g;
        int packed = Math.min(len, cache.packedLength(layer));
        scratch.ensure(gq * stride, Math.max(lay.group(), headDim));
        float[] s = scratch.scores;
        int q0 = qOff + firstHead * headDim;
        boolean[] any = mask == null ? null : mask.any();

        if (lay.spec().format() == KvFormat.FP16) {
            halfScores(cache, lay, layer, kvHead, packed, q, q0, gq, stride, scratch, any);
        } else if (lay.spec().keys() == KeyGrouping.CHANNEL) {
            channelScores(cache, lay, layer, kvHead, packed, q, q0, gq, stride, scratch, any);
        } else {
            tokenScores(cache, lay, layer, kvHead, packed, q, q0, gq, stride, scratch, any);
        }
        int kvDim = kvHeads * headDim;
        float[] rk = cache.residualKeys(layer);
        for (int t = packed; t < len; t++) {
            if (any != null && !any[t]) continue;
            int row = (t % lay.group()) * kvDim + kvHead * headDim;
            for (int h = 0; h < gq; h++) s[h * stride + t] = Ops.dot(q, q0 + h * headDim, rk, row, headDim);
        }
        for (int h = 0; h < gq; h++) {
            if (mask != null) {
                maskedSoftmax(s, h * stride, len, mask, h);
                continue;
            }
            for (int t = 0; t < len; t++) s[h * stride + t] *= scale;
            Ops.softmax(s, h * stride, len);
        }

        int o0 = outOff + firstHead * headDim;
        Arrays.fill(out, o0, o0 + gq * headDim, 0f);
        if (lay.spec().format() == KvFormat.FP16) {
            halfValues(cache, lay, layer, kvHead, packed, out, o0, gq, stride, scratch, any);
        } else {
            quantizedValues(cache, lay, layer, kvHead, packed, out, o0, gq, stride, scratch, any);
        }
        float[] rv = cache.residualValues(layer);
        for (int t = packed; t < len; t++) {
            if (any != null && !any[t]) continue;
            int row = (t % lay.group()) * kvDim + kvHead * headDim;
            for (int h = 0; h < gq; h++) Ops.axpy(s[h * stride + t], rv, row, out, o0 + h * headDim, headDim);
        }
    }

    private void halfScores(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] q, int q0, int gq, int stride,
                            Scratch scratch, boolean[] any) {
        float[] s = scratch.scores, row = scratch.codes;
        for (int t = 0; t < packed; t++) {
            if (any != null && !any[t]) continue;
            PackedRuns.halfs(cache.segment(t), cache.pageBase(t) + lay.region(layer, kvHead) + lay.halfKey(t % lay.pageTokens()), headDim, row);
            for (int h = 0; h < gq; h++) s[h * stride + t] = Ops.dot(q, q0 + h * headDim, row, 0, headDim);
        }
    }

    private void halfValues(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] out, int o0, int gq, int stride,
                            Scratch scratch, boolean[] any) {
        float[] s = scratch.scores, row = scratch.codes;
        for (int t = 0; t < packed; t++) {
            if (any != null && !any[t]) continue;
            PackedRuns.halfs(cache.segment(t), cache.pageBase(t) + lay.region(layer, kvHead) + lay.halfValue(t % lay.pageTokens()), headDim, row);
            for (int h = 0; h < gq; h++) Ops.axpy(s[h * stride + t], row, 0, out, o0 + h * headDim, headDim);
        }
    }

    /** Keys per channel: scores of whole blocks of g tokens (a partly visible last block is computed whole). */
    private void channelScores(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] q, int q0, int gq, int stride,
                               Scratch scratch, boolean[] any) {
        float[] s = scratch.scores, keys = scratch.codes;
        int g = lay.group(), bits = lay.bits();
        for (int start = 0; start < packed; start += g) {
            if (any != null && !anyIn(any, start, Math.min(packed, start + g))) continue;
            MemorySegment seg = cache.segment(start);
            long region = cache.pageBase(start) + lay.region(layer, kvHead);
            int block = start % lay.pageTokens() / g;
            for (int h = 0; h < gq; h++) Arrays.fill(s, h * stride + start, h * stride + start + g, 0f);
            for (int c = 0; c < headDim; c++) {
                long param = region + lay.keyChannelParam(block, c);
                PackedRuns.decode(seg, region + lay.keyChannelRun(block, c), g, bits, GroupQuantizer.scale(seg, param),
                        GroupQuantizer.min(seg, param), keys, 0);
                for (int h = 0; h < gq; h++) Ops.axpy(q[q0 + h * headDim + c], keys, 0, s, h * stride + start, g);
            }
        }
    }

    private void tokenScores(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] q, int q0, int gq, int stride,
                             Scratch scratch, boolean[] any) {
        float[] s = scratch.scores, key = scratch.codes;
        int cg = lay.channelGroup(), groups = lay.groupsPerRow(), bits = lay.bits();
        for (int t = 0; t < packed; t++) {
            if (any != null && !any[t]) continue;
            MemorySegment seg = cache.segment(t);
            long region = cache.pageBase(t) + lay.region(layer, kvHead);
            int tp = t % lay.pageTokens();
            for (int j = 0; j < groups; j++) {
                long param = region + lay.keyTokenParam(tp, j);
                PackedRuns.decode(seg, region + lay.keyTokenRun(tp, j), cg, bits, GroupQuantizer.scale(seg, param),
                        GroupQuantizer.min(seg, param), key, j * cg);
            }
            for (int h = 0; h < gq; h++) s[h * stride + t] = Ops.dot(q, q0 + h * headDim, key, 0, headDim);
        }
    }

    private void quantizedValues(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] out, int o0, int gq,
                                 int stride, Scratch scratch, boolean[] any) {
        float[] s = scratch.scores, value = scratch.codes;
        int cg = lay.channelGroup(), groups = lay.groupsPerRow(), bits = lay.bits();
        for (int t = 0; t < packed; t++) {
            if (any != null && !any[t]) continue;
            MemorySegment seg = cache.segment(t);
            long region = cache.pageBase(t) + lay.region(layer, kvHead);
            int tp = t % lay.pageTokens();
            for (int j = 0; j < groups; j++) {
                long param = region + lay.valueParam(tp, j);
                PackedRuns.decode(seg, region + lay.valueRun(tp, j), cg, bits, GroupQuantizer.scale(seg, param),
                        GroupQuantizer.min(seg, param), value, j * cg);
            }
            for (int h = 0; h < gq; h++) Ops.axpy(s[h * stride + t], value, 0, out, o0 + h * headDim, headDim);
        }
    }

    /**
     * Softmax of scale·s over the positions of the blocks head h visits, block by block (the others, which may hold
     * stale scores, become 0): the cost follows the blocks visited, not the context.
     */
    private void maskedSoftmax(float[] s, int off, int len, Mask mask, int h) {
        int block = mask.block(), nb = mask.nb();
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < nb; j++) {
            boolean on = mask.visible()[h * nb + j];
            for (int t = j * block, end = Math.min(len, t + block); t < end; t++) {
                if (on) max = Math.max(max, s[off + t] *= scale);
                else s[off + t] = 0f;
            }
        }
        float sum = 0;
        for (int j = 0; j < nb; j++) {
            if (!mask.visible()[h * nb + j]) continue;
            for (int t = j * block, end = Math.min(len, t + block); t < end; t++) sum += s[off + t] = (float) Math.exp(s[off + t] - max);
        }
        float inv = 1f / sum;
        for (int j = 0; j < nb; j++) {
            if (!mask.visible()[h * nb + j]) continue;
            for (int t = j * block, end = Math.min(len, t + block); t < end; t++) s[off + t] *= inv;
        }
    }

    private static boolean anyIn(boolean[] any, int from, int to) {
        for (int t = from; t < to; t++) if (any[t]) return true;
        return false;
    }

    public int heads() {
        return heads;
    }

    public int kvHeads() {
        return kvHeads;
    }
}
