package dev.bitcap.hw;

import dev.bitcap.tensor.MemoryBandwidth;
import dev.bitcap.tensor.Parallel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Measures the CPU bitcap runs on: read and STREAM-triad bandwidth (the kernels' own vector loads and thread pool),
 * load latency by pointer chasing across buffer sizes with the step of each cache level picked out, and peak fp32
 * FMA throughput through the Vector API.
 */
public final class CpuProbe {
    /** @param bandwidthBytes buffer for the bandwidth probes; make it several times the last-level cache */
    public record Options(long bandwidthBytes, long maxChaseBytes, long loadsPerPoint, long fmaIterations) {
        public static Options defaults() {
            return new Options(1L << 30, 1L << 30, 2_000_000, 20_000_000);
        }

        /** Smaller buffers and fewer loads: seconds instead of tens of seconds, for a quick ceiling before a run. */
        public static Options quick() {
            return new Options(512L << 20, 64L << 20, 300_000, 5_000_000);
        }
    }

    /** The latency of one cache level (null if no swept size fell within it). */
    public record LevelLatency(String level, long cacheBytes, Double nanos) {}

    public record Result(String cpu, int threads, int vectorLanes, double readGBs, double triadGBs, double fp32Gflops,
                         List<PointerChase.Point> latency, List<LevelLatency> levels) {
        /** The catalog's local-CPU entry with these figures as its peaks. */
        public DeviceSpec asDevice(DeviceSpec local) {
            return local.withMeasured(readGBs, Map.of("fp32", fp32Gflops / 1e3));
        }
    }

    private CpuProbe() {}

    public static Result run(Options o) {
        double read = MemoryBandwidth.measureRead(o.bandwidthBytes(), 5);
        double triad = MemoryBandwidth.measureTriad(o.bandwidthBytes(), 5);
        double fma = VectorFma.measure(o.fmaIterations(), 3);
        List<PointerChase.Point> chase = PointerChase.sweep(16L << 10, o.maxChaseBytes(), o.loadsPerPoint());
        return new Result(cpuName(), Parallel.threads(), VectorFma.lanes(), read / 1e9, triad / 1e9, fma / 1e9, chase,
                levels(CacheLevels.read(), chase));
    }

    /**
     * Each level's latency: the first swept size that is at least twice the level below (so the smaller cache no
     * longer holds it) and at most half of this one. The first size past a step, not the slowest: on a virtual machine
     * the reported L3 may be the host's, and the largest sizes below it mostly measure TLB misses.
     */
    static List<LevelLatency> levels(List<CacheLevels.Level> caches, List<PointerChase.Point> chase) {
        List<LevelLatency> out = new ArrayList<>();
        long below = 0;
        for (CacheLevels.Level c : caches) {
            out.add(new LevelLatency(c.name(), c.bytes(), firstIn(chase, 2 * below, c.bytes() / 2)));
            below = c.bytes();
        }
        out.add(new LevelLatency("DRAM", 0, caches.isEmpty() ? null : firstIn(chase, 2 * below, Long.MAX_VALUE)));
        return out;
    }

    private static Double firstIn(List<PointerChase.Point> chase, long atLeast, long atMost) {
        for (PointerChase.Point p : chase) {
            if (p.bytes() >= atLeast && p.bytes() <= atMost) return p.nanosPerLoad();
        }
        return null;
    }

    /** The CPU model name the OS reports. */
    public static String cpuName() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).strip();
            }
        } catch (java.io.IOException ignored) {
            // not Linux: the OS name below will do
        }
        return System.getProperty("os.arch") + " (" + System.getProperty("os.name") + ")";
    }
}
