package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.tensor.RopeStyle;
import java.util.Arrays;
import java.util.List;

/**
 * The SeerAttention-R decode gate on the GPU ({@code seer_gate.cu}: seer_decode_prompt, seer_decode_append,
 * seer_decode_select): per sequence slot, layer and KV head, the gate keys of completed blocks and the running
 * max / min / sum of the block being filled (the maths of {@code SeerKeyCache}), and for one decode token per sequence
 * the per-KV-head block scores of {@code GateBlockScorer.decodeScores} turned into block lists by the rule of
 * {@link BlockSelection#select}.
 *
 * <p>Use: {@link #prompt} for each layer of a sequence's first pass; then per decode pass {@link #beginDecode} once
 * (uploads slots and positions), and per layer {@link #append} (the token's key before RoPE) and {@link #select} (the
 * token's query before RoPE). Inputs are fp32 rows: K {@code [rows][kvHeads·headDim]}, Q {@code [rows][heads·headDim]}.
 * Row {@code s} of a decode pass's Q, K and list output is the sequence {@code slots[s]} of {@link #beginDecode}.
 *
 * <p>List rows: {@code lists + (s·kvHeads + g)·listStride} ints = {@code [count, ascending block ids]}, blocks of
 * {@link #block()} positions, ids in {@code 0..c} with {@code c = position / block}; 0 and c always listed (every
 * block when there are at most two). A row needs {@code 1 + maxListed(selection, position + 1)} ints.
 */
public final class CudaSeerDecodeGate implements AutoCloseable {
    private static final int THREADS = 128, SELECT_THREADS = 256, MAX_GATE = 256, MAX_GROUP = 16, SCORE_KEYS = 64, SCORE_THREADS = 128;
    private static final long MAX_SMEM = 227 * 1024;

    private final CudaDevice device;
    private final CudaModule module;
    private final SeerGate.Shape shape;
    private final int block, group;
    private final boolean adjacent;
    private final float scale;
    private final int slotCount, capacity, maxBlocks;
    private final long invFreq;
    private final long[] wq, wk;
    private final boolean ownsWeights;
    private final long keys, state, deviceSlots, devicePositions;
    /** Positions each slot holds (host-side bookkeeping, to catch a skipped or repeated position). */
    private final int[] lengths;
    private int[] passSlots = new int[0], passPositions = new int[0];
    private int passBlocks; // the largest c = position / block of the pass
    private final java.util.Map<String, Long> smemSet = new java.util.HashMap<>();
    /** The pass's mapped and rotated queries [rows][heads][gateDim], and raw scores [rows][kvHeads][group][zStride]. */
    private final long queries;
    private final GrowingDeviceBuffer zScores;
    private boolean closed;
    /** Set when {@link #grown} handed the weights and frequencies to a larger gate: close() leaves them. */
    private boolean ownsWeightsTransferred;

    /**
     * Uploads {@code gate}'s weights (fp32) and allocates key caches for {@code slots} sequences of up to
     * {@code capacity} positions each.
     */
    public CudaSeerDecodeGate(CudaDevice device, SeerGate gate, int slots, int capacity) {
        this(device, gate, null, slots, capacity);
    }

    /** Shares the weights already on the device in {@code weights} (a prefill gate of the same SeerGate). */
    public CudaSeerDecodeGate(CudaSeerGate weights, int slots, int capacity) {
        this(weights.device(), weights.gate(), weights, slots, capacity);
    }

