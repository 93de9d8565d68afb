package dev.bitcap.cuda;

import dev.bitcap.model.ModelConfig;
import dev.bitcap.tensor.DType;
import java.util.List;

/**
 * MoE layers routed and run on the device ({@code moe.cu}) for passes of up to {@link #MAX_TOKENS} tokens: the router
 * logits stay on the device, a kernel routes the tokens (softmax, top-k, renormalisation, exactly as
 * {@link dev.bitcap.engine.ExpertRouting}) and builds each expert's token list, and expert-indexed GEMVs read the
 * chosen experts' weights through tables of device pointers, each expert once for all the tokens that chose it.
 * No host round trip, so such passes can be captured as CUDA graphs; the experts chosen in every layer are kept on
 * the device and fetched once after the pass ({@link #chosen}).
 *
 * <p>Covered: experts in F32, F16, BF16 and every packed group format (the ones with a decode table, AWQ input
 * scales included). Not covered, so routed on the host by {@link CudaBackend}: GGUF Q8_0/Q4_0 and binary experts,
 * and passes longer than {@link #MAX_TOKENS} (prefill, which runs each expert as one cuBLAS product over its tokens).
 */
final class CudaMoe {
    /**
     * Longest pass routed on the device: decode up to batch 64. Up to 15 tokens the whole pass is GEMV and is
     * graph-captured; from 16 on the other products use cuBLAS, and each expert, with ~n·k/experts tokens, still reads
     * its rows once per 4 tokens, which beats a dequantization to fp16 and a cuBLAS product per expert and step.
     */
    static final int MAX_TOKENS = 64;
    /** Most experts per token the routing kernel keeps (MAX_K in moe.cu); models choosing more route on the host. */
    static final int MAX_K = 16;

    /** One projection (gate, up or down) of every expert of a layer: pointer tables and the shared shape. */
    /** @param pointers device table of 3 × experts pointers: codes (or dense weights), fp16 parameters, input scales */
    record Projection(long pointers, DeviceMatrix first) {}

    /** A layer's experts as the kernels read them. */
    record Experts(Projection gate, Projection up, Projection down) {}

    private final CudaDevice device;
    private final CudaOps ops;
    private final ModelConfig c;
    private final int k, experts;
    private final long chosenAll, weight, counts, offsets, listTok, slotOf, g, u, ys;
    private CudaModule module;

    CudaMoe(CudaDevice device, CudaOps ops, ModelConfig c) {
        this.device = device;
        this.ops = ops;
        this.c = c;
        this.k = c.expertsPerToken();
        this.experts = c.experts();
        int entries = MAX_TOKENS * k, f = c.moeIntermediate();
        chosenAll = device.alloc(4L * c.layers() * entries);
        weight = device.alloc(4L * entries);
        counts = device.alloc(4L * experts);
        offsets = device.alloc(4L * (experts + 1));
        listTok = device.alloc(4L * entries);
        slotOf = device.alloc(4L * entries);
        g = device.alloc(4L * entries * f);
        u = device.alloc(4L * entries * f);
        ys = device.alloc(4L * entries * c.hiddenSize());
    }

    /** The layer's experts as pointer tables, or null when their storage is not covered (see the class comment). */
    static Experts prepare(CudaDevice device, DeviceMatrix[] gate, DeviceMatrix[] up, DeviceMatrix[] down) {
        Projection pg = projection(device, gate), pu = projection(device, up), pd = projection(device, down);
        return pg == null || pu == null || pd == null ? null : new Experts(pg, pu, pd);
    }

    private static Projection projection(CudaDevice device, DeviceMatrix[] m) {
        DeviceMatrix first = m[0];
        for (DeviceMatrix x : m) if (!sameKind(first, x)) return null;
        if (first.binary() != null) return null;
        if (first.packed() == null && first.type() != DType.F32 && first.type() != DType.F16 && first.type() != DType.BF16) return null;
        if (first.packed() != null && !List.of(2, 3, 4, 8).contains(first.packed().bits())) return null;
        long[] table = new long[3 * m.length];
        for (int e = 0; e < m.length; e++) {
            table[e] = m[e].pointer();
            table[m.length + e] = m[e].packed() == null ? 0 : m[e].packed().params();
            table[2 * m.length + e] = m[e].packed() == null ? 0 : m[e].packed().inputScale();
        }
        long p = device.alloc(8L * table.length);
        device.upload(p, table);
        return new Projection(p, first);
    }

