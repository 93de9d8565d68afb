package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The parts of CudaDevice and CudaAttention that need no GPU. */
class CudaDeviceStaticTest {
    @Test
    void hopperGetsItsArchitectureSpecificTarget() {
        assertEquals("sm_90a", CudaDevice.archFor(9, 0));
        assertEquals("sm_89", CudaDevice.archFor(8, 9));
        assertEquals("sm_100", CudaDevice.archFor(10, 0));
    }

    @Test
    void compileOptionsNameTheArchitectureAndEveryDefine() {
        List<String> o = CudaDevice.compileOptions("sm_90a", List.of("HEAD_DIM=128", "WTYPE=2"));
        assertEquals("--gpu-architecture=sm_90a", o.get(0));
        assertTrue(o.contains("-DHEAD_DIM=128") && o.contains("-DWTYPE=2"), o.toString());
    }

    @Test
    void everyKernelSourceIsInTheJarAndListsItsVariants() {
        for (String f : List.of("gemv.cu", "ops.cu", "attention.cu")) {
            String src = CudaDevice.source(f);
            assertTrue(src.startsWith("// variants: -D"), f + " must start with its nvcc variants");
            assertTrue(src.contains("extern \"C\" __global__"), f);
        }
    }

    @Test
    void decodeSplitsTheContextAndPrefillDoesNot() {
        assertEquals(1, CudaAttention.splits(2048, 32, 2048, 132), "prefill fills the GPU with queries alone");
        int decode = CudaAttention.splits(1, 32, 4096, 132);
        assertEquals(16, decode, "4096 positions in 256-position ranges");
        assertEquals(17, CudaAttention.splits(1, 32, 128 * 1024, 132), "enough blocks for 4 per SM");
        assertEquals(1, CudaAttention.splits(1, 32, 100, 132), "a short context stays whole");
    }

    @Test
    void failedCallsNameTheCallAndTheStatus() {
        assertEquals("cuMemAlloc_v2(1024 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)",
                new CudaException("cuMemAlloc_v2(1024 bytes)", 2, "CUDA_ERROR_OUT_OF_MEMORY").getMessage());
    }
}
