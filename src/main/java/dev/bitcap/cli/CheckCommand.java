package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaCheck;
import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.CudaDriver;
import dev.bitcap.cuda.CudaLibraries;
import dev.bitcap.cuda.GemvBench;
import dev.bitcap.cuda.PrefillAttentionBench;
import dev.bitcap.cuda.PrefillAttentionCheck;
import dev.bitcap.cuda.Nvrtc;
import dev.bitcap.cuda.SeerDecodeCheck;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Run every CUDA path against the CPU path and print a pass/fail table (exit 1 if a row fails, 2 without a GPU).")
final class CheckCommand implements Callable<Integer> {
    @Option(names = "--device", defaultValue = "cuda", paramLabel = "DEVICE", description = "the device to check: cuda (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--data", paramLabel = "DIR", description = "the shared data folder (default: $BITCAP_SHARED_DATA, else ../shared/data)")
    Path data;

    @Option(names = "--cuda-lib-dir", paramLabel = "DIR", description = "folder holding the CUDA libraries (default: $BITCAP_CUDA_LIB_DIR, then the usual places)")
    Path cudaLibDir;

    @Option(names = "--fixture", split = ",", paramLabel = "NAME", description = "run only these Hugging Face fixtures' rows (tiny-llama, tiny-mixtral, tiny-qwen2moe, tiny-qwen3moe)")
    java.util.List<String> fixtures;

    @Option(names = "--gemv-bench", description = "after the checks, time the decode GEMV at Llama-3-8B shapes against a device copy")
    boolean gemvBench;

    @Option(names = "--prefill-bench", description = "after the checks, time tensor-core prefill attention, dense and block-sparse with the gate, at L = 8K/32K/128K")
    boolean prefillBench;

    @Option(names = "--prefill-lengths", split = ",", paramLabel = "L", defaultValue = "8192,32768,131072",
            description = "sequence lengths the prefill benchmark runs (default: ${DEFAULT-VALUE})")
    int[] prefillLengths;

    @Option(names = "--prefill-only", description = "run only the prefill-attention and SeerAttention gate check rows (and benchmark), not the model checks")
    boolean prefillOnly;

    @Option(names = "--seer-decode", description = "run only the SeerAttention-R decode gate rows (GPU key cache, scores and block lists against the CPU gate)")
    boolean seerDecode;

    @Option(names = "--seer-decode-bench", description = "time one layer of SeerAttention-R decode (gate + block-sparse "
            + "kernel) against dense decode of the same paged cache: 32/8 heads, d 128, batch 1 and 8, 32K and 128K, fp16 and int4 (after the rows with --seer-decode)")
    boolean seerDecodeBench;

    @Option(names = "--parallel", description = "run only the split-model rows: tp 2 / ep 2 of the HF fixtures on two CUDA ranks sharing GPU 0 (host-staged all-reduce) against one GPU")
    boolean parallel;

    @Option(names = "--gemv-only", description = "check only the GEMV rows (dense, packed, binary), not the models")
    boolean gemvOnly;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--kv-only", description = "run only the paged GPU KV cache checks")
    boolean kvOnly;

    @Option(names = "--kv-bench", description = "check the paged GPU KV cache, then time decode attention over it (fp16/int4/int2) against a device copy")
    boolean kvBench;

    @Option(names = "--kv-folded", hidden = true, description = "no effect, kept for old scripts: every int4/int2 decode kernel is checked and timed")
    boolean kvFolded;

    @Option(names = "--gemv-variants", description = "check only the opt-in packed decode GEMV kernels (wide, async, persist, tc, bulk); with --gemv-bench time only them beside the default")
    boolean gemvVariants;

    @Option(names = "--gemv-variant-kinds", split = ",", paramLabel = "KIND", description = "with --gemv-variants: only these kinds (wide, async, persist, tc, bulk; default: all)")
    java.util.List<String> gemvVariantKinds;

