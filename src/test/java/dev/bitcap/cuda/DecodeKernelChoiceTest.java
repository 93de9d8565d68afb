package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaPagedAttention.DecodeKernel;
import java.util.List;
import org.junit.jupiter.api.Test;

class DecodeKernelChoiceTest {
    private static final List<DecodeKernel> INT = List.of(DecodeKernel.FOLDED_T, DecodeKernel.FOLDED, DecodeKernel.FOLDED_32, DecodeKernel.PER_ELEMENT);

    @Test
    void theEnvironmentNamesAKernelOfTheFormat() {
        assertEquals(DecodeKernel.FOLDED_T, CudaPagedAttention.chosenKernel(INT, "int4", null));
        assertEquals(DecodeKernel.FOLDED_T, CudaPagedAttention.chosenKernel(INT, "int4", " "));
        assertEquals(DecodeKernel.FOLDED, CudaPagedAttention.chosenKernel(INT, "int4", "folded"));
        assertEquals(DecodeKernel.FOLDED_32, CudaPagedAttention.chosenKernel(INT, "int4", "folded-32"));
        assertEquals(DecodeKernel.PER_ELEMENT, CudaPagedAttention.chosenKernel(INT, "int2", " per-element "));
    }

    @Test
    void aKernelTheFormatLacksIsOneClearLine() {
        BitcapException e = assertThrows(BitcapException.class,
                () -> CudaPagedAttention.chosenKernel(List.of(DecodeKernel.PER_ELEMENT), "fp16", "folded"));
        assertEquals("BITCAP_KV_DECODE: fp16 decodes with per-element, got 'folded'", e.getMessage());
        e = assertThrows(BitcapException.class, () -> CudaPagedAttention.chosenKernel(INT, "int4", "fast"));
        assertTrue(e.getMessage().contains("folded-t, folded, folded-32, per-element"), e.getMessage());
    }
}
