package dev.bitcap.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class GroupQuantizerTest {
    /** Each value decodes within half a step of itself (plus the float rounding of code*scale+min). */
    @ParameterizedTest
    @CsvSource({"4, 8", "4, 16", "4, 32", "4, 128", "2, 8", "2, 32", "2, 64", "2, 128"})
    void roundTripWithinHalfAStep(int bits, int n) {
        SplittableRandom rnd = new SplittableRandom(bits * 1000L + n);
        MemorySegment seg = Arena.ofAuto().allocate(n + 4);
        float[] x = new float[n * 3], back = new float[n];
        for (int trial = 0; trial < 500; trial++) {
            double magnitude = Math.pow(10, rnd.nextDouble(-6, 4));
            double offset = rnd.nextDouble(-3, 3) * magnitude;
            for (int i = 0; i < x.length; i++) x[i] = (float) (offset + magnitude * rnd.nextGaussian());
            if (trial % 50 == 0) java.util.Arrays.fill(x, x[0]); // a constant group
            int stride = 1 + trial % 3;
            GroupQuantizer.quantize(x, 0, stride, n, bits, seg, 4, 0);
            float scale = GroupQuantizer.scale(seg, 0), min = GroupQuantizer.min(seg, 0);
            GroupQuantizer.dequantize(seg, 4, 0, n, bits, back, 0, 1);
            for (int i = 0; i < n; i++) {
                float v = x[i * stride];
                double tol = scale / 2.0 + 2 * Math.ulp(Math.abs(v) + Math.abs(min) + scale * ((1 << bits) - 1));
                assertTrue(Math.abs(back[i] - v) <= tol,
                        "trial " + trial + " value " + v + " decoded " + back[i] + " scale " + scale + " min " + min + " stride " + stride);
            }
        }
    }

    @Test
    void storedRangeCoversTheGroup() {
        float[] x = {-1.0001f, 0.3f, 2.7182817f, 0.1f, -0.5f, 1.5f, 2f, 0f};
        MemorySegment seg = Arena.ofAuto().allocate(16);
        GroupQuantizer.quantize(x, 0, 1, 8, 4, seg, 4, 0);
        float scale = GroupQuantizer.scale(seg, 0), min = GroupQuantizer.min(seg, 0);
        assertTrue(min <= -1.0001f, "min " + min);
        assertTrue(min + 15 * scale >= 2.7182817f, "top " + (min + 15 * scale));
        assertEquals(0, GroupQuantizer.code(seg, 4, 8, 4, 0));
        assertEquals(15, GroupQuantizer.code(seg, 4, 8, 4, 2));
    }

    @Test
    void directedFp16Rounding() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < 100_000; i++) {
            float v = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-7, 4)));
            float down = Float.float16ToFloat(GroupQuantizer.fp16AtMost(v));
            assertTrue(down <= v, v + " -> " + down);
            float up = Float.float16ToFloat(GroupQuantizer.fp16AtLeast(Math.abs(v)));
            assertTrue(up >= Math.abs(v), v + " -> " + up);
        }
        assertEquals(-Float.float16ToFloat((short) 1), Float.float16ToFloat(GroupQuantizer.fp16AtMost(-1e-9f)));
        assertEquals(0f, Float.float16ToFloat(GroupQuantizer.fp16AtMost(0f)));
    }

    /** Plane order: byte i of a run of n codes holds codes i, i+n/m, ... (m codes per byte). */
    @Test
    void planeOrderIsTheDocumentedOne() {
        float[] x = new float[16];
        for (int i = 0; i < 16; i++) x[i] = i % 4; // codes 0..3 exactly with min 0, scale 1
        MemorySegment seg = Arena.ofAuto().allocate(16);
        GroupQuantizer.quantize(x, 0, 1, 16, 2, seg, 4, 0);
        assertEquals(1f, GroupQuantizer.scale(seg, 0));
        assertEquals(0f, GroupQuantizer.min(seg, 0));
        // byte 0 holds codes 0, 4, 8, 12 = values 0, 0, 0, 0; byte 1 codes 1, 5, 9, 13 = 1, 1, 1, 1
        assertEquals(0, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4));
        assertEquals((byte) 0b01010101, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 5));
        assertEquals((byte) 0b11111111, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 7));
        int param = seg.get(GroupQuantizer.PARAM, 0);
        assertEquals(Float.floatToFloat16(1f), (short) param, "scale in the low half");
    }
}