    @Override
    public Integer call() {
        List<String> kinds = gemvVariantKinds != null ? gemvVariantKinds : dev.bitcap.cuda.CudaCheck.GEMV_VARIANT_KINDS;
        CudaCheck.requireGemvVariantKinds(kinds); // before the device: a typo needs no GPU
        if (!device.equals("cuda")) throw new BitcapException("check compares a GPU backend with the CPU: use --device cuda, got '" + device + "'");
        if (cudaLibDir != null) System.setProperty(CudaLibraries.DIR_PROPERTY, cudaLibDir.toString());
        if (fixtures != null) CudaCheck.requireFixtures(fixtures); // before the device: a typo needs no GPU
        for (int len : prefillLengths) if (len < 1) throw new BitcapException("--prefill-lengths takes positive lengths, not " + len);
        PrintWriter out = spec.commandLine().getOut();
        Path root = data != null ? data : defaultData();
        try (CudaDevice gpu = CudaDevice.open(0)) {
            Consumer<CudaCheck.Row> print = printHeader(out, gpu);
            CudaCheck check = new CudaCheck(root, print);
            if (kvOnly || kvBench) return kvChecks(out, gpu, check);
            if (gemvVariants) return gemvVariantRows(out, gpu, check, kinds);
            if (seerDecodeBench && !seerDecode) {
                seerDecodeBench(out, gpu);
                return 0;
            }

            List<CudaCheck.Row> rows = parallel ? new dev.bitcap.parallel.CudaRankCheck(root, print).run(fixtures)
                    : seerDecode ? SeerDecodeCheck.rows(gpu, print)
                    : prefillOnly ? prefillAndGateRows(gpu, print)
                    : gemvOnly ? check.runGemv(gpu) : fixtures != null ? check.runFixtures(fixtures) : check.run(gpu);
            long failed = printSummary(out, gpu, rows);
            if (gemvBench) new GemvBench(gpu).run(gemvBenchPrinter(out));
            if (seerDecodeBench) seerDecodeBench(out, gpu);
            if (prefillBench) {
                out.printf("%n%-20s %7s %6s %8s %10s %9s %8s %9s%n", "prefill", "L", "heads", "density", "ms", "TFLOP/s", "reached", "gate ms");
                new PrefillAttentionBench(gpu).run(prefillLengths, r -> {
                    out.printf("%-20s %7d %3d/%-2d %8.2f %10.3f %9.1f %8.3f %9.3f%n", r.name(), r.len(), r.heads(), r.kvHeads(), r.density(), r.millis(),
                            r.tflops(), r.reached(), r.gateMillis());
                    out.flush();
                });
            }
            return failed == 0 ? 0 : 1;
        }
    }

    /** One layer of SeerAttention-R decode (gate + block-sparse kernel) against dense decode of the same paged cache. */
    private static void seerDecodeBench(PrintWriter out, CudaDevice gpu) {
        out.printf("%n%-24s %6s %8s %8s %11s %9s %11s %8s%n", "seer decode, 32/8 d128", "B", "L", "density", "dense µs", "gate µs", "sparse µs", "x dense");
        new dev.bitcap.cuda.SeerDecodeBench(gpu).run(r -> {
            out.printf("%-24s %6d %8d %8.2f %11.1f %9.1f %11.1f %8.2f%n", "seer decode " + r.format(), r.batch(), r.length(), r.density(), r.denseMicros(),
                    r.gateMicros(), r.sparseMicros(), r.denseMicros() / r.sparseMicros());
            out.flush();
        });
    }

    /** The prefill-attention rows, then the decode gate's. */
    private static List<CudaCheck.Row> prefillAndGateRows(CudaDevice gpu, Consumer<CudaCheck.Row> print) {
        List<CudaCheck.Row> rows = new java.util.ArrayList<>(PrefillAttentionCheck.rows(gpu, print));
        rows.addAll(SeerDecodeCheck.rows(gpu, print));
        return rows;
    }

