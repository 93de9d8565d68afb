package dev.bitcap.attention;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decodes one run of packed KV codes (plane order, see {@link dev.bitcap.kv.KvLayout}) or of fp16 values into a
 * small float buffer, with the Vector API: a block of bytes, shifted and masked once per plane, gives a block
 * of consecutive codes, widened and scaled in registers. Only a group at a time is decoded, never the cache.
 */
final class PackedRuns {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** 16 lanes where the machine has 512-bit vectors; 8 lanes (256-bit) always. */
    private static final boolean WIDE = FloatVector.SPECIES_PREFERRED.length() >= 16;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Float> F16 = FloatVector.SPECIES_512;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;
    private static final VectorSpecies<Integer> I16 = IntVector.SPECIES_512;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    /** Sign, exponent and mantissa of an fp16 once shifted into float position (see {@link #halfs}). */
    private static final int F16_BITS = 0x8FFFE000;

    private PackedRuns() {}

    /**
     * The n values the run at {@code off} stands for, {@code code * scale + min}, into {@code dst[dstOff ..]}. Decoding
     * each value before it meets the query or the weights (rather than applying the minimum once per group)
     * keeps the sums free of the cancellation between large minima and large scaled codes.
     */
    static void decode(MemorySegment seg, long off, int n, int bits, float scale, float min, float[] dst, int dstOff) {
        int perByte = 8 / bits, planes = n / perByte;
        byte mask = (byte) ((1 << bits) - 1);
        int i = 0;
        if (WIDE) {
            for (; i + 16 <= planes; i += 16) {
                ByteVector b = ByteVector.fromMemorySegment(B16, seg, off + i, LE);
                for (int p = 0; p < perByte; p++) {
                    ByteVector c = (p == 0 ? b : b.lanewise(VectorOperators.LSHR, p * bits)).and(mask);
                    ((FloatVector) c.convertShape(VectorOperators.B2F, F16, 0)).fma(scale, min).intoArray(dst, dstOff + i + p * planes);
                }
            }
        }
        for (; i + 8 <= planes; i += 8) {
            ByteVector b = ByteVector.fromMemorySegment(B8, seg, off + i, LE);
            for (int p = 0; p < perByte; p++) {
                ByteVector c = (p == 0 ? b : b.lanewise(VectorOperators.LSHR, p * bits)).and(mask);
                ((FloatVector) c.convertShape(VectorOperators.B2F, F8, 0)).fma(scale, min).intoArray(dst, dstOff + i + p * planes);
            }
        }
        for (; i < planes; i++) {
            int b = seg.get(ValueLayout.JAVA_BYTE, off + i) & 0xFF;
            for (int p = 0; p < perByte; p++) dst[dstOff + i + p * planes] = Math.fma((float) ((b >>> (p * bits)) & mask), scale, min);
        }
    }

    /**
     * n fp16 values at {@code off} as floats into {@code dst[0 .. n)}: each sign-extended to an int, shifted so
     * that sign, exponent and mantissa land in float position, then re-biased by 2^112 (exact for normals and
     * subnormals; infinities become large finite values).
     */
    static void halfs(MemorySegment seg, long off, int n, float[] dst) {
        int i = 0;
        if (WIDE) {
            for (; i + 16 <= n; i += 16) {
                IntVector x = (IntVector) ShortVector.fromMemorySegment(S16, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I16, 0);
                x.lanewise(VectorOperators.LSHL, 13).and(F16_BITS).reinterpretAsFloats().mul(0x1p112f).intoArray(dst, i);
            }
        }
        for (; i + 8 <= n; i += 8) {
            IntVector x = (IntVector) ShortVector.fromMemorySegment(S8, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I8, 0);
            x.lanewise(VectorOperators.LSHL, 13).and(F16_BITS).reinterpretAsFloats().mul(0x1p112f).intoArray(dst, i);
        }
        for (; i < n; i++) dst[i] = Float.float16ToFloat(seg.get(HALF, off + 2L * i));
    }
}
