package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.NoCudaDriver;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** CUDA ranks on a machine without a driver: every rank fails to open its GPU, and the caller hears it, not a hang. */
class CudaRanksWithoutGpuTest {
    @BeforeAll
    static void onlyWithoutADriver() {
        NoCudaDriver.assume();
    }

    @Test
    void ranksThatCannotOpenTheGpuEndWithTheDriversOneLineSoon() {
        try (LoadedModel model = ModelLoader.load(dev.bitcap.model.synth.BuiltinModel.path(), null)) {
            long start = System.nanoTime();
            var e = assertThrows(BitcapException.class, () -> CudaRanks.run(model, new ParallelPlan(2, 2, 1, ExpertPlacement.CONTIGUOUS), 2,
                    60_000, f -> 0));
            assertTrue(e.getMessage().startsWith("no CUDA driver"), e.getMessage());
            assertTrue(System.nanoTime() - start < 15e9, "took " + (System.nanoTime() - start) / 1e9 + " s");
        }
    }

    @Test
    void aSplitTheModelCannotTakeIsRefusedBeforeAnyGpuIsOpened() {
        try (LoadedModel model = ModelLoader.load(dev.bitcap.model.synth.BuiltinModel.path(), null)) {
            int heads = model.config().heads();
            var e = assertThrows(BitcapException.class, () -> CudaRanks.run(model, new ParallelPlan(heads + 1, heads + 1, 1,
                    ExpertPlacement.CONTIGUOUS), heads + 1, 60_000, f -> 0));
            assertTrue(e.getMessage().contains("does not divide"), e.getMessage());
        }
    }
}
