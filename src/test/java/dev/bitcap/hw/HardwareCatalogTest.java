package dev.bitcap.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HardwareCatalogTest {
    @TempDir Path dir;

    @Test
    void builtInCatalogHasTheIssuesDevicesWithDensePeaks() {
        HardwareCatalog cat = HardwareCatalog.load(null);
        for (String id : List.of("h100-sxm", "h100-pcie", "h200", "a100-sxm-40", "a100-sxm-80", "l40s", "rtx-4090", "b200", "mi300x", "cpu-local")) {
            cat.get(id);
        }
        DeviceSpec h100 = cat.get("h100-sxm");
        assertEquals(3.35e12, h100.bandwidthBytesPerSecond(), 1);
        assertEquals(989.4e12, h100.flopsPerSecond("bf16"), 1e6); // dense: the datasheet's 1,979 with sparsity, halved
        assertTrue(Double.isNaN(h100.flopsPerSecond("fp4")));
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(191.25 * cores, cat.get("cpu-local").priceUsd(), 1e-9);
    }

    @Test
    void userFileOverridesFieldsAndAddsDevices() throws IOException {
        Path f = dir.resolve("mine.json");
        Files.writeString(f, """
                {"devices": [{"id": "h100-sxm", "price_usd": 25000},
                             {"id": "my-box", "name": "my box", "kind": "cpu", "bandwidth_gb_s": 100, "peak_tflops": {"fp32": 2}, "power_w": 200, "price_usd": 3000}]}
                """);
        HardwareCatalog cat = HardwareCatalog.load(f);
        assertEquals(25000, cat.get("h100-sxm").priceUsd());
        assertEquals(700, cat.get("h100-sxm").powerW()); // kept from the built-in entry
        assertEquals(2e12, cat.get("my-box").flopsPerSecond("fp32"), 1);
    }

    @Test
    void badCatalogNamesTheKey() throws IOException {
        Path f = dir.resolve("bad.json");
        Files.writeString(f, "{\"devices\": [{\"id\": \"x\", \"bandwith_gb_s\": 1}]}");
        BitcapException e = assertThrows(BitcapException.class, () -> HardwareCatalog.load(f));
        assertTrue(e.getMessage().contains("devices[0].bandwith_gb_s"), e.getMessage());
        Files.writeString(f, "{\"devices\": [{\"id\": \"x\", \"peak_tflops\": {\"fp32\": \"fast\"}}]}");
        e = assertThrows(BitcapException.class, () -> HardwareCatalog.load(f));
        assertTrue(e.getMessage().contains("devices[0].peak_tflops.fp32"), e.getMessage());
        assertThrows(BitcapException.class, () -> HardwareCatalog.load(null).get("tpu"));
    }

    @Test
    void pointerChaseVisitsEveryLineOncePerLap() {
        int lines = 1000;
        int[] next = PointerChase.permutationCycle(lines, new SplittableRandom(3));
        Set<Integer> seen = new HashSet<>();
        int p = 0;
        for (int i = 0; i < lines; i++) {
            assertTrue(p % 16 == 0 && seen.add(p), "line " + p / 16 + " visited twice before the lap ended");
            p = next[p];
        }
        assertEquals(0, p, "one cycle through all lines");
    }

    @Test
    void cacheLevelStepsPickTheFirstSizePastEachStep() {
        List<PointerChase.Point> chase = List.of(new PointerChase.Point(16 << 10, 1.0), new PointerChase.Point(32 << 10, 1.2),
                new PointerChase.Point(128 << 10, 4.0), new PointerChase.Point(1 << 20, 5.0), new PointerChase.Point(4 << 20, 30.0),
                new PointerChase.Point(64 << 20, 80.0), new PointerChase.Point(1L << 30, 90.0));
        List<CpuProbe.LevelLatency> levels = CpuProbe.levels(List.of(new CacheLevels.Level("L1d", 48 << 10), new CacheLevels.Level("L2", 2 << 20),
                new CacheLevels.Level("L3", 256L << 20)), chase);
        // L1d 48K: 16K (32K is past half of it); L2 2M: 128K, the first size ≥ 96K; L3: 4M; DRAM: the first size ≥ 512M
        assertEquals(List.of(1.0, 4.0, 30.0, 90.0), levels.stream().map(CpuProbe.LevelLatency::nanos).toList());
        assertEquals(49152, CacheLevels.parseSize("48K"));
        assertEquals(491520L << 10, CacheLevels.parseSize("491520K"));
    }
}
