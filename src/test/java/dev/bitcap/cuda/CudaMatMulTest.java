package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The launch arithmetic of the staged GEMV kernels (no GPU needed). */
class CudaMatMulTest {
    private static final int SMS = 132, SHARED = CudaMatMul.STAGED_SHARED_LIMIT;

    @Test
    void slabsAreWholeWarpsOfUnitsAndFitTheSharedMemory() {
        for (int units : new int[] {1, 6, 31, 32, 33, 66, 128, 448, 1000}) {
            for (int rowBlocks : new int[] {1, 7, 32, 128, 448}) {
                for (int nt : new int[] {1, 4, 8}) {
                    for (int bps : new int[] {0, 2, 4, 16}) {
                        int slab = CudaMatMul.slabUnits(units, rowBlocks, 1, nt, SMS, bps, SHARED);
                        String at = units + " units, " + rowBlocks + " row blocks, nt " + nt + ", " + bps + " per SM: " + slab;
                        assertEquals(0, slab % 32, at);
                        assertTrue(slab == 32 || slab * nt * CudaMatMul.STAGED_UNIT_BYTES <= SHARED, at);
                        int slabs = (units + slab - 1) / slab;
                        assertTrue(slabs >= 1 && (slabs - 1) * slab < units, at);
                    }
                }
            }
        }
    }

    @Test
    void slabsSpreadFewRowBlocksOverTheMultiprocessors() {
        // 4096 rows in 128 blocks of 32, 448 units (14336 columns), 4 blocks per SM wanted: 5 slabs of 96 units.
        assertEquals(96, CudaMatMul.slabUnits(448, 128, 1, 1, SMS, 4, SHARED));
        // Enough row blocks already: one slab, as wide as the shared memory allows (320 units of 144 bytes).
        assertEquals(128, CudaMatMul.slabUnits(128, 1792, 1, 1, SMS, 4, SHARED));
        assertEquals(320, CudaMatMul.slabUnits(448, 1792, 1, 1, SMS, 0, SHARED));
        // Eight activation rows stage 8x the bytes per unit: at most 32 units per slab.
        assertEquals(32, CudaMatMul.slabUnits(448, 1792, 1, 8, SMS, 0, SHARED));
    }
}
