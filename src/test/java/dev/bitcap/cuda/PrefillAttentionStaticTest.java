package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.BlockSelection;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The parts of the tensor-core prefill attention and the GPU gate that need no GPU. */
class PrefillAttentionStaticTest {
    @Test
    void blocksAndListRoomCoverEveryCausalBlock() {
        assertEquals(1, CudaSparseAttention.blocks(1));
        assertEquals(1, CudaSparseAttention.blocks(64));
        assertEquals(2, CudaSparseAttention.blocks(65));
        assertEquals(512, CudaSparseAttention.blocks(32768));
        // 3 query blocks have 1 + 2 + 3 causal blocks; per head.
        assertEquals(2 * 6, CudaSparseAttention.listInts(150, 2));
        assertEquals(32L * 2048 * 2049 / 2, CudaSparseAttention.listInts(131072, 32));
    }

    @Test
    void causalFlopsMatchTheFlashAttentionConvention() {
        // 25.1 ms at L = 32K, 32 heads, d = 128 is the H100 figure the issue quotes: about 350 TFLOP/s.
        double tflops = PrefillAttentionBench.causalFlops(32768, 32, 128) / 25.1e-3 / 1e12;
        assertEquals(350.5, tflops, 0.5);
    }

    @Test
    void toleranceIsTheUnitRoundoffOfTheWeightsTypePlusFp32Slack() {
        assertEquals(Math.pow(2, -11) + 1e-4, PrefillAttentionCheck.tolerance(false), 0);
        assertEquals(Math.pow(2, -8) + 1e-4, PrefillAttentionCheck.tolerance(true), 0);
    }

    @Test
    void onlyAWholePromptOfOneSequenceTakesTheSparsePrefill() {
        assertTrue(CudaSeerPrefill.serves(1, 0, 300));
        assertFalse(CudaSeerPrefill.serves(1, 0, 1), "a one-token prompt is decode");
        assertFalse(CudaSeerPrefill.serves(1, 10, 300), "a continuation would need blocks counted from its own start");
        assertFalse(CudaSeerPrefill.serves(2, 0, 300), "batched passes keep the dense kernel");
    }

    @Test
    void selectionReportsWhatWasAskedFor() {
        assertEquals(0.3, BlockSelection.density(0.3).density());
        assertTrue(Double.isNaN(BlockSelection.density(0.3).threshold()));
        assertEquals(0.01, BlockSelection.threshold(0.01).threshold());
        assertTrue(Double.isNaN(BlockSelection.threshold(0.01).density()));
    }

    @Test
    void kernelSourcesAreInTheJarAndListTheirVariants() {
        for (String f : List.of("flash_prefill.cu", "flash_prefill2.cu", "seer_gate.cu")) {
            String src = CudaDevice.source(f);
            assertTrue(src.startsWith("// variants: -D"), f + " must start with its nvcc variants");
            assertTrue(src.contains("extern \"C\" __global__"), f);
        }
    }

    @Test
    void theMeasuredKernelAndPickerStayTheDefaults() {
        assertEquals(CudaSparseAttention.Kernel.SWIZZLED, CudaSeerPrefill.kernelFrom(null));
        assertEquals(CudaSparseAttention.Kernel.SWIZZLED, CudaSeerPrefill.kernelFrom(" "));
        assertEquals(CudaSeerGate.Picker.RADIX, CudaSeerPrefill.pickerFrom(null));
        assertEquals(CudaSparseAttention.Kernel.BASE, CudaSeerPrefill.kernelFrom("base"));
        assertEquals(CudaSeerGate.Picker.SORT, CudaSeerPrefill.pickerFrom("SORT"));
        assertEquals(CudaSparseAttention.Kernel.WIDE, CudaSeerPrefill.kernelFrom("Wide"));
        assertEquals(CudaSparseAttention.Kernel.SWIZZLED, CudaSeerPrefill.kernelFrom("swizzled"));
        assertEquals(CudaSeerGate.Picker.RADIX, CudaSeerPrefill.pickerFrom("radix "));
    }

    @Test
    void theRadixPickerGivesWayToSortWhenItsScoreMatrixWouldBeTooLarge() {
        assertTrue(CudaSeerGate.radixFits(32, 2048), "128K positions, 32 heads: 512 MiB of scores");
        assertTrue(CudaSeerGate.radixFits(32, 5792));
        assertFalse(CudaSeerGate.radixFits(32, 5793), "just over 4 GiB");
        assertFalse(CudaSeerGate.radixFits(32, 8192), "512K positions");
    }

    @Test
    void anUnknownKernelOrPickerIsAOneLineError() {
        var k = assertThrows(BitcapException.class, () -> CudaSeerPrefill.kernelFrom("fast"));
        assertEquals("prefill kernel must be base, wide or swizzled, not 'fast'", k.getMessage());
        var p = assertThrows(BitcapException.class, () -> CudaSeerPrefill.pickerFrom("heap"));
        assertEquals("gate picker must be sort or radix, not 'heap'", p.getMessage());
    }

    @Test
    void sharedMemoryLetsEachKernelReachItsBlocksPerMultiprocessor() {
        // The H200 gives a multiprocessor 228 KiB of shared memory, 1 KiB of it reserved per block.
        int perSm = 228 * 1024;
        assertEquals(5 * 64 * 136 * 2, CudaSparseAttention.Kernel.BASE.smem(128));
        assertEquals(48 * 1024, CudaSparseAttention.Kernel.WIDE.smem(128), "three unpadded 64 x 128 tiles");
        assertTrue(4 * (CudaSparseAttention.Kernel.WIDE.smem(128) + 1024) <= perSm, "WIDE runs 4 blocks of 2 warps an SM");
        assertTrue(2 * (CudaSparseAttention.Kernel.SWIZZLED.smem(128) + 1024) <= perSm);
        assertTrue(2 * (CudaSparseAttention.Kernel.BASE.smem(128) + 1024) <= perSm);
    }

    @Test
    void benchRowsNameOnlyWhatDiffersFromTheDefaults() {
        assertEquals("", PrefillAttentionBench.suffix(CudaSparseAttention.Kernel.SWIZZLED, CudaSeerGate.Picker.RADIX));
        assertEquals("", PrefillAttentionBench.suffix(CudaSparseAttention.Kernel.SWIZZLED, null));
        assertEquals("/wide", PrefillAttentionBench.suffix(CudaSparseAttention.Kernel.WIDE, CudaSeerGate.Picker.RADIX));
        assertEquals("/sort", PrefillAttentionBench.suffix(CudaSparseAttention.Kernel.SWIZZLED, CudaSeerGate.Picker.SORT));
        assertEquals("/base/sort", PrefillAttentionBench.suffix(CudaSparseAttention.Kernel.BASE, CudaSeerGate.Picker.SORT));
    }

    @Test
    void theVariantKernelFileCompilesEveryKernelTheJavaSideCanAskFor() {
        String src = CudaDevice.source("flash_prefill2.cu");
        String variants = src.lines().findFirst().orElseThrow();
        assertTrue(variants.contains("WARP_ROWS=32") && variants.contains("WARP_ROWS=16"), variants);
        assertTrue(src.contains("flash_prefill_v2("), "the function CudaSparseAttention.Kernel launches");
        String gate = CudaDevice.source("seer_gate.cu");
        assertTrue(gate.contains("gate_scores(") && gate.contains("gate_pick(") && gate.contains("gate_select("), "both pickers' kernels");
    }
}