    private CudaSeerDecodeGate(CudaDevice device, SeerGate gate, CudaSeerGate shared, int slots, int capacity) {
        this.shape = gate.shape();
        this.block = shape.block();
        if (block != CudaSparseAttention.BLOCK) {
            throw new BitcapException("the CUDA decode gate needs a gate of block size " + CudaSparseAttention.BLOCK + ", this one has " + block);
        }
        if (shape.gateDim() > MAX_GATE) throw new BitcapException("the CUDA decode gate runs gate dims up to " + MAX_GATE + ", not " + shape.gateDim());
        if (shape.headDim() != 64 && shape.headDim() != 128) throw new BitcapException("the CUDA decode gate runs head dim 64 or 128, not " + shape.headDim());
        this.group = shape.heads() / shape.kvHeads();
        if (group > MAX_GROUP) throw new BitcapException("the CUDA decode gate runs up to " + MAX_GROUP + " query heads per KV head, not " + group);
        if (slots < 1) throw new IllegalArgumentException("slots must be >= 1, got " + slots);
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1 position, got " + capacity);
        this.device = device;
        this.zScores = new GrowingDeviceBuffer(device);
        this.module = device.module("seer_gate.cu", List.of("HEAD_DIM=" + shape.headDim(), "BF16=0"));
        this.adjacent = gate.ropeStyle() == RopeStyle.ADJACENT_PAIRS;
        this.scale = (float) gate.scale();
        this.slotCount = slots;
        this.capacity = capacity;
        this.maxBlocks = Math.max(1, capacity / block);
        double[] freq = gate.invFreq();
        this.invFreq = device.alloc(8L * freq.length);
        device.upload(invFreq, Arrays.stream(freq).mapToLong(Double::doubleToRawLongBits).toArray());
        int layers = shape.layers();
        this.wq = new long[layers];
        this.wk = new long[layers];
        this.ownsWeights = shared == null;
        for (int l = 0; l < layers; l++) {
            wq[l] = shared != null ? shared.queryWeights(l) : upload(gate.queryWeights(l));
            wk[l] = shared != null ? shared.keyWeights(l) : upload(gate.keyWeights(l));
        }
        this.keys = device.alloc(keyBytes(shape, slots, capacity));
        this.state = device.alloc(4L * slots * layers * shape.kvHeads() * 3 * shape.headDim());
        this.deviceSlots = device.alloc(4L * slots);
        this.devicePositions = device.alloc(4L * slots);
        this.queries = device.alloc(4L * slots * shape.heads() * shape.gateDim());
        this.lengths = new int[slots];
    }

    /** For {@link #grown}: the same module, weights and frequencies, new key caches. */
    private CudaSeerDecodeGate(CudaDevice device, CudaModule module, SeerGate.Shape shape, boolean adjacent, float scale, int slots, int capacity,
                               long invFreq, long[] wq, long[] wk, boolean ownsWeights) {
        this.device = device;
        this.zScores = new GrowingDeviceBuffer(device);
        this.module = module;
        this.shape = shape;
        this.block = shape.block();
        this.group = shape.heads() / shape.kvHeads();
        this.adjacent = adjacent;
        this.scale = scale;
        this.slotCount = slots;
        this.capacity = capacity;
        this.maxBlocks = Math.max(1, capacity / block);
        this.invFreq = invFreq;
        this.wq = wq;
        this.wk = wk;
        this.ownsWeights = ownsWeights;
        this.keys = device.alloc(keyBytes(shape, slots, capacity));
        this.state = device.alloc(4L * slots * shape.layers() * shape.kvHeads() * 3 * shape.headDim());
        this.deviceSlots = device.alloc(4L * slots);
        this.devicePositions = device.alloc(4L * slots);
        this.queries = device.alloc(4L * slots * shape.heads() * shape.gateDim());
        this.lengths = new int[slots];
    }

    private long upload(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        return device.upload(f);
    }

    /** Bytes of the gate-key cache for {@code slots} sequences of {@code capacity} positions (fp32 keys of completed blocks). */
    public static long keyBytes(SeerGate.Shape shape, int slots, int capacity) {
        return 4L * slots * shape.layers() * shape.kvHeads() * Math.max(1, capacity / shape.block()) * shape.gateDim();
    }

    public SeerGate.Shape shape() {
        return shape;
    }

    /** Positions per block (CudaSparseAttention.BLOCK). */
    public int block() {
        return block;
    }

    public int slots() {
        return slotCount;
    }

    /** Positions a slot may hold. */
    public int capacity() {
        return capacity;
    }

    /**
     * The most block ids one list row can hold for a token whose row has {@code length} positions (its own included),
     * in blocks of {@link CudaSparseAttention#BLOCK}: n = ceil(length / block) blocks; n when n <= 2; under a density
     * budget(D, n); under a threshold T, 2 + min(n - 2, floor(1/T) + 1) (scores sum to 1, so at most about 1/T exceed
     * T; one more for fp32 rounding). Non-decreasing in {@code length}, so the value at the longest row bounds a pass.
     */
    public static int maxListed(BlockSelection selection, int length) {
        return maxListed(selection, length, CudaSparseAttention.BLOCK);
    }

