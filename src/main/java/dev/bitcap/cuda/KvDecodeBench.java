package dev.bitcap.cuda;

import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import java.util.ArrayList;
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
 *
 * <p>Block-sparse decode ({@link CudaPagedAttention#decodeSparse}, the default kernel's sparse twin) at h32/8, batch
 * 1, 32K and 128K, int4 and fp16: lists of blocks of {@value #SPARSE_BLK} at densities 0.5 / 0.3 / 0.1 (block 0, the last
 * blocks and random middle ones, different per KV head; built on the host and uploaded once, not timed), timed
 * over the same cache as the dense row above them; the note gives the dense time and the ratio. Their GB/s count
 * the bytes of the positions the lists attend (the dense bytes times the attended fraction).
 */
public final class KvDecodeBench {
    public record Result(String name, KvFormat format, int heads, int kvHeads, int batch, int length, double micros, double gbPerSecond,
                         double ofCopy, long bytes, String note) {}

    private static final int HEAD_DIM = 128, FILL_ROWS = 8192, SPARSE_BLK = 64;
    private static final double[] DENSITIES = {0.5, 0.3, 0.1};
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
                        boolean sparse = h[0] == 32 && h[1] == 8 && batch == 1 && (length == 32768 || length == 131072) && f != KvFormat.INT2;
                        for (Result r : one(new KvSpec(f, 128, KeyGrouping.CHANNEL), h[0], h[1], batch, length, copy, sparse)) {
                            out.add(r);
                            sink.accept(r);
                        }
                    }
                }
            }
        }
        return out;
    }

    /** The dense row, then (with {@code sparse}) one row per density of the block-sparse decode over the same cache. */
    private List<Result> one(KvSpec spec, int heads, int kvHeads, int batch, int length, double copy, boolean sparse) {
        String name = String.format("kv decode %-4s h%d/%d d%d B%-2d L%d", spec.format().flagName(), heads, kvHeads, HEAD_DIM, batch, length);
        CudaKvLayout lay = new CudaKvLayout(spec, 1, kvHeads, HEAD_DIM);
        long pages = (long) batch * ((length + CudaKvLayout.PAGE_TOKENS - 1) / CudaKvLayout.PAGE_TOKENS);
        long poolBytes = pages * lay.pageBytes();
        int kvDim = kvHeads * HEAD_DIM;
        long fillBytes = 2L * 4 * FILL_ROWS * kvDim;
        long free = device.memoryInfo()[0];
        if (poolBytes + fillBytes + (256L << 20) > free) {
            return List.of(new Result(name, spec.format(), heads, kvHeads, batch, length, Double.NaN, Double.NaN, Double.NaN, poolBytes,
                    String.format("skipped: pool %.1f GiB > %.1f GiB free", poolBytes / 1073741824.0, free / 1073741824.0)));
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
            List<Result> sparseRows = new ArrayList<>();
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
                if (sparse) sparseRows = sparse(attention, plan, caches, spec, heads, kvHeads, batch, length, ms, bytes, copy, q, o);
            }
            float[] check = new float[Math.min(4096, batch * heads * HEAD_DIM)];
            device.download(check, 0, o, check.length);
            boolean finite = true;
            for (float x : check) finite &= Float.isFinite(x);
            for (CudaPagedKvCache c : caches) c.release();
            for (long p : new long[] {kRows, vRows, q, o}) device.free(p);
            double gbs = bytes / (ms * 1e-3) / 1e9;
            List<Result> rows = new ArrayList<>();
            rows.add(new Result(name, spec.format(), heads, kvHeads, batch, length, ms * 1e3, gbs, gbs / copy, bytes,
                    String.format("%.2f GiB of cache, filled in %.1f s%s%s", bytes / 1073741824.0, fillNanos / 1e9, finite ? "" : "; NON-FINITE OUTPUT",
                            others)));
            rows.addAll(sparseRows);
            return rows;
        }
    }

    /** The block-sparse decode at each density over the plan's cache, beside the dense time {@code denseMs}. */
    private List<Result> sparse(CudaPagedAttention attention, CudaPagedAttention.Plan plan, List<CudaPagedKvCache> caches, KvSpec spec, int heads,
            int kvHeads, int batch, int length, double denseMs, long denseBytes, double copy, long q, long o) {
        List<Result> rows = new ArrayList<>();
        for (double density : DENSITIES) {
            String name = String.format("kv sparse %-4s h%d/%d d%d B%-2d L%d p%.1f", spec.format().flagName(), heads, kvHeads, HEAD_DIM, batch, length,
                    density);
            java.util.Random rnd = new java.util.Random(17 + Math.round(100 * density));
            int[][] rowsOf = new int[batch * kvHeads][];
            int stride = 0, maxListed = 0;
            long attended = 0;
            for (int s = 0; s < batch; s++) {
                int len = caches.get(s).length(0), packed = caches.get(s).packedLength(0);
                for (int g = 0; g < kvHeads; g++) {
                    int[] row = SparseDecodeMask.randomRow(rnd, SPARSE_BLK, packed, len, density);
                    rowsOf[s * kvHeads + g] = row;
                    stride = Math.max(stride, row.length);
                    maxListed = Math.max(maxListed, SparseDecodeMask.fullListed(row, 0, packed, SPARSE_BLK));
                    attended += SparseDecodeMask.attendedCount(row, 0, SPARSE_BLK, packed, len);
                }
            }
            int[] flat = new int[rowsOf.length * stride];
            for (int r = 0; r < rowsOf.length; r++) System.arraycopy(rowsOf[r], 0, flat, r * stride, rowsOf[r].length);
            long lists = device.alloc(4L * flat.length);
            device.upload(lists, flat, 0, flat.length);
            CudaPagedAttention.SparsePlan sp = attention.sparsePlan(plan, SPARSE_BLK, maxListed);
            int listStride = stride;
            double ms = time(() -> attention.decodeSparse(sp, 0, q, lists, listStride, o), 30);
            float[] check = new float[Math.min(4096, batch * heads * HEAD_DIM)];
            device.download(check, 0, o, check.length);
            boolean finite = true;
            for (float x : check) finite &= Float.isFinite(x);
            device.free(lists);
            double fraction = (double) attended / ((double) kvHeads * batch * length);
            long bytes = Math.round(denseBytes * fraction);
            double gbs = bytes / (ms * 1e-3) / 1e9;
            rows.add(new Result(name, spec.format(), heads, kvHeads, batch, length, ms * 1e3, gbs, gbs / copy, bytes,
                    String.format("dense %.1f µs: %.2fx faster; %.3f of positions attended (blocks of %d)%s", denseMs * 1e3, denseMs / ms, fraction,
                            SPARSE_BLK, finite ? "" : "; NON-FINITE OUTPUT")));
        }
        return rows;
    }

    private double time(Runnable work, int reps) {
        return EventTimer.medianMillis(device, work, 5, reps);
    }
}
