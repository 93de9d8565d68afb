package dev.bitcap.cuda;

import dev.bitcap.kv.KeyGrouping;
import java.util.List;

/**
 * Decode attention over paged fp16 / int4 / int2 KV caches on tensor cores, and the fused quantize-and-pack that
 * fills them ({@code kv_attention.cu}, layout {@link CudaKvLayout}). Appends go through the fp32 rows of a pass:
 * blocks the pass completes are quantized and packed straight into their pages; the rest wait in the ring.
 * Decode splits each sequence's context between warps (each warp one split; the ring one more split) and
 * merges the splits by log-sum-exp.
 */
public final class CudaPagedAttention {
    private static final int JOB_WORDS = 7;
    private static final int INFO_WORDS = 4;
    private final CudaDevice device;
    private final CudaKvLayout layout;
    private final CudaModule module;
    private final int heads, kvHeads, headDim, kvDim;
    private final float scaleLog2;
    private long jobs, jobWords, rowBuf, rowFloats;
    private boolean packReady;
    /** Decode with kv_decode_folded (parameters folded out of the inner loop; opt-in, not yet measured on a GPU). */
    private boolean folded;

    public CudaPagedAttention(CudaDevice device, CudaKvLayout layout, int heads) {
        if (heads % layout.kvHeads() != 0 || heads / layout.kvHeads() > 16) {
            throw new dev.bitcap.BitcapException("the paged GPU attention serves up to 16 query heads per KV head, got " + heads + " heads over "
                    + layout.kvHeads() + " KV heads");
        }
        this.device = device;
        this.layout = layout;
        this.heads = heads;
        this.kvHeads = layout.kvHeads();
        this.headDim = layout.headDim();
        this.kvDim = kvHeads * headDim;
        this.scaleLog2 = (float) (1.0 / Math.sqrt(headDim) / Math.log(2));
        this.module = device.module("kv_attention.cu", List.of("HEAD_DIM=" + headDim, "KV_BITS=" + layout.spec().format().bits(),
                "KEY_CHANNEL=" + (layout.spec().keys() == KeyGrouping.CHANNEL ? 1 : 0)));
    }

    /** Int formats only: decode with the folded kernel instead of the one verified on the H200 (check --kv-folded). */
    public void setFolded(boolean on) {
        folded = on && layout.spec().format().quantized();
    }

    CudaDevice device() {
        return device;
    }

    public CudaKvLayout layout() {
        return layout;
    }

    public CudaPagedKvCache newCache(CudaKvPool pool, int capacity) {
        return new CudaPagedKvCache(this, pool, capacity);
    }

    /**
     * Appends to {@code layer} of each cache {@code counts[i]} positions whose fp32 key and value rows are rows
     * {@code rowStart[i] ..} of {@code kPass} / {@code vPass} ([rows][kvHeads * headDim] on the device): pages are
     * reserved first (nothing changes when the pool is short), then completed blocks are packed, then the
     * remaining rows go to the ring.
     */
    public void append(int layer, List<CudaPagedKvCache> caches, int[] rowStart, int[] counts, long kPass, long vPass) {
        for (int i = 0; i < caches.size(); i++) caches.get(i).reserve(caches.get(i).length(layer) + counts[i]);
        int bt = layout.blockTokens();
        int jobCount = 0, ringRows = 0;
        for (int i = 0; i < caches.size(); i++) {
            CudaPagedKvCache c = caches.get(i);
            int len0 = c.length(layer), len1 = len0 + counts[i];
            jobCount += len1 / bt - len0 / bt;
            ringRows += len1 - Math.max(len0, len1 / bt * bt);
        }
        long[] job = new long[Math.max(jobCount * JOB_WORDS, ringRows * 3)];
        int j = 0;
        for (int i = 0; i < caches.size(); i++) {
            CudaPagedKvCache c = caches.get(i);
            int len0 = c.length(layer), len1 = len0 + counts[i];
            for (int b = len0 / bt * bt; b + bt <= len1; b += bt) {
                job[j++] = c.pageAddress(b);
                job[j++] = b % CudaKvLayout.PAGE_TOKENS;
                job[j++] = b;
                job[j++] = len0;
                job[j++] = rowStart[i];
                job[j++] = c.ringKeys(layer);
                job[j++] = c.ringValues(layer);
            }
        }
        if (jobCount > 0) {
            ensureJobs(job.length);
            device.upload(jobs, java.util.Arrays.copyOf(job, jobCount * JOB_WORDS));
            int smem = layout.spec().format().quantized() ? 2 * bt * headDim : 0;
            if (!packReady && smem > 48 * 1024) module.setMaxDynamicSharedMemory("kv_pack", smem);
            packReady = true;
            module.launch("kv_pack").ptr(jobs).ptr(kPass).ptr(vPass).i(kvHeads).i(layer).l(layout.regionBytes()).i(layout.spec().group())
                    .i(bt).run(jobCount, kvHeads, 1, 256, smem);
        }
        if (ringRows > 0) {
            j = 0;
            for (int i = 0; i < caches.size(); i++) {
                CudaPagedKvCache c = caches.get(i);
                int len0 = c.length(layer), len1 = len0 + counts[i];
                for (int p = Math.max(len0, len1 / bt * bt); p < len1; p++) {
                    job[j++] = rowStart[i] + p - len0;
                    job[j++] = c.ringKeys(layer) + 4L * (p % bt) * kvDim;
                    job[j++] = c.ringValues(layer) + 4L * (p % bt) * kvDim;
                }
            }
            ensureJobs(job.length);
            device.upload(jobs, java.util.Arrays.copyOf(job, ringRows * 3));
            module.launch("kv_ring_store").ptr(jobs).ptr(kPass).ptr(vPass).i(kvDim).run(ringRows, 1, 1, 128, 0);
        }
        for (int i = 0; i < caches.size(); i++) caches.get(i).setLength(layer, caches.get(i).length(layer) + counts[i]);
    }

