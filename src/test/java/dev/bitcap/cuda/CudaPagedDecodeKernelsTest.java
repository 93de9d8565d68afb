package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every decode kernel the check and bench select by name exists in kv_attention.cu with the launch shape they use. */
class CudaPagedDecodeKernelsTest {
    /** A global of 128 threads, with or without a minimum of blocks per multiprocessor (the folded kernels have one). */
    private static boolean isGlobalOf128(String src, String function, String params) {
        return Pattern.compile("extern \"C\" __global__ void __launch_bounds__\\(128(, \\w+\\(\\d\\))?\\) " + Pattern.quote(function + "(" + params))
                .matcher(src).find();
    }

    @Test
    void everyDecodeKernelIsAGlobalOf128Threads() {
        String src = CudaDevice.source("kv_attention.cu");
        for (CudaPagedAttention.DecodeKernel k : CudaPagedAttention.DecodeKernel.values()) {
            for (String f : new String[] {k.function, k.wideFunction}) assertTrue(isGlobalOf128(src, f, ""), f);
            for (String f : new String[] {k.sparseFunction, k.wideSparseFunction}) assertTrue(isGlobalOf128(src, f, "SPARSE_PARAMS)"), f);
        }
        // the pass path's kernels take the layer and add its ring offset themselves
        assertTrue(src.contains("kv_ring_store(const long long* __restrict__ rows, const float* __restrict__ kPass,\n"
                + "        const float* __restrict__ vPass, int kvDim, int layer, int blockTokens)"));
    }

    @Test
    void onlyTheTransposedKernelHasASecondInstanceForMoreThanEightHeads() {
        for (CudaPagedAttention.DecodeKernel k : CudaPagedAttention.DecodeKernel.values()) {
            if (k == CudaPagedAttention.DecodeKernel.FOLDED_T) {
                assertEquals("kv_decode_folded_t16", k.wideFunction);
                assertEquals("kv_decode_folded_t16_sparse", k.wideSparseFunction);
            } else {
                assertEquals(k.function, k.wideFunction);
                assertEquals(k.sparseFunction, k.wideSparseFunction);
            }
        }
    }
}
