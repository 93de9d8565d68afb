package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Where every key, value and group parameter of the GPU's paged KV cache lies: the layout {@code kv_attention.cu}
 * packs and decodes (its header says why: codes in the order of the tensor-core fragments that read them). This
 * class mirrors the kernels' formulas so that the checks can decode device pages on the host.
 *
 * <p>A page holds {@link #PAGE_TOKENS} positions of one sequence, for every layer and KV head; one region per
 * (layer, KV head) at {@code (layer * kvHeads + kvHead) * regionBytes}: key codes | value codes | key parameters
 * | value parameters. Positions are packed a block at a time (g tokens for int formats, 16 for fp16); the newest
 * positions, fewer than a block, are fp32 rows in the sequence's ring.
 */
public final class CudaKvLayout {
    public static final int PAGE_TOKENS = 128;
    private static final ValueLayout.OfInt WORD = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final KvSpec spec;
    private final int layers, kvHeads, headDim, bits, group, channelGroup, blockTokens;
    private final long codeBytes, keyParamBytes, regionBytes;

    public CudaKvLayout(KvSpec spec, int layers, int kvHeads, int headDim) {
        if (spec.format() == KvFormat.F32) throw new IllegalArgumentException("the fp32 cache is not paged");
        if (headDim != 64 && headDim != 128 && headDim != 256) {
            throw new BitcapException("--kv " + spec.format().flagName() + " on the GPU supports head dims 64, 128 and 256, got " + headDim
                    + " (use --kv f32)");
        }
        this.spec = spec;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.bits = spec.format().bits();
        this.group = spec.group();
        this.channelGroup = Math.min(group, headDim);
        this.blockTokens = spec.format().quantized() ? group : 16;
        this.codeBytes = (long) PAGE_TOKENS * headDim * bits / 8;
        if (!spec.format().quantized()) keyParamBytes = 0;
        else if (spec.keys() == KeyGrouping.CHANNEL) keyParamBytes = (long) PAGE_TOKENS / group * headDim * 4;
        else keyParamBytes = (long) PAGE_TOKENS * groups() * 4;
        long valueParamBytes = spec.format().quantized() ? (long) PAGE_TOKENS * groups() * 4 : 0;
        this.regionBytes = 2 * codeBytes + keyParamBytes + valueParamBytes;
    }

    public KvSpec spec() {
        return spec;
    }

    public int layers() {
        return layers;
    }

    public int kvHeads() {
        return kvHeads;
    }

    public int headDim() {
        return headDim;
    }

    /** Positions packed together: g for int formats, 16 (one tile) for fp16. */
    public int blockTokens() {
        return blockTokens;
    }

    private int groups() {
        return headDim / channelGroup;
    }

    public long regionBytes() {
        return regionBytes;
    }

    public long pageBytes() {
        return regionBytes * layers * kvHeads;
    }

    public long region(int layer, int kvHead) {
        return ((long) layer * kvHeads + kvHead) * regionBytes;
    }

    /** Bytes of one sequence's fp32 ring (keys and values, all layers). */
    public long ringBytes() {
        return 2L * layers * blockTokens * kvHeads * headDim * Float.BYTES;
    }

    /** Bytes one packed position takes in pages, all layers and KV heads, parameters included. */
    public double bytesPerToken() {
        return (double) pageBytes() / PAGE_TOKENS;
    }

    /** Bytes a decode step of one layer reads for a sequence of {@code positions} positions (pages + ring rows). */
    public long decodeBytesPerLayer(int positions) {
        int packed = positions / blockTokens * blockTokens;
        return (long) ((double) regionBytes * kvHeads / PAGE_TOKENS * packed) + 2L * (positions - packed) * kvHeads * headDim * Float.BYTES;
    }

    /** The key at token t (of the page) and channel c, decoded from a region as the kernel does before fp16 rounding. */
    public float key(MemorySegment seg, long region, int t, int c) {
        int tt = t / 16, r = t % 16, ct = c / 16, k = c % 16;
        int gid = r % 8, tig = (k % 8) / 2, e = k % 2, p = 2 * (r / 8) + k / 8;
        if (!spec.format().quantized()) return Float.float16ToFloat(seg.get(HALF, region + halfOffset(tt, ct, gid * 4 + tig, p, e)));
        int code = code(seg, region, tt, ct, gid * 4 + tig, p, e);
        int scaleMin;
        if (spec.keys() == KeyGrouping.CHANNEL) {
            long pair = region + 2 * codeBytes + 8L * ((long) t / group * (headDim / 2) + c / 2);
            int s = seg.get(HALF, pair + 2L * (c % 2)) & 0xFFFF, m = seg.get(HALF, pair + 4 + 2L * (c % 2)) & 0xFFFF;
            scaleMin = s | m << 16;
        } else {
            scaleMin = seg.get(WORD, region + 2 * codeBytes + 4L * ((long) t * groups() + c / channelGroup));
        }
        return decode(code, scaleMin);
    }

    public float value(MemorySegment seg, long region, int t, int c) {
        int tt = t / 16, r = t % 16, ct = c / 16, k = c % 16;
        int gid = k % 8, tig = (r % 8) / 2, e = r % 2, p = 2 * (k / 8) + r / 8;
        if (!spec.format().quantized()) return Float.float16ToFloat(seg.get(HALF, region + codeBytes + halfOffset(tt, ct, gid * 4 + tig, p, e)));
        int code = code(seg, region + codeBytes, tt, ct, gid * 4 + tig, p, e);
        int scaleMin = seg.get(WORD, region + 2 * codeBytes + keyParamBytes + 4L * ((long) t * groups() + c / channelGroup));
        return decode(code, scaleMin);
    }

    private long halfOffset(int tt, int ct, int lane, int p, int e) {
        return 16L * (((long) tt * (headDim / 16) + ct) * 32 + lane) + 2L * (2 * p + e);
    }

    private int code(MemorySegment seg, long codes, int tt, int ct, int lane, int p, int e) {
        int ctiles = headDim / 16;
        if (bits == 4) {
            int w = seg.get(WORD, codes + 4L * (((long) tt * ctiles + ct) * 32 + lane));
            return (w >>> (4 * (p + 4 * e))) & 0xF;
        }
        int w = seg.get(WORD, codes + 4L * (((long) tt * (ctiles / 2) + ct / 2) * 32 + lane));
        return (w >>> (2 * (p + 4 * (ct % 2)) + 16 * e)) & 0x3;
    }

    /** code * scale + min, as {@link dev.bitcap.kv.GroupQuantizer#dequantize} does. */
    private static float decode(int code, int scaleMin) {
        return Math.fma((float) code, Float.float16ToFloat((short) scaleMin), Float.float16ToFloat((short) (scaleMin >>> 16)));
    }
}
