package dev.bitcap.hw;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.CudaDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Measures a CUDA GPU: HBM and L2 bandwidth, load latency across sizes, fp32 FMA and tensor-core throughput per
 * instruction and dtype, each with the SM clock it ran at (read from the GPU's own cycle counter against its global
 * timer, so no nvidia-smi is needed). A probe that fails to compile or run is reported with its reason and the
 * others still run.
 */
public final class GpuProbe {
    // CUdevice_attribute values (cuda.h)
    static final int ATTR_CLOCK_RATE_KHZ = 13, ATTR_MEMORY_CLOCK_KHZ = 36, ATTR_BUS_WIDTH_BITS = 37, ATTR_L2_BYTES = 38;

    /**
     * @param bandwidthBytes HBM buffer; several GiB, many times the L2
     * @param maxChaseBytes  largest pointer-chase buffer (from 16 KiB, doubling)
     */
    public record Options(long bandwidthBytes, long maxChaseBytes, long loadsPerPoint, int fmaIters, int mmaIters, int wgmmaIters, int runs,
                          boolean tensorCores) {
        public static Options defaults() {
            return new Options(4L << 30, 4L << 30, 200_000, 2_000, 1_000, 1_000, 5, true);
        }

        /** Smaller buffers, fewer loads and iterations: about a second of GPU time, for the ceilings before a run. */
        public static Options quick() {
            return new Options(1L << 30, 256L << 20, 50_000, 500, 200, 200, 3, true);
        }
    }

    /** A bandwidth figure, or the reason there is none. */
    public record Bandwidth(String name, long bytes, Double gbPerS, String status) {
        static Bandwidth ok(String name, long bytes, double gbPerS) {
            return new Bandwidth(name, bytes, gbPerS, "ok");
        }
    }

    public record LatencyPoint(long bytes, double cycles, double nanos) {}

    /** The latency at one level of the hierarchy: the swept point chosen for it, null where no size fell in it. */
    public record Level(String level, long bytes, Double cycles, Double nanos) {}

    /**
     * A throughput figure in {@link #unit} (TFLOP/s, or TOP/s for int8), the SM clock measured over the run, and the
     * work per SM per clock at that clock (2·M·N·K per instruction), or the reason there is none.
     */
    public record Throughput(String name, String instruction, String dtype, String unit, Double value, Double clockMhz,
                             Double perSmPerClock, String detail, String status) {
        static Throughput measured(String name, String instruction, String dtype, double value, double clockMhz, int sms, double perSecond,
                                   String detail) {
            String unit = dtype.equals("int8") ? "TOP/s" : "TFLOP/s";
            return new Throughput(name, instruction, dtype, unit, value, clockMhz, perSecond / (clockMhz * 1e6) / sms, detail, "ok");
        }

        static Throughput failed(String name, String instruction, String dtype, String unit, String why) {
            return new Throughput(name, instruction, dtype, unit, null, null, null, "", why);
        }

        public boolean ok() {
            return value != null;
        }
    }

    public record Result(String device, String arch, int multiprocessors, long memoryBytes, long l2Bytes, double clockRateMhz,
                         double memoryClockMhz, int busWidthBits, List<Bandwidth> bandwidth, List<LatencyPoint> latency, String latencyStatus,
                         List<Level> levels, List<Throughput> compute) {
        /** The theoretical HBM bandwidth from the driver's memory clock and bus width (double data rate), GB/s. */
        public double theoreticalGBs() {
            return 2 * memoryClockMhz * 1e6 * busWidthBits / 8 / 1e9;
        }

        public Double bandwidth(String name) {
            return bandwidth.stream().filter(b -> b.name().equals(name)).map(Bandwidth::gbPerS).findFirst().orElse(null);
        }

        /** The best measured throughput for {@code dtype} (TFLOP/s or TOP/s), over all instructions; null if none ran. */
        public Double best(String dtype) {
            return compute.stream().filter(t -> t.ok() && t.dtype().equals(dtype)).map(Throughput::value).max(Double::compare).orElse(null);
        }

        /** A catalog entry with the measured figures as its peaks (HBM read bandwidth; best throughput per dtype). */
        public DeviceSpec asDevice(String id) {
            Map<String, Double> peaks = new LinkedHashMap<>();
            for (String dtype : List.of("fp32", "fp16", "bf16", "fp8", "int8")) {
                Double v = best(dtype);
                if (v != null) peaks.put(dtype, v);
            }
            Double bw = bandwidth("hbm_read");
            return new DeviceSpec(id, device + " (measured)", "gpu", bw, peaks, null, null, "bitcap hw GPU probes");
        }
    }

