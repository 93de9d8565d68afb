package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
        for (String f : List.of("flash_prefill.cu", "seer_gate.cu")) {
            String src = CudaDevice.source(f);
            assertTrue(src.startsWith("// variants: -D"), f + " must start with its nvcc variants");
            assertTrue(src.contains("extern \"C\" __global__"), f);
        }
    }
}