    /** {@link #maxListed(BlockSelection, int)} for blocks of {@code block} positions. */
    public static int maxListed(BlockSelection selection, int length, int block) {
        if (length <= 0) return 0;
        int n = (length - 1) / block + 1;
        if (n <= 2) return n;
        if (selection.byThreshold()) {
            long above = (long) Math.floor(1 / selection.threshold()) + 1;
            return (int) (2 + Math.min(n - 2, above));
        }
        return BlockSelection.budget(selection.density(), n);
    }

    /**
     * Layer {@code layer} of a sequence's first pass of {@code n} positions (0..n-1) in slot {@code slot}: the gate key
     * of every completed block and the running state of the partial last one. {@code kPre}: n fp32 rows of
     * kvHeads·headDim, before RoPE. The slot then holds n positions (it may have held another sequence before).
     */
    public void prompt(int slot, int layer, long kPre, int n) {
        checkOpen();
        checkSlot(slot);
        checkLayer(layer);
        if (n < 1) throw new IllegalArgumentException("a prompt needs at least one position, got " + n);
        if (n > capacity) {
            throw new BitcapException("a prompt of " + n + " positions outgrows the decode gate's key cache of " + capacity + " positions per sequence");
        }
        module.launch("seer_decode_prompt").ptr(kPre).ptr(wk[layer]).ptr(invFreq).ptr(keys).ptr(state).i(n).i(slot).i(shape.layers()).i(layer)
                .i(shape.kvHeads()).i(shape.gateDim()).i(block).i(maxBlocks).i(adjacent ? 1 : 0)
                .run((n + block - 1) / block, shape.kvHeads(), 1, THREADS, 0);
        lengths[slot] = n;
    }

    /**
     * Starts a decode pass of one token per sequence: row s is slot {@code slots[s]} at position {@code positions[s]},
     * which must be the number of positions the slot holds (or 0: a new sequence in that slot). Uploads both arrays once
     * for every layer's {@link #append} and {@link #select}.
     */
    public void beginDecode(int[] slots, int[] positions) {
        checkOpen();
        if (slots.length != positions.length) throw new IllegalArgumentException(slots.length + " slots but " + positions.length + " positions");
        if (slots.length < 1 || slots.length > slotCount) throw new IllegalArgumentException("a decode pass of " + slots.length + " sequences, the gate has " + slotCount + " slots");
        boolean[] seen = new boolean[slotCount];
        int most = 0;
        for (int s = 0; s < slots.length; s++) {
            int slot = slots[s], p = positions[s];
            checkSlot(slot);
            if (seen[slot]) throw new IllegalArgumentException("slot " + slot + " appears twice in one decode pass");
            seen[slot] = true;
            if (p >= capacity) {
                throw new BitcapException("the sequence in gate slot " + slot + " reached position " + p + ", past the decode gate's key cache of "
                        + capacity + " positions per sequence");
            }
            if (p < 0 || (p != lengths[slot] && p != 0)) {
                throw new IllegalStateException("gate slot " + slot + " holds " + lengths[slot] + " positions, the decode pass gave position " + p);
            }
            most = Math.max(most, p / block);
        }
        for (int s = 0; s < slots.length; s++) lengths[slots[s]] = positions[s] + 1;
        passSlots = slots.clone();
        passPositions = positions.clone();
        passBlocks = most;
        device.upload(deviceSlots, passSlots, 0, passSlots.length);
        device.upload(devicePositions, passPositions, 0, passPositions.length);
    }

    /** The sequences of the current decode pass (rows of Q, K and lists), in order. */
    public int sequences() {
        return passSlots.length;
    }

    /**
     * Layer {@code layer}'s keys (before RoPE, fp32 rows of kvHeads·headDim, row s for the pass's sequence s) of the
     * current decode pass: folded into the running state, and the gate key of a block stored when the token completes it.
     */
    public void append(int layer, long kPre) {
        checkPass();
        checkLayer(layer);
        module.launch("seer_decode_append").ptr(kPre).ptr(wk[layer]).ptr(invFreq).ptr(keys).ptr(state).ptr(deviceSlots).ptr(devicePositions)
                .i(shape.layers()).i(layer).i(shape.kvHeads()).i(shape.gateDim()).i(block).i(maxBlocks).i(adjacent ? 1 : 0)
                .run(passSlots.length, shape.kvHeads(), 1, THREADS, 0);
    }

