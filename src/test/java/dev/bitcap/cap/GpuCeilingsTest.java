package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.hw.GpuProbeStaticTest;
import org.junit.jupiter.api.Test;

/** A cap run on cuda divides by GPU 0's measured HBM read bandwidth and its best figure for the compute dtype. */
class GpuCeilingsTest {
    @Test
    void ceilingsComeFromTheMeasuredFigures() {
        Ceilings fp16 = GpuCeilings.of(GpuProbeStaticTest.result(), "fp16");
        assertEquals(4256.2e9, fp16.bytesPerSecond(), 1);
        assertEquals(810.5e12, fp16.flopsPerSecond(), 1); // wgmma, the faster of the two fp16 probes
        assertEquals("measured cuda fp16 (NVIDIA H200)", fp16.label());
        Ceilings fp32 = GpuCeilings.of(GpuProbeStaticTest.result(), "fp32");
        assertTrue(Double.isNaN(fp32.flopsPerSecond()), "no fp32 probe ran in this result");
    }

    @Test
    void planPicksTheCeilingsOfTheConfigurationsDevice() {
        Ceilings cpu = new Ceilings("measured cpu fp32", 1e10, 1e11), gpu = new Ceilings("measured cuda fp32", 4e12, 5e13);
        CapPlan plan = new CapPlan(null, null, null, new Workload(8, 4, java.util.List.of(1), null, 1, 7), java.util.List.of(), CountingMode.PAPER,
                new CostModel(CostModel.Formula.AMORTISED, 3, 1, 0.15, 1), dev.bitcap.hw.HardwareCatalog.load(null).get("h200"), "fp32", cpu, 1, 8,
                null, 1, 8, gpu, null);
        assertEquals(gpu, plan.measuredFor("cuda"));
        assertEquals(cpu, plan.measuredFor("cpu"));
    }
}
