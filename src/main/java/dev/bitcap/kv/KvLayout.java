package dev.bitcap.kv;

import dev.bitcap.BitcapException;

/**
 * Where every key, value and group parameter of a paged cache lies. One layout, fixed, shared by the code that
 * packs (on append and flush) and the code that reads (CPU decode attention, and later a CUDA decoder).
 *
 * <p><b>Pages.</b> A page holds {@code pageTokens} consecutive positions of one sequence for every layer and KV
 * head; {@code pageTokens} is a multiple of the group size g, so a key group over tokens never straddles pages.
 * Inside a page, one region per (layer, KV head) in that order: {@code region = (layer * kvHeads + kvHead) *
 * regionBytes}. Everything is little-endian.
 *
 * <p><b>fp16 region:</b> keys {@code [token][channel]} as fp16, then values {@code [token][channel]}.
 *
 * <p><b>int4 / int2 region:</b> key codes, value codes, key parameters, value parameters, each part contiguous:
 * <ul>
 * <li>keys per channel: runs of g codes, one per (token block j of g tokens, channel c), run index
 *     {@code j * headDim + c}: the g tokens of one channel are adjacent, as a tensor-core decoder wants them
 *     for the K operand of QKᵀ (it reads channels of consecutive tokens). Parameters: one per run, same index.
 * <li>keys per token, and values: runs of cg = min(g, headDim) codes, one per (token t, channel group k), run
 *     index {@code t * (headDim / cg) + k}. Parameters: one per run, same index.
 * <li>a run of n codes of b bits fills n*b/8 bytes in <i>plane order</i>: with m = 8/b codes per byte and
 *     s = n/m bytes, byte i holds codes i, i+s, i+2s, ... in bits 0, b, 2b, ... So one shift-and-mask of a
 *     block of bytes yields a block of consecutive codes, for SIMD lanes and for a GPU's lop3 extraction alike.
 * <li>a parameter is one 32-bit word: fp16 scale in the low half, fp16 minimum in the high half (a half2).
 *     A code q stands for {@code q * scale + min}.
 * </ul>
 * The newest positions of a quantized cache (fewer than g, per layer) are not in pages: they sit in the
 * sequence's fp32 residual block until it fills and is packed into the page slots reserved for it.
 */
public final class KvLayout {
    public static final int DEFAULT_PAGE_TOKENS = 256;

    private final KvSpec spec;
    private final int layers, kvHeads, headDim, pageTokens, bits, group, channelGroup;
    private final long keyCodeBytes, valueCodeBytes, keyParamBytes, regionBytes;

    public KvLayout(KvSpec spec, int layers, int kvHeads, int headDim, int pageTokens) {
        if (spec.format() == KvFormat.F32) throw new IllegalArgumentException("fp32 caches are not paged");
        spec.checkHeadDim(headDim);
        if (pageTokens < spec.group() || pageTokens % spec.group() != 0) {
            throw new BitcapException("KV page of " + pageTokens + " tokens is not a multiple of the group size " + spec.group());
        }
        this.spec = spec;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.pageTokens = pageTokens;
        this.bits = spec.format().bits();
        this.group = spec.group();
        this.channelGroup = spec.channelGroup(headDim);
        if (spec.format() == KvFormat.FP16) {
            keyCodeBytes = 2L * pageTokens * headDim;
            valueCodeBytes = keyCodeBytes;
            keyParamBytes = 0;
            regionBytes = 2 * keyCodeBytes;
        } else {
            keyCodeBytes = (long) pageTokens * headDim * bits / 8;
            valueCodeBytes = keyCodeBytes;
            long keyRuns = spec.keys() == KeyGrouping.CHANNEL ? (long) pageTokens / group * headDim : (long) pageTokens * groupsPerRow();
            keyParamBytes = 4 * keyRuns;
            long valueParamBytes = 4L * pageTokens * groupsPerRow();
            regionBytes = keyCodeBytes + valueCodeBytes + keyParamBytes + valueParamBytes;
        }
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

    public int pageTokens() {
        return pageTokens;
    }

    public int bits() {
        return bits;
    }

    public int group() {
        return group;
    }

    /** Channels per group of a per-token run. */
    public int channelGroup() {
        return channelGroup;
    }

    /** Per-token runs in one head row. */
    public int groupsPerRow() {
        return headDim / channelGroup;
    }

    public long pageBytes() {
        return regionBytes * layers * kvHeads;
    }

    /** Offset of the (layer, KV head) region inside a page. */
    public long region(int layer, int kvHead) {
        return ((long) layer * kvHeads + kvHead) * regionBytes;
    }

    /** fp16: offset of key {@code [token][0]} inside a region. */
    public long halfKey(int token) {
        return 2L * token * headDim;
    }

    /** fp16: offset of value {@code [token][0]} inside a region. */
    public long halfValue(int token) {
        return keyCodeBytes + 2L * token * headDim;
    }

    /** Bytes of one run of {@code codes} codes. */
    public int runBytes(int codes) {
        return codes * bits / 8;
    }

    /** Keys per channel: offset of the run of channel c in token block j (of the page) inside a region. */
    public long keyChannelRun(int block, int channel) {
        return ((long) block * headDim + channel) * runBytes(group);
    }

    public long keyChannelParam(int block, int channel) {
        return keyCodeBytes + valueCodeBytes + 4L * ((long) block * headDim + channel);
    }

    /** Keys per token: offset of the run of channel group k of token t (of the page) inside a region. */
    public long keyTokenRun(int token, int k) {
        return ((long) token * headDim + (long) k * channelGroup) * bits / 8;
    }

    public long keyTokenParam(int token, int k) {
        return keyCodeBytes + valueCodeBytes + 4L * ((long) token * groupsPerRow() + k);
    }

    public long valueRun(int token, int k) {
        return keyCodeBytes + ((long) token * headDim + (long) k * channelGroup) * bits / 8;
    }

    public long valueParam(int token, int k) {
        return keyCodeBytes + valueCodeBytes + keyParamBytes + 4L * ((long) token * groupsPerRow() + k);
    }

    /** Bytes of the fp32 residual block of one sequence (keys and values, all layers). */
    public long residualBytes() {
        return spec.format().quantized() ? 2L * layers * group * kvHeads * headDim * Float.BYTES : 0;
    }

    /**
     * Bytes that {@code positions} positions occupy and a decode step reads: packed positions at the page rate,
     * the residual ones (fewer than g) in fp32.
     */
    public long bytesFor(int positions) {
        long perToken = pageBytes() / pageTokens;
        if (!spec.format().quantized()) return perToken * positions;
        int packed = positions / group * group;
        return perToken * packed + (long) (positions - packed) * 2L * layers * kvHeads * headDim * Float.BYTES;
    }

    /** Bytes one packed position takes, all layers and KV heads, parameters included. */
    public double bytesPerPackedToken() {
        return (double) pageBytes() / pageTokens;
    }
}
