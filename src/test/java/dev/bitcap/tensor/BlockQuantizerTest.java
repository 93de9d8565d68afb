package dev.bitcap.tensor;

import static dev.bitcap.tensor.KernelRefs.U;
import static dev.bitcap.tensor.KernelRefs.gamma;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link BlockQuantizer}: per-element error bounds, the exact cases GGML's formats guarantee, and the byte layout
 * of {@link DType}'s docs. Blocks are decoded here straight from the bytes (not through Tensor), and
 * {@link Tensor#getFloat}, which the kernel tests use as their reference, is checked against that decoding.
 */
class BlockQuantizerTest {
    private static final int QK = 32;
    private static final double[] SCALES = {1e-7, 1e-4, 3e-2, 1, 300};

    private static float scale(MemorySegment seg, long block, DType type) {
        return Float.float16ToFloat(seg.get(Tensor.I16_LE, block * type.blockBytes()));
    }

    private static int q8(MemorySegment seg, long block, int j) {
        return seg.get(ValueLayout.JAVA_BYTE, block * 34 + 2 + j); // signed
    }

    /** Q4_0 code 0..15: element j < 16 in the low nibble of byte j, element j >= 16 in the high nibble of byte j-16. */
    private static int q4(MemorySegment seg, long block, int j) {
        int b = seg.get(ValueLayout.JAVA_BYTE, block * 18 + 2 + (j % 16)) & 0xFF;
        return j < 16 ? b & 0xF : b >>> 4;
    }

    private static MemorySegment quantize(Arena arena, DType type, float[] v) {
        MemorySegment seg = arena.allocate(type.byteSize(v.length));
        BlockQuantizer.quantizeInto(type, v, 0, v.length, seg, 0);
        return seg;
    }

    @Test
    void q8ErrorIsHalfAStepPlusScaleRounding() {
        Random rnd = new Random(21);
        try (Arena arena = Arena.ofConfined()) {
            for (double sigma : SCALES) {
                float[] v = KernelRefs.gaussian(rnd, 64 * QK, sigma);
                MemorySegment seg = quantize(arena, DType.Q8_0, v);
                Tensor t = new Tensor(DType.Q8_0, seg, v.length);
                for (int b = 0; b < v.length / QK; b++) {
                    float amax = 0;
                    int argmax = 0;
                    for (int j = 0; j < QK; j++) {
                        if (Math.abs(v[b * QK + j]) > amax) {
                            amax = Math.abs(v[b * QK + j]);
                            argmax = j;
                        }
                    }
                    float d = amax / 127f, d16 = scale(seg, b, DType.Q8_0);
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(d)), d16, "Q8_0 scale is fp16(amax/127)");
                    for (int j = 0; j < QK; j++) {
                        int q = q8(seg, b, j);
                        float x = v[b * QK + j], deq = d16 * q;
                        // round(x·id) with x·id within 127·γ(2) of x/d: half a step, plus |q| times the fp16 error
                        double bound = d * (0.5 + 127 * gamma(2)) + Math.abs(q) * Math.abs((double) d - d16);
                        if (!(Math.abs(x - (double) deq) <= bound)) {
                            fail("Q8_0 sigma " + sigma + " block " + b + " j " + j + ": " + x + " -> " + deq + ", bound " + bound);
                        }
                        assertEquals(deq, t.getFloat(b * QK + j), "Tensor.getFloat decodes Q8_0");
                    }
                    // the largest magnitude maps to ±127 exactly
                    assertEquals(v[b * QK + argmax] < 0 ? -127 : 127, q8(seg, b, argmax), "block " + b);
                }
            }
        }
    }

    @Test
    void q4ErrorIsHalfAStepExceptTheClampedTopCode() {
        Random rnd = new Random(22);
        try (Arena arena = Arena.ofConfined()) {
            for (double sigma : SCALES) {
                float[] v = KernelRefs.gaussian(rnd, 64 * QK, sigma);
                MemorySegment seg = quantize(arena, DType.Q4_0, v);
                Tensor t = new Tensor(DType.Q4_0, seg, v.length);
                for (int b = 0; b < v.length / QK; b++) {
                    float amax = 0, max = 0;
                    int argmax = 0;
                    for (int j = 0; j < QK; j++) {
                        float x = v[b * QK + j];
                        if (Math.abs(x) > amax) { // first of equal magnitudes, as ggml
                            amax = Math.abs(x);
                            max = x;
                            argmax = j;
                        }
                    }
                    float d = max / -8f, d16 = scale(seg, b, DType.Q4_0);
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(d)), d16, "Q4_0 scale is fp16(max/-8)");
                    for (int j = 0; j < QK; j++) {
                        int q = q4(seg, b, j);
                        float x = v[b * QK + j], deq = d16 * (q - 8);
                        // Codes cover [-8, 7] steps: within half a step, except that values in (7.5, 8] steps
                        // (the opposite sign of max) clamp to 7, a step away. x·id + 8.5 adds γ(2)·8 + 17u.
                        double c = q == 15 ? 1 : 0.5;
                        double bound = Math.abs(d) * (c + 8 * gamma(2) + 17 * U) + Math.abs(q - 8) * Math.abs((double) d - d16);
                        if (!(Math.abs(x - (double) deq) <= bound)) {
                            fail("Q4_0 sigma " + sigma + " block " + b + " j " + j + ": " + x + " -> " + deq + ", bound " + bound);
                        }
                        assertEquals(deq, t.getFloat(b * QK + j), "Tensor.getFloat decodes Q4_0");
                    }
                    // the value of largest magnitude is code 0: exactly -8·d
                    assertEquals(0, q4(seg, b, argmax));
                    assertEquals(-8 * d16, t.getFloat(b * QK + argmax));
                }
            }
        }
    }

    @Test
    void q4FirstOfEqualMagnitudesSetsTheSign() {
        float[] v = new float[QK];
        v[2] = -3;
        v[5] = 3;
        v[20] = 1.5f;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = quantize(arena, DType.Q4_0, v);
            assertEquals(0.375f, scale(seg, 0, DType.Q4_0)); // -3 / -8
            assertEquals(0, q4(seg, 0, 2)); // -3 exactly
            assertEquals(15, q4(seg, 0, 5)); // +3 is +8 steps: clamps to +7
            assertEquals(12, q4(seg, 0, 20)); // +4 steps
            assertEquals(8, q4(seg, 0, 0)); // zero
        }
    }

    @Test
    void allZeroBlocksDecodeToZero() {
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.Q8_0, DType.Q4_0}) {
                float[] v = new float[2 * QK];
                v[QK + 3] = 127; // second block nonzero (scale exact in both types): the first must stay zero
                MemorySegment seg = quantize(arena, type, v);
                Tensor t = new Tensor(type, seg, v.length);
                for (int j = 0; j < QK; j++) assertEquals(0.0, t.getFloat(j), 0.0, type + " element " + j);
                assertEquals(127f, t.getFloat(QK + 3), type + " nonzero block");
            }
        }
    }

    @Test
    void lengthsOtherThanWholeBlocksAndNonBlockTypesAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(1024);
            for (int n : new int[] {1, 31, 33, 63}) {
                assertThrows(IllegalArgumentException.class, () -> BlockQuantizer.quantizeInto(DType.Q8_0, new float[64], 0, n, seg, 0));
                assertThrows(IllegalArgumentException.class, () -> BlockQuantizer.quantizeInto(DType.Q4_0, new float[64], 0, n, seg, 0));
            }
            assertThrows(IllegalArgumentException.class, () -> BlockQuantizer.quantizeInto(DType.F16, new float[32], 0, 32, seg, 0));
        }
    }

    @Test
    void q8BytesFollowTheDocumentedLayout() {
        // amax 127 makes the scale exactly 1 (fp16 0x3C00), so every integer value is its own code
        float[] v = new float[5 + 2 * QK];
        for (int j = 0; j < 2 * QK; j++) v[5 + j] = (j * 37 % 255) - 127;
        v[5] = 127;
        v[5 + QK] = -127;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(7 + 2 * 34);
            BlockQuantizer.quantizeInto(DType.Q8_0, v, 5, 2 * QK, seg, 7);
            byte[] got = seg.asSlice(7).toArray(ValueLayout.JAVA_BYTE);
            byte[] want = new byte[2 * 34];
            for (int b = 0; b < 2; b++) {
                want[b * 34] = 0x00; // fp16 1.0, little-endian
                want[b * 34 + 1] = 0x3C;
                for (int j = 0; j < QK; j++) want[b * 34 + 2 + j] = (byte) v[5 + b * QK + j];
            }
            assertArrayEquals(want, got);
            assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, 6), "byte before dstOff untouched");
        }
    }

    @Test
    void q4BytesFollowTheDocumentedLayout() {
        // max -8 makes the scale exactly 1, so integer values in [-8, 7] have code value + 8
        float[] v = new float[3 + 2 * QK];
        for (int j = 0; j < 2 * QK; j++) v[3 + j] = (j * 7 % 16) - 8;
        v[3] = -8;
        v[3 + QK] = -8;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(9 + 2 * 18);
            BlockQuantizer.quantizeInto(DType.Q4_0, v, 3, 2 * QK, seg, 9);
            byte[] got = seg.asSlice(9).toArray(ValueLayout.JAVA_BYTE);
            byte[] want = new byte[2 * 18];
            for (int b = 0; b < 2; b++) {
                want[b * 18] = 0x00;
                want[b * 18 + 1] = 0x3C;
                for (int j = 0; j < 16; j++) {
                    int lo = (int) v[3 + b * QK + j] + 8, hi = (int) v[3 + b * QK + 16 + j] + 8;
                    want[b * 18 + 2 + j] = (byte) (lo | hi << 4); // low nibble element j, high nibble j + 16
                }
            }
            assertArrayEquals(want, got);
        }
    }

    /**
     * The class promises ggml's rounding. ggml's quantize_row_q8_0_ref stores roundf(x·id): halfway cases go
     * away from zero. With the scale exactly 1 (amax 127), -2.5 must become -3, -0.5 -1 and -126.5 -127.
     */
    @Test
    void q8HalfwayCodesRoundAwayFromZeroLikeGgml() {
        float[] v = new float[QK];
        v[0] = 127;
        v[1] = -2.5f;
        v[2] = 2.5f;
        v[3] = -0.5f;
        v[4] = 0.5f;
        v[5] = -126.5f;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = quantize(arena, DType.Q8_0, v);
            assertEquals(1f, scale(seg, 0, DType.Q8_0));
            int[] got = new int[6];
            for (int j = 0; j < 6; j++) got[j] = q8(seg, 0, j);
            assertArrayEquals(new int[] {127, -3, 3, -1, 1, -127}, got, "codes for 127, -2.5, 2.5, -0.5, 0.5, -126.5");
        }
    }
}
