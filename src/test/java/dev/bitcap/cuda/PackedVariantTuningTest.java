package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import org.junit.jupiter.api.Test;

/** The opt-in packed decode variants' selection and launch arithmetic (no GPU needed). */
class PackedVariantTuningTest {
    private static DeviceMatrix packed(int rows, int cols, int bits, boolean affine) {
        int units = (cols + 31) / 32;
        DeviceMatrix.Packed p = new DeviceMatrix.Packed("test", bits, affine, affine ? 2 : 1, 4, (units + 3) / 4, 1, 1, 0, affine, 0);
        return new DeviceMatrix(1, DType.U8, rows, cols, (long) units * 4 * bits, p);
    }

    @Test
    void theEnvironmentValueNamesAVariantAndItsDepth() {
        assertEquals(CudaMatMul.PackedTuning.DEFAULT, CudaMatMul.PackedTuning.parse("staged"));
        CudaMatMul.PackedTuning wide = CudaMatMul.PackedTuning.parse("wide");
        assertEquals(CudaMatMul.Variant.WIDE, wide.variant());
        assertEquals(0, wide.depth());
        assertEquals(CudaMatMul.PackedTuning.DEFAULT.blocksPerSm(), wide.blocksPerSm());
        CudaMatMul.PackedTuning bulk = CudaMatMul.PackedTuning.parse(" Bulk:6 ");
        assertEquals(CudaMatMul.Variant.BULK, bulk.variant());
        assertEquals(6, bulk.depth());
        assertEquals(4, CudaMatMul.PackedTuning.parse("async").asyncStages());
        assertEquals(8, CudaMatMul.PackedTuning.parse("async:8").asyncStages());
        assertEquals(new CudaMatMul.PackedTuning(true, 2, 4), CudaMatMul.PackedTuning.parse("staged:2:4"));
        assertEquals(new CudaMatMul.PackedTuning(true, 4, 2, 0, CudaMatMul.Variant.STAGED, 4), CudaMatMul.PackedTuning.parse("staged:4:2:4"));
        CudaMatMul.PackedTuning persist = CudaMatMul.PackedTuning.parse("persist:6");
        assertEquals(CudaMatMul.Variant.PERSIST, persist.variant());
        assertEquals(6, persist.depth());
        assertEquals(0, persist.blocksPerSm(), "persist sizes its wave from the kernel's occupancy");
    }

    @Test
    void theTensorCoreKernelFitsTheLlamaRowsInSharedMemory() {
        // activation slots 128 x 144 bytes, 32 steps x 8, 8 x 16 sums, then 8 warps x 4 stages x 32 lanes x 32 bytes
        assertEquals(128 * 144 + 32 * 8 + 512 + 8 * 4 * 32 * 32, CudaMatMul.tensorCoreShared(4096, 4));
        assertTrue(CudaMatMul.tensorCoreShared(14336, 4) <= CudaMatMul.VARIANT_SHARED_LIMIT, "down_proj's 14336 columns fit");
        assertTrue(CudaMatMul.tensorCoreShared(14336 * 2, 4) > CudaMatMul.VARIANT_SHARED_LIMIT, "twice as many do not: the staged kernel runs");
    }