    /** {@link #beginDecode} (only when {@code slots} / {@code positions} differ from the current pass's) then {@link #append(int, long)}. */
    public void append(int layer, long kPre, int[] slots, int[] positions) {
        if (!Arrays.equals(slots, passSlots) || !Arrays.equals(positions, passPositions)) beginDecode(slots, positions);
        append(layer, kPre);
    }

    /**
     * Layer {@code layer}'s block lists of the current decode pass from its queries {@code qPre} (before RoPE, fp32 rows
     * of heads·headDim): row {@code (s·kvHeads + g)} of {@code lists}, {@code listStride} ints apart, gets
     * {@code [count, ascending ids]}. {@code listStride} must be at least 1 + {@link #maxListed} of the pass's longest row.
     */
    public void select(int layer, long qPre, BlockSelection selection, long lists, int listStride) {
        select(layer, qPre, selection, lists, listStride, 0, 0);
    }

    /** {@link #select}, also writing each row's scores (block j < c at {@code scores + (s·kvHeads + g)·scoreStride + j}) when scores != 0. */
    void select(int layer, long qPre, BlockSelection selection, long lists, int listStride, long scores, int scoreStride) {
        checkPass();
        checkLayer(layer);
        int longest = 0;
        for (int p : passPositions) longest = Math.max(longest, p + 1);
        int need = 1 + maxListed(selection, longest);
        if (listStride < need) {
            throw new IllegalArgumentException("list rows of " + listStride + " ints are too short: " + selection + " at " + longest + " positions lists up to "
                    + (need - 1) + " blocks, plus the count");
        }
        if (scores != 0 && scoreStride < passBlocks) throw new IllegalArgumentException("score rows of " + scoreStride + " floats, " + passBlocks + " blocks");
        int zStride = Math.max(1, passBlocks), rows = passSlots.length, gd = shape.gateDim();
        long selectSmem = 4L * zStride, scoreSmem = 4L * ((long) group * gd + (long) SCORE_KEYS * (gd + 1));
        if (selectSmem > MAX_SMEM) {
            throw new BitcapException(String.format("the CUDA decode gate's scores of %d blocks need %d KiB of shared memory, over the %d KiB a block can have",
                    zStride, selectSmem / 1024, MAX_SMEM / 1024));
        }
        long querySmem = 4L * group * (shape.headDim() + gd);
        smem("seer_decode_query", querySmem);
        smem("seer_decode_scores", scoreSmem);
        smem("seer_decode_select", selectSmem);
        long zScores = this.zScores.ensure(4L * rows * shape.kvHeads() * group * zStride);
        boolean byThreshold = selection.byThreshold();
        module.launch("seer_decode_query").ptr(qPre).ptr(wq[layer]).ptr(invFreq).ptr(devicePositions).ptr(queries).i(shape.heads()).i(shape.kvHeads())
                .i(gd).i(adjacent ? 1 : 0).run(rows, shape.kvHeads(), 1, SELECT_THREADS, (int) querySmem);
        module.launch("seer_decode_scores").ptr(queries).ptr(keys).ptr(deviceSlots).ptr(devicePositions).ptr(zScores).i(shape.layers()).i(layer)
                .i(shape.heads()).i(shape.kvHeads()).i(gd).i(block).i(maxBlocks).f(scale).i(zStride)
                .run((zStride + SCORE_KEYS - 1) / SCORE_KEYS, shape.kvHeads(), rows, SCORE_THREADS, (int) scoreSmem);
        module.launch("seer_decode_select").ptr(zScores).ptr(devicePositions).ptr(lists).i(listStride).i(shape.heads()).i(shape.kvHeads()).i(block)
                .l(Double.doubleToRawLongBits(byThreshold ? 1.0 : selection.density())).f(byThreshold ? (float) selection.threshold() : 0f)
                .i(byThreshold ? 1 : 0).i(zStride).ptr(scores).i(scoreStride).run(rows, shape.kvHeads(), 1, SELECT_THREADS, (int) selectSmem);
    }

    /** Raises a kernel's dynamic shared memory limit when {@code bytes} pass the 48 KiB default (once per size). */
    private void smem(String kernel, long bytes) {
        if (bytes <= 48 * 1024) return;
        Long done = smemSet.get(kernel);
        if (done != null && done >= bytes) return;
        module.setMaxDynamicSharedMemory(kernel, (int) bytes);
        smemSet.put(kernel, bytes);
    }

