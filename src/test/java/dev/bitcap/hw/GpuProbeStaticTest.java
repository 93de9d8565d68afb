package dev.bitcap.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The parts of the GPU probes that need no GPU: level picking, the arch gate, the catalog entry and the JSON. */
public class GpuProbeStaticTest {
    /** The H200's pointer-chase curve from docs/runs/2026-12-02-hwgpu-hw.json (cycles per load, 16 KiB doubling to 4 GiB). */
    static final double[] H200_CYCLES = {32.0, 32.0, 32.0, 32.0, 154.2, 275.3, 276.4, 276.4, 276.4, 276.5, 276.6, 400.4, 598.2, 572.2, 654.4,
            654.2, 657.7, 663.4, 664.3};

    public static List<GpuProbe.LatencyPoint> h200Curve() {
        List<GpuProbe.LatencyPoint> points = new ArrayList<>();
        long size = 16L << 10;
        for (double c : H200_CYCLES) {
            points.add(new GpuProbe.LatencyPoint(size, c, c / 1.98));
            size *= 2;
        }
        return points;
    }

    @Test
    void levelsPickL1TheNearL2AndDramWellPastTheL2() {
        List<GpuProbe.Level> levels = GpuProbe.levels(h200Curve(), 60L << 20);
        assertEquals(List.of("L1", "L2", "DRAM"), levels.stream().map(GpuProbe.Level::level).toList());
        assertEquals(32.0, levels.get(0).cycles());
        assertEquals(276.4, levels.get(1).cycles()); // 1 MiB: past the 256 KiB L1, in the near half of the L2
        assertEquals(654.4, levels.get(2).cycles()); // 256 MiB, not 128 MiB where half the lines still hit the L2
    }

    @Test
    void aShortSweepLeavesTheLevelsItDidNotReachEmpty() {
        List<GpuProbe.Level> levels = GpuProbe.levels(h200Curve().subList(0, 4), 60L << 20);
        assertEquals(32.0, levels.get(0).cycles());
        assertNull(levels.get(1).cycles());
        assertNull(levels.get(2).cycles());
    }

    @Test
    void wgmmaRunsOnSm90aOnlyAndFp8MmaNeedsAda() {
        TensorCoreProbe.Kind wgmma = TensorCoreProbe.KINDS.stream().filter(k -> k.name().equals("wgmma fp16")).findFirst().orElseThrow();
        TensorCoreProbe.Kind fp8 = TensorCoreProbe.KINDS.stream().filter(k -> k.name().equals("mma.sync fp8 e4m3")).findFirst().orElseThrow();
        assertNull(TensorCoreProbe.unsupported(wgmma, "sm_90a"));
        assertTrue(TensorCoreProbe.unsupported(wgmma, "sm_100").contains("wgmma needs sm_90a"));
        assertNull(TensorCoreProbe.unsupported(fp8, "sm_89"));
        assertTrue(TensorCoreProbe.unsupported(fp8, "sm_80").contains("needs sm_89+"));
        assertEquals(2L * 64 * 256 * 16, wgmma.flopsPerInstruction());
    }

    @Test
    void theCatalogEntryTakesHbmReadAndTheBestFigurePerDtypeAndSkipsFailures() {
        GpuProbe.Result r = result();
        DeviceSpec d = r.asDevice("gpu-local");
        assertEquals(4256.2, d.bandwidthGBs());
        assertEquals(810.5, d.peakTflops().get("fp16")); // wgmma beats mma.sync
        assertEquals(628.8, d.peakTflops().get("fp8")); // the failed wgmma fp8 is not a figure
        assertEquals(4814.4, r.theoreticalGBs(), 0.1); // 2 x 3201 MHz x 6016 bits / 8
        Map<String, Object> json = GpuProbeReport.json(r);
        assertEquals(4256.2, json.get("hbm_read_gb_s"));
        assertEquals("failed: cuLaunchKernel failed", ((Map<?, ?>) ((List<?>) json.get("compute")).get(3)).get("status"));
        assertEquals("139.8 GiB", GpuProbeReport.size(150_109_880_320L)); // the H200's cuDeviceTotalMem
        assertEquals("60 MiB", GpuProbeReport.size(60L << 20));
    }

    public static GpuProbe.Result result() {
        List<GpuProbe.Throughput> compute = List.of(
                GpuProbe.Throughput.measured("mma.sync fp16", "mma", "fp16", 521.4, 1734, 132, 521.4e12, ""),
                GpuProbe.Throughput.measured("wgmma fp16", "wgmma", "fp16", 810.5, 1703, 132, 810.5e12, ""),
                GpuProbe.Throughput.measured("mma.sync fp8 e4m3", "mma", "fp8", 628.8, 1788, 132, 628.8e12, ""),
                GpuProbe.Throughput.failed("wgmma fp8 e4m3", "wgmma", "fp8", "TFLOP/s", "failed: cuLaunchKernel failed"));
        return new GpuProbe.Result("NVIDIA H200", "sm_90a", 132, 150_323_855_360L, 60L << 20, 1980, 3201, 6016,
                List.of(GpuProbe.Bandwidth.ok("hbm_read", 4L << 30, 4256.2)), h200Curve(), "ok", GpuProbe.levels(h200Curve(), 60L << 20), compute);
    }
}
