package dev.bitcap.hw;

import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.CudaModule;
import java.util.List;

/**
 * Tensor-core throughput per instruction and dtype: mma.sync (a warp's operands in registers, 4 independent
 * accumulator chains per warp, 8 warps per block, 4 blocks per SM) and, on sm_90a, wgmma.mma_async (A and B from
 * shared memory through descriptors, one m64n256 accumulator tile per warpgroup, 2 warpgroups per SM). Each probe
 * first runs with all-ones operands and checks that every accumulator came out at K x iterations (so a probe that
 * computes nothing cannot report a figure), then is timed with pseudo-random operands (which draw more power than
 * zeros or ones). Kernels are {@code probes.cu} with {@code PROBE=1..8}.
 */
final class TensorCoreProbe {
    /** One probe: its PROBE define, instruction, dtype, unit and the shape's M, N, K. */
    record Kind(int define, String name, String instruction, String dtype, String unit, int m, int n, int k, boolean wgmma, int minArch) {
        long flopsPerInstruction() {
            return 2L * m * n * k;
        }
    }

    static final List<Kind> KINDS = List.of(
            new Kind(1, "mma.sync fp16", "mma.sync.m16n8k16.f32.f16.f16.f32", "fp16", "TFLOP/s", 16, 8, 16, false, 80),
            new Kind(2, "mma.sync bf16", "mma.sync.m16n8k16.f32.bf16.bf16.f32", "bf16", "TFLOP/s", 16, 8, 16, false, 80),
            new Kind(3, "mma.sync fp8 e4m3", "mma.sync.m16n8k32.f32.e4m3.e4m3.f32", "fp8", "TFLOP/s", 16, 8, 32, false, 89),
            new Kind(4, "mma.sync int8", "mma.sync.m16n8k32.s32.s8.s8.s32", "int8", "TOP/s", 16, 8, 32, false, 80),
            new Kind(5, "wgmma fp16", "wgmma.mma_async.m64n256k16.f32.f16.f16 (SS)", "fp16", "TFLOP/s", 64, 256, 16, true, 90),
            new Kind(6, "wgmma bf16", "wgmma.mma_async.m64n256k16.f32.bf16.bf16 (SS)", "bf16", "TFLOP/s", 64, 256, 16, true, 90),
            new Kind(7, "wgmma fp8 e4m3", "wgmma.mma_async.m64n256k32.f32.e4m3.e4m3 (SS)", "fp8", "TFLOP/s", 64, 256, 32, true, 90),
            new Kind(8, "wgmma int8", "wgmma.mma_async.m64n256k32.s32.s8.s8 (SS)", "int8", "TOP/s", 64, 256, 32, true, 90));

    static final int MMA_ILP = 4, MMA_THREADS = 256, MMA_BLOCKS_PER_SM = 4, WG_THREADS = 256;
    static final int CHECK_ITERS = 64;

    private final CudaDevice device;
    private final GpuTimer timer;
    private final int sms;

    TensorCoreProbe(CudaDevice device, GpuTimer timer) {
        this.device = device;
        this.timer = timer;
        this.sms = device.multiprocessors();
    }

    /** Why {@code kind} cannot run on an {@code arch} device (e.g. sm_90a), or null when it can. */
    static String unsupported(Kind kind, String arch) {
        int cc = Integer.parseInt(arch.replaceAll("[^0-9]", ""));
        if (kind.wgmma()) return arch.equals("sm_90a") ? null : "wgmma needs sm_90a (this device is " + arch + ")";
        return cc >= kind.minArch() ? null : kind.instruction() + " needs sm_" + kind.minArch() + "+ (this device is " + arch + ")";
    }

    GpuProbe.Throughput run(Kind kind, int iters, int runs) {
        String why = unsupported(kind, device.arch());
        if (why != null) return GpuProbe.Throughput.failed(kind.name(), kind.instruction(), kind.dtype(), kind.unit(), "not run: " + why);
        CudaModule module = device.module("probes.cu", List.of("PROBE=" + kind.define()));
        String fn = kind.wgmma() ? "wgmma_probe" : "mma_probe";
        int grid = kind.wgmma() ? sms : MMA_BLOCKS_PER_SM * sms, threads = kind.wgmma() ? WG_THREADS : MMA_THREADS;
        // instructions per launch and iteration: one per warp and chain (mma.sync), one per warpgroup (wgmma)
        long perIter = kind.wgmma() ? (long) grid * threads / 128 : (long) grid * threads / 32 * MMA_ILP;
        long out = device.alloc(4L * grid * threads), clocks = device.alloc(64);
        try {
            module.launch(fn).i(CHECK_ITERS).i(0).ptr(out).ptr(clocks).run(grid, 1, 1, threads, 0);
            String wrong = check(kind, out, grid * threads);
            if (wrong != null) return GpuProbe.Throughput.failed(kind.name(), kind.instruction(), kind.dtype(), kind.unit(), "wrong result: " + wrong);
            double s = timer.best(runs, () -> module.launch(fn).i(iters).i(1).ptr(out).ptr(clocks).run(grid, 1, 1, threads, 0));
            double flops = (double) perIter * iters * kind.flopsPerInstruction();
            long[] c = GpuProbe.longs(device, clocks, 2);
            return GpuProbe.Throughput.measured(kind.name(), kind.instruction(), kind.dtype(), flops / s / 1e12, c[0] / (double) c[1] * 1e3, sms, flops / s,
                    iters + " iterations, " + grid + " blocks x " + threads + " threads");
        } finally {
            device.free(out);
            device.free(clocks);
        }
    }

    /**
     * With all-ones operands each accumulator is K per instruction; a thread's sum over its accumulators (4 per
     * mma.sync chain, 128 per wgmma tile) must be exact (all values are integers below 2^24).
     */
    private String check(Kind kind, long out, int threads) {
        long perThread = (kind.wgmma() ? 128L : 4L * MMA_ILP) * kind.k() * CHECK_ITERS;
        int[] bits = GpuProbe.ints(device, out, threads);
        for (int t = 0; t < threads; t++) {
            double v = kind.dtype().equals("int8") ? bits[t] : Float.intBitsToFloat(bits[t]);
            if (v != perThread) return "thread " + t + " summed its accumulators to " + v + ", expected " + perThread;
        }
        return null;
    }
}
