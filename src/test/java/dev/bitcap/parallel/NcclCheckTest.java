package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaDriver;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The NCCL check where it cannot run: one line saying what is missing, no stack trace, no worker left behind. */
class NcclCheckTest {
    @Test
    void withoutAGpuTheCheckIsOneLine() {
        boolean gpu;
        try {
            gpu = CudaDriver.get().deviceCount() > 0;
        } catch (BitcapException none) {
            gpu = false;
        }
        Assumptions.assumeFalse(gpu, "a GPU is present: the check would run for real");
        BitcapException e = assertThrows(BitcapException.class, () -> NcclCheck.run(1, System.out));
        assertTrue(e.getMessage().startsWith("no CUDA"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertThrows(BitcapException.class, () -> NcclCheck.run(0, System.out));
    }
}