    @Test
    void aBadEnvironmentValueIsOneClearError() {
        for (String bad : new String[] {"fast", "wide:0", "wide:9", "bulk:x", "async:1", "staged:2", "staged:0:2", "staged:2:17", "staged:2:x", "persist:9", "wide:", "staged:4:2:0", "staged:4:2:9", "staged:4:2:"}) {
            BitcapException e = assertThrows(BitcapException.class, () -> CudaMatMul.PackedTuning.parse(bad), bad);
            assertTrue(e.getMessage().startsWith(CudaMatMul.PackedTuning.ENV + ": "), e.getMessage());
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }

    @Test
    void bulkCopiesNeedRowsOfWholeSixteenBytes() {
        for (int cols : new int[] {1, 96, 172, 2100, 4096, 8192}) {
            assertTrue(CudaMatMul.bulkRowsAligned(cols, 4), "int4 " + cols);
            assertTrue(CudaMatMul.bulkRowsAligned(cols, 8), "int8 " + cols);
        }
        assertFalse(CudaMatMul.bulkRowsAligned(96, 2)); // 3 units of 8 bytes
        assertTrue(CudaMatMul.bulkRowsAligned(172, 2)); // 6 units
        assertFalse(CudaMatMul.bulkRowsAligned(172, 3)); // 6 units of 12 bytes
        assertFalse(CudaMatMul.bulkRowsAligned(2100, 3)); // 66 units
        assertTrue(CudaMatMul.bulkRowsAligned(4096, 3));
    }

    @Test
    void theVariantKernelsCoverPackedRowsUpToFourActivations() {
        CudaMatMul.PackedTuning wide = CudaMatMul.PackedTuning.of(CudaMatMul.Variant.WIDE, 0, 0, 2);
        CudaMatMul.PackedTuning bulk = CudaMatMul.PackedTuning.of(CudaMatMul.Variant.BULK, 0, 0, 2);
        DeviceMatrix int4 = packed(77, 172, 4, true), int3 = packed(77, 172, 3, true);
        assertNull(CudaMatMul.variantKernel(CudaMatMul.PackedTuning.DEFAULT, int4, 1));
        assertEquals("gemv_wide_1", CudaMatMul.variantKernel(wide, int4, 1));
        assertEquals("gemv_wide_4", CudaMatMul.variantKernel(wide, int4, 3));
        assertNull(CudaMatMul.variantKernel(wide, int4, 5));
        assertEquals("gemv_bulk_1", CudaMatMul.variantKernel(bulk, int4, 1));
        assertEquals("gemv_bulk_4", CudaMatMul.variantKernel(bulk, int4, 4));
        assertNull(CudaMatMul.variantKernel(bulk, int3, 1)); // 72-byte rows: the staged kernel runs
        assertEquals("gemv_wide_1", CudaMatMul.variantKernel(wide, int3, 1));
        assertNull(CudaMatMul.variantKernel(new CudaMatMul.PackedTuning(false, 0, 2, 0, CudaMatMul.Variant.WIDE, 0), int4, 1)); // old kernels
    }

    @Test
    void theOneWaveKernelsTakeOneRowWhereTheRowFits() {
        CudaMatMul.PackedTuning p4 = CudaMatMul.PackedTuning.of(CudaMatMul.Variant.PERSIST, 0, 0, 0);
        DeviceMatrix down = packed(4096, 14336, 4, true);
        assertEquals("gemv_persist_1", CudaMatMul.variantKernel(p4, down, 1));
        assertNull(CudaMatMul.variantKernel(p4, down, 3)); // n = 1 only
        // 448 units of activations (64.5 KB) beside 8 rows' rings (128 KB) exceed the 112 KB: the staged kernel runs
        assertNull(CudaMatMul.variantKernel(CudaMatMul.PackedTuning.of(CudaMatMul.Variant.PERSIST, 0, 8, 0), down, 1));
        assertEquals("gemv_persist_1", CudaMatMul.variantKernel(p4, packed(77, 172, 3, true), 1)); // any row length: per-lane copies
        CudaMatMul.PackedTuning tc = CudaMatMul.PackedTuning.of(CudaMatMul.Variant.TC, 0, 0, 0);
        assertEquals("gemv_tc_1", CudaMatMul.variantKernel(tc, down, 1));
        assertNull(CudaMatMul.variantKernel(tc, packed(64, 4096, 3, true), 1)); // 4-bit INT codes only
        assertNull(CudaMatMul.variantKernel(tc, packed(64, 4096, 4, false), 1));
        assertNull(CudaMatMul.variantKernel(tc, packed(77, 172, 4, true), 1)); // whole 128-column steps only
        assertEquals(2 * 132, CudaMatMul.oneWaveBlocks(14336, 2, 132, 2));
        assertEquals(2 * 132, CudaMatMul.oneWaveBlocks(14336, 2, 132, 0));
        assertEquals(132, CudaMatMul.oneWaveBlocks(14336, 2, 132, 1));
        assertEquals(3, CudaMatMul.oneWaveBlocks(40, 2, 132, 2)); // 20 row groups in blocks of 8 warps
        assertEquals(1, CudaMatMul.oneWaveBlocks(1, 1, 132, 2));
    }

    @Test
    void theDefaultBulkRingsLeaveRoomForTheActivationsOfASlab() {
        for (int bits : new int[] {2, 3, 4, 8}) {
            for (boolean affine : new boolean[] {true, false}) {
                DeviceMatrix.Packed p = packed(64, 4096, bits, affine).packed();
                CudaMatMul.PackedTuning bulk = CudaMatMul.PackedTuning.of(CudaMatMul.Variant.BULK, 0, 0, 2);
                for (int n : new int[] {1, 4}) {
                    int rows = CudaMatMul.variantRows(bulk, p, n);
                    int nt = n == 1 ? 1 : 4;
                    int ring = CudaMatMul.bulkRingBytes(4, rows, bits);
                    String at = bits + " bits, affine " + affine + ", n " + n;
                    assertTrue(ring + 32 * nt * CudaMatMul.STAGED_UNIT_BYTES <= CudaMatMul.VARIANT_SHARED_LIMIT, at);
                    // two blocks per multiprocessor (228 KiB, 1 KiB reserved per block) with a 32-unit slab
                    assertTrue(2 * (ring + 32 * nt * CudaMatMul.STAGED_UNIT_BYTES + 1024) <= 228 * 1024, at);
                }
            }
        }
        // int4 INT codes at n = 1: 4 rows per warp, 8 warps, 4 steps of 32 units of 16 bytes, 8 warps x 4 mbarriers, alignment
        assertEquals(8 * 4 * 4 * 32 * 16 + 8 * 4 * 8 + 128, CudaMatMul.bulkRingBytes(4, 4, 4));
    }
}
