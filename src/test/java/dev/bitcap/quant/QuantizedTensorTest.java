package dev.bitcap.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Packing, dequantization and the fused kernels against references computed here in double. */
class QuantizedTensorTest {
    private static final double U = 0x1p-24;

    private static float[] gaussian(Random r, int n, double scale) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) (r.nextGaussian() * scale);
        return w;
    }

    @Test
    void packedCodesReadBackAsWritten() {
        Random r = new Random(7);
        int rows = 3, cols = 172;
        for (QuantFormat f : QuantFormats.all()) {
            GroupQuantized q = RtnQuantizer.quantize(f, gaussian(r, rows * cols, 1), rows, cols, 128, "w");
            try (Arena arena = Arena.ofShared()) {
                QuantizedTensor t = QuantizedTensor.pack(q, null, arena);
                long rowBytes = PackedCodes.rowBytes(f.codeBits(), cols);
                assertEquals(rows * rowBytes, t.codes().byteSize());
                assertEquals(0, t.codes().address() % 64);
                for (int row = 0; row < rows; row++) {
                    for (int c = 0; c < cols; c++) {
                        assertEquals(q.codes()[row * cols + c], PackedCodes.code(t.codes(), f.codeBits(), row * rowBytes, c), f.name());
                    }
                    int padCode = PackedCodes.code(t.codes(), f.codeBits(), row * rowBytes, cols + 5);
                    assertEquals(0f, f.decode(padCode, q.params(), (row * q.groups() + 1) * f.paramCount()), 0.5 * q.params()[(row * q.groups() + 1) * f.paramCount()], f.name() + " padding");
                }
                float[] d = t.dequantize();
                for (int i = 0; i < d.length; i++) assertEquals(q.dequantize(i / cols, i % cols), d[i], f.name());
            }
        }
    }

    @Test
    void byteLayoutMatchesTheDocumentation() {
        int[] codes = new int[32];
        for (int j = 0; j < 32; j++) codes[j] = (j * 5 + 3) & 7;
        java.lang.foreign.MemorySegment s = Arena.ofAuto().allocate(16);
        PackedCodes.writeUnit(3, codes, s, 0);
        for (int k = 0; k < 8; k++) {
            int expect = (codes[k] & 3) | (codes[k + 8] & 3) << 2 | (codes[k + 16] & 3) << 4 | (codes[k + 24] & 3) << 6;
            assertEquals(expect, Byte.toUnsignedInt(s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, k)));
        }
        int high = 0;
        for (int j = 0; j < 32; j++) high |= (codes[j] >> 2) << j;
        for (int k = 0; k < 4; k++) assertEquals(high >>> 8 * k & 0xFF, Byte.toUnsignedInt(s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 8 + k)));
        for (int j = 0; j < 32; j++) codes[j] = (j * 7 + 1) & 15;
        PackedCodes.writeUnit(4, codes, s, 0);
        for (int k = 0; k < 16; k++) assertEquals(codes[k] | codes[k + 16] << 4, Byte.toUnsignedInt(s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, k)));
    }

    /** Checks y against the double reference of x · dequantize()ᵀ with the rounding bound of the kernel's sums. */
    private static void checkProduct(QuantizedTensor t, float[] x, int n, float[] y, String what) {
        int rows = (int) t.rows(), cols = (int) t.cols();
        float[] w = t.dequantize();
        boolean scalar = t.kernel() instanceof PackedScalarRows;
        int groups = GroupQuantized.groupsPerRow(cols, t.groupSize());
        // Each lane of a vector kernel sums cols/32 products (plus a product per group for 8-bit group scaling),
        // then 5 tree levels; the scalar kernel sums left to right. Each product, and the activation times an
        // input scale, adds one rounding; dequantize()'s own rounding of value * input scale adds one more.
        double terms = scalar ? cols + 3 : cols / 32.0 + groups + 10;
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

    private static void checkShape(int rows, int cols, int group, boolean withScale, long seed, int... batches) {
        Random r = new Random(seed);
        float[] w = gaussian(r, rows * cols, 0.05);
        float[] scale = null;
        if (withScale) {
            scale = new float[cols];
            for (int c = 0; c < cols; c++) scale[c] = (float) (0.5 + r.nextDouble());
        }
        for (QuantFormat f : QuantFormats.all()) {
            GroupQuantized q = RtnQuantizer.quantize(f, w, rows, cols, group, "w");
            try (Arena arena = Arena.ofShared()) {
                QuantizedTensor t = QuantizedTensor.pack(q, scale, arena);
                String what = f.name() + " " + rows + "x" + cols + " " + t.storage();
                float[] x9 = gaussian(r, 9 * cols, 1);
                float[] y9 = new float[9 * rows];
                t.matmul(x9, y9, 9);
                checkProduct(t, x9, 9, y9, what + " n=9");
                for (int n : batches) {
                    float[] y = new float[n * rows];
                    t.matmul(x9, y, n);
                    checkProduct(t, x9, n, y, what + " n=" + n);
                    // the same activation row gives the same bits whatever the batch
                    for (int i = 0; i < n * rows; i++) assertEquals(y9[i], y[i], what + " batch " + n + " vs 9, index " + i);
                }
            }
        }
    }

    @Test
    void productMatchesReferenceShortLastGroup() {
        checkShape(7, 172, 128, false, 1, 1, 2, 3, 4, 5, 6, 7, 8);
    }

    @Test
    void productMatchesReferencePerChannelWithInputScale() {
        checkShape(5, 172, -1, true, 2, 1, 2, 3, 4, 5, 6, 7, 8);
        checkShape(4, 256, 64, true, 3, 1, 3, 4, 7);
    }

    @Test
    void productMatchesReferenceOverSeveralGemmBlocks() {
        checkShape(40, 4128, 128, false, 4, 1, 5);
    }

    @Test
    void unitActivationPicksOutExactWeights() {
        Random r = new Random(5);
        int rows = 6, cols = 200;
        float[] w = gaussian(r, rows * cols, 1);
        for (QuantFormat f : QuantFormats.all()) {
            try (Arena arena = Arena.ofShared()) {
                QuantizedTensor t = QuantizedTensor.pack(RtnQuantizer.quantize(f, w, rows, cols, 64, "w"), null, arena);
                float[] d = t.dequantize();
                for (int c = 0; c < cols; c += 1 + r.nextInt(12)) {
                    float[] x = new float[cols];
                    x[c] = 1;
                    float[] y = new float[rows];
                    t.matmul(x, y, 1);
                    for (int row = 0; row < rows; row++) assertEquals(d[row * cols + c], y[row], 0f, f.name() + " column " + c);
                }
            }
        }
    }

    @Test
    void scalarKernelAgreesWithReference() {
        Random r = new Random(6);
        int rows = 9, cols = 100;
        float[] w = gaussian(r, rows * cols, 1);
        for (QuantFormat f : QuantFormats.all()) {
            try (Arena arena = Arena.ofShared()) {
                QuantizedTensor t = QuantizedTensor.pack(RtnQuantizer.quantize(f, w, rows, cols, 64, "w"), null, arena);
                PackedScalarRows k = new PackedScalarRows(t);
                float[] x = gaussian(r, 4 * 128, 1);
                float[] xr = new float[4 * cols];
                for (int tk = 0; tk < 4; tk++) {
                    for (int c = 0; c < cols; c++) xr[tk * cols + c] = x[tk * 128 + c];
                    for (int c = cols; c < 128; c++) x[tk * 128 + c] = 0;
                }
                float[] y = new float[4 * rows], four = new float[4];
                for (int row = 0; row < rows; row++) {
                    k.dot4(row, x, 0, 128, four);
                    for (int tk = 0; tk < 4; tk++) {
                        y[tk * rows + row] = four[tk];
                        assertEquals(four[tk], k.dot1(row, x, tk * 128), 0f);
                    }
                }
                float[] d = t.dequantize();
                for (int tk = 0; tk < 4; tk++) {
                    for (int row = 0; row < rows; row++) {
                        double ref = 0, abs = 0;
                        for (int c = 0; c < cols; c++) {
                            ref += (double) d[row * cols + c] * xr[tk * cols + c];
                            abs += Math.abs((double) d[row * cols + c] * xr[tk * cols + c]);
                        }
                        assertEquals(ref, y[tk * rows + row], (cols + 2) * U * abs, f.name());
                    }
                }
            }
        }
    }

    @Test
    void reportsSizeAndStorage() {
        try (Arena arena = Arena.ofShared()) {
            QuantizedTensor t = QuantizedTensor.pack(RtnQuantizer.quantize(QuantFormats.byName("int4-asym"), new float[4 * 256], 4, 256, 128, "w"), null, arena);
            assertEquals(4 * 256 / 2 + 4 * 2 * 2 * 2, t.byteSize());
            assertEquals("int4-asym g128", t.storage());
            QuantizedTensor pc = QuantizedTensor.pack(RtnQuantizer.quantize(QuantFormats.byName("int8-asym"), new float[4 * 256], 4, 256, -1, "w"), new float[256], arena);
            assertEquals(4 * 256 + 4 * 2 * 2 + 256 * 4, pc.byteSize());
            assertEquals("int8-asym per-channel", pc.storage());
        }
    }

    @Test
    void rejectsSegmentsOfTheWrongSize() {
        try (Arena arena = Arena.ofShared()) {
            QuantFormat f = QuantFormats.byName("nf4");
            assertThrows(BitcapException.class, () -> new QuantizedTensor(f, 4, 256, 128, arena.allocate(511), arena.allocate(16), null));
            assertThrows(BitcapException.class, () -> new QuantizedTensor(f, 4, 256, 128, arena.allocate(512), arena.allocate(15), null));
            assertThrows(BitcapException.class, () -> new QuantizedTensor(f, 4, 256, 48, arena.allocate(512), arena.allocate(16), null));
            assertThrows(BitcapException.class, () -> new QuantizedTensor(f, 4, 256, 128, arena.allocate(512), arena.allocate(16), new float[255]));
            assertArrayEquals(new float[0], new float[0]);
        }
    }
}
