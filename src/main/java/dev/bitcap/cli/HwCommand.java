package dev.bitcap.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import dev.bitcap.format.AtomicFiles;
import dev.bitcap.hw.CpuProbe;
import dev.bitcap.hw.DeviceSpec;
import dev.bitcap.hw.GpuProbe;
import dev.bitcap.hw.GpuProbeReport;
import dev.bitcap.hw.HardwareCatalog;
import dev.bitcap.hw.PointerChase;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "hw", mixinStandardHelpOptions = true,
        description = {"The hardware catalog (dense peak bandwidth and FLOPS per dtype, power, price) and this machine's measured figures:",
                "CPU read and STREAM-triad bandwidth, load latency by pointer chasing across sizes, fp32 vector FMA throughput;",
                "on a CUDA GPU also HBM/L2 bandwidth, latency across sizes and fp32/tensor-core throughput (mma.sync, wgmma)."})
final class HwCommand implements Callable<Integer> {
    /** Catalog id of the measured GPU (the measured CPU is {@link HardwareCatalog#LOCAL_CPU}). */
    static final String LOCAL_GPU = "gpu-local";

    @Option(names = "--catalog", paramLabel = "FILE", description = "a JSON catalog overlaid on the built-in one (same format; see docs/HARDWARE.md)")
    Path catalog;

    @Option(names = "--out", paramLabel = "FILE", description = "write the catalog and the measurements as JSON")
    Path out;

    @Option(names = "--no-probe", description = "print the catalog only; measure nothing")
    boolean noProbe;

    @Option(names = "--quick", description = "smaller buffers and fewer loads (seconds instead of tens of seconds)")
    boolean quick;

    @Option(names = "--max-chase-mb", paramLabel = "MB", description = "largest pointer-chase buffer in MiB (CPU: default 1024, 64 with --quick; GPU: 4096, 256 with --quick)")
    Integer maxChaseMb;

