package dev.bitcap.attention;

import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvLayout;
import dev.bitcap.kv.PagedKvCache;
import dev.bitcap.tensor.Ops;
import java.lang.foreign.MemorySegment;

/**
 * Causal decode attention of one position over a paged fp16 or low-bit cache, read in place: for each KV head,
 * every query head that shares it (GQA) is served from one widening of each group, so the codes are unpacked
 * once per KV head, never per query head, and never the whole cache.
 *
 * <p>Per-channel keys: a group's contribution to a score is {@code sum_c q_c*scale_c*code_c,t + sum_c q_c*min_c},
 * so the scaled query is accumulated along the g tokens of each channel run, and the minima add one constant
 * per block. Per-token keys and values: {@code scale*dot(q, codes) + min*sum(q)} per channel group, and values
 * accumulate {@code p_t*scale*codes} with the minima summed once per group at the end. The residual block is
 * fp32 rows.
 */
public final class PackedAttention {
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final float scale;

    /** Work arrays of one thread, grown on demand. */
    public static final class Scratch {
        float[] scores = new float[0];
        float[] codes = new float[0];
        float[] weights = new float[0];
        float[] constants = new float[0];

        private void ensure(int scoreFloats, int codeFloats, int weightFloats, int constFloats) {
            if (scores.length < scoreFloats) scores = new float[Math.max(scoreFloats, scores.length * 2)];
            if (codes.length < codeFloats) codes = new float[codeFloats];
            if (weights.length < weightFloats) weights = new float[weightFloats];
            if (constants.length < constFloats) constants = new float[constFloats];
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
        KvLayout lay = cache.layout();
        int gq = heads / kvHeads, firstHead = kvHead * gq;
        int len = position + 1;
        int g = lay.spec().format().quantized() ? lay.group() : 1;
        int stride = (len + g - 1) / g * g;
        int packed = Math.min(len, cache.packedLength(layer));
        int groups = lay.spec().format().quantized() ? lay.groupsPerRow() : 1;
        scratch.ensure(gq * stride, Math.max(lay.group(), headDim), gq * Math.max(headDim, groups), gq * groups);
        float[] s = scratch.scores;
        int q0 = qOff + firstHead * headDim;

        if (lay.spec().format() == KvFormat.FP16) {
            halfScores(cache, lay, layer, kvHead, packed, q, q0, gq, stride, scratch);
        } else if (lay.spec().keys() == KeyGrouping.CHANNEL) {
            channelScores(cache, lay, layer, kvHead, packed, q, q0, gq, stride, scratch);
        } else {
            tokenScores(cache, lay, layer, kvHead, packed, q, q0, gq, stride, scratch);
        }
        int kvDim = kvHeads * headDim;
        float[] rk = cache.residualKeys(layer);
        for (int t = packed; t < len; t++) {
            int row = (t % lay.group()) * kvDim + kvHead * headDim;
            for (int h = 0; h < gq; h++) s[h * stride + t] = Ops.dot(q, q0 + h * headDim, rk, row, headDim);
        }
        for (int h = 0; h < gq; h++) {
            for (int t = 0; t < len; t++) s[h * stride + t] *= scale;
            Ops.softmax(s, h * stride, len);
        }

        int o0 = outOff + firstHead * headDim;
        java.util.Arrays.fill(out, o0, o0 + gq * headDim, 0f);
        if (lay.spec().format() == KvFormat.FP16) {
            halfValues(cache, lay, layer, kvHead, packed, out, o0, gq, stride, scratch);
        } else {
            quantizedValues(cache, lay, layer, kvHead, packed, out, o0, gq, stride, scratch);
        }
        float[] rv = cache.residualValues(layer);
        for (int t = packed; t < len; t++) {
            int row = (t % lay.group()) * kvDim + kvHead * headDim;
            for (int h = 0; h < gq; h++) Ops.axpy(s[h * stride + t], rv, row, out, o0 + h * headDim, headDim);
        }
    }

    private void halfScores(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] q, int q0, int gq, int stride,
                            Scratch scratch) {
        float[] s = scratch.scores, row = scratch.codes;
        for (int t = 0; t < packed; t++) {
            PackedRuns.halfs(cache.segment(t), cache.pageBase(t) + lay.region(layer, kvHead) + lay.halfKey(t % lay.pageTokens()), headDim, row);
            for (int h = 0; h < gq; h++) s[h * stride + t] = Ops.dot(q, q0 + h * headDim, row, 0, headDim);
        }
    }