    private GpuProbe() {}

    /**
     * Opens CUDA device {@code ordinal} and runs the probes, telling {@code progress} one line per probe as it ends (so
     * a run cut short still shows how far it got); no driver or no device is a one-line {@link BitcapException}.
     */
    public static Result run(int ordinal, Options o, Consumer<String> progress) {
        try (CudaDevice device = CudaDevice.open(ordinal)) {
            return run(device, ordinal, o, progress);
        }
    }

    static Result run(CudaDevice device, int ordinal, Options o, Consumer<String> progress) {
        CudaDriver d = device.driver();
        int handle = d.device(ordinal);
        long l2 = d.attribute(handle, ATTR_L2_BYTES);
        double clockMhz = d.attribute(handle, ATTR_CLOCK_RATE_KHZ) / 1e3, memMhz = d.attribute(handle, ATTR_MEMORY_CLOCK_KHZ) / 1e3;
        int bus = d.attribute(handle, ATTR_BUS_WIDTH_BITS);
        // buffers of at most a quarter of the free memory (a power of two), so a smaller GPU runs the same probes
        long quarter = Long.highestOneBit(Math.max(1L << 20, device.memoryInfo()[0] / 4));
        long hbmBytes = Math.min(o.bandwidthBytes(), quarter), chaseBytes = Math.min(o.maxChaseBytes(), quarter);
        List<Bandwidth> bandwidth = new ArrayList<>();
        List<LatencyPoint> latency = List.of();
        String latencyStatus = "ok";
        List<Throughput> compute = new ArrayList<>();
        try (GpuTimer timer = new GpuTimer(device)) {
            GpuMemoryProbe memory = null;
            String memoryFailure = null;
            try {
                memory = new GpuMemoryProbe(device, timer);
            } catch (RuntimeException e) {
                memoryFailure = "failed: " + message(e);
            }
            GpuMemoryProbe m = memory;
            long l2Buffer = Math.max(1L << 20, Long.highestOneBit(Math.max(1, l2 / 2))); // a power of two within half the L2
            if (m == null) {
                for (String n : List.of("hbm_read", "hbm_write", "hbm_copy", "l2_read")) bandwidth.add(new Bandwidth(n, 0, null, memoryFailure));
                latencyStatus = memoryFailure;
                compute.add(Throughput.failed("fp32 FMA (CUDA cores)", "fma.rn.f32", "fp32", "TFLOP/s", memoryFailure));
            } else {
                bandwidth.addAll(attempt(() -> m.hbm(hbmBytes, o.runs()), e -> {
                    List<Bandwidth> failed = new ArrayList<>();
                    for (String n : List.of("hbm_read", "hbm_write", "hbm_copy")) failed.add(new Bandwidth(n, hbmBytes, null, e));
                    return failed;
                }));
                int reps = (int) Math.max(1, (8L << 30) / l2Buffer);
                bandwidth.add(attempt(() -> m.l2Read(l2Buffer, reps, o.runs()), e -> new Bandwidth("l2_read", l2Buffer, null, e)));
                for (Bandwidth b : bandwidth) progress.accept(b.name() + ": " + (b.gbPerS() == null ? b.status() : String.format("%.1f GB/s", b.gbPerS())));
                if (chaseBytes >= 16L << 10) {
                    try {
                        latency = m.latency(16L << 10, chaseBytes, o.loadsPerPoint(), 2 * l2);
                    } catch (RuntimeException e) {
                        latencyStatus = "failed: " + message(e);
                    }
                    progress.accept("latency: " + latency.size() + " sizes, " + latencyStatus);
                } else {
                    latencyStatus = "not run";
                }
                compute.add(attempt(() -> m.fma(o.fmaIters(), o.runs()),
                        e -> Throughput.failed("fp32 FMA (CUDA cores)", "fma.rn.f32", "fp32", "TFLOP/s", e)));
                progress.accept(describe(compute.getLast()));
            }
            if (o.tensorCores()) {
                TensorCoreProbe tc = new TensorCoreProbe(device, timer);
                for (TensorCoreProbe.Kind k : TensorCoreProbe.KINDS) {
                    int iters = k.wgmma() ? o.wgmmaIters() : o.mmaIters();
                    compute.add(attempt(() -> tc.run(k, iters, o.runs()), e -> Throughput.failed(k.name(), k.instruction(), k.dtype(), k.unit(), e)));
                    progress.accept(describe(compute.getLast()));
                }
            }
        }
        return new Result(device.name(), device.arch(), device.multiprocessors(), device.totalMemory(), l2, clockMhz, memMhz, bus, bandwidth,
                latency, latencyStatus, levels(latency, l2), compute);
    }

