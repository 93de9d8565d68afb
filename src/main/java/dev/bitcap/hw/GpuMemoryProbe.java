package dev.bitcap.hw;

import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.CudaModule;
import java.util.ArrayList;
import java.util.List;

/**
 * The memory side of a GPU: HBM bandwidth (read-only, write-only, copy) over a buffer many times the L2, L2 read
 * bandwidth over a buffer well inside it, load latency by pointer chasing across sizes, and fp32 FMA throughput on
 * the CUDA cores. Kernels are {@code probes.cu} with {@code PROBE=0}.
 */
final class GpuMemoryProbe {
    static final int THREADS = 512;
    /** Bytes per pointer-chase slot: one L2 line, so each load touches a line of its own. */
    static final int SLOT_BYTES = 128;

    private final CudaDevice device;
    private final CudaModule module;
    private final GpuTimer timer;
    private final int sms;

    GpuMemoryProbe(CudaDevice device, GpuTimer timer) {
        this.device = device;
        this.timer = timer;
        this.module = device.module("probes.cu", List.of("PROBE=0"));
        this.sms = device.multiprocessors();
    }

    private int grid() {
        return 4 * sms;
    }

    /** GB/s of the fastest of {@code runs}: read-only, write-only and copy over {@code bytes} (copy: half to half, both counted). */
    List<GpuProbe.Bandwidth> hbm(long bytes, int runs) {
        long buf = device.alloc(bytes), sink = device.alloc(64);
        try {
            device.zero(buf, bytes);
            long n = bytes / 16, half = n / 2;
            List<GpuProbe.Bandwidth> out = new ArrayList<>();
            double read = timer.best(runs, () -> module.launch("read_bw").ptr(buf).l(n).i(1).i(0).ptr(sink).run(grid(), 1, 1, THREADS, 0));
            out.add(GpuProbe.Bandwidth.ok("hbm_read", bytes, bytes / read / 1e9));
            double write = timer.best(runs, () -> module.launch("write_bw").ptr(buf).l(n).f(0f).run(grid(), 1, 1, THREADS, 0));
            out.add(GpuProbe.Bandwidth.ok("hbm_write", bytes, bytes / write / 1e9));
            double copy = timer.best(runs, () -> module.launch("copy_bw").ptr(buf).ptr(buf + half * 16).l(half).run(grid(), 1, 1, THREADS, 0));
            out.add(GpuProbe.Bandwidth.ok("hbm_copy", bytes, 2 * half * 16 / copy / 1e9));
            return out;
        } finally {
            device.free(buf);
            device.free(sink);
        }
    }

    /** Read bandwidth over {@code bytes} that stay in L2 (loads marked .cg so the L1 does not serve repeats). */
    GpuProbe.Bandwidth l2Read(long bytes, int reps, int runs) {
        long buf = device.alloc(bytes), sink = device.alloc(64);
        try {
            device.zero(buf, bytes);
            long n = bytes / 16;
            module.launch("read_bw").ptr(buf).l(n).i(1).i(1).ptr(sink).run(grid(), 1, 1, THREADS, 0); // bring it into L2
            double s = timer.best(runs, () -> module.launch("read_bw").ptr(buf).l(n).i(reps).i(1).ptr(sink).run(grid(), 1, 1, THREADS, 0));
            return GpuProbe.Bandwidth.ok("l2_read", bytes, (double) bytes * reps / s / 1e9);
        } finally {
            device.free(buf);
            device.free(sink);
        }
    }

    /**
     * Latency from {@code minBytes} to {@code maxBytes}, doubling: one thread follows a scrambled cycle through the
     * buffer's 128-byte slots. Buffers up to {@code fullWarmBytes} get a whole warm lap first (so the timed loads hit
     * the level under test); larger ones a short warm-up only, their timed loads going to DRAM anyway.
     */
    List<GpuProbe.LatencyPoint> latency(long minBytes, long maxBytes, long loads, long fullWarmBytes) {
        long buf = device.alloc(maxBytes), out = device.alloc(64);
        try {
            List<GpuProbe.LatencyPoint> points = new ArrayList<>();
            for (long size = minBytes; size <= maxBytes; size *= 2) {
                int bits = Long.numberOfTrailingZeros(size / SLOT_BYTES);
                long slots = 1L << bits;
                module.launch("chase_init").ptr(buf).i(bits).i(SLOT_BYTES / 8).l(0x5DEECE66DL ^ size).run(grid(), 1, 1, 256, 0);
                long warm = size <= fullWarmBytes ? slots : Math.min(slots, 20_000);
                module.launch("chase").ptr(buf).l(warm).l(loads).ptr(out).run(1, 1, 1, 1, 0);
                long[] r = download(out);
                if (r[2] < buf || r[2] >= buf + size) throw new IllegalStateException("pointer chase left the buffer at " + size + " bytes");
                points.add(new GpuProbe.LatencyPoint(size, r[0] / (double) loads, r[1] / (double) loads));
            }
            return points;
        } finally {
            device.free(buf);
            device.free(out);
        }
    }

    /** fp32 FMA TFLOP/s on the CUDA cores (8 independent chains per thread, 2 FLOPs each) and the SM clock it ran at. */
    GpuProbe.Throughput fma(int iters, int runs) {
        int grid = 8 * sms, threads = 256;
        long sink = device.alloc(4L * grid * threads), clocks = device.alloc(64);
        try {
            double s = timer.best(runs, () -> module.launch("fma_fp32").i(iters).ptr(sink).ptr(clocks).run(grid, 1, 1, threads, 0));
            double flops = (double) grid * threads * iters * 8 * 2;
            long[] c = download(clocks);
            return GpuProbe.Throughput.measured("fp32 FMA (CUDA cores)", "fma.rn.f32", "fp32", flops / s / 1e12, c[0] / (double) c[1] * 1e3, sms,
                    flops / s, "8 chains x " + iters + " iterations per thread");
        } finally {
            device.free(sink);
            device.free(clocks);
        }
    }

    /** Three u64 values from the device (the chase's and the clock kernels' out buffers). */
    private long[] download(long pointer) {
        return GpuProbe.longs(device, pointer, 3);
    }
}
