package dev.bitcap.tensor;

import static dev.bitcap.tensor.KernelRefs.gamma;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** {@link Rope} in both pairings against the rotation written out in double. */
class RopeTest {
    private static final int HEAD_DIM = 64, HEADS = 3, OFF = 5;

    /** cos/sin of position·θ^(-2j/d), rounded to float as a model's tables are. */
    private static float[][] tables(int pos, int headDim) {
        int half = headDim / 2;
        float[] cos = new float[half], sin = new float[half];
        for (int j = 0; j < half; j++) {
            double angle = pos * Math.pow(10000, -2.0 * j / headDim);
            cos[j] = (float) Math.cos(angle);
            sin[j] = (float) Math.sin(angle);
        }
        return new float[][] {cos, sin};
    }

    private static float[] data(long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[OFF + HEADS * HEAD_DIM + 4];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() + (rnd.nextBoolean() ? 0.1 : -0.1));
        return x;
    }

    /** Element indices (a, b) rotated together for frequency j of a head starting at base. */
    private static int[] pair(RopeStyle style, int base, int j, int headDim) {
        return style == RopeStyle.ADJACENT_PAIRS
                ? new int[] {base + 2 * j, base + 2 * j + 1}
                : new int[] {base + j, base + j + headDim / 2};
    }

    @ParameterizedTest
    @EnumSource(RopeStyle.class)
    void rotatesEachPairLikeTheReference(RopeStyle style) {
        for (int pos : new int[] {1, 7, 4097}) {
            float[][] t = tables(pos, HEAD_DIM);
            float[] x0 = data(pos), x = x0.clone();
            Rope.apply(x, OFF, HEADS, HEAD_DIM, t[0], t[1], style);
            boolean[] seen = new boolean[x.length];
            for (int h = 0; h < HEADS; h++) {
                for (int j = 0; j < HEAD_DIM / 2; j++) {
                    int[] ab = pair(style, OFF + h * HEAD_DIM, j, HEAD_DIM);
                    double a = x0[ab[0]], b = x0[ab[1]], c = t[0][j], s = t[1][j];
                    // each output is two float products and one subtraction/addition: γ(2) of the magnitudes
                    check(x[ab[0]], a * c - b * s, gamma(2) * (Math.abs(a * c) + Math.abs(b * s)), style, h, j);
                    check(x[ab[1]], a * s + b * c, gamma(2) * (Math.abs(a * s) + Math.abs(b * c)), style, h, j);
                    seen[ab[0]] = seen[ab[1]] = true;
                }
            }
            for (int i = 0; i < x.length; i++) {
                boolean inside = i >= OFF && i < OFF + HEADS * HEAD_DIM;
                assertEquals(inside, seen[i], "index " + i + " rotated exactly when inside the heads");
                if (!inside) assertEquals(x0[i], x[i], "index " + i + " outside the heads changed");
            }
        }
    }

    private static void check(float got, double want, double tol, RopeStyle style, int h, int j) {
        if (!(Math.abs(got - want) <= tol)) {
            fail(style + " head " + h + " freq " + j + ": got " + got + ", want " + want + ", tolerance " + tol);
        }
    }

    @Test
    void adjacentPairsIsRotateHalfOnTheEvenThenOddPermutation() {
        float[][] t = tables(13, HEAD_DIM);
        float[] x = data(3);
        float[] permuted = x.clone();
        int half = HEAD_DIM / 2;
        for (int h = 0; h < HEADS; h++) {
            int base = OFF + h * HEAD_DIM;
            for (int j = 0; j < half; j++) {
                permuted[base + j] = x[base + 2 * j];
                permuted[base + half + j] = x[base + 2 * j + 1];
            }
        }
        Rope.apply(x, OFF, HEADS, HEAD_DIM, t[0], t[1], RopeStyle.ADJACENT_PAIRS);
        Rope.apply(permuted, OFF, HEADS, HEAD_DIM, t[0], t[1], RopeStyle.ROTATE_HALF);
        float[] back = permuted.clone();
        for (int h = 0; h < HEADS; h++) {
            int base = OFF + h * HEAD_DIM;
            for (int j = 0; j < half; j++) {
                back[base + 2 * j] = permuted[base + j];
                back[base + 2 * j + 1] = permuted[base + half + j];
            }
        }
        // the same float operations on the same operands: identical bits
        assertArrayEquals(x, back);
    }

    @ParameterizedTest
    @EnumSource(RopeStyle.class)
    void positionZeroIsTheIdentity(RopeStyle style) {
        float[][] t = tables(0, HEAD_DIM); // cos 1, sin 0
        float[] x0 = data(4), x = x0.clone();
        Rope.apply(x, OFF, HEADS, HEAD_DIM, t[0], t[1], style);
        assertArrayEquals(x0, x); // no zeros in the data, so x·1 - y·0 is x to the bit
    }

    @ParameterizedTest
    @EnumSource(RopeStyle.class)
    void eachPairKeepsItsLength(RopeStyle style) {
        float[][] t = tables(977, HEAD_DIM);
        float[] x0 = data(5), x = x0.clone();
        Rope.apply(x, OFF, HEADS, HEAD_DIM, t[0], t[1], style);
        for (int h = 0; h < HEADS; h++) {
            for (int j = 0; j < HEAD_DIM / 2; j++) {
                int[] ab = pair(style, OFF + h * HEAD_DIM, j, HEAD_DIM);
                double a = x0[ab[0]], b = x0[ab[1]], c = t[0][j], s = t[1][j];
                // The float table is a rotation scaled by sqrt(c²+s²) (1 up to rounding); the kernel's error
                // on each output is at most γ(2) times the magnitudes of its two products.
                double expected = Math.hypot(a, b) * Math.sqrt(c * c + s * s);
                double tol = gamma(2) * (Math.abs(a * c) + Math.abs(b * s) + Math.abs(a * s) + Math.abs(b * c));
                double got = Math.hypot(x[ab[0]], x[ab[1]]); // in double: the comparison adds no float rounding
                if (!(Math.abs(got - expected) <= tol + 0x1p-50 * expected)) {
                    fail(style + " head " + h + " freq " + j + ": length " + got + ", want " + expected);
                }
            }
        }
    }

    @Test
    void shortTablesAreRejectedAndTinyHeadsWork() {
        float[][] t = tables(3, HEAD_DIM);
        float[] shortCos = java.util.Arrays.copyOf(t[0], HEAD_DIM / 2 - 1);
        for (RopeStyle style : RopeStyle.values()) {
            assertThrows(IllegalArgumentException.class,
                    () -> Rope.apply(data(6), OFF, HEADS, HEAD_DIM, shortCos, t[1], style));
            // headDim 2: one pair per head, the same in both pairings
            float[] x = {9, 3, 4, 1, -2, 9}, c = {0.6f}, s = {0.8f};
            Rope.apply(x, 1, 2, 2, c, s, style);
            assertArrayEquals(new float[] {9, 3 * 0.6f - 4 * 0.8f, 3 * 0.8f + 4 * 0.6f, 1 * 0.6f + 2 * 0.8f,
                    1 * 0.8f - 2 * 0.6f, 9}, x);
        }
    }
}