    @Option(names = "--device", paramLabel = "DEV",
            description = "what to measure: auto (the CPU, and GPU 0 when a CUDA device is there; default), cpu, or cuda (GPU 0 only)")
    String device = "auto";

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (catalog != null && !Files.isRegularFile(catalog)) throw new BitcapException("--catalog " + catalog + ": no such file");
        if (maxChaseMb != null && maxChaseMb < 1) throw new BitcapException("--max-chase-mb must be >= 1, got " + maxChaseMb);
        if (!List.of("auto", "cpu", "cuda").contains(device)) throw new BitcapException("--device must be auto, cpu or cuda, got '" + device + "'");
        HardwareCatalog cat = HardwareCatalog.load(catalog);
        CpuProbe.Result probe = null;
        if (!noProbe && !device.equals("cuda")) {
            CpuProbe.Options o = quick ? CpuProbe.Options.quick() : CpuProbe.Options.defaults();
            if (maxChaseMb != null) o = new CpuProbe.Options(o.bandwidthBytes(), (long) maxChaseMb << 20, o.loadsPerPoint(), o.fmaIterations());
            if (System.console() != null) System.err.println("measuring this CPU (bandwidth, FMA, pointer chase) ...");
            probe = CpuProbe.run(o);
            cat = cat.with(probe.asDevice(cat.get(HardwareCatalog.LOCAL_CPU)));
        }
        GpuProbe.Result gpu = null;
        String gpuStatus;
        if (noProbe) {
            gpuStatus = "not probed (--no-probe)";
        } else if (device.equals("cpu")) {
            gpuStatus = "not probed (--device cpu)";
        } else {
            GpuProbe.Options o = quick ? GpuProbe.Options.quick() : GpuProbe.Options.defaults();
            if (maxChaseMb != null) o = new GpuProbe.Options(o.bandwidthBytes(), (long) maxChaseMb << 20, o.loadsPerPoint(), o.fmaIters(),
                    o.mmaIters(), o.wgmmaIters(), o.runs(), o.tensorCores());
            try {
                if (System.console() != null) System.err.println("measuring GPU 0 (bandwidth, latency, fp32 and tensor-core throughput) ...");
                gpu = GpuProbe.run(0, o, line -> System.err.println("  " + line));
                gpuStatus = "measured";
                cat = cat.with(gpu.asDevice(LOCAL_GPU));
            } catch (BitcapException e) {
                if (device.equals("cuda")) throw e;
                gpuStatus = "not probed: " + e.getMessage();
            }
        }
        printCatalog(out, cat);
        out.println("gpu: " + gpuStatus);
        if (probe != null) printProbe(out, probe);
        if (gpu != null) GpuProbeReport.print(out, gpu);
        if (this.out != null) {
            Map<String, Object> json = toJson(cat, probe);
            json.put("gpu", gpuStatus);
            if (gpu != null) json.put("measured_gpu", GpuProbeReport.json(gpu));
            AtomicFiles.write(this.out, tmp -> new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), json));
            out.println("wrote " + this.out);
        }
        return 0;
    }

    private static void printCatalog(PrintWriter out, HardwareCatalog cat) {
        out.printf("%-13s %-4s %9s %8s %8s %8s %8s %8s %7s %9s%n", "device", "kind", "GB/s", "fp32", "fp16", "bf16", "fp8", "int8", "W", "price $");
        for (DeviceSpec d : cat.devices()) {
            out.printf("%-13s %-4s %9s %8s %8s %8s %8s %8s %7s %9s%n", d.id(), d.kind(), num(d.bandwidthGBs()), num(d.peakTflops().get("fp32")),
                    num(d.peakTflops().get("fp16")), num(d.peakTflops().get("bf16")), num(d.peakTflops().get("fp8")),
                    num(d.peakTflops().get("int8")), num(d.powerW()), num(d.priceUsd()));
        }
        out.println("(dense peaks; FLOPS columns in TFLOPS/TOPS; - = not in the catalog)");
    }

    private static void printProbe(PrintWriter out, CpuProbe.Result p) {
        out.println();
        out.printf("this machine: %s, %d threads, %d fp32 lanes per vector%n", p.cpu(), p.threads(), p.vectorLanes());
        out.printf("  read bandwidth      %8.1f GB/s%n", p.readGBs());
        out.printf("  STREAM triad        %8.1f GB/s%n", p.triadGBs());
        out.printf("  fp32 vector FMA     %8.1f GFLOP/s%n", p.fp32Gflops());
        out.println("  load latency by pointer chasing:");
        for (PointerChase.Point pt : p.latency()) out.printf("    %10s %8.2f ns%n", size(pt.bytes()), pt.nanosPerLoad());
        out.println("  steps (first size past twice the level below, within half of each level):");
        for (CpuProbe.LevelLatency l : p.levels()) {
            out.printf("    %-5s %10s %s%n", l.level(), l.cacheBytes() == 0 ? "" : size(l.cacheBytes()),
                    l.nanos() == null ? "not reached (raise --max-chase-mb)" : String.format("%.2f ns", l.nanos()));
        }
    }

    static Map<String, Object> toJson(HardwareCatalog cat, CpuProbe.Result p) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("date", OffsetDateTime.now().toString());
        List<Object> devices = new ArrayList<>();
        for (DeviceSpec d : cat.devices()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", d.id());
            m.put("name", d.name());
            m.put("kind", d.kind());
            m.put("bandwidth_gb_s", d.bandwidthGBs());
            m.put("peak_tflops", d.peakTflops());
            m.put("power_w", d.powerW());
            m.put("price_usd", d.priceUsd());
            m.put("source", d.source());
            devices.add(m);
        }
        json.put("catalog", devices);
        if (p != null) {
            Map<String, Object> cpu = new LinkedHashMap<>();
            cpu.put("cpu", p.cpu());
            cpu.put("threads", p.threads());
            cpu.put("vector_lanes_fp32", p.vectorLanes());
            cpu.put("read_gb_s", p.readGBs());
            cpu.put("stream_triad_gb_s", p.triadGBs());
            cpu.put("fp32_fma_gflop_s", p.fp32Gflops());
            List<Object> lat = new ArrayList<>();
            for (PointerChase.Point pt : p.latency()) lat.add(Map.of("bytes", pt.bytes(), "ns", pt.nanosPerLoad()));
            cpu.put("latency", lat);
            List<Object> levels = new ArrayList<>();
            for (CpuProbe.LevelLatency l : p.levels()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("level", l.level());
                m.put("cache_bytes", l.cacheBytes());
                m.put("ns", l.nanos());
                levels.add(m);
            }
            cpu.put("levels", levels);
            json.put("measured_cpu", cpu);
        }
        return json;
    }

    private static String num(Double v) {
        if (v == null) return "-";
        return v >= 100 ? String.format("%.0f", v) : String.format("%.1f", v);
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) return (bytes >> 30) + " GiB";
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) return (bytes >> 20) + " MiB";
        if (bytes >= 1L << 10 && bytes % (1L << 10) == 0) return (bytes >> 10) + " KiB";
        return bytes + " B";
    }
}
