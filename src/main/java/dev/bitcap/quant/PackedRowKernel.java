package dev.bitcap.quant;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot products of one packed quantized row with activation rows, the dequantization fused in. Activations are
 * padded to {@link PackedCodes#paddedCols} columns (zeros past {@code cols}) and already multiplied by any input
 * scale; activation row t starts at {@code x[xOff + t * stride]}. Summation order depends only on the tensor's
 * shape and group size, never on the row, on memory placement or on how many activation rows go together, so a
 * row gives identical bits in dot1 and dot4. One subclass per code width; the vector ones work on 16 float lanes.
 */
abstract sealed class PackedRowKernel implements RowDots permits PackedScalarRows, Packed2Rows, Packed3Rows, Packed4Rows, Packed8Rows {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorShuffle<Float> ROTATE_8 = VectorShuffle.iota(F, 8, 1, true);
    private static final VectorShuffle<Float> ROTATE_4 = VectorShuffle.iota(F, 4, 1, true);
    private static final VectorShuffle<Float> ROTATE_2 = VectorShuffle.iota(F, 2, 1, true);
    private static final VectorShuffle<Float> ROTATE_1 = VectorShuffle.iota(F, 1, 1, true);

    final MemorySegment codes, params;
    final int cols, units, groups, unitsPerGroup, paramCount;
    final long rowBytes, paramRowBytes;

    PackedRowKernel(QuantizedTensor t) {
        this.codes = t.codes();
        this.params = t.params();
        this.cols = t.cols32();
        this.units = PackedCodes.unitsPerRow(t.colsInt());
        this.groups = GroupQuantized.groupsPerRow(t.colsInt(), t.groupSize());
        this.unitsPerGroup = groups == 1 ? units : t.groupSize() / 32;
        this.paramCount = t.format().paramCount();
        this.rowBytes = PackedCodes.rowBytes(t.format().codeBits(), t.colsInt());
        this.paramRowBytes = 2L * groups * paramCount;
    }

    public abstract float dot1(int row, float[] x, int xOff);

    /**
     * Rows {@code row0} and {@code row1} against one activation row at {@code x[0]} (a GEMV step): two memory
     * streams and independent accumulator chains per core, each row summed exactly as {@link #dot1} sums it.
     * {@code out} holds at least 32 floats: the results land in out[0] and out[1], the rest is scratch.
     */
    void dot2(int row0, int row1, float[] x, float[] out) {
        out[0] = dot1(row0, x, 0);
        out[1] = dot1(row1, x, 0);
    }

    /** The row against activation rows t = 0..3, converting each chunk of codes once. */
    public abstract void dot4(int row, float[] x, int xOff, int stride, float[] out);

    /** The kernel for {@code t}: a vector one when the machine has 16 float lanes and the format a decode table. */
    static PackedRowKernel of(QuantizedTensor t) {
        if (FloatVector.SPECIES_PREFERRED.length() == 16 && t.format() instanceof DecodeTable.Source s) {
            DecodeTable table = s.decodeTable();
            switch (t.format().codeBits()) {
                case 2: return new Packed2Rows(t, table);
                case 3: return new Packed3Rows(t, table);
                case 4: return new Packed4Rows(t, table);
                case 8:
                    if (Packed8Rows.isAffine(table)) return new Packed8Rows(t, table);
                    break;
                default:
                    break;
            }
        }
        return new PackedScalarRows(t);
    }

    /** Parameter k of group g of the row whose parameters start at byte {@code pBase}. */
    final float param(long pBase, int g, int k) {
        return Float.float16ToFloat(params.get(PackedCodes.I16, pBase + 2L * (g * paramCount + k)));
    }

    /** The group's decoded values (for codes 0..15) as float bits, computed as {@link DecodeTable#value} does. */
    static IntVector lut(FloatVector a, FloatVector b, boolean zeroPoint, float p0, float p1) {
        FloatVector t = zeroPoint ? a.sub(p1).mul(p0) : b.fma(FloatVector.broadcast(F, p1), a.mul(p0));
        return t.reinterpretAsInts();
    }

    static FloatVector tableVector(float[] values) {
        float[] v = new float[16];
        System.arraycopy(values, 0, v, 0, Math.min(16, values.length));
        return FloatVector.fromArray(F, v, 0);
    }

    /**
     * {@link #sum(FloatVector)} of the 16 floats at {@code lanes[off]}. Kernels too large for C2 to inline the
     * vector form store their accumulator and call this: a vector passed to a call that is not inlined is boxed.
     */
    static float sum(float[] lanes, int off) {
        return sum(FloatVector.fromArray(F, lanes, off));
    }

    /** Sum of the 16 lanes in a fixed tree order (reduceLanes may change its order once intrinsified). */
    static float sum(FloatVector v) {
        v = v.add(v.rearrange(ROTATE_8));
        v = v.add(v.rearrange(ROTATE_4));
        v = v.add(v.rearrange(ROTATE_2));
        v = v.add(v.rearrange(ROTATE_1));
        return v.lane(0);
    }
}