    private void ensureJobs(long words) {
        if (jobWords >= words) return;
        device.synchronize();
        if (jobs != 0) device.free(jobs);
        jobWords = Math.max(words, 2 * jobWords);
        jobs = device.alloc(8 * jobWords);
    }

    /** One host row appended (the {@link dev.bitcap.kv.KvCache#append} path): through a one-row pass buffer. */
    void appendRow(CudaPagedKvCache cache, int layer, float[] k, int kOff, float[] v, int vOff) {
        if (rowFloats < kvDim) {
            if (rowBuf != 0) device.free(rowBuf);
            rowBuf = device.alloc(8L * kvDim);
            rowFloats = kvDim;
        }
        device.upload(rowBuf, k, kOff, kvDim);
        device.upload(rowBuf + 4L * kvDim, v, vOff, kvDim);
        append(layer, List.of(cache), new int[] {0}, new int[] {1}, rowBuf, rowBuf + 4L * kvDim);
    }

    /**
     * What a decode over these caches needs on the device, for the lengths {@code layer} has now: page tables,
     * per-sequence ring addresses and lengths, and the split buffers. Valid until a cache's length changes.
     */
    public final class Plan implements AutoCloseable {
        final int sequences, maxPages, chunk, packedSplits, splits;
        final long tables, info, partial, stats, poolBase;
        /** Bytes of the caches one layer's decode reads (pages and ring rows). */
        public final long bytesRead;

        Plan(List<CudaPagedKvCache> caches, int layer) {
            sequences = caches.size();
            int mp = 1, maxPacked = 0;
            long bytes = 0;
            for (CudaPagedKvCache c : caches) {
                mp = Math.max(mp, c.pagesHeld());
                maxPacked = Math.max(maxPacked, c.packedLength(layer));
                bytes += layout.decodeBytesPerLayer(c.length(layer));
            }
            bytesRead = bytes;
            poolBase = caches.get(0).pool().base();
            for (CudaPagedKvCache c : caches) {
                if (c.pool() != caches.get(0).pool()) throw new IllegalArgumentException("the caches of one decode must share one page pool");
            }
            maxPages = mp;
            int[] t = new int[sequences * maxPages];
            long[] in = new long[sequences * INFO_WORDS];
            for (int s = 0; s < sequences; s++) {
                CudaPagedKvCache c = caches.get(s);
                System.arraycopy(c.table(), 0, t, s * maxPages, c.pagesHeld());
                in[s * INFO_WORDS] = c.ringKeys(0);
                in[s * INFO_WORDS + 1] = c.ringValues(0);
                in[s * INFO_WORDS + 2] = c.packedLength(layer);
                in[s * INFO_WORDS + 3] = c.length(layer) - c.packedLength(layer);
            }
            // About 16 warps per multiprocessor in all, each split at least 256 positions.
            long pairs = (long) sequences * kvHeads;
            int warps = (int) Math.max(1, Math.min((16L * device.multiprocessors() + pairs - 1) / pairs, (maxPacked + 255) / 256));
            int ch = (maxPacked + warps - 1) / warps;
            chunk = Math.max(16, (ch + 15) / 16 * 16);
            packedSplits = maxPacked == 0 ? 0 : (maxPacked + chunk - 1) / chunk;
            splits = 4 * ((packedSplits + 1 + 3) / 4);
            tables = device.alloc(4L * t.length);
            device.upload(tables, t, 0, t.length);
            info = device.alloc(8L * in.length);
            device.upload(info, in);
            long rows = pairs * splits * 16;
            partial = device.alloc(4L * rows * headDim);
            stats = device.alloc(8L * rows);
        }

        @Override
        public void close() {
            device.synchronize();
            for (long p : new long[] {tables, info, partial, stats}) device.free(p);
        }
    }

    /** The ring addresses in a plan are those of layer 0: the kernel adds the layer's offset. */
    public Plan plan(List<CudaPagedKvCache> caches, int layer) {
        return new Plan(caches, layer);
    }

    /** out [seq][heads * headDim] = attention of q [seq][heads * headDim] (one query per sequence) at {@code layer}. */
    public void decode(Plan plan, int layer, long q, long out) {
        module.launch(folded ? "kv_decode_folded" : "kv_decode").ptr(q).ptr(plan.tables).ptr(plan.info).ptr(plan.poolBase).ptr(plan.partial).ptr(plan.stats).i(heads).i(kvHeads).i(layer)
                .l(layout.regionBytes()).l(layout.pageBytes()).i(plan.maxPages).i(plan.chunk).i(plan.packedSplits).i(layout.spec().group())
                .i(layout.blockTokens()).f(scaleLog2).run(kvHeads, plan.sequences, plan.splits / 4, 128, 0);
        module.launch("kv_combine").ptr(plan.partial).ptr(plan.stats).ptr(out).i(heads).i(kvHeads).i(plan.splits).run(heads, plan.sequences, 1, 128, 0);
    }
}