    /**
     * A gate with room for {@code slots} sequences of {@code capacity} positions (at least this one's) that holds this
     * one's keys, running states and positions, and takes over its weights; this one is closed. Nothing runs on the
     * host: device-to-device copies on the stream.
     */
    CudaSeerDecodeGate grown(int slots, int capacity) {
        checkOpen();
        if (slots < slotCount || capacity < this.capacity) throw new IllegalArgumentException("a grown gate cannot be smaller");
        CudaSeerDecodeGate g = new CudaSeerDecodeGate(device, module, shape, adjacent, scale, slots, capacity, invFreq, wq, wk, ownsWeights);
        long heads = (long) slotCount * shape.layers() * shape.kvHeads();
        long oldRow = 4L * maxBlocks * shape.gateDim(), newRow = 4L * g.maxBlocks * shape.gateDim();
        if (oldRow == newRow) {
            device.driver().copyOnDevice(g.keys, keys, heads * oldRow, device.stream());
        } else {
            for (long h = 0; h < heads; h++) device.driver().copyOnDevice(g.keys + h * newRow, keys + h * oldRow, oldRow, device.stream());
        }
        device.driver().copyOnDevice(g.state, state, 4L * heads * 3 * shape.headDim(), device.stream());
        System.arraycopy(lengths, 0, g.lengths, 0, slotCount);
        ownsWeightsTransferred = true;
        device.synchronize(); // the copies read this gate's buffers
        close();
        return g;
    }

    /**
     * A slot as if it held {@code positions} positions of synthetic keys (benchmarks of a cache filled without a
     * prefill, {@code --kv-fill}): random compressed keys for every layer's blocks and a random running state, from
     * {@code filler}'s pseudo-random fill kernel. Scores of such keys are noise; the work per decode step is real.
     */
    void fillRandom(int slot, int positions, CudaPagedAttention filler, int seed) {
        checkOpen();
        checkSlot(slot);
        if (positions < 0 || positions >= capacity) {
            throw new BitcapException("a slot filled with " + positions + " positions outgrows the decode gate's key cache of " + capacity + " positions");
        }
        long heads = (long) shape.layers() * shape.kvHeads();
        long keyFloats = heads * maxBlocks * shape.gateDim(), stateFloats = heads * 3 * shape.headDim();
        filler.fillRandom(keys + 4L * slot * keyFloats, keyFloats, seed, 1f, 0, 0f);
        filler.fillRandom(state + 4L * slot * stateFloats, stateFloats, seed ^ 0x27d4eb2f, 1f, 0, 0f);
        lengths[slot] = positions;
    }

    /** Gate keys of blocks 0..blocks-1 of a slot's layer, {@code [(j·kvHeads + g)·gateDim + o]} (the CPU's order; for checks). */
    float[] downloadKeys(int slot, int layer, int blocks) {
        int gd = shape.gateDim(), kv = shape.kvHeads();
        float[] byHead = new float[kv * blocks * gd];
        for (int g = 0; g < kv; g++) {
            long head = ((long) slot * shape.layers() + layer) * kv + g;
            if (blocks > 0) device.download(byHead, g * blocks * gd, keys + 4L * head * maxBlocks * gd, blocks * gd);
        }
        float[] out = new float[byHead.length];
        for (int g = 0; g < kv; g++) {
            for (int j = 0; j < blocks; j++) System.arraycopy(byHead, (g * blocks + j) * gd, out, (j * kv + g) * gd, gd);
        }
        return out;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the decode gate is closed");
    }

    private void checkPass() {
        checkOpen();
        if (passSlots.length == 0) throw new IllegalStateException("no decode pass: call beginDecode first");
    }

    private void checkSlot(int slot) {
        if (slot < 0 || slot >= slotCount) throw new IllegalArgumentException("gate slot " + slot + " is not in 0.." + (slotCount - 1));
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= shape.layers()) throw new IllegalArgumentException("layer " + layer + " is not in 0.." + (shape.layers() - 1));
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        device.free(keys);
        device.free(state);
        device.free(deviceSlots);
        device.free(devicePositions);
        device.free(queries);
        zScores.close();
        if (ownsWeightsTransferred) return;
        device.free(invFreq);
        if (ownsWeights) {
            for (long p : wq) device.free(p);
            for (long p : wk) device.free(p);
        }
    }
}
