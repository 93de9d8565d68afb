package dev.bitcap.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.util.function.IntPredicate;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The widening loads of {@link Lanes}, seen through the F16 and BF16 row kernels: every finite 16-bit pattern
 * must come out as exactly the float it encodes. A 256x256 matrix holds all 65536 patterns (row r, column c is
 * pattern r·256 + c; inf/NaN patterns are stored as 0 and skipped); one-hot activations pick out one column, so
 * y is a single weight times 1 plus zeros, which float arithmetic gives exactly.
 */
class LanesTest {
    private static final int SIDE = 256;
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.ofShared();
    }

    @AfterAll
    static void close() {
        arena.close();
    }

    @Test
    void everyFiniteF16PatternWidensExactly() {
        // fp16 exponent field all ones (0x7C00) is inf or NaN.
        check(DType.F16, bits -> (bits & 0x7C00) != 0x7C00, bits -> Float.float16ToFloat((short) bits));
    }

    @Test
    void everyFiniteBf16PatternWidensExactly() {
        check(DType.BF16, bits -> (bits & 0x7F80) != 0x7F80, bits -> Halfs.bf16ToF32((short) bits));
    }

    private static void check(DType type, IntPredicate finite, IntToDoubleFunction expected) {
        Tensor w = Tensor.allocate(arena, type, SIDE, SIDE);
        int finiteCount = 0;
        for (int p = 0; p < SIDE * SIDE; p++) {
            boolean ok = finite.test(p);
            if (ok) finiteCount++;
            w.data().set(Tensor.I16_LE, 2L * p, ok ? (short) p : 0);
        }
        assertEquals(type == DType.F16 ? 65536 - 2048 : 65536 - 256, finiteCount);

        // GEMM path (dot4: 256 tokens are 64 groups of four): x = identity, so token t's output row r is w[r][t].
        float[] identity = new float[SIDE * SIDE];
        for (int t = 0; t < SIDE; t++) identity[t * SIDE + t] = 1;
        float[] y = new float[SIDE * SIDE];
        MatMul.matmul(w, identity, y, SIDE);
        compare(type + " GEMM", finite, expected, (r, t) -> y[t * SIDE + r]);

        // GEMV path (dot1 over every row), one column at a time.
        float[] x = new float[SIDE];
        float[] all = new float[SIDE * SIDE];
        float[] col = new float[SIDE];
        for (int t = 0; t < SIDE; t++) {
            x[t] = 1;
            MatMul.matmul(w, x, col, 1);
            x[t] = 0;
            for (int r = 0; r < SIDE; r++) all[t * SIDE + r] = col[r];
        }
        compare(type + " GEMV", finite, expected, (r, t) -> all[t * SIDE + r]);
    }

    private interface Cell {
        float at(int row, int token);
    }

    private static void compare(String what, IntPredicate finite, IntToDoubleFunction expected, Cell got) {
        for (int r = 0; r < SIDE; r++) {
            for (int t = 0; t < SIDE; t++) {
                int pattern = r * SIDE + t;
                if (!finite.test(pattern)) continue;
                float want = (float) expected.applyAsDouble(pattern), have = got.at(r, t);
                // == so that -0 (summed with +0 lanes) counts as 0; everything else must match bit for bit.
                if (!(have == want) || (want != 0 && Float.floatToRawIntBits(have) != Float.floatToRawIntBits(want))) {
                    fail(what + ": pattern 0x" + Integer.toHexString(pattern) + " widened to " + have + ", expected "
                            + want);
                }
            }
        }
    }
}
