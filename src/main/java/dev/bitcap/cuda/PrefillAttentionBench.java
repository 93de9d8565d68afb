package dev.bitcap.cuda;

import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.cuda.CudaSeerGate.Picker;
import dev.bitcap.cuda.CudaSparseAttention.Kernel;
import dev.bitcap.tensor.RopeStyle;
import java.util.function.Consumer;

/**
 * Times causal prefill attention at SeerAttention's benchmark shapes (32 query heads, 32 or 8 KV heads, d = 128,
 * bf16, L = 8K / 32K / 128K, one sequence) with CUDA events: the dense tensor-core kernel, and the block-sparse
 * kernel at densities 0.5 / 0.3 / 0.1 with the gate included (pooling, maps, RoPE, scores, top-k, lists, then the
 * kernel, all inside the timed span). The gate has random weights: its cost and the kernel's depend on the number
 * of blocks chosen, which a density fixes, not on which ones. Inputs are made on the GPU. Every {@link Kernel} is
 * timed dense ("dense", "dense/wide", "dense/swizzled"); the sparse rows run the defaults ("seer": {@link Kernel#DEFAULT} and
 * {@link Picker#DEFAULT}) and the fastest dense kernel at that length with each {@link Picker} ("seer/wide", "seer/base/sort"
 * and so on: the suffix names what differs from the defaults).
 */
public final class PrefillAttentionBench {
    /** One timing: milliseconds (median), causal-dense TFLOP/s equivalent, and the density actually visited. */
    public record Result(String name, int len, int heads, int kvHeads, double density, double millis, double tflops, double reached, double gateMillis) {}

    private final CudaDevice device;

    public PrefillAttentionBench(CudaDevice device) {
        this.device = device;
    }

    /** FLOPs of dense causal attention: two products of len^2 / 2 (query, key) pairs by d, 2 flops each, per head. */
    static double causalFlops(int len, int heads, int d) {
        return 4.0 * heads * d * (double) len * len / 2;
    }

    public void run(int[] lengths, Consumer<Result> sink) {
        int d = 128, heads = 32, gateDim = 128;
        java.util.Map<Kernel, CudaSparseAttention> kernels = new java.util.EnumMap<>(Kernel.class);
        for (Kernel kernel : Kernel.values()) kernels.put(kernel, new CudaSparseAttention(device, d, true, kernel));
        CudaSparseAttention base = kernels.get(Kernel.DEFAULT);
        for (int kvHeads : new int[] {32, 8}) {
            double[] invFreq = new double[gateDim / 2];
            for (int j = 0; j < invFreq.length; j++) invFreq[j] = Math.pow(500000, -2.0 * j / gateDim);
            SeerGate gate = SeerGate.initialised(new SeerGate.Shape(1, heads, kvHeads, d, gateDim, CudaSparseAttention.BLOCK), invFreq,
                    RopeStyle.ROTATE_HALF, "bench", "bench", 3);
            java.util.Map<Picker, CudaSeerGate> gates = new java.util.EnumMap<>(Picker.class);
            for (Picker picker : Picker.values()) gates.put(picker, new CudaSeerGate(device, gate, true, picker));
            for (int len : lengths) {
                long q = device.alloc(2L * len * heads * d), k = device.alloc(2L * len * kvHeads * d), v = device.alloc(2L * len * kvHeads * d);
                long out = device.alloc(4L * len * heads * d);
                base.fillRandom(q, (long) len * heads * d, 1);
                base.fillRandom(k, (long) len * kvHeads * d, 2);
                base.fillRandom(v, (long) len * kvHeads * d, 3);
                int nb = CudaSparseAttention.blocks(len);
                long counts = device.alloc(4L * heads * nb), lists = device.alloc(4L * CudaSparseAttention.listInts(len, heads));
                int reps = len >= 65536 ? 3 : 10;
                double flops = causalFlops(len, heads, d);
                Kernel best = Kernel.DEFAULT;
                double bestMs = Double.MAX_VALUE;
                for (Kernel kernel : Kernel.values()) {
                    CudaSparseAttention att = kernels.get(kernel);
                    double ms = time(() -> att.prefill(q, k, v, out, 0, 0, len, heads, kvHeads, (long) heads * d, (long) kvHeads * d, (long) heads * d), reps);
                    sink.accept(new Result("dense" + suffix(kernel, null), len, heads, kvHeads, 1.0, ms, flops / ms / 1e9, 1.0, 0));
                    if (ms < bestMs) {
                        bestMs = ms;
                        best = kernel;
                    }
                }
                // The default pair, then the fastest dense kernel at this length with each picker.
                java.util.Set<java.util.List<Enum<?>>> pairs = new java.util.LinkedHashSet<>();
                pairs.add(java.util.List.of(Kernel.DEFAULT, Picker.DEFAULT));
                for (Picker picker : Picker.values()) pairs.add(java.util.List.of(best, picker));
                for (java.util.List<Enum<?>> pair : pairs) {
                    Kernel kernel = (Kernel) pair.get(0);
                    Picker picker = (Picker) pair.get(1);
                    CudaSparseAttention att = kernels.get(kernel);
                    CudaSeerGate gpuGate = gates.get(picker);
                    for (double density : new double[] {0.5, 0.3, 0.1}) {
                        BlockSelection sel = BlockSelection.density(density);
                        Runnable gateOnly = () -> gpuGate.select(0, q, k, len, (long) heads * d, (long) kvHeads * d, sel, counts, lists);
                        double gms = time(gateOnly, reps);
                        double total = time(() -> {
                            gateOnly.run();
                            att.prefill(q, k, v, out, counts, lists, len, heads, kvHeads, (long) heads * d, (long) kvHeads * d, (long) heads * d);
                        }, reps);
                        int[] c = CudaSeerGate.downloadInts(device, counts, heads * nb);
                        long visited = 0;
                        for (int x : c) visited += x;
                        double reached = visited / (heads * (double) nb * (nb + 1) / 2);
                        sink.accept(new Result("seer" + suffix(kernel, picker), len, heads, kvHeads, density, total, flops / total / 1e9, reached, gms));
                    }
                }
                for (long p : new long[] {q, k, v, out, counts, lists}) device.free(p);
            }
        }
    }

    /** "" for the defaults, else "/kernel" and "/picker" for what differs. */
    static String suffix(Kernel kernel, Picker picker) {
        String s = kernel == Kernel.DEFAULT ? "" : "/" + kernel.name().toLowerCase(java.util.Locale.ROOT);
        return picker == null || picker == Picker.DEFAULT ? s : s + "/" + picker.name().toLowerCase(java.util.Locale.ROOT);
    }

    private double time(Runnable work, int reps) {
        return EventTimer.medianMillis(device, work, 2, reps);
    }
}
