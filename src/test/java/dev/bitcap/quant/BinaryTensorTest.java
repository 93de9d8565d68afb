package dev.bitcap.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The binary layout, its storage arithmetic and the fused kernel against references computed here in double. */
class BinaryTensorTest {
    private static final double U = 0x1p-24;

    /** Random planes: every sign, every state the field can hold (unused ones included), random salient columns. */
    static BinaryQuantized random(Random rnd, int rows, int cols, int keptPer8, int regions) {
        int bits = BinaryLayout.stateBits(keptPer8, regions);
        boolean[] salient = new boolean[cols];
        for (int c = 0; c < cols; c++) salient[c] = rnd.nextInt(8) == 0;
        byte[] signs = new byte[rows * cols], states = new byte[rows * cols];
        for (int i = 0; i < signs.length; i++) {
            states[i] = (byte) rnd.nextInt(1 << bits);
            signs[i] = (byte) (BinaryLayout.pruned(keptPer8) && states[i] == 0 ? 0 : rnd.nextInt(2));
        }
        float[] params = new float[rows * BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(regions)];
        for (int i = 0; i < params.length; i++) params[i] = Fp16.round((float) (rnd.nextGaussian() * 0.05));
        return new BinaryQuantized(rows, cols, keptPer8, regions, salient, signs, states, params);
    }

    @Test
    void bitsPerWeightByHand() {
        // 4096x4096 BiLLM dense: sign + 1 state bit, 7 fp16 per 128, salient bitmap 4096 bits
        assertEquals(2 + 7 * 16 / 128.0 + 4096 / (4096.0 * 4096), BinaryLayout.bitsPerWeight(4096, 4096, 8, 2), 1e-12);
        // BiLLM 4:8 needs a pruned state: 2 state bits
        assertEquals(3 + 7 * 16 / 128.0 + 4096 / (4096.0 * 4096), BinaryLayout.bitsPerWeight(4096, 4096, 4, 2), 1e-12);
        // STBLLM: 3 regions, 9 fp16 per block; 6:8 and dense cost the same (2 state bits either way)
        assertEquals(3 + 9 * 16 / 128.0 + 4096 / (4096.0 * 4096), BinaryLayout.bitsPerWeight(4096, 4096, 6, 3), 1e-12);
        assertEquals(BinaryLayout.bitsPerWeight(4096, 4096, 6, 3), BinaryLayout.bitsPerWeight(4096, 4096, 8, 3), 0);
        // stories260K w2: 64 x 172, padded to 192 columns, 2 blocks (128 + 44)
        double bits = 64 * 192 * 3 + 64 * 2 * 9 * 16 + 192;
        assertEquals(bits / (64 * 172), BinaryLayout.bitsPerWeight(64, 172, 4, 3), 1e-12);
        // and the bytes a tensor holds are those bits
        try (Arena arena = Arena.ofConfined()) {
            BinaryTensor t = BinaryTensor.pack(random(new Random(1), 64, 172, 4, 3), arena);
            assertEquals((long) bits / 8, t.byteSize());
            assertEquals(bits / (64 * 172), t.bitsPerWeight(), 1e-12);
        }
    }

