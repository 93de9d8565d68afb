package dev.bitcap.quant;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot products of one packed {@link BinaryTensor} row with activation rows. Per row and block the 16-entry value
 * table is built from the block's fp16 parameters; each weight's 4-bit index (salient, state, sign) selects its
 * value, which is multiplied into the activations. With 16 float lanes a half unit of 16 weights is one table
 * permute: the sign and state words are broadcast and shifted per lane. Activations are padded to whole 32-column
 * units (zeros past cols). Summation order depends only on the shape, so dot1 and dot4 give identical bits.
 */
final class BinaryRows implements RowDots {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final IntVector IOTA = IntVector.fromArray(I, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0);
    private static final IntVector IOTA2 = IOTA.lanewise(VectorOperators.LSHL, 1);

    private final MemorySegment signs, states, params;
    private final int units, blocks, paramCount, stateBits;
    private final long signRowBytes, stateRowBytes, paramRowBytes;
    /** Per padded column: 8 when salient, else 0 (the top bit of the table index). */
    private final int[] salientIndex;
    private final float[][] coefficients;
    private final FloatVector[] coefficientVectors;
    final boolean vector;

    BinaryRows(BinaryTensor t) {
        this(t, FloatVector.SPECIES_PREFERRED.length() == 16);
    }

    /** {@code vector} false forces the scalar path (tests run both on a machine with 16 lanes). */
    BinaryRows(BinaryTensor t, boolean vector) {
        int cols = t.colsInt();
        this.signs = t.signs();
        this.states = t.states();
        this.params = t.params();
        this.units = PackedCodes.unitsPerRow(cols);
        this.blocks = BinaryLayout.blocksPerRow(cols);
        this.paramCount = BinaryLayout.paramsPerBlock(t.regions());
        this.stateBits = BinaryLayout.stateBits(t.keptPer8(), t.regions());
        this.signRowBytes = BinaryLayout.signBytesPerRow(cols);
        this.stateRowBytes = BinaryLayout.stateBytesPerRow(cols, stateBits);
        this.paramRowBytes = 2L * blocks * paramCount;
        this.salientIndex = new int[units * 32];
        for (int c = 0; c < salientIndex.length; c++) {
            int word = t.salient().get(PackedCodes.I32, 4L * (c >> 5));
            salientIndex[c] = ((word >>> (c & 31)) & 1) << 3;
        }
        this.coefficients = BinaryLayout.valueCoefficients(t.keptPer8(), t.regions());
        this.vector = vector;
        this.coefficientVectors = new FloatVector[paramCount];
        if (vector) for (int p = 0; p < paramCount; p++) coefficientVectors[p] = FloatVector.fromArray(F, coefficients[p], 0);
    }

    private float param(long pBase, int b, int p) {
        return Float.float16ToFloat(params.get(PackedCodes.I16, pBase + 2L * (b * paramCount + p)));
    }

    private IntVector table(long pBase, int b) {
        FloatVector lut = FloatVector.zero(F);
        for (int p = 0; p < paramCount; p++) lut = coefficientVectors[p].fma(FloatVector.broadcast(F, param(pBase, b, p)), lut);
        return lut.reinterpretAsInts();
    }

    /** The 16 weights of half {@code h} of unit {@code u} of the row, as table values. */
    private FloatVector weights(IntVector lut, long sBase, long stBase, int u, int h) {
        int signWord = signs.get(PackedCodes.I32, sBase + 4L * u) >>> (16 * h);
        IntVector idx = IntVector.broadcast(I, signWord).lanewise(VectorOperators.LSHR, IOTA).and(1);
        IntVector state;
        if (stateBits == 2) {
            int word = states.get(PackedCodes.I32, stBase + 8L * u + 4L * h);
            state = IntVector.broadcast(I, word).lanewise(VectorOperators.LSHR, IOTA2).and(3);
        } else {
            int word = states.get(PackedCodes.I32, stBase + 4L * u) >>> (16 * h);
            state = IntVector.broadcast(I, word).lanewise(VectorOperators.LSHR, IOTA).and(1);
        }
        idx = idx.or(state.lanewise(VectorOperators.LSHL, 1)).or(IntVector.fromArray(I, salientIndex, 32 * u + 16 * h));
        return idx.selectFrom(lut).reinterpretAsFloats();
    }

