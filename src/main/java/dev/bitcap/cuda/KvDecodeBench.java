package dev.bitcap.cuda;

import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Times one layer's decode attention over the paged GPU cache (kernel + split merge) at Llama-3.1-8B head shapes
 * (32 query heads over 8 KV heads, and 32 over 32; head dim 128), batch 1 / 8 / 32, context 4K / 32K / 128K (and 1M
 * at batch 1), for
 * fp16, int4 and int2 (g128, keys per channel): CUDA events, median of 30 launches, bytes of cache read over that
 * time next to a device copy measured in the same run. Caches are filled by the pack kernel from random rows.
 * Sizes whose pool does not fit the free memory are skipped with a line that says so. Int formats are timed with
 * their default (folded) kernel; the note gives the other kernels' times from the same run.
 */
public final class KvDecodeBench {
    public record Result(String name, KvFormat format, int heads, int kvHeads, int batch, int length, double micros, double gbPerSecond,
                         double ofCopy, long bytes, String note) {}

    private static final int HEAD_DIM = 128, FILL_ROWS = 8192;
    private final CudaDevice device;

    public KvDecodeBench(CudaDevice device) {
        this.device = device;
    }

    public List<Result> run(Consumer<Result> sink) {
        double copy = new GemvBench(device).copyBandwidth();
        List<Result> out = new ArrayList<>();
        Result c = new Result("device copy 1 GiB (read + write)", null, 0, 0, 0, 0, Double.NaN, copy, 1, 0, "");
        out.add(c);
        sink.accept(c);
        for (int[] h : new int[][] {{32, 8}, {32, 32}}) {
            for (int length : new int[] {4096, 32768, 131072, 1 << 20}) {
                for (int batch : length > 131072 ? new int[] {1} : new int[] {1, 8, 32}) {
                    for (KvFormat f : new KvFormat[] {KvFormat.INT4, KvFormat.INT2, KvFormat.FP16}) {
                        Result r = one(new KvSpec(f, 128, KeyGrouping.CHANNEL), h[0], h[1], batch, length, copy);
                        out.add(r);
                        sink.accept(r);
                    }
                }
            }
        }
        return out;
    }

    private Result one(KvSpec spec, int heads, int kvHeads, int batch, int length, double copy) {
        String name = String.format("kv decode %-4s h%d/%d d%d B%-2d L%d", spec.format().flagName(), heads, kvHeads, HEAD_DIM, batch, length);
        CudaKvLayout lay = new CudaKvLayout(spec, 1, kvHeads, HEAD_DIM);
        long pages = (long) batch * ((length + CudaKvLayout.PAGE_TOKENS - 1) / CudaKvLayout.PAGE_TOKENS);
        long poolBytes = pages * lay.pageBytes();
        int kvDim = kvHeads * HEAD_DIM;
        long fillBytes = 2L * 4 * FILL_ROWS * kvDim;
        long free = device.memoryInfo()[0];
        if (poolBytes + fillBytes + (256L << 20) > free) {
            return new Result(name, spec.format(), heads, kvHeads, batch, length, Double.NaN, Double.NaN, Double.NaN, poolBytes,
                    String.format("skipped: pool %.1f GiB > %.1f GiB free", poolBytes / 1073741824.0, free / 1073741824.0));
        }
        CudaPagedAttention attention = new CudaPagedAttention(device, lay, heads);
        CudaModule fill = device.module("kv_attention.cu", List.of("HEAD_DIM=" + HEAD_DIM, "KV_BITS=" + spec.format().bits(), "KEY_CHANNEL=1"));
        try (CudaKvPool pool = new CudaKvPool(device, lay, poolBytes)) {
            long kRows = device.alloc(fillBytes / 2), vRows = device.alloc(fillBytes / 2);
            List<CudaPagedKvCache> caches = new ArrayList<>();
            long fillNanos = System.nanoTime();
            for (int s = 0; s < batch; s++) {
                CudaPagedKvCache c = attention.newCache(pool, length);
                caches.add(c);
                for (int off = 0; off < length; off += FILL_ROWS) {
                    int n = Math.min(FILL_ROWS, length - off);
                    int seed = s * 7919 + off;
                    fill.launch("kv_fill").ptr(kRows).l((long) n * kvDim).i(seed).f(1f).i(HEAD_DIM).f(3f).run(1024, 1, 1, 256, 0);
                    fill.launch("kv_fill").ptr(vRows).l((long) n * kvDim).i(seed ^ 0x5bd1e995).f(1f).i(0).f(0f).run(1024, 1, 1, 256, 0);
                    attention.append(0, List.of(c), new int[] {0}, new int[] {n}, kRows, vRows);
                }
            }
            device.synchronize();
            fillNanos = System.nanoTime() - fillNanos;
            long q = device.alloc(4L * batch * heads * HEAD_DIM), o = device.alloc(4L * batch * heads * HEAD_DIM);
            fill.launch("kv_fill").ptr(q).l((long) batch * heads * HEAD_DIM).i(99).f(0.5f).i(0).f(0f).run(64, 1, 1, 256, 0);
            double ms;
            long bytes;
            StringBuilder others = new StringBuilder();
            try (CudaPagedAttention.Plan plan = attention.plan(caches, 0)) {
                ms = time(() -> attention.decode(plan, 0, q, o), 30);
                bytes = plan.bytesRead;
                List<CudaPagedAttention.DecodeKernel> kernels = attention.kernels();
                for (CudaPagedAttention.DecodeKernel k : kernels.subList(1, kernels.size())) {
                    attention.setKernel(k);
                    double other = time(() -> attention.decode(plan, 0, q, o), 30);
                    others.append(String.format("; %s kernel %.1f µs (default %.2fx faster)", k.name().toLowerCase().replace('_', '-'), other * 1e3,
                            other / ms));
                }
                attention.setKernel(kernels.get(0));
            }
            float[] check = new float[Math.min(4096, batch * heads * HEAD_DIM)];
            device.download(check, 0, o, check.length);
            boolean finite = true;
            for (float x : check) finite &= Float.isFinite(x);
            for (CudaPagedKvCache c : caches) c.release();
            for (long p : new long[] {kRows, vRows, q, o}) device.free(p);
            double gbs = bytes / (ms * 1e-3) / 1e9;
            return new Result(name, spec.format(), heads, kvHeads, batch, length, ms * 1e3, gbs, gbs / copy, bytes,
                    String.format("%.2f GiB of cache, filled in %.1f s%s%s", bytes / 1073741824.0, fillNanos / 1e9, finite ? "" : "; NON-FINITE OUTPUT",
                            others));
        }
    }

    /** Median milliseconds of {@code reps} timed runs after 5 warm-up runs, each between two events. */
    private double time(Runnable work, int reps) {
        CudaDriver d = device.driver();
        MemorySegment start = d.createEvent(), end = d.createEvent();
        for (int i = 0; i < 5; i++) work.run();
        device.synchronize();
        double[] ms = new double[reps];
        for (int i = 0; i < reps; i++) {
            d.record(start, device.stream());
            work.run();
            d.record(end, device.stream());
            d.synchronizeEvent(end);
            ms[i] = d.elapsed(start, end);
        }
        d.destroyEvent(start);
        d.destroyEvent(end);
        Arrays.sort(ms);
        return ms[reps / 2];
    }
}