    private void halfValues(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] out, int o0, int gq, int stride,
                            Scratch scratch) {
        float[] s = scratch.scores, row = scratch.codes;
        for (int t = 0; t < packed; t++) {
            PackedRuns.halfs(cache.segment(t), cache.pageBase(t) + lay.region(layer, kvHead) + lay.halfValue(t % lay.pageTokens()), headDim, row);
            for (int h = 0; h < gq; h++) Ops.axpy(s[h * stride + t], row, 0, out, o0 + h * headDim, headDim);
        }
    }

    /** Keys per channel: scores of whole blocks of g tokens (a partly visible last block is computed whole). */
    private void channelScores(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] q, int q0, int gq, int stride,
                               Scratch scratch) {
        float[] s = scratch.scores, codes = scratch.codes, consts = scratch.constants;
        int g = lay.group(), bits = lay.bits();
        for (int start = 0; start < packed; start += g) {
            MemorySegment seg = cache.segment(start);
            long region = cache.pageBase(start) + lay.region(layer, kvHead);
            int block = start % lay.pageTokens() / g;
            for (int h = 0; h < gq; h++) {
                java.util.Arrays.fill(s, h * stride + start, h * stride + start + g, 0f);
                consts[h] = 0;
            }
            for (int c = 0; c < headDim; c++) {
                long param = region + lay.keyChannelParam(block, c);
                float sc = dev.bitcap.kv.GroupQuantizer.scale(seg, param), mn = dev.bitcap.kv.GroupQuantizer.min(seg, param);
                PackedRuns.codes(seg, region + lay.keyChannelRun(block, c), g, bits, codes);
                for (int h = 0; h < gq; h++) {
                    float qc = q[q0 + h * headDim + c];
                    Ops.axpy(qc * sc, codes, 0, s, h * stride + start, g);
                    consts[h] += qc * mn;
                }
            }
            int visible = Math.min(g, packed - start);
            for (int h = 0; h < gq; h++) {
                for (int t = 0; t < visible; t++) s[h * stride + start + t] += consts[h];
            }
        }
    }

    private void tokenScores(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] q, int q0, int gq, int stride,
                             Scratch scratch) {
        float[] s = scratch.scores, codes = scratch.codes, qsum = scratch.constants;
        int cg = lay.channelGroup(), groups = lay.groupsPerRow(), bits = lay.bits();
        for (int h = 0; h < gq; h++) {
            for (int j = 0; j < groups; j++) {
                float sum = 0;
                for (int c = 0; c < cg; c++) sum += q[q0 + h * headDim + j * cg + c];
                qsum[h * groups + j] = sum;
            }
        }
        for (int t = 0; t < packed; t++) {
            MemorySegment seg = cache.segment(t);
            long region = cache.pageBase(t) + lay.region(layer, kvHead);
            int tp = t % lay.pageTokens();
            for (int h = 0; h < gq; h++) s[h * stride + t] = 0;
            for (int j = 0; j < groups; j++) {
                long param = region + lay.keyTokenParam(tp, j);
                float sc = dev.bitcap.kv.GroupQuantizer.scale(seg, param), mn = dev.bitcap.kv.GroupQuantizer.min(seg, param);
                PackedRuns.codes(seg, region + lay.keyTokenRun(tp, j), cg, bits, codes);
                for (int h = 0; h < gq; h++) {
                    float d = Ops.dot(q, q0 + h * headDim + j * cg, codes, 0, cg);
                    s[h * stride + t] += sc * d + mn * qsum[h * groups + j];
                }
            }
        }
    }

    private void quantizedValues(PagedKvCache cache, KvLayout lay, int layer, int kvHead, int packed, float[] out, int o0, int gq,
                                 int stride, Scratch scratch) {
        float[] s = scratch.scores, codes = scratch.codes, minSums = scratch.weights;
        int cg = lay.channelGroup(), groups = lay.groupsPerRow(), bits = lay.bits();
        java.util.Arrays.fill(minSums, 0, gq * groups, 0f);
        for (int t = 0; t < packed; t++) {
            MemorySegment seg = cache.segment(t);
            long region = cache.pageBase(t) + lay.region(layer, kvHead);
            int tp = t % lay.pageTokens();
            for (int j = 0; j < groups; j++) {
                long param = region + lay.valueParam(tp, j);
                float sc = dev.bitcap.kv.GroupQuantizer.scale(seg, param), mn = dev.bitcap.kv.GroupQuantizer.min(seg, param);
                PackedRuns.codes(seg, region + lay.valueRun(tp, j), cg, bits, codes);
                for (int h = 0; h < gq; h++) {
                    float p = s[h * stride + t];
                    Ops.axpy(p * sc, codes, 0, out, o0 + h * headDim + j * cg, cg);
                    minSums[h * groups + j] += p * mn;
                }
            }
        }
        for (int h = 0; h < gq; h++) {
            for (int c = 0; c < headDim; c++) out[o0 + h * headDim + c] += minSums[h * groups + c / cg];
        }
    }

    public int heads() {
        return heads;
    }

    public int kvHeads() {
        return kvHeads;
    }
}
