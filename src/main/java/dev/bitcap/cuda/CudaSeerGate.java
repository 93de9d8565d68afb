package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.tensor.RopeStyle;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * A {@link SeerGate} on the GPU ({@code seer_gate.cu}): its weights in fp32 on the device, and {@link #select}, which
 * pools one layer's Q and K (fp16/bf16, before RoPE), maps and rotates them, scores the causal key blocks and writes
 * the chosen blocks in the list layout {@link CudaSparseAttention} reads. Same rules as {@link BlockSelection}.
 */
public final class CudaSeerGate {
    private static final int SELECT_ROWS = 8, KEY_TILE = 32, MAX_GATE = 256, MAP_BLOCKS = 8;
    /** Bytes the radix picker's score matrix may take (heads x blocks x blocks floats). */
    static final long MAX_SCORE_BYTES = 4L << 30;

    /**
     * How the blocks of a row are chosen: {@code SORT} (gate_select: scores and a bitonic sort per row in one kernel)
     * or {@code RADIX} (gate_query_tiled / gate_key_tiled, which map 8 blocks per weight read, then gate_scores +
     * gate_pick: a tiled score product into a heads x blocks x blocks matrix, then one warp per row with a radix
     * select; the same sums in the same order). {@link #DEFAULT} is RADIX: its rows passed on the H200 (2026-12-02)
     * and its gate took 0.46 ms instead of 1.15 at 32K and 2.5 instead of 14 at 128K. A RADIX gate whose score matrix
     * would pass {@link #MAX_SCORE_BYTES} selects with SORT for that call instead.
     */
    public enum Picker {
        SORT, RADIX;

        public static final Picker DEFAULT = RADIX;

        /** SORT or RADIX (any case); anything else is a one-line error naming the choices. */
        public static Picker parse(String name) {
            for (Picker p : values()) if (p.name().equalsIgnoreCase(name.strip())) return p;
            throw new BitcapException("gate picker must be sort or radix, not '" + name + "'");
        }
    }

    private final CudaDevice device;
    private final CudaModule module;
    private final SeerGate gate;
    private final SeerGate.Shape shape;
    private final boolean adjacent;
    private final long invFreq;
    private final long[] wq, wk;
    private final Picker picker;
    private long gq, gk, scores;
    private int scratchBlocks;
    private int selectSmem = -1;

    public CudaSeerGate(CudaDevice device, SeerGate gate, boolean bf16) {
        this(device, gate, bf16, Picker.DEFAULT);
    }

    public CudaSeerGate(CudaDevice device, SeerGate gate, boolean bf16, Picker picker) {
        this.picker = picker;
        this.gate = gate;
        this.shape = gate.shape();
        if (shape.block() != CudaSparseAttention.BLOCK) {
            throw new BitcapException("the CUDA sparse attention needs a gate of block size " + CudaSparseAttention.BLOCK + ", this one has " + shape.block());
        }
        if (shape.gateDim() > MAX_GATE) throw new BitcapException("the CUDA gate runs gate dims up to " + MAX_GATE + ", not " + shape.gateDim());
        if (shape.headDim() != 64 && shape.headDim() != 128) throw new BitcapException("the CUDA gate runs head dim 64 or 128, not " + shape.headDim());
        this.device = device;
        this.module = device.module("seer_gate.cu", List.of("HEAD_DIM=" + shape.headDim(), "BF16=" + (bf16 ? 1 : 0)));
        this.adjacent = gate.ropeStyle() == RopeStyle.ADJACENT_PAIRS;
        this.invFreq = upload(gate.invFreq());
        this.wq = new long[shape.layers()];
        this.wk = new long[shape.layers()];
        for (int l = 0; l < shape.layers(); l++) {
            wq[l] = upload(gate.queryWeights(l));
            wk[l] = upload(gate.keyWeights(l));
        }
    }

    private long upload(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        long p = device.alloc(4L * f.length);
        device.upload(p, f, 0, f.length);
        return p;
    }

    public SeerGate.Shape shape() {
        return shape;
    }

    public Picker picker() {
        return picker;
    }

    /** The gate these weights were uploaded from. */
    SeerGate gate() {
        return gate;
    }

    CudaDevice device() {
        return device;
    }

    /** Device address of a layer's query map, fp32 {@code [heads][headDim][gateDim]} (shared with the decode gate). */
    long queryWeights(int layer) {
        return wq[layer];
    }

    /** Device address of a layer's key map, fp32 {@code [kvHeads][3 headDim][gateDim]}. */
    long keyWeights(int layer) {
        return wk[layer];
    }

    /**
     * Chooses the key blocks of every query head and query block of one layer for positions 0..len-1 of q and k
     * (rows {@code qStride} and {@code kStride} elements apart) into counts [heads][nb] and lists.
     */
    public void select(int layer, long q, long k, int len, long qStride, long kStride, BlockSelection selection, long counts, long lists) {
        int nb = CudaSparseAttention.blocks(len), gd = shape.gateDim();
        boolean radix = picker == Picker.RADIX && radixFits(shape.heads(), nb);
        if (nb > scratchBlocks || (radix && scores == 0)) {
            if (gq != 0) {
                device.free(gq);
                device.free(gk);
            }
            if (scores != 0) device.free(scores);
            scratchBlocks = nb;
            gq = device.alloc(4L * shape.heads() * nb * gd);
            gk = device.alloc(4L * shape.kvHeads() * nb * gd);
            scores = radix ? device.alloc(4L * shape.heads() * nb * nb) : 0;
        }
        if (radix) {
            int groups = (nb + MAP_BLOCKS - 1) / MAP_BLOCKS;
            module.launch("gate_query_tiled").ptr(q).ptr(wq[layer]).ptr(invFreq).ptr(gq).i(len).i(shape.heads()).l(qStride).i(gd).i(shape.block())
                    .i(adjacent ? 1 : 0).i(nb).run(groups, shape.heads(), 1, 128, 0);
            module.launch("gate_key_tiled").ptr(k).ptr(wk[layer]).ptr(invFreq).ptr(gk).i(len).i(shape.kvHeads()).l(kStride).i(gd).i(shape.block())
                    .i(adjacent ? 1 : 0).i(nb).run(groups, shape.kvHeads(), 1, 128, 0);
        } else {
            module.launch("gate_query").ptr(q).ptr(wq[layer]).ptr(invFreq).ptr(gq).i(len).i(shape.heads()).l(qStride).i(gd).i(shape.block())
                    .i(adjacent ? 1 : 0).run(nb, shape.heads(), 1, 128, 0);
            module.launch("gate_key").ptr(k).ptr(wk[layer]).ptr(invFreq).ptr(gk).i(len).i(shape.kvHeads()).l(kStride).i(gd).i(shape.block())
                    .i(adjacent ? 1 : 0).run(nb, shape.kvHeads(), 1, 128, 0);
        }
        boolean byThreshold = selection.byThreshold();
        if (radix) {
            int tiles = (nb + 63) / 64;
            module.launch("gate_scores").ptr(gq).ptr(gk).ptr(scores).i(nb).i(shape.heads()).i(shape.kvHeads()).i(gd).f((float) (1.0 / Math.sqrt(gd)))
                    .run(tiles * (tiles + 1) / 2, shape.heads(), 1, 256, 0);
            long rows = (long) shape.heads() * nb;
            module.launch("gate_pick").ptr(scores).ptr(counts).ptr(lists).i(nb).i(shape.heads())
                    .l(Double.doubleToRawLongBits(byThreshold ? 1.0 : selection.density())).f(byThreshold ? (float) selection.threshold() : 0f)
                    .i(byThreshold ? 1 : 0).run((int) ((rows + 3) / 4), 1, 1, 128, 0);
            return;
        }
        int pow2 = 2;
        while (pow2 < nb) pow2 <<= 1;
        long smem = 8L * pow2 + 4L * (SELECT_ROWS * gd + KEY_TILE * (gd + 1) + (long) SELECT_ROWS * nb);
        if (smem > 227 * 1024) {
            throw new BitcapException(String.format("the CUDA gate's selection of %d blocks needs %d KiB of shared memory, over the 227 KiB a block can have",
                    nb, smem / 1024));
        }
        if (smem > selectSmem) {
            module.setMaxDynamicSharedMemory("gate_select", (int) smem);
            selectSmem = (int) smem;
        }
        module.launch("gate_select").ptr(gq).ptr(gk).ptr(counts).ptr(lists).i(nb).i(shape.heads()).i(shape.kvHeads()).i(gd)
                .f((float) (1.0 / Math.sqrt(gd))).l(Double.doubleToRawLongBits(byThreshold ? 1.0 : selection.density()))
                .f(byThreshold ? (float) selection.threshold() : 0f).i(byThreshold ? 1 : 0)
                .run((nb + SELECT_ROWS - 1) / SELECT_ROWS, shape.heads(), 1, 256, (int) smem);
    }

    /** Whether the radix picker's score matrix for {@code nb} blocks fits in {@link #MAX_SCORE_BYTES}. */
    static boolean radixFits(int heads, long nb) {
        return 4L * heads * nb * nb <= MAX_SCORE_BYTES;
    }

    /** Copies {@code count} ints from the device (counts or lists, for checks). */
    static int[] downloadInts(CudaDevice device, long src, int count) {
        int[] out = new int[count];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(4L * Math.max(1, count), 64);
            device.driver().copyToHostAsync(s, src, 4L * count, device.stream());
            device.synchronize();
            MemorySegment.copy(s, ValueLayout.JAVA_INT, 0, out, 0, count);
        }
        return out;
    }
}