    private static String describe(Throughput t) {
        return t.name() + ": " + (t.ok() ? String.format("%.1f %s at %.0f MHz", t.value(), t.unit(), t.clockMhz()) : t.status());
    }

    /** The result of {@code probe}, or {@code failed} applied to "failed: reason" when it throws. */
    private static <T> T attempt(Supplier<T> probe, java.util.function.Function<String, T> failed) {
        try {
            return probe.get();
        } catch (RuntimeException e) {
            return failed.apply("failed: " + message(e));
        }
    }

    private static String message(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    /**
     * L1: the smallest size (16 KiB; any L1 holds it). L2: the first size from 1 MiB (four times the largest L1 of
     * these parts) to half the L2 (Hopper's L2 is two partitions; lines in the far one take longer, see
     * docs/HARDWARE.md). DRAM: the first size at least four times the L2 (at twice the L2, half the lines still
     * hit it: the H200 measured 572 cycles at 128 MiB against 654 from 256 MiB on).
     */
    static List<Level> levels(List<LatencyPoint> points, long l2Bytes) {
        List<Level> out = new ArrayList<>();
        out.add(level("L1", 0, points, 0, 16L << 10));
        out.add(level("L2", l2Bytes, points, 1L << 20, l2Bytes / 2));
        out.add(level("DRAM", 0, points, 4 * l2Bytes, Long.MAX_VALUE));
        return out;
    }

    private static Level level(String name, long bytes, List<LatencyPoint> points, long atLeast, long atMost) {
        for (LatencyPoint p : points) {
            if (p.bytes() >= atLeast && p.bytes() <= atMost) return new Level(name, bytes, p.cycles(), p.nanos());
        }
        return new Level(name, bytes, null, null);
    }

    /** {@code count} u64 values copied from device memory (after the stream's work). */
    static long[] longs(CudaDevice device, long pointer, int count) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8L * count, 8);
            device.synchronize();
            device.driver().copyToHost(s, pointer, 8L * count);
            return s.toArray(JAVA_LONG);
        }
    }

    /** {@code count} 32-bit values copied from device memory (after the stream's work). */
    static int[] ints(CudaDevice device, long pointer, int count) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * count, 8);
            device.synchronize();
            device.driver().copyToHost(s, pointer, 4L * count);
            return s.toArray(JAVA_INT);
        }
    }
}