    public float dot1(int row, float[] x, int xOff) {
        if (!vector) return dotScalar(row, x, xOff);
        long sBase = row * signRowBytes, stBase = row * stateRowBytes, pBase = row * paramRowBytes;
        FloatVector lo = FloatVector.zero(F), hi = lo;
        for (int b = 0, u = 0; b < blocks; b++) {
            IntVector lut = table(pBase, b);
            for (int end = Math.min(units, u + BinaryLayout.BLOCK / 32); u < end; u++) {
                int o = xOff + 32 * u;
                lo = weights(lut, sBase, stBase, u, 0).fma(FloatVector.fromArray(F, x, o), lo);
                hi = weights(lut, sBase, stBase, u, 1).fma(FloatVector.fromArray(F, x, o + 16), hi);
            }
        }
        return PackedRowKernel.sum(lo.add(hi));
    }

    public void dot4(int row, float[] x, int xOff, int stride, float[] out) {
        if (!vector) {
            for (int t = 0; t < 4; t++) out[t] = dotScalar(row, x, xOff + t * stride);
            return;
        }
        long sBase = row * signRowBytes, stBase = row * stateRowBytes, pBase = row * paramRowBytes;
        FloatVector lo0 = FloatVector.zero(F), lo1 = lo0, lo2 = lo0, lo3 = lo0, hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
        for (int b = 0, u = 0; b < blocks; b++) {
            IntVector lut = table(pBase, b);
            for (int end = Math.min(units, u + BinaryLayout.BLOCK / 32); u < end; u++) {
                FloatVector w0 = weights(lut, sBase, stBase, u, 0), w1 = weights(lut, sBase, stBase, u, 1);
                int o = xOff + 32 * u;
                lo0 = w0.fma(FloatVector.fromArray(F, x, o), lo0);
                hi0 = w1.fma(FloatVector.fromArray(F, x, o + 16), hi0);
                lo1 = w0.fma(FloatVector.fromArray(F, x, o + stride), lo1);
                hi1 = w1.fma(FloatVector.fromArray(F, x, o + stride + 16), hi1);
                lo2 = w0.fma(FloatVector.fromArray(F, x, o + 2 * stride), lo2);
                hi2 = w1.fma(FloatVector.fromArray(F, x, o + 2 * stride + 16), hi2);
                lo3 = w0.fma(FloatVector.fromArray(F, x, o + 3 * stride), lo3);
                hi3 = w1.fma(FloatVector.fromArray(F, x, o + 3 * stride + 16), hi3);
            }
        }
        out[0] = PackedRowKernel.sum(lo0.add(hi0));
        out[1] = PackedRowKernel.sum(lo1.add(hi1));
        out[2] = PackedRowKernel.sum(lo2.add(hi2));
        out[3] = PackedRowKernel.sum(lo3.add(hi3));
    }

    /** Left to right, one table per block, for machines without 16 float lanes. */
    private float dotScalar(int row, float[] x, int xOff) {
        long sBase = row * signRowBytes, stBase = row * stateRowBytes, pBase = row * paramRowBytes;
        float[] lut = new float[16];
        float sum = 0;
        int cols = units * 32, mask = (1 << stateBits) - 1;
        for (int b = 0; b < blocks; b++) {
            java.util.Arrays.fill(lut, 0f);
            for (int p = 0; p < paramCount; p++) {
                float v = param(pBase, b, p);
                for (int i = 0; i < 16; i++) lut[i] += coefficients[p][i] * v;
            }
            for (int c = b * BinaryLayout.BLOCK, end = Math.min(cols, c + BinaryLayout.BLOCK); c < end; c++) {
                int sign = (signs.get(PackedCodes.I32, sBase + 4L * (c >> 5)) >>> (c & 31)) & 1;
                long bit = (long) stateBits * (c & 31);
                long word = stateBits == 2 ? states.get(PackedCodes.I64, stBase + 8L * (c >> 5)) : states.get(PackedCodes.I32, stBase + 4L * (c >> 5)) & 0xFFFFFFFFL;
                int state = (int) (word >>> bit) & mask;
                sum += lut[salientIndex[c] | state << 1 | sign] * x[xOff + c];
            }
        }
        return sum;
    }
}
