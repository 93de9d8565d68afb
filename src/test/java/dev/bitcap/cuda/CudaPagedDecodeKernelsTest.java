package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every decode kernel the check and bench select by name exists in kv_attention.cu with the launch shape they use. */
class CudaPagedDecodeKernelsTest {
    private static Pattern global(String nameAndParams) {
        return Pattern.compile("extern \"C\" __global__ void __launch_bounds__\\(128(, [A-Z_0-9]+(\\(\\d\\))?)?\\) " + nameAndParams);
    }

    @Test
    void everyDecodeKernelIsAGlobalOf128Threads() {
        String src = CudaDevice.source("kv_attention.cu");
        for (CudaPagedAttention.DecodeKernel k : CudaPagedAttention.DecodeKernel.values()) {
            // 128 threads, with or without the folded kernels' blocks-per-SM bound
            assertTrue(global(k.function + "\\(").matcher(src).find(), k.function);
            assertTrue(global(k.sparseFunction + "\\(SPARSE_PARAMS\\)").matcher(src).find(), k.sparseFunction);
        }
        // the pass path's kernels take the layer and add its ring offset themselves
        assertTrue(src.contains("kv_ring_store(const long long* __restrict__ rows, const float* __restrict__ kPass,\n"
                + "        const float* __restrict__ vPass, int kvDim, int layer, int blockTokens)"));
    }
}
