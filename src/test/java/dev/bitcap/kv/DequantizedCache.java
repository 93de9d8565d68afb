package dev.bitcap.kv;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A paged cache decoded back to fp32 rows ({@code [position][kvHead*headDim]}) with the scalar reference decoder:
 * what attention over the packed cache must agree with.
 */
public final class DequantizedCache {
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private DequantizedCache() {}

    /** {keys, values} of {@code layer}, positions 0 .. cache.length(layer). */
    public static float[][] rows(PagedKvCache cache, int layer) {
        KvLayout lay = cache.layout();
        int hd = lay.headDim(), kvDim = lay.kvHeads() * hd, len = cache.length(layer), packed = cache.packedLength(layer);
        float[] keys = new float[len * kvDim], values = new float[len * kvDim];
        int bits = lay.bits(), g = lay.group(), cg = lay.channelGroup();
        for (int t = 0; t < packed; t++) {
            MemorySegment seg = cache.segment(t);
            int tp = t % lay.pageTokens();
            for (int h = 0; h < lay.kvHeads(); h++) {
                long region = cache.pageBase(t) + lay.region(layer, h);
                int row = t * kvDim + h * hd;
                if (lay.spec().format() == KvFormat.FP16) {
                    for (int c = 0; c < hd; c++) {
                        keys[row + c] = Float.float16ToFloat(seg.get(HALF, region + lay.halfKey(tp) + 2L * c));
                        values[row + c] = Float.float16ToFloat(seg.get(HALF, region + lay.halfValue(tp) + 2L * c));
                    }
                    continue;
                }
                for (int j = 0; j < lay.groupsPerRow(); j++) {
                    if (lay.spec().keys() == KeyGrouping.TOKEN) {
                        GroupQuantizer.dequantize(seg, region + lay.keyTokenRun(tp, j), region + lay.keyTokenParam(tp, j), cg, bits, keys, row + j * cg, 1);
                    }
                    GroupQuantizer.dequantize(seg, region + lay.valueRun(tp, j), region + lay.valueParam(tp, j), cg, bits, values, row + j * cg, 1);
                }
                if (lay.spec().keys() == KeyGrouping.CHANNEL && tp % g == 0) {
                    float[] run = new float[g];
                    for (int c = 0; c < hd; c++) {
                        GroupQuantizer.dequantize(seg, region + lay.keyChannelRun(tp / g, c), region + lay.keyChannelParam(tp / g, c), g, bits, run, 0, 1);
                        for (int s = 0; s < g && t + s < packed; s++) keys[(t + s) * kvDim + h * hd + c] = run[s];
                    }
                }
            }
        }
        for (int t = packed; t < len; t++) {
            System.arraycopy(cache.residualKeys(layer), (t % g) * kvDim, keys, t * kvDim, kvDim);
            System.arraycopy(cache.residualValues(layer), (t % g) * kvDim, values, t * kvDim, kvDim);
        }
        return new float[][] {keys, values};
    }
}
