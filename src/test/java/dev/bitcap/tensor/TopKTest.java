package dev.bitcap.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.stream.IntStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** {@link TopK}: largest first, lower index first among equal values; checked against a stable sort. */
class TopKTest {
    /** Indices of a[off..off+n) ordered by value descending, ties by index: a stable sort, written independently. */
    private static int[] sortedOrder(float[] a, int off, int n) {
        return IntStream.range(0, n).boxed().sorted((i, j) -> {
            float x = a[off + i], y = a[off + j];
            if (x > y) return -1;
            if (x < y) return 1;
            return Integer.compare(i, j); // equal (including -0 vs 0): lower index first
        }).mapToInt(Integer::intValue).toArray();
    }

    private static void checkAgainstSort(float[] a, int off, int n, int k) {
        int[] idx = new int[k + 2];
        float[] val = new float[k + 2];
        Arrays.fill(idx, -7);
        Arrays.fill(val, 777f);
        TopK.select(a, off, n, k, idx, val);
        int[] order = sortedOrder(a, off, n);
        for (int r = 0; r < k; r++) {
            assertEquals(order[r], idx[r], "rank " + r + " of top-" + k + " in " + Arrays.toString(a));
            assertEquals(a[off + order[r]], val[r], "value at rank " + r);
        }
        assertEquals(-7, idx[k], "wrote past k");
        assertEquals(777f, val[k + 1], "wrote past k");
    }

    @Test
    void examples() {
        float[] a = {100, 3, 5, 5, -1, 9, 5, 100};
        int[] idx = new int[3];
        float[] val = new float[3];
        TopK.select(a, 1, 6, 3, idx, val); // 3 5 5 -1 9 5; the 100s lie outside the range
        assertArrayEquals(new int[] {4, 1, 2}, idx);
        assertArrayEquals(new float[] {9, 5, 5}, val);

        TopK.select(a, 1, 6, 1, idx, val);
        assertEquals(4, idx[0]);

        int[] all = new int[6];
        float[] allVal = new float[6];
        TopK.select(a, 1, 6, 6, all, allVal);
        assertArrayEquals(new int[] {4, 1, 2, 5, 0, 3}, all);
        assertArrayEquals(new float[] {9, 5, 5, 5, 3, -1}, allVal);

        float[] ties = {2, 2, 2, 2};
        TopK.select(ties, 0, 4, 2, idx, val);
        assertEquals(0, idx[0]);
        assertEquals(1, idx[1]);
    }

    @Test
    void badKIsRejected() {
        float[] a = {1, 2, 3};
        int[] idx = new int[5];
        float[] val = new float[5];
        assertThrows(IllegalArgumentException.class, () -> TopK.select(a, 0, 3, 0, idx, val));
        assertThrows(IllegalArgumentException.class, () -> TopK.select(a, 0, 3, -1, idx, val));
        assertThrows(IllegalArgumentException.class, () -> TopK.select(a, 0, 3, 4, idx, val));
        assertThrows(IllegalArgumentException.class, () -> TopK.select(a, 0, 0, 1, idx, val));
    }

    record Case(float[] a, int off, int n, int k) {}

    @Provide
    Arbitrary<Case> cases() {
        // A handful of distinct values (with ±0 and ±inf) so that ties are common.
        Arbitrary<Float> value = Arbitraries.of(-3f, -1f, -0f, 0f, 0.5f, 1f, 2f, 7f,
                Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE);
        Arbitrary<Float> anyValue = Arbitraries.oneOf(value, Arbitraries.floats().between(-10, 10));
        return Combinators.combine(anyValue.array(float[].class).ofMinSize(1).ofMaxSize(80),
                        Arbitraries.integers().between(0, 5), Arbitraries.integers().between(0, 1000))
                .as((body, off, kSeed) -> {
                    float[] a = new float[body.length + off + 3];
                    Arrays.fill(a, Float.POSITIVE_INFINITY); // outside the range: would win if read
                    System.arraycopy(body, 0, a, off, body.length);
                    return new Case(a, off, body.length, 1 + kSeed % body.length);
                });
    }

    @Property(tries = 400)
    void agreesWithStableSort(@ForAll("cases") Case c) {
        checkAgainstSort(c.a(), c.off(), c.n(), c.k());
        checkAgainstSort(c.a(), c.off(), c.n(), c.n());
        checkAgainstSort(c.a(), c.off(), c.n(), 1);
    }
}
