package dev.bitcap.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** float ↔ bfloat16 in {@link Halfs}. */
class HalfsTest {
    private static boolean finiteBf16(int h) {
        return (h & 0x7F80) != 0x7F80;
    }

    private static void expect(int want, float f) {
        int got = Halfs.f32ToBf16(f) & 0xFFFF;
        if (got != want) {
            fail("f32ToBf16(0x" + Integer.toHexString(Float.floatToRawIntBits(f)) + " = " + f + ") = 0x"
                    + Integer.toHexString(got) + ", want 0x" + Integer.toHexString(want));
        }
    }

    @Test
    void halfwayCasesRoundToEven() {
        // For every finite bf16 h, the float exactly between h and the next pattern up in magnitude has low
        // half 0x8000: it must go to whichever of h, h+1 is even. Just below / above go down / up.
        for (int h = 0; h < 0x10000; h++) {
            if (!finiteBf16(h)) continue;
            int hi = h << 16;
            expect(h, Float.intBitsToFloat(hi));
            expect(h, Float.intBitsToFloat(hi | 0x7FFF));
            expect(h + 1, Float.intBitsToFloat(hi | 0x8001));
            expect((h & 1) == 0 ? h : h + 1, Float.intBitsToFloat(hi | 0x8000)); // 0x7F7F rounds up to inf
        }
        expect(0x0000, 0f);
        expect(0x8000, -0f);
        expect(0x7F80, Float.POSITIVE_INFINITY);
        expect(0xFF80, Float.NEGATIVE_INFINITY);
        expect(0x3F80, 1f);
        expect(0x3F80, Float.intBitsToFloat(0x3F808000)); // 1 + 2^-8: a tie, 0x3F80 is even
        expect(0x3F82, Float.intBitsToFloat(0x3F818000)); // 1 + 3·2^-8: a tie, goes up to even 0x3F82
    }

    @Test
    void randomFloatsGoToTheNearestBf16() {
        Random rnd = new Random(11);
        for (int i = 0; i < 1_000_000; i++) {
            float f = Float.intBitsToFloat(rnd.nextInt());
            if (!Float.isFinite(f)) continue;
            expect(nearest(f), f);
        }
    }

    /** Nearest bf16 by distance in double (exact for these operands), ties to the even pattern; 2^128 stands for inf. */
    private static int nearest(float f) {
        int down = Float.floatToRawIntBits(f) >>> 16, up = down + 1;
        double lo = Float.intBitsToFloat(down << 16);
        double hi = (up & 0x7FFF) == 0x7F80 ? Math.copySign(0x1p128, f) : Float.intBitsToFloat(up << 16);
        double dLo = Math.abs(f - lo), dHi = Math.abs(hi - f);
        if (dLo != dHi) return dLo < dHi ? down : up & 0xFFFF;
        return (down & 1) == 0 ? down : up & 0xFFFF;
    }

    @Test
    void nanStaysNan() {
        Random rnd = new Random(12);
        int[] payloads = {1, 0x7F, 0xFFFF, 0x8000, 0x10000, 0x3FFFFF, 0x400000, 0x7FFFFF};
        for (int sign : new int[] {0, 0x80000000}) {
            for (int m : payloads) checkNan(sign | 0x7F800000 | m);
            for (int i = 0; i < 10_000; i++) checkNan(sign | 0x7F800000 | (1 + rnd.nextInt(0x7FFFFF)));
        }
    }

    private static void checkNan(int bits) {
        float f = Float.intBitsToFloat(bits);
        assertTrue(Float.isNaN(f));
        // a payload only in the low 16 bits would truncate to infinity
        assertTrue(Float.isNaN(Halfs.bf16ToF32(Halfs.f32ToBf16(f))), "NaN 0x" + Integer.toHexString(bits) + " lost");
    }

    @Test
    void everyBf16RoundTrips() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Halfs.bf16ToF32((short) h);
            assertEquals(h << 16, Float.floatToRawIntBits(f)); // widening places the 16 bits on top, payloads too
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Halfs.bf16ToF32(Halfs.f32ToBf16(f))));
            } else {
                expect(h, f); // including ±0, subnormals and ±inf
            }
        }
    }
}