    /** Prints the device line and the table's header; returns the printer of one check row. */
    private static Consumer<CudaCheck.Row> printHeader(PrintWriter out, CudaDevice gpu) {
        long[] mem = gpu.memoryInfo();
        out.printf("device: %s (%s, %d SMs, %.1f GiB free of %.1f), driver %d, NVRTC %s, kernel cache %s%n", gpu.name(), gpu.arch(),
                gpu.multiprocessors(), mem[0] / 1073741824.0, mem[1] / 1073741824.0, CudaDriver.get().driverVersion(), Nvrtc.get().version(),
                gpu.cache().dir());
        long start = System.nanoTime();
        int prewarmed = gpu.prewarmKernels();
        if (prewarmed > 0) {
            out.printf("kernel cache: %d modules of earlier runs compiled side by side in %.1f s%n", prewarmed, (System.nanoTime() - start) / 1e9);
        }
        out.printf("%-12s %-58s %11s %11s %9s  %s%n", "group", "check", "max abs", "rel", "rel tol", "result");
        out.flush();
        return r -> {
            out.printf("%-12s %-58s %11.3e %11.3e %9.1e  %s%s%n", r.group(), r.name(), r.absError(), r.relError(), r.tolerance(),
                    r.pass() ? "pass" : "FAIL", r.note().isEmpty() ? "" : "  " + r.note());
            out.flush();
        };
    }

    /** Prints the count of checks and failures and the kernel cache's figures; returns the failures. */
    private static long printSummary(PrintWriter out, CudaDevice gpu, List<CudaCheck.Row> rows) {
        long failed = rows.stream().filter(r -> !r.pass()).count();
        out.printf("%d checks, %d failed; kernel cache: %d hits, %d compiled, %d compiled ahead (%.0f ms of compiling)%n", rows.size(), failed,
                gpu.cache().hits(), gpu.cache().misses(), gpu.cache().prewarmed(), gpu.cache().compileNanos() / 1e6);
        return failed;
    }

    /** Prints the GEMV benchmark's header; returns the printer of one result. */
    private static Consumer<GemvBench.Result> gemvBenchPrinter(PrintWriter out) {
        out.printf("%n%-64s %10s %10s %10s %8s%n", "benchmark (µs per launch back to back; single launch)", "µs", "single µs", "GB/s", "of copy");
        return r -> {
            out.printf("%-64s %10.1f %10.1f %10.0f %7.0f%%%n", r.name(), r.micros(), r.singleMicros(), r.gbPerSecond(), 100 * r.ofCopy());
            out.flush();
        };
    }

    /** The opt-in packed decode GEMV kernels' rows (and, with --gemv-bench, their timings beside the default). */
    private int gemvVariantRows(PrintWriter out, CudaDevice gpu, CudaCheck check, List<String> kinds) {
        long failed = printSummary(out, gpu, check.runGemvVariants(gpu, kinds));
        if (gemvBench) new GemvBench(gpu).runVariants(kinds, gemvBenchPrinter(out));
        return failed == 0 ? 0 : 1;
    }

    /** The paged GPU KV cache rows (and, with --kv-bench, its decode benchmark) without the other checks. */
    private int kvChecks(PrintWriter out, CudaDevice gpu, CudaCheck check) {
        long failed = printSummary(out, gpu, check.kvRows(gpu));
        if (kvBench) {
            out.printf("%n%-44s %10s %10s %8s  %s%n", "benchmark", "µs", "GB/s", "of copy", "note");
            new dev.bitcap.cuda.KvDecodeBench(gpu).run(r -> {
                out.printf("%-44s %10.1f %10.0f %7.0f%%  %s%n", r.name(), r.micros(), r.gbPerSecond(), 100 * r.ofCopy(), r.note());
                out.flush();
            });
        }
        return failed == 0 ? 0 : 1;
    }

    private static Path defaultData() {
        String env = System.getenv("BITCAP_SHARED_DATA");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of("..", "shared", "data").toAbsolutePath().normalize();
    }
}