    /** Same dtype, shape and packed layout (the decode table follows from the storage name). */
    private static boolean sameKind(DeviceMatrix a, DeviceMatrix b) {
        if (a.type() != b.type() || a.rows() != b.rows() || a.cols() != b.cols() || (a.binary() == null) != (b.binary() == null)) return false;
        if ((a.packed() == null) != (b.packed() == null)) return false;
        if (a.packed() == null) return true;
        DeviceMatrix.Packed p = a.packed(), q = b.packed();
        return p.storage().equals(q.storage()) && p.bits() == q.bits() && p.zeroPoint() == q.zeroPoint() && p.paramCount() == q.paramCount()
                && p.unitsPerGroup() == q.unitsPerGroup() && p.groups() == q.groups();
    }

    private CudaModule m() {
        if (module == null) module = device.module("moe.cu", List.of("MOE=1"));
        return module;
    }

    /**
     * Routes the n tokens whose router logits are at {@code routerLogits} (overwritten by probabilities), runs their
     * experts on rows of {@code xn} and adds the weighted outputs to {@code x}.
     */
    void run(int layer, Experts w, long routerLogits, long xn, long x, int n) {
        if (n > MAX_TOKENS) throw new IllegalArgumentException(n + " tokens: device routing takes at most " + MAX_TOKENS);
        long chosen = chosenAll + 4L * layer * n * k; // [layer][n * k]: one short download after the pass
        m().launch("moe_route").ptr(routerLogits).i(n).i(experts).i(k).i(c.normTopK() ? 1 : 0).ptr(chosen).ptr(weight).ptr(counts)
                .ptr(offsets).ptr(listTok).ptr(slotOf).run(1, 1, 1, 128, 0);
        gemv(w.gate(), xn, true, g);
        gemv(w.up(), xn, true, u);
        ops.swiglu(g, u, (long) n * k * w.gate().first().rows());
        gemv(w.down(), g, false, ys);
        int d = c.hiddenSize();
        m().launch("moe_combine").ptr(x).ptr(ys).ptr(chosen).ptr(weight).ptr(slotOf).i(k).i(d)
                .run(n, 1, 1, Math.min(1024, Math.max(32, (d + 31) / 32 * 32)), 0);
    }

    /** y[entry] = W_expert(entry) · input(entry), input a token row of x ({@code gather}) or the entry's own row. */
    private void gemv(Projection p, long x, boolean gather, long y) {
        DeviceMatrix w = p.first();
        long table = p.pointers();
        int blocks = (w.rows() + 3) / 4;
        if (w.packed() != null) {
            DeviceMatrix.Packed q = w.packed();
            m().launch("moe_gemv_packed_" + q.bits()).ptr(table).ptr(table + 8L * experts).ptr(table + 16L * experts).ptr(q.table())
                    .ptr(counts).ptr(offsets).ptr(listTok).i(gather ? 1 : 0).ptr(x).ptr(y).i(w.rows()).i(w.cols()).i(q.unitsPerGroup())
                    .i(Integer.bitCount(q.unitsPerGroup()) == 1 ? Integer.numberOfTrailingZeros(q.unitsPerGroup()) : -1)
                    .i(q.groups()).i(q.paramCount()).i(q.zeroPoint() ? 1 : 0).run(blocks, experts, 1, 128, 0);
        } else {
            int dtype = w.type() == DType.F32 ? 0 : w.type() == DType.F16 ? 1 : 2;
            m().launch("moe_gemv_dense").ptr(table).i(dtype).ptr(counts).ptr(offsets).ptr(listTok).i(gather ? 1 : 0).ptr(x).ptr(y)
                    .i(w.rows()).i(w.cols()).run(blocks, experts, 1, 128, 0);
        }
    }

    /** The experts each of the n tokens chose in every layer of the last pass (token-major, k per token); null for dense layers. */
    int[][] chosen(int n) {
        int per = n * k;
        float[] raw = new float[c.layers() * per];
        device.download(raw, 0, chosenAll, raw.length);
        int[][] out = new int[c.layers()][];
        for (int l = 0; l < out.length; l++) {
            if (!c.isMoeLayer(l)) continue;
            out[l] = new int[n * k];
            for (int i = 0; i < n * k; i++) out[l][i] = Float.floatToRawIntBits(raw[l * per + i]);
        }
        return out;
    }

    void free() {
        for (long p : new long[] {chosenAll, weight, counts, offsets, listTok, slotOf, g, u, ys}) device.free(p);
    }
}
