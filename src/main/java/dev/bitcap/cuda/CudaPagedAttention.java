package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KeyGrouping;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

/**
 * Decode attention over paged fp16 / int4 / int2 KV caches on tensor cores, and the fused quantize-and-pack that
 * fills them ({@code kv_attention.cu}, layout {@link CudaKvLayout}). Appends go through the fp32 rows of a pass:
 * blocks the pass completes are quantized and packed straight into their pages; the rest wait in the ring.
 * Decode splits each sequence's context between warps (each warp one split; the ring one more split) and
 * merges the splits by log-sum-exp.
 */
public final class CudaPagedAttention {
    private static final int JOB_WORDS = 7, RING_WORDS = 3, INFO_WORDS = 4;
    private final CudaDevice device;
    private final CudaKvLayout layout;
    private final CudaModule module;
    private final int heads, kvHeads, headDim, kvDim;
    private final float scaleLog2;
    private long rowBuf, rowFloats;
    /** The append jobs of {@link #append} (pack jobs, then ring rows). */
    private final GrowingDeviceBuffer jobs;
    private boolean packReady;
    /** The decode kernel in use: the first of {@link #kernels} unless told otherwise. */
    private DecodeKernel kernel;
    /** The pass upload's host buffer (pageable, reused), the event after its last copy, and its device buffer. */
    private final Arena hostArena = Arena.ofAuto();
    private MemorySegment passHost;
    private MemorySegment passEvent;
    private final GrowingDeviceBuffer passDevice;
    /** Split buffers shared by pass plans. */
    private final SplitBuffers passSplits;
    /** Split buffers of the block-sparse decodes (their own: growing them never moves a pass plan's). */
    private final SplitBuffers sparseSplits;

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
        this.passDevice = new GrowingDeviceBuffer(device);
        this.jobs = new GrowingDeviceBuffer(device);
        this.passSplits = new SplitBuffers();
        this.sparseSplits = new SplitBuffers();
        this.module = device.module("kv_attention.cu", List.of("HEAD_DIM=" + headDim, "KV_BITS=" + layout.spec().format().bits(),
                "KEY_CHANNEL=" + (layout.spec().keys() == KeyGrouping.CHANNEL ? 1 : 0), "KV_STAGES=" + RING_STAGES));
        this.kernel = chosenKernel(kernels(), layout.spec().format().flagName(), System.getenv(KERNEL_ENV));
        for (DecodeKernel k : kernels()) {
            int ring = copyRingBytes(k);
            if (ring == 0) continue;
            module.setMaxDynamicSharedMemory(function(k), ring);
            module.setMaxDynamicSharedMemory(sparseFunction(k), ring);
        }
    }

    /** Picks the decode kernel of every paged cache of the process by its {@link DecodeKernel#flag} (for comparisons). */
    public static final String KERNEL_ENV = "BITCAP_KV_DECODE";

    /** The first of {@code kernels} (the default), or the one {@code flag} names (null or blank: the default); one clear line otherwise. */
    static DecodeKernel chosenKernel(List<DecodeKernel> kernels, String format, String flag) {
        if (flag == null || flag.isBlank()) return kernels.get(0);
        for (DecodeKernel k : kernels) if (k.flag().equals(flag.trim())) return k;
        throw new BitcapException(KERNEL_ENV + ": " + format + " decodes with " + String.join(", ", kernels.stream().map(DecodeKernel::flag).toList())
                + ", got '" + flag + "'");
    }

    /** Steps in each warp's copy ring of the folded kernels (KV_STAGES in kv_attention.cu). */
    static final int RING_STAGES = 3;

    /**
     * Dynamic shared memory of a decode kernel: for the folded ones, 4 warps x {@link #RING_STAGES} slots of one step
     * each (kv_attention.cu's RingSlot: key and value codes, value parameters, key parameters); none for the others.
     */
    int copyRingBytes(DecodeKernel k) {
        if (k == DecodeKernel.PER_ELEMENT) return 0;
        // FOLDED_T reads the 16-token ring of FOLDED (RingSlot<1>)
        return copyRingBytes(headDim, layout.spec().format().bits(), layout.spec().keys() == KeyGrouping.CHANNEL, k == DecodeKernel.FOLDED_32 ? 2 : 1);
    }

    static int copyRingBytes(int headDim, int bits, boolean keyChannel, int tiles) {
        int ct = headDim / 16, words = bits == 4 ? ct : ct / 2, maxGroups = headDim / 32;
        int codeWords = tiles * words * 32, paramWords = tiles * 16 * maxGroups;
        int slotWords = 2 * codeWords + paramWords + (keyChannel ? headDim : paramWords);
        return 4 * RING_STAGES * slotWords * 4;
    }

    /** Warps of decode kernel {@code k} that run at once on one multiprocessor (registers and shared memory allowing). */
    private int warpsPerMultiprocessor(DecodeKernel k) {
        return warpsPerSm.computeIfAbsent(k, kk -> 4 * Math.max(1, module.maxActiveBlocks(function(kk), 128, copyRingBytes(kk))));
    }

    private final java.util.Map<DecodeKernel, Integer> warpsPerSm = new java.util.EnumMap<>(DecodeKernel.class);

    /**
     * The decode kernels: for int formats FOLDED_T (the default since 2026-12-02: every check row passes on the H200
     * and it is 1.10-1.27x faster than FOLDED at every benched shape; group parameters folded out of the inner loop,
     * the query heads of a KV head are the MMA's 8 columns, so a group of 4 wastes no MMA rows), FOLDED (the same
     * folding with the query heads as the MMA's 16 rows), FOLDED_32 (FOLDED with 32 tokens per step: one max, rescale
     * and set of shuffles per two tiles) and PER_ELEMENT (each code dequantized with its scale and minimum, the first
     * kernel); fp16 has the one kernel (PER_ELEMENT's code path). All are checked and timed. Each has a block-sparse
     * twin ({@link #decodeSparse}): the same code walking the listed blocks.
     */
    public enum DecodeKernel {
        FOLDED("kv_decode_folded"), FOLDED_T("kv_decode_folded_t", "kv_decode_folded_t16"), FOLDED_32("kv_decode_folded32"), PER_ELEMENT("kv_decode");

        final String function;
        /** The block-sparse twin: the same parameters plus {@code lists, listStride, blk}. */
        final String sparseFunction;
        /**
         * The function (and its sparse twin) for 9-16 query heads per KV head: FOLDED_T's two-n-tile instance (its
         * one-n-tile one serves up to 8 and traps past them); the same as {@link #function} for the others.
         */
        final String wideFunction, wideSparseFunction;

        DecodeKernel(String function) {
            this(function, function);
        }

        DecodeKernel(String function, String wideFunction) {
            this.function = function;
            this.sparseFunction = function + "_sparse";
            this.wideFunction = wideFunction;
            this.wideSparseFunction = wideFunction + "_sparse";
        }

        /** The name {@code BITCAP_KV_DECODE} takes: folded, folded-t, folded-32, per-element. */
        public String flag() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /** The kernels this format can decode with, the default first. */
    public List<DecodeKernel> kernels() {
        return layout.spec().format().quantized() ? List.of(DecodeKernel.FOLDED_T, DecodeKernel.FOLDED, DecodeKernel.FOLDED_32, DecodeKernel.PER_ELEMENT)
                : List.of(DecodeKernel.PER_ELEMENT);
    }

    /** The function {@code k} launches for this attention's query heads per KV head. */
    String function(DecodeKernel k) {
        return heads / kvHeads > 8 ? k.wideFunction : k.function;
    }

    /** The block-sparse twin {@code k} launches for this attention's query heads per KV head. */
    String sparseFunction(DecodeKernel k) {
        return heads / kvHeads > 8 ? k.wideSparseFunction : k.sparseFunction;
    }

    /** Decode with {@code k} from now on (one of {@link #kernels}). */
    public void setKernel(DecodeKernel k) {
        if (!kernels().contains(k)) throw new IllegalArgumentException(k + " does not decode " + layout.spec().format().flagName());
        kernel = k;
    }

    public DecodeKernel kernel() {
        return kernel;
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
     * remaining rows go to the ring. The job lists are uploaded synchronously; a forward pass uses {@link #pass}.
     */
    public void append(int layer, List<CudaPagedKvCache> caches, int[] rowStart, int[] counts, long kPass, long vPass) {
        int[] len0 = new int[caches.size()];
        for (int i = 0; i < caches.size(); i++) {
            caches.get(i).reserve(caches.get(i).length(layer) + counts[i]);
            len0[i] = caches.get(i).length(layer);
        }
        long[] pack = packJobs(caches, len0, rowStart, counts), ring = ringJobs(caches, len0, rowStart, counts);
        long[] all = Arrays.copyOf(pack, pack.length + ring.length);
        System.arraycopy(ring, 0, all, pack.length, ring.length);
        if (all.length > 0) {
            device.upload(jobs.ensure(8L * all.length), all);
        }
        long jobList = jobs.pointer();
        launchAppend(layer, jobList, pack.length / JOB_WORDS, jobList + 8L * pack.length, ring.length / RING_WORDS, kPass, vPass);
        for (int i = 0; i < caches.size(); i++) caches.get(i).setLength(layer, len0[i] + counts[i]);
    }

    /** Pack jobs (blocks completed by the append) with ring addresses of layer 0: the kernel adds the layer's offset. */
    private long[] packJobs(List<CudaPagedKvCache> caches, int[] len0, int[] rowStart, int[] counts) {
        int bt = layout.blockTokens(), jobCount = 0;
        for (int i = 0; i < caches.size(); i++) jobCount += (len0[i] + counts[i]) / bt - len0[i] / bt;
        long[] job = new long[jobCount * JOB_WORDS];
        int j = 0;
        for (int i = 0; i < caches.size(); i++) {
            CudaPagedKvCache c = caches.get(i);
            int len1 = len0[i] + counts[i];
            for (int b = len0[i] / bt * bt; b + bt <= len1; b += bt) {
                job[j++] = c.pageAddress(b);
                job[j++] = b % CudaKvLayout.PAGE_TOKENS;
                job[j++] = b;
                job[j++] = len0[i];
                job[j++] = rowStart[i];
                job[j++] = c.ringKeys(0);
                job[j++] = c.ringValues(0);
            }
        }
        return job;
    }

    /** Ring rows (positions past the last completed block): pass row, layer-0 ring key and value row addresses. */
    private long[] ringJobs(List<CudaPagedKvCache> caches, int[] len0, int[] rowStart, int[] counts) {
        int bt = layout.blockTokens(), rows = 0;
        for (int i = 0; i < caches.size(); i++) {
            int len1 = len0[i] + counts[i];
            rows += len1 - Math.max(len0[i], len1 / bt * bt);
        }
        long[] job = new long[rows * RING_WORDS];
        int j = 0;
        for (int i = 0; i < caches.size(); i++) {
            CudaPagedKvCache c = caches.get(i);
            int len1 = len0[i] + counts[i];
            for (int p = Math.max(len0[i], len1 / bt * bt); p < len1; p++) {
                job[j++] = rowStart[i] + p - len0[i];
                job[j++] = c.ringKeys(0) + 4L * (p % bt) * kvDim;
                job[j++] = c.ringValues(0) + 4L * (p % bt) * kvDim;
            }
        }
        return job;
    }

    private void launchAppend(int layer, long packJobs, int packCount, long ringJobs, int ringCount, long kPass, long vPass) {
        int bt = layout.blockTokens();
        if (packCount > 0) {
            int smem = layout.spec().format().quantized() ? 2 * bt * headDim : 0;
            if (!packReady && smem > 48 * 1024) module.setMaxDynamicSharedMemory("kv_pack", smem);
            packReady = true;
            module.launch("kv_pack").ptr(packJobs).ptr(kPass).ptr(vPass).i(kvHeads).i(layer).l(layout.regionBytes()).i(layout.spec().group())
                    .i(bt).run(packCount, kvHeads, 1, 256, smem);
        }
        if (ringCount > 0) {
            module.launch("kv_ring_store").ptr(ringJobs).ptr(kPass).ptr(vPass).i(kvDim).i(layer).i(bt).run(ringCount, 1, 1, 128, 0);
        }
    }

    /**
     * One forward pass's appends (and, with {@code decodePlan}, its decode plan), the same for every layer: built
     * and uploaded once, asynchronously, from a host buffer that is not written again before the stream has passed
     * the copy. Every layer of every cache must hold the same number of positions, as in a forward pass.
     */
    public final class Pass {
        final int[] len0, counts;
        final List<CudaPagedKvCache> caches;
        final long packJobs, ringJobs;
        final int packCount, ringCount;
        /** The decode plan over the lengths after the append, or null. */
        public final Plan plan;

        private Pass(List<CudaPagedKvCache> caches, int[] rowStart, int[] counts, boolean decodePlan) {
            this.caches = List.copyOf(caches);
            this.counts = counts.clone();
            len0 = new int[caches.size()];
            int[] len1 = new int[caches.size()];
            for (int i = 0; i < caches.size(); i++) {
                CudaPagedKvCache c = caches.get(i);
                len0[i] = c.length(0);
                for (int l = 1; l < layout.layers(); l++) {
                    if (c.length(l) != len0[i]) {
                        throw new IllegalStateException("cache " + i + " holds " + len0[i] + " positions at layer 0 but " + c.length(l) + " at layer " + l);
                    }
                }
                c.reserve(len0[i] + counts[i]);
                len1[i] = len0[i] + counts[i];
            }
            long[] pack = packJobs(caches, len0, rowStart, counts), ring = ringJobs(caches, len0, rowStart, counts);
            Plan p = decodePlan ? new Plan(caches, len1, false) : null;
            long infoWords = p == null ? 0 : p.hostInfo.length, tableInts = p == null ? 0 : p.hostTables.length;
            long bytes = 8L * (pack.length + ring.length + infoWords) + 4L * tableInts;
            MemorySegment host = passHost(bytes);
            long dev = passDevice.ensure(bytes);
            MemorySegment.copy(pack, 0, host, ValueLayout.JAVA_LONG, 0, pack.length);
            MemorySegment.copy(ring, 0, host, ValueLayout.JAVA_LONG, 8L * pack.length, ring.length);
            packJobs = dev;
            ringJobs = dev + 8L * pack.length;
            packCount = pack.length / JOB_WORDS;
            ringCount = ring.length / RING_WORDS;
            if (p != null) {
                long infoOff = 8L * (pack.length + ring.length), tablesOff = infoOff + 8L * infoWords;
                MemorySegment.copy(p.hostInfo, 0, host, ValueLayout.JAVA_LONG, infoOff, p.hostInfo.length);
                MemorySegment.copy(p.hostTables, 0, host, ValueLayout.JAVA_INT, tablesOff, p.hostTables.length);
                p.bindPassBuffers(dev + infoOff, dev + tablesOff);
            }
            if (bytes > 0) {
                device.upload(dev, host.asSlice(0, bytes));
                device.driver().record(passUploaded(), device.stream());
            }
            plan = p;
        }
    }

    /** Builds and uploads (asynchronously) the appends of one forward pass; {@link #append(Pass, int, long, long)} runs a layer's. */
    public Pass pass(List<CudaPagedKvCache> caches, int[] rowStart, int[] counts, boolean decodePlan) {
        return new Pass(caches, rowStart, counts, decodePlan);
    }

    /** Layer {@code layer}'s appends of the pass: rows {@code rowStart[i] ..} of kPass / vPass as {@link #pass} was told. */
    public void append(Pass pass, int layer, long kPass, long vPass) {
        launchAppend(layer, pass.packJobs, pass.packCount, pass.ringJobs, pass.ringCount, kPass, vPass);
        for (int i = 0; i < pass.caches.size(); i++) pass.caches.get(i).setLength(layer, pass.len0[i] + pass.counts[i]);
    }

    private MemorySegment passUploaded() {
        if (passEvent == null) passEvent = device.driver().createEvent();
        return passEvent;
    }

    /** The host side of the pass upload; waits until the stream has passed the previous pass's copy from it. */
    private MemorySegment passHost(long bytes) {
        if (passEvent != null) device.driver().synchronizeEvent(passEvent);
        if (passHost == null || passHost.byteSize() < bytes) passHost = hostArena.allocate(Math.max(bytes, passHost == null ? 4096 : 2 * passHost.byteSize()), 64);
        return passHost;
    }


    /** Split results (partial outputs [rows][headDim] and {max, sum} per row), grown when short, after the stream is idle. */
    private final class SplitBuffers {
        private final GrowingDeviceBuffer partial = new GrowingDeviceBuffer(device), stats = new GrowingDeviceBuffer(device);

        long[] ensure(long need) {
            return new long[] {partial.ensure(4L * need * headDim), stats.ensure(8L * need)};
        }
    }

    /** The split buffers pass plans share (one pass at a time). */
    private long[] splitBuffers(long rows) {
        return passSplits.ensure(rows);
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
     * What a decode over these caches needs on the device, for given lengths: page tables, per-sequence ring
     * addresses and lengths, and the split buffers. Valid until a cache's length changes.
     */
    public final class Plan implements AutoCloseable {
        final int sequences, maxPages, chunk, packedSplits, splits;
        /** The longest packed length of the plan's sequences. */
        final int maxPacked;
        final long poolBase;
        long tables, info, partial, stats;
        /** Bytes of the caches one layer's decode reads (pages and ring rows). */
        public final long bytesRead;
        /** Whether the plan allocated its device buffers (a pass's plan lives in the pass buffers). */
        private final boolean owned;
        final int[] hostTables;
        final long[] hostInfo;

        Plan(List<CudaPagedKvCache> caches, int[] lengths, boolean owned) {
            this.owned = owned;
            sequences = caches.size();
            int bt = layout.blockTokens();
            int mp = 1, maxPacked = 0;
            long bytes = 0;
            for (int s = 0; s < sequences; s++) {
                mp = Math.max(mp, caches.get(s).pagesHeld());
                maxPacked = Math.max(maxPacked, lengths[s] / bt * bt);
                bytes += layout.decodeBytesPerLayer(lengths[s]);
            }
            bytesRead = bytes;
            poolBase = caches.get(0).pool().base();
            for (CudaPagedKvCache c : caches) {
                if (c.pool() != caches.get(0).pool()) throw new IllegalArgumentException("the caches of one decode must share one page pool");
            }
            maxPages = mp;
            this.maxPacked = maxPacked;
            hostTables = new int[sequences * maxPages];
            hostInfo = new long[sequences * INFO_WORDS];
            for (int s = 0; s < sequences; s++) {
                CudaPagedKvCache c = caches.get(s);
                int packed = lengths[s] / bt * bt;
                System.arraycopy(c.table(), 0, hostTables, s * maxPages, c.pagesHeld());
                hostInfo[s * INFO_WORDS] = c.ringKeys(0);
                hostInfo[s * INFO_WORDS + 1] = c.ringValues(0);
                hostInfo[s * INFO_WORDS + 2] = packed;
                hostInfo[s * INFO_WORDS + 3] = lengths[s] - packed;
            }
            long pairs = (long) sequences * kvHeads;
            int[] shape = splitShape(maxPacked, pairs, device.multiprocessors(), warpsPerMultiprocessor(kernel), layout.spec().format().quantized());
            chunk = shape[0];
            packedSplits = shape[1];
            splits = shape[2];
            long rows = pairs * splits * 16;
            if (owned) {
                tables = device.alloc(4L * hostTables.length);
                device.upload(tables, hostTables, 0, hostTables.length);
                info = device.alloc(8L * hostInfo.length);
                device.upload(info, hostInfo);
                partial = device.alloc(4L * rows * headDim);
                stats = device.alloc(8L * rows);
            } else {
                long[] shared = splitBuffers(rows);
                partial = shared[0];
                stats = shared[1];
            }
        }

        void bindPassBuffers(long info, long tables) {
            this.info = info;
            this.tables = tables;
        }

        @Override
        public void close() {
            if (!owned) return;
            device.synchronize();
            for (long p : new long[] {tables, info, partial, stats}) device.free(p);
        }
    }

    /**
     * {chunk, packedSplits, splits} for splits that walk up to {@code walk} positions of each of {@code pairs}
     * (sequence, KV head) pairs: one wave of blocks of 4 warps in all ({@code warpsPerSm} run at once per
     * multiprocessor), each split at least 256 positions; chunks of whole 16-token tiles, for int formats whole
     * 32-token steps (FOLDED_32), which packed lengths (multiples of g >= 32) and sparse virtual lengths (blocks of a
     * multiple of 32, see {@link SparseDecodeMask}) keep; one more split for the ring, and the splits rounded up to
     * blocks of 4 warps. (A fixed 16 warps per multiprocessor had left a second wave of a third of the blocks when only
     * 12 fit: every warp does the same work, so that tail cost as much as the first wave.)
     */
    static int[] splitShape(int walk, long pairs, int multiprocessors, int warpsPerSm, boolean quantized) {
        long blocksPerPair = Math.max(1, (long) warpsPerSm / 4 * multiprocessors / pairs);
        int warps = (int) Math.max(1, Math.min(4 * blocksPerPair - 1, (walk + 255) / 256)); // the ring takes one more
        int ch = (walk + warps - 1) / warps;
        int align = quantized ? 32 : 16;
        int chunk = Math.max(align, (ch + align - 1) / align * align);
        int packedSplits = walk == 0 ? 0 : (walk + chunk - 1) / chunk;
        return new int[] {chunk, packedSplits, 4 * ((packedSplits + 1 + 3) / 4)};
    }

    /**
     * The splits of a block-sparse decode over a plan's caches (SeerAttention-R decode): sized for the longest
     * virtual length a row can have, {@code maxListed * blk + blk} (at most the longest packed length), so a row
     * that lists fewer blocks leaves splits empty. {@code maxListed} must be at least the number of blocks below
     * {@code packed / blk} that any row of the lists names: positions past the splits would be dropped unseen.
     * Valid as long as its plan is.
     */
    public final class SparsePlan {
        final Plan plan;
        final int blk, maxListed, chunk, packedSplits, splits;

        private SparsePlan(Plan plan, int blk, int maxListed) {
            SparseDecodeMask.requireBlock(blk);
            if (maxListed < 0) throw new BitcapException("block-sparse decode: maxListed must not be negative, got " + maxListed);
            if (heads % kvHeads != 0 || heads / kvHeads > 16) {
                throw new BitcapException("block-sparse decode serves up to 16 query heads per KV head, got " + heads + " over " + kvHeads);
            }
            this.plan = plan;
            this.blk = blk;
            this.maxListed = maxListed;
            int walk = (int) Math.min(plan.maxPacked, ((long) maxListed + 1) * blk);
            int[] shape = splitShape(walk, (long) plan.sequences * kvHeads, device.multiprocessors(), warpsPerMultiprocessor(kernel),
                    layout.spec().format().quantized());
            chunk = shape[0];
            packedSplits = shape[1];
            splits = shape[2];
        }

        /** The longest virtual length the splits cover. */
        int covered() {
            return packedSplits * chunk;
        }
    }

    /** The split layout of block-sparse decodes over {@code plan} with blocks of {@code blk} positions, at most {@code maxListed} listed per row. */
    public SparsePlan sparsePlan(Plan plan, int blk, int maxListed) {
        return new SparsePlan(plan, blk, maxListed);
    }

    /**
     * Block-sparse decode (SeerAttention-R): as {@link #decode}, but the (sequence s, KV head g) pair attends, for all
     * its query heads, only the positions of the blocks listed at {@code lists + 4 * (s * kvHeads + g) * listStride}
     * (device ints: count, then block ids ascending; blocks of {@code blk} positions, a multiple of 32) that end at or
     * before fullEnd = (packed / blk) * blk, plus every position of [fullEnd, length) (packed tail and ring) whether
     * listed or not ({@link SparseDecodeMask} is the rule). {@code maxListed}: at least the count of any row. Runs the
     * sparse twin of the current {@link #kernel()}; the split buffers are the sparse decodes' own, grown (after the
     * stream is idle) when short, so the first call at a size allocates: make one before capturing a graph.
     */
    public void decodeSparse(Plan plan, int layer, long q, long lists, int listStride, int blk, int maxListed, long out) {
        decodeSparse(new SparsePlan(plan, blk, maxListed), layer, q, lists, listStride, out);
    }

    /** {@link #decodeSparse(Plan, int, long, long, int, int, int, long)} with splits sized once ({@link #sparsePlan}). */
    public void decodeSparse(SparsePlan sp, int layer, long q, long lists, int listStride, long out) {
        if (listStride < 1) throw new BitcapException("block-sparse decode: a list row holds at least its count, got a stride of " + listStride);
        Plan plan = sp.plan;
        long[] buf = sparseSplits.ensure((long) plan.sequences * kvHeads * sp.splits * 16);
        module.launch(sparseFunction(kernel)).ptr(q).ptr(plan.tables).ptr(plan.info).ptr(plan.poolBase).ptr(buf[0]).ptr(buf[1]).i(heads).i(kvHeads)
                .i(layer).l(layout.regionBytes()).l(layout.pageBytes()).i(plan.maxPages).i(sp.chunk).i(sp.packedSplits).i(layout.spec().group())
                .i(layout.blockTokens()).f(scaleLog2).ptr(lists).i(listStride).i(sp.blk).run(kvHeads, plan.sequences, sp.splits / 4, 128, copyRingBytes(kernel));
        combine(buf[0], buf[1], out, sp.splits, plan.sequences);
    }


    /** A plan for the lengths {@code layer} has now, with its own device buffers (close it). Ring addresses are layer 0's: the kernel adds the layer's offset. */
    public Plan plan(List<CudaPagedKvCache> caches, int layer) {
        int[] lengths = new int[caches.size()];
        for (int s = 0; s < lengths.length; s++) lengths[s] = caches.get(s).length(layer);
        return new Plan(caches, lengths, true);
    }

    /**
     * x[0 .. n) = deterministic pseudo-random numbers of deviation ~sigma, plus {@code offset} at every
     * {@code period}-th element (outlier channels, as keys have): synthetic cache rows for benchmarks.
     */
    void fillRandom(long x, long n, int seed, float sigma, int period, float offset) {
        module.launch("kv_fill").ptr(x).l(n).i(seed).f(sigma).i(period).f(offset).run(1024, 1, 1, 256, 0);
    }

    /** out [seq][heads * headDim] = attention of q [seq][heads * headDim] (one query per sequence) at {@code layer}. */
    public void decode(Plan plan, int layer, long q, long out) {
        module.launch(function(kernel)).ptr(q).ptr(plan.tables).ptr(plan.info).ptr(plan.poolBase).ptr(plan.partial).ptr(plan.stats).i(heads).i(kvHeads).i(layer)
                .l(layout.regionBytes()).l(layout.pageBytes()).i(plan.maxPages).i(plan.chunk).i(plan.packedSplits).i(layout.spec().group())
                .i(layout.blockTokens()).f(scaleLog2).run(kvHeads, plan.sequences, plan.splits / 4, 128, copyRingBytes(kernel));
        combine(plan.partial, plan.stats, out, plan.splits, plan.sequences);
    }

    /** kv_combine: merges the splits' partial rows into out; its threads share the splits, one weight each in shared memory. */
    private void combine(long partial, long stats, long out, int splits, int sequences) {
        int weightBytes = 4 * splits;
        if (weightBytes > 48 * 1024) throw new IllegalStateException("kv_combine: " + splits + " splits exceed its 48 KiB of split weights");
        module.launch("kv_combine").ptr(partial).ptr(stats).ptr(out).i(heads).i(kvHeads).i(splits).run(heads, sequences, 1, 128, weightBytes);
    }
}
