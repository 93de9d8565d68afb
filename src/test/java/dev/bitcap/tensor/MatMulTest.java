package dev.bitcap.tensor;

import static dev.bitcap.tensor.DType.BF16;
import static dev.bitcap.tensor.DType.F16;
import static dev.bitcap.tensor.DType.F32;
import static dev.bitcap.tensor.DType.Q4_0;
import static dev.bitcap.tensor.DType.Q8_0;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link MatMul} over every matrix type, against a double-precision reference on the stored weight values. */
class MatMulTest {
    private static final DType[] MATRIX_TYPES = {F32, F16, BF16, Q8_0, Q4_0};
    private static final int[] TOKENS = {1, 2, 3, 4, 5, 8, 9};
    /** MatMul's GEMM block (BLOCK_BYTES): the big cases hold two full blocks of rows and a ragged third. */
    private static final long GEMM_BLOCK_BYTES = 128 * 1024;
    /** Calls before comparing bits: enough for C2 to compile the kernels (see sameBitsBeforeAndAfterJit). */
    private static final int WARM_CALLS = 2000;

    // The kernels read weights on the pool's threads: a confined arena would throw WrongThreadException.
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.ofShared();
    }

    @AfterAll
    static void close() {
        arena.close();
    }

    static Stream<Arguments> shapes() {
        // Float widths straddle the vector length (16 lanes on AVX-512, 8 on AVX2): 5 is all tail, the rest
        // have both a vector body and a scalar tail. Block widths are 1, 3 and 5 blocks.
        List<Arguments> out = new ArrayList<>();
        for (DType t : new DType[] {F32, F16, BF16}) {
            for (int cols : new int[] {5, 17, 100, 172}) out.add(arguments(t, cols));
        }
        for (DType t : new DType[] {Q8_0, Q4_0}) {
            for (int cols : new int[] {32, 96, 160}) out.add(arguments(t, cols));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}, {1} columns")
    @MethodSource("shapes")
    void matchesDoubleReferenceAcrossGemmBlocks(DType type, int cols) {
        int rows = (int) (2 * (GEMM_BLOCK_BYTES / type.byteSize(cols)) + 7);
        Random rnd = new Random(1000L * cols + type.ordinal());
        Tensor w = KernelRefs.matrix(arena, type, rows, cols, KernelRefs.gaussian(rnd, rows * cols, 1));
        for (int n : TOKENS) checkAgainstReference(w, KernelRefs.gaussian(rnd, n * cols, 1), n);
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void fewRowsRunOnTheCallerAndStillMatch(DType type) {
        int cols = type.isBlockQuantized() ? 64 : 33;
        Random rnd = new Random(7 + type.ordinal());
        for (int rows : new int[] {1, 3, 31, 33}) {
            Tensor w = KernelRefs.matrix(arena, type, rows, cols, KernelRefs.gaussian(rnd, rows * cols, 2));
            for (int n : TOKENS) checkAgainstReference(w, KernelRefs.gaussian(rnd, n * cols, 0.5), n);
        }
    }

    /**
     * y against Σ w·x in double over the dequantized stored weights. Whatever order the kernel sums in, each
     * product passes through at most cols + 2 roundings (lane chains, block scaling, lane reduction, scalar tail),
     * so the error is at most γ(cols+2)·Σ|w·x|.
     */
    private static void checkAgainstReference(Tensor w, float[] x, int n) {
        int rows = (int) w.rows(), cols = (int) w.cols();
        float[] wf = w.toFloatArray();
        float[] y = new float[n * rows];
        MatMul.matmul(w, x, y, n);
        double gamma = KernelRefs.gamma(cols + 2);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double s = 0, mag = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) wf[r * cols + c] * x[t * cols + c];
                    s += p;
                    mag += Math.abs(p);
                }
                float got = y[t * rows + r];
                if (!(Math.abs(got - s) <= gamma * mag)) {
                    fail(w + " n=" + n + " token " + t + " row " + r + ": got " + got + ", reference " + s
                            + ", allowed error " + gamma * mag);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void tokenRowIsBitIdenticalAloneOrInABatchOfSeven(DType type) {
        int rows = 40, cols = type.isBlockQuantized() ? 96 : 100, n = 7;
        Random rnd = new Random(99 + type.ordinal());
        Tensor w = KernelRefs.matrix(arena, type, rows, cols, KernelRefs.gaussian(rnd, rows * cols, 1));
        float[] x = KernelRefs.gaussian(rnd, n * cols, 1);
        float[][] alone = new float[n][];
        for (int t = 0; t < n; t++) alone[t] = java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols);
        float[] batch = new float[n * rows];
        float[][] single = new float[n][rows];
        // Tokens 0-3 go through dot4, 4-6 through dot1; each must match its own GEMV. Both sides are compared
        // once compiled: cold code sums lanes in another order, which sameBitsBeforeAndAfterJit covers.
        for (int it = 0; it < WARM_CALLS; it++) {
            MatMul.matmul(w, x, batch, n);
            for (int t = 0; t < n; t++) MatMul.matmul(w, alone[t], single[t], 1);
        }
        for (int t = 0; t < n; t++) {
            float[] row = java.util.Arrays.copyOfRange(batch, t * rows, (t + 1) * rows);
            assertArrayEquals(bits(single[t]), bits(row), type + " token " + t);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void misalignedWeightsGiveIdenticalBits(DType type) {
        int rows = 40, cols = type.isBlockQuantized() ? 96 : 100;
        Random rnd = new Random(5 + type.ordinal());
        Tensor w = KernelRefs.matrix(arena, type, rows, cols, KernelRefs.gaussian(rnd, rows * cols, 1));
        for (int n : new int[] {1, 5}) {
            float[] x = KernelRefs.gaussian(rnd, n * cols, 1);
            for (long shift : new long[] {1, 2, 3, 4, 6}) {
                // Same bytes at an offset that breaks 4-byte (and for odd shifts 2-byte) alignment.
                MemorySegment big = arena.allocate(w.byteSize() + 16, 64);
                MemorySegment at = big.asSlice(shift, w.byteSize()).copyFrom(w.data());
                Tensor moved = new Tensor(type, at, rows, cols);
                float[] y0 = new float[n * rows], y1 = new float[n * rows];
                for (int it = 0; it < WARM_CALLS / 4; it++) {
                    MatMul.matmul(w, x, y0, n);
                    MatMul.matmul(moved, x, y1, n);
                }
                assertArrayEquals(bits(y0), bits(y1), type + " shifted by " + shift + " bytes, n=" + n);
            }
        }
    }

    /**
     * RowKernel promises a summation order that depends only on cols, so a GEMV must give the same bits on its
     * first call as after the JIT has compiled it. A fresh class loader gives never-run copies of the kernels
     * (interpreted, where FloatVector.reduceLanes(ADD) is the Java fallback); the test's own copy is warmed up
     * until C2 has compiled it (reduceLanes intrinsified). Both read the very same weight bytes and activations.
     */
    @Test
    void sameBitsBeforeAndAfterJit() throws Exception {
        int rows = 40;
        List<String> mismatches = new ArrayList<>();
        URL classes = MatMul.class.getProtectionDomain().getCodeSource().getLocation();
        try (URLClassLoader fresh = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader())) {
            Class<?> freshTensor = fresh.loadClass(Tensor.class.getName());
            Class<?> freshDType = fresh.loadClass(DType.class.getName());
            var freshMatmul = fresh.loadClass(MatMul.class.getName())
                    .getMethod("matmul", freshTensor, float[].class, float[].class, int.class);
            var newTensor = freshTensor.getConstructor(freshDType, MemorySegment.class, long[].class);
            for (DType type : MATRIX_TYPES) {
                int cols = type.isBlockQuantized() ? 96 : 100;
                Random rnd = new Random(1234 + type.ordinal());
                Tensor w = KernelRefs.matrix(arena, type, rows, cols, KernelRefs.gaussian(rnd, rows * cols, 1));
                float[] x = KernelRefs.gaussian(rnd, cols, 1);
                Object coldW = newTensor.newInstance(freshDType.getMethod("valueOf", String.class)
                        .invoke(null, type.name()), w.data(), w.shape());
                float[] cold = new float[rows];
                try {
                    freshMatmul.invoke(null, coldW, x, cold, 1);
                } catch (InvocationTargetException e) {
                    throw (Exception) e.getCause();
                }
                float[] warm = new float[rows];
                for (int it = 0; it < WARM_CALLS; it++) MatMul.matmul(w, x, warm, 1);
                int differ = 0, first = -1;
                for (int r = 0; r < rows; r++) {
                    if (Float.floatToRawIntBits(cold[r]) != Float.floatToRawIntBits(warm[r])) {
                        if (differ++ == 0) first = r;
                    }
                }
                if (differ > 0) {
                    mismatches.add(type + ": " + differ + "/" + rows + " rows differ, e.g. row " + first + " cold "
                            + cold[first] + " warm " + warm[first]);
                }
            }
        }
        assertTrue(mismatches.isEmpty(), "first-call and compiled GEMV disagree: " + mismatches);
    }

    @Test
    void badShapesAreRejected() {
        Tensor w = KernelRefs.matrix(arena, F32, 4, 8, new float[32]);
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(w, new float[7], new float[4], 1));
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(w, new float[23], new float[12], 3));
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(w, new float[8], new float[3], 1));
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(w, new float[24], new float[11], 3));
        Tensor vector = Tensor.allocate(arena, F32, 8);
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(vector, new float[8], new float[1], 1));
        Tensor ints = Tensor.allocate(arena, DType.I32, 4, 8);
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(ints, new float[8], new float[4], 1));
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(ints, new float[16], new float[8], 2));
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }
}
