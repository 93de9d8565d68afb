package dev.bitcap.hw;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The GPU probes' figures as a printed table and as the {@code measured_gpu} object of {@code bitcap hw --out}. */
public final class GpuProbeReport {
    private GpuProbeReport() {}

    public static void print(PrintWriter out, GpuProbe.Result r) {
        out.println();
        out.printf(Locale.ROOT, "GPU: %s, %s, %d SMs, %s memory, L2 %s; driver clock %.0f MHz; HBM %.0f MHz x %d bits = %.0f GB/s theoretical%n",
                r.device(), r.arch(), r.multiprocessors(), size(r.memoryBytes()), size(r.l2Bytes()), r.clockRateMhz(), r.memoryClockMhz(),
                r.busWidthBits(), r.theoreticalGBs());
        out.printf("  %-22s %14s %10s  %s%n", "bandwidth", "GB/s", "buffer", "status");
        for (GpuProbe.Bandwidth b : r.bandwidth()) {
            out.printf(Locale.ROOT, "  %-22s %14s %10s  %s%n", b.name(), b.gbPerS() == null ? "-" : String.format(Locale.ROOT, "%.1f", b.gbPerS()),
                    b.bytes() == 0 ? "" : size(b.bytes()), b.status());
        }
        out.printf("  %-22s %14s %10s %12s  %s%n", "compute", "TFLOP/s|TOP/s", "clock MHz", "per SM/clk", "status");
        for (GpuProbe.Throughput t : r.compute()) {
            out.printf(Locale.ROOT, "  %-22s %14s %10s %12s  %s%n", t.name(), t.ok() ? String.format(Locale.ROOT, "%.1f", t.value()) : "-",
                    t.ok() ? String.format(Locale.ROOT, "%.0f", t.clockMhz()) : "-", t.ok() ? String.format(Locale.ROOT, "%.0f", t.perSmPerClock()) : "-",
                    t.status());
        }
        out.println("  (per SM/clk: FLOPs or OPs per SM per cycle at the clock measured during the run)");
        out.println("  load latency by pointer chasing (one thread, dependent loads, scrambled 128-byte slots):");
        if (!r.latencyStatus().equals("ok")) out.println("    " + r.latencyStatus());
        for (GpuProbe.LatencyPoint p : r.latency()) out.printf(Locale.ROOT, "    %10s %8.1f cycles %8.1f ns%n", size(p.bytes()), p.cycles(), p.nanos());
        for (GpuProbe.Level l : r.levels()) {
            out.printf(Locale.ROOT, "    %-5s %s%n", l.level(), l.cycles() == null ? "not reached"
                    : String.format(Locale.ROOT, "%.1f cycles, %.1f ns", l.cycles(), l.nanos()));
        }
    }

    public static Map<String, Object> json(GpuProbe.Result r) {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("device", r.device());
        g.put("arch", r.arch());
        g.put("multiprocessors", r.multiprocessors());
        g.put("memory_bytes", r.memoryBytes());
        g.put("l2_bytes", r.l2Bytes());
        g.put("driver_clock_mhz", r.clockRateMhz());
        g.put("memory_clock_mhz", r.memoryClockMhz());
        g.put("bus_width_bits", r.busWidthBits());
        g.put("theoretical_gb_s", r.theoreticalGBs());
        for (GpuProbe.Bandwidth b : r.bandwidth()) {
            g.put(b.name() + "_gb_s", b.gbPerS());
            g.put(b.name() + "_bytes", b.bytes());
            g.put(b.name() + "_status", b.status());
        }
        List<Object> compute = new ArrayList<>();
        for (GpuProbe.Throughput t : r.compute()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", t.name());
            m.put("instruction", t.instruction());
            m.put("dtype", t.dtype());
            m.put("unit", t.unit());
            m.put("value", t.value());
            m.put("clock_mhz", t.clockMhz());
            m.put("per_sm_per_clock", t.perSmPerClock());
            m.put("detail", t.detail());
            m.put("status", t.status());
            compute.add(m);
        }
        g.put("compute", compute);
        List<Object> lat = new ArrayList<>();
        for (GpuProbe.LatencyPoint p : r.latency()) lat.add(Map.of("bytes", p.bytes(), "cycles", p.cycles(), "ns", p.nanos()));
        g.put("latency", lat);
        g.put("latency_status", r.latencyStatus());
        List<Object> levels = new ArrayList<>();
        for (GpuProbe.Level l : r.levels()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("level", l.level());
            m.put("cache_bytes", l.bytes());
            m.put("cycles", l.cycles());
            m.put("ns", l.nanos());
            levels.add(m);
        }
        g.put("levels", levels);
        return g;
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) != 0) return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 30) return (bytes >> 30) + " GiB";
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) return (bytes >> 20) + " MiB";
        if (bytes >= 1L << 10 && bytes % (1L << 10) == 0) return (bytes >> 10) + " KiB";
        if (bytes >= 1L << 20) return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        return bytes + " B";
    }
}