    @Test
    void byteLayoutMatchesTheDocumentation() {
        Random rnd = new Random(3);
        int rows = 3, cols = 70;
        for (int[] kr : new int[][] {{8, 2}, {5, 3}}) {
            BinaryQuantized q = random(rnd, rows, cols, kr[0], kr[1]);
            int bits = BinaryLayout.stateBits(kr[0], kr[1]);
            try (Arena arena = Arena.ofConfined()) {
                BinaryTensor t = BinaryTensor.pack(q, arena);
                long signRow = BinaryLayout.signBytesPerRow(cols), stateRow = BinaryLayout.stateBytesPerRow(cols, bits);
                assertEquals(12, signRow);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < 96; c++) {
                        int word = t.signs().get(PackedCodes.I32, r * signRow + 4L * (c / 32));
                        int sign = c < cols ? q.signs()[r * cols + c] : 0;
                        assertEquals(sign, (word >>> (c % 32)) & 1, "sign " + r + "," + c);
                        long st = bits == 2 ? t.states().get(PackedCodes.I64, r * stateRow + 8L * (c / 32))
                                : t.states().get(PackedCodes.I32, r * stateRow + 4L * (c / 32)) & 0xFFFFFFFFL;
                        int state = c < cols ? q.states()[r * cols + c] : 0;
                        assertEquals(state, (int) (st >>> (bits * (c % 32))) & ((1 << bits) - 1), "state " + r + "," + c);
                    }
                }
                for (int c = 0; c < cols; c++) {
                    int word = t.salient().get(PackedCodes.I32, 4L * (c / 32));
                    assertEquals(q.salient()[c] ? 1 : 0, (word >>> (c % 32)) & 1);
                }
                assertEquals(Float.floatToFloat16(q.params()[5]), t.params().get(PackedCodes.I16, 10));
                BinaryQuantized back = t.unpack();
                assertArrayEquals(q.signs(), back.signs());
                assertArrayEquals(q.states(), back.states());
                assertArrayEquals(q.params(), back.params());
                assertArrayEquals(q.salient(), back.salient());
            }
        }
    }

    @Test
    void decodedValuesFollowTheTable() {
        float[] p = {0.1f, 0.02f, -0.3f, 0.05f, 1.0f, 0.25f, 0.125f}; // R = 2: μ0 α0 μ1 α1 μs α1 α2
        assertEquals(0.1f + 0.02f, BinaryQuantized.value(p, 0, 8, 2, false, 0, true));
        assertEquals(-0.3f - 0.05f, BinaryQuantized.value(p, 0, 8, 2, false, 1, false));
        assertEquals(1.0f - 0.25f + 0.125f, BinaryQuantized.value(p, 0, 8, 2, true, 1, false));
        assertEquals(1.0f + 0.25f - 0.125f, BinaryQuantized.value(p, 0, 8, 2, true, 0, true));
        // with pruning, state 0 is 0 and the rest shift up by one
        assertEquals(0f, BinaryQuantized.value(p, 0, 4, 2, false, 0, true));
        assertEquals(0f, BinaryQuantized.value(p, 0, 4, 2, true, 0, true));
        assertEquals(-0.3f + 0.05f, BinaryQuantized.value(p, 0, 4, 2, false, 2, true));
        assertEquals(1.0f + 0.25f + 0.125f, BinaryQuantized.value(p, 0, 4, 2, true, 2, true));
        assertEquals(0f, BinaryQuantized.value(p, 0, 4, 2, false, 3, true), "an unused state decodes to 0");
    }

    /** y against the double reference of x · dequantize()ᵀ with the rounding bound of the kernel's sums. */
    private static void checkProduct(BinaryTensor t, float[] x, int n, float[] y, String what) {
        int rows = (int) t.rows(), cols = (int) t.cols();
        float[] w = t.dequantize();
        // vector kernel: each lane sums cols/32 products, then 5 tree levels; the scalar one sums left to right
        double terms = t.vectorKernel() ? cols / 32.0 + 8 : cols + 3;
        for (int tk = 0; tk < n; tk++) {
            for (int r = 0; r < rows; r++) {
                double ref = 0, abs = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) w[r * cols + c] * x[tk * cols + c];
                    ref += p;
                    abs += Math.abs(p);
                }
                double tol = (terms + 3) * U * abs * 1.01 + 1e-37;
                double err = Math.abs(y[tk * rows + r] - ref);
                assertTrue(err <= tol, what + " token " + tk + " row " + r + ": " + y[tk * rows + r] + " vs " + ref + " (error " + err + " > " + tol + ")");
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"7, 172, 8, 2", "7, 172, 4, 2", "9, 172, 8, 3", "5, 172, 6, 3", "40, 64, 5, 3", "3, 300, 4, 3", "33, 33, 8, 2"})
    void productMatchesDequantizedReference(int rows, int cols, int keptPer8, int regions) {
        Random rnd = new Random(rows * 31L + cols);
        BinaryQuantized q = random(rnd, rows, cols, keptPer8, regions);
        try (Arena arena = Arena.ofShared()) {
            BinaryTensor t = BinaryTensor.pack(q, arena);
            assertArrayEquals(q.dequantizeAll(), t.dequantize());
            float[] x = new float[17 * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[] y17 = new float[17 * rows];
            t.matmul(x, y17, 17);
            checkProduct(t, x, 17, y17, t + " n=17");
            for (int n : new int[] {1, 3, 4}) {
                float[] y = new float[n * rows];
                t.matmul(x, y, n);
                checkProduct(t, x, n, y, t + " n=" + n);
                // the same activation row gives the same bits whatever the batch
                for (int i = 0; i < n * rows; i++) assertEquals(y17[i], y[i], t + " batch " + n + " vs 17, index " + i);
            }
        }
    }

    @Test
    void scalarPathMatchesTheVectorPath() {
        Random rnd = new Random(9);
        int rows = 6, cols = 172;
        for (int[] kr : new int[][] {{8, 2}, {4, 2}, {8, 3}, {6, 3}}) {
            try (Arena arena = Arena.ofShared()) {
                BinaryTensor t = BinaryTensor.pack(random(rnd, rows, cols, kr[0], kr[1]), arena);
                BinaryRows scalar = new BinaryRows(t, false);
                float[] w = t.dequantize();
                int stride = 192;
                float[] x = new float[4 * stride];
                for (int k = 0; k < 4; k++) for (int c = 0; c < cols; c++) x[k * stride + c] = (float) rnd.nextGaussian();
                float[] four = new float[4];
                for (int r = 0; r < rows; r++) {
                    scalar.dot4(r, x, 0, stride, four);
                    for (int k = 0; k < 4; k++) {
                        double ref = 0, abs = 0;
                        for (int c = 0; c < cols; c++) {
                            ref += (double) w[r * cols + c] * x[k * stride + c];
                            abs += Math.abs((double) w[r * cols + c] * x[k * stride + c]);
                        }
                        assertEquals(ref, four[k], (cols + 6) * U * abs * 1.01 + 1e-37, t + " row " + r);
                        assertEquals(scalar.dot1(r, x, k * stride), four[k]);
                    }
                }
            }
        }
    }

    @Test
    void segmentsOfTheWrongSizeAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            BinaryTensor t = BinaryTensor.pack(random(new Random(2), 4, 64, 4, 3), arena);
            MemorySegment shortParams = t.params().asSlice(0, t.params().byteSize() - 2);
            BitcapException e = assertThrows(BitcapException.class,
                    () -> new BinaryTensor(4, 64, 4, 3, t.signs(), t.states(), shortParams, t.salient()));
            assertTrue(e.getMessage().contains("binary tensor 4x64"), e.getMessage());
            assertThrows(BitcapException.class, () -> new BinaryTensor(4, 64, 9, 3, t.signs(), t.states(), t.params(), t.salient()));
            assertThrows(BitcapException.class, () -> new BinaryTensor(4, 64, 4, 4, t.signs(), t.states(), t.params(), t.salient()));
        }
    }
}
