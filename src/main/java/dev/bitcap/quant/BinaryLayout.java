package dev.bitcap.quant;

import dev.bitcap.BitcapException;

/**
 * The {@code binary} weight format (BiLLM / STBLLM): its packed layout, shared by the CPU kernel and the (future)
 * CUDA kernel, and its storage arithmetic.
 *
 * <p>Every weight of an output row r is decoded inside a <em>block</em> of {@value #BLOCK} consecutive input
 * columns (the last block of a row may be shorter). A weight is one of: <em>pruned</em> (0, only in a matrix with
 * an N:M mask), in one of R <em>regions</em> of its row and block (R = 2 for BiLLM's break-point split, 3 for
 * STBLLM's dense / intermediate / sparse trisection), decoded as μ_k + α_k·s, or in a <em>salient column</em>
 * of the block, decoded with residual (order-2) binarization as μ_s + α_1·s + α_2·t; s and t are ±1.
 *
 * <p>Per matrix [rows, cols], with P = cols rounded up to a multiple of 32 and "word" a little-endian uint32:
 * <ul>
 * <li>{@code signs} U8 [rows, P/8]: bit j%32 of word j/32 of row r is s of column j (1 = +1, 0 = −1); 0 for
 *     pruned weights and padding.</li>
 * <li>{@code states} U8 [rows, P·b/8], b = {@link #stateBits} (1 or 2): for each 32-column unit u, b words at
 *     byte {@code u·4·b} of the row holding the b-bit state of column 32u+i at bit offset b·i (for b = 2 the two
 *     words are one little-endian uint64). With pruning (N &lt; 8) state 0 means pruned and the others are shifted
 *     up by one. Otherwise a non-salient weight's state is its region k, a salient weight's state is t (1 = +1).
 *     Padding is 0.</li>
 * <li>{@code params} F16 [rows, blocks·(2R+3)]: per block μ_0, α_0, …, μ_{R−1}, α_{R−1}, μ_s, α_1, α_2.</li>
 * <li>{@code salient} U8 [P/8]: bit j%32 of word j/32 is set when column j is salient (chosen per block,
 *     shared by all rows).</li>
 * <li>{@code info} I32 [2]: N (kept weights per 8 consecutive columns of a row; 8 = dense) and R.</li>
 * </ul>
 * A kernel forms a 4-bit index {@code salient << 3 | state << 1 | sign} per weight and looks it up in a 16-entry
 * table built once per row and block from the block's parameters ({@link #valueCoefficients}); entries that no
 * weight can use are 0. A CUDA warp reads a unit's sign word and state words with lane i owning column 32u+i.
 */
public final class BinaryLayout {
    /** The registered format name. */
    public static final String NAME = "binary";
    /** Input columns per block of parameters. */
    public static final int BLOCK = 128;
    /** The N:M pattern's M: masks keep N of every 8 consecutive input columns of a row. */
    public static final int M = 8;

    private BinaryLayout() {}

    /** Checks a (kept per 8, regions) pair. */
    public static void check(int keptPer8, int regions) {
        if (keptPer8 < 1 || keptPer8 > M) throw new BitcapException("binary format: " + keptPer8 + " kept per 8 is not in 1..8");
        if (regions != 2 && regions != 3) throw new BitcapException("binary format: " + regions + " regions; 2 (BiLLM) or 3 (STBLLM)");
    }

    public static boolean pruned(int keptPer8) {
        return keptPer8 < M;
    }

    /** Bits of the per-weight state: enough for the regions, the salient residual sign and the pruned state. */
    public static int stateBits(int keptPer8, int regions) {
        int states = Math.max(regions, 2) + (pruned(keptPer8) ? 1 : 0);
        return states <= 2 ? 1 : 2;
    }

    /** fp16 parameters per row and block: μ, α per region, then μ_s, α_1, α_2 for the salient columns. */
    public static int paramsPerBlock(int regions) {
        return 2 * regions + 3;
    }

    public static int blocksPerRow(int cols) {
        return (cols + BLOCK - 1) / BLOCK;
    }

    /** How many weights a group of {@code width} (at most 8) consecutive columns keeps: N, or ⌈N·width/8⌉ when shorter. */
    public static int keptInGroup(int keptPer8, int width) {
        return (keptPer8 * width + M - 1) / M;
    }

    public static long signBytesPerRow(int cols) {
        return PackedCodes.paddedCols(cols) / 8;
    }

    public static long stateBytesPerRow(int cols, int stateBits) {
        return PackedCodes.paddedCols(cols) * stateBits / 8;
    }

    public static long salientBytes(int cols) {
        return PackedCodes.paddedCols(cols) / 8;
    }

    /**
     * True stored bits per weight of a {@code rows x cols} matrix: sign and state planes (padding included), fp16
     * parameters of every row and block and the salient-column bitmap, over rows·cols (the 2-int info entry is
     * per-matrix metadata like a shape, not counted, as no group format counts its header). E.g. 4096x4096 BiLLM
     * dense: 1 + 1 + 7·16/128 + 4096/4096² = 2.875 bits; STBLLM with N:M: 3 + 9·16/128 = 4.125 bits (the mask lives
     * in the state, so it costs the same for 4:8, 5:8 and 6:8).
     */
    public static double bitsPerWeight(int rows, int cols, int keptPer8, int regions) {
        check(keptPer8, regions);
        long padded = PackedCodes.paddedCols(cols);
        double bits = (double) rows * padded * (1 + stateBits(keptPer8, regions))
                + 16.0 * rows * blocksPerRow(cols) * paramsPerBlock(regions)
                + padded;
        return bits / ((double) rows * cols);
    }

    /**
     * Coefficients c[p][i] such that table entry i (i = salient << 3 | state << 1 | sign) of a block equals
     * Σ_p param_p · c[p][i], p over the block's {@link #paramsPerBlock} parameters, summed in order of p. Every
     * entry has at most three non-zero coefficients, all ±1, so in float the sum is μ + (±α) [+ (±α_2)] rounded
     * once per addition, exactly as {@link BinaryQuantized#dequantize} computes it.
     */
    public static float[][] valueCoefficients(int keptPer8, int regions) {
        int pc = paramsPerBlock(regions), offset = pruned(keptPer8) ? 1 : 0;
        float[][] c = new float[pc][16];
        for (int i = 0; i < 16; i++) {
            boolean salient = (i >> 3) == 1;
            int state = (i >> 1) & 3;
            float s = (i & 1) == 1 ? 1f : -1f;
            if (pruned(keptPer8) && state == 0) continue;
            int k = state - offset;
            if (!salient && k < regions) {
                c[2 * k][i] = 1;
                c[2 * k + 1][i] = s;
            } else if (salient && k < 2) {
                c[2 * regions][i] = 1;
                c[2 * regions + 1][i] = s;
                c[2 * regions + 2][i] = k == 1 ? 1 : -1;
            }
        }
        return c;
    }
}
