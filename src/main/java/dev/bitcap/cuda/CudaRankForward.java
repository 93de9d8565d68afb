package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.DeviceWeights.Layer;
import dev.bitcap.cuda.DeviceWeights.Mlp;
import dev.bitcap.engine.ExchangePlan;
import dev.bitcap.engine.ExpertRouting;
import dev.bitcap.engine.Sequence;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.RopeStyle;
import java.util.List;

/**
 * One rank's forward pass on a GPU over its shard of a split model (tensor and/or expert parallelism), with the
 * kernels of {@link CudaBackend} (CudaOps, CudaMatMul, CudaAttention, the f32 KV cache). Where a block's output is
 * a partial sum over the ranks (attention after the o projection and the MLP after the down projection under tp; a
 * MoE block under tp or ep) it is written to a scratch buffer, summed over the ranks by a {@link DeviceAllReduce},
 * then added to the residual; every rank therefore holds the same hidden state after each block.
 *
 * <p>Under ep every rank routes all tokens (replicated router, identical hidden state). By default it runs only its
 * own experts over the tokens that chose them; the shared expert runs whole on rank 0 only, and one all-reduce combines
 * the experts' outputs: the replicated-token form, which needs no all-to-all. Given a {@link DeviceExchange} (ep
 * without tp), it dispatches tokens instead, as the CPU ranks do ({@link ExchangePlan}): each rank owns a chunk of the
 * tokens, sends their rows by all-to-all to the experts' owners, gets the expert outputs back by a second all-to-all,
 * adds them and the shared expert to its own tokens, and an all-gather makes the hidden state whole again.
 *
 * <p>A correctness path kept apart from the single-GPU backend (whose behaviour it does not touch): the same attention
 * kernels for the same passes (tiled prefill, split decode), but no CUDA graphs, no paged or low-bit KV, no device MoE
 * routing (the router logits come to the host each MoE layer), no SeerAttention.
 */
public final class CudaRankForward implements AutoCloseable {
    private final ModelConfig full, local;
    private final int rank;
    private final boolean tp, ep;
    private final CudaDevice device;
    private final CudaOps ops;
    private final CudaMatMul mm;
    private final CudaAttention attention;
    private final DeviceAllReduce reduce;
    /** Token dispatch for ep (null: the replicated-token form), the ranks, and the rank owning each expert. */
    private final DeviceExchange exchange;
    private final int ranks;
    private final int[] owner;
    /** The dispatch buffers (rows of the hidden size, at most k per token of the pass) and their index lists. */
    private long sendBuf, receiveBuf, replyBuf, backBuf, sendTokens, expertRows, expertScales, combineTokens, ones, zeroRows, ownRows, allRows;
    private final DeviceMatrix embedding, lmHead;
    private final Layer[] layers;
    private final long finalNorm, invFreq;
    private int tokens = -1, logitRows = -1;
    private long x, xn, q, k, v, att, part, g, u, xs, ys, gate, routerLogits, ids, pos, kBase, vBase, lastRows, iota, routeRows, routeScales,
            tiles, zeros, logits;
    /** Query tiles of this pass for the tiled prefill kernel (0: decode, or the kernel is not used). */
    private int tileCount;
    private boolean prefill;

    /**
     * @param full the whole model's shape; {@code local} the shape this rank computes (its heads and widths)
     * @param weights this rank's shard (experts it does not own are null)
     * @param tensorParallel whether attention and MLP widths are split (their outputs are partial sums)
     * @param expertParallel whether experts are spread over the ranks (MoE outputs are partial sums)
     */
    public CudaRankForward(CudaDevice device, ModelConfig full, ModelConfig local, Weights.Model weights, int rank, boolean tensorParallel,
                           boolean expertParallel, DeviceAllReduce reduce) {
        this(device, full, local, weights, rank, tensorParallel, expertParallel, reduce, null, 1, null);
    }

    /**
     * With token dispatch under ep: {@code exchange} moves the rows, {@code ranks} ranks in all, {@code owner[e]} the rank
     * owning expert e (null exchange: the replicated-token form). Only for ep without tp.
     */
    public CudaRankForward(CudaDevice device, ModelConfig full, ModelConfig local, Weights.Model weights, int rank, boolean tensorParallel,
                           boolean expertParallel, DeviceAllReduce reduce, DeviceExchange exchange, int ranks, int[] owner) {
        if (exchange != null && (!expertParallel || tensorParallel || owner == null || owner.length != full.experts())) {
            throw new IllegalArgumentException("token dispatch needs expert parallelism without tp and the owner of each of the "
                    + full.experts() + " experts");
        }
        this.exchange = exchange;
        this.ranks = ranks;
        this.owner = owner == null ? null : owner.clone();
        this.device = device;
        this.full = full;
        this.local = local;
        this.rank = rank;
        this.tp = tensorParallel;
        this.ep = expertParallel;
        this.reduce = reduce;
        device.makeCurrent();
        this.ops = new CudaOps(device);
        this.mm = new CudaMatMul(device, ops);
        this.attention = new CudaAttention(device, local.heads(), local.kvHeads(), local.headDim(), local.layers());
        DeviceWeights uploaded = new DeviceWeights(device, weights, full); // experts other ranks own stay null
        this.embedding = uploaded.embedding;
        this.lmHead = uploaded.lmHead;
        this.layers = uploaded.layers;
        this.finalNorm = uploaded.finalNorm;
        this.invFreq = uploaded.invFreq;
        device.synchronize();
    }

    /** A sequence whose f32 KV cache on this rank's device holds this rank's KV heads. */
    public Sequence newSequence(int capacity) {
        if (capacity <= 0 || capacity > full.maxContext()) {
            throw new BitcapException("a sequence of " + capacity + " positions does not fit the model's context of " + full.maxContext());
        }
        device.makeCurrent();
        return new Sequence(new CudaKvCache(device, local.layers(), capacity, local.kvDim()));
    }

    /** Frees the device cache of a sequence the caller no longer uses. */
    public void release(dev.bitcap.kv.KvCache cache) {
        if (cache instanceof CudaKvCache f32) {
            device.makeCurrent();
            device.free(f32.keys);
            device.free(f32.values);
        }
    }

    /** Logits of the pass ({@code wantLogits}: else null) and, per MoE layer, the top-k expert ids of each token. */
    public record Result(float[] logits, int[][] routed) {}

    /** Runs the pass on this rank; every rank must make the same calls in the same order. Advances the sequences. */
    public Result forward(List<Sequence> sequences, List<int[]> tokenLists, boolean allLogits, boolean wantLogits) {
        device.makeCurrent();
        int n = 0;
        for (int s = 0; s < sequences.size(); s++) {
            if (!(sequences.get(s).cache() instanceof CudaKvCache)) throw new IllegalArgumentException("sequence " + s + " was not made by this rank");
            int[] t = tokenLists.get(s);
            if (t.length == 0) throw new IllegalArgumentException("sequence " + s + " has no tokens in this pass");
            if (t.length > sequences.get(s).remaining()) {
                throw new BitcapException("sequence " + s + " holds " + sequences.get(s).length() + " positions and cannot take " + t.length
                        + " more: its context is " + sequences.get(s).cache().capacity());
            }
            for (int id : t) if (id < 0 || id >= full.vocabSize()) throw new BitcapException("token id " + id + " is outside the vocabulary of " + full.vocabSize());
            n += t.length;
        }
        int m = allLogits ? n : sequences.size();
        ensure(n, m);
        int maxLength = writePass(sequences, tokenLists, allLogits, n);
        prefill = n > sequences.size(); // as CudaBackend: a pass where some sequence takes several tokens uses the tiled kernel

        int d = full.hiddenSize();
        int[][] routed = new int[full.layers()][];
        ops.embed(embedding, ids, x, n);
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            ops.rmsnorm(x, w.attnNorm(), xn, n, d, full.rmsEps(), 0);
            attention(l, w, n, maxLength);
            ops.rmsnorm(x, w.mlpNorm(), xn, n, d, full.rmsEps(), 0);
            if (w.experts() != null) {
                routed[l] = exchange != null ? moeDispatched(w, n) : moe(w, n);
            } else if (tp) {
                mlp(w.mlp(), xn, n, part);
                reduceInto(n);
            } else {
                mlpAdd(w.mlp(), xn, n);
            }
        }
        for (int s = 0; s < sequences.size(); s++) sequences.get(s).advance(tokenLists.get(s).length);
        if (!wantLogits) {
            device.synchronize();
            return new Result(null, routed);
        }
        ops.rmsnorm(x, finalNorm, xn, m, d, full.rmsEps(), allLogits ? 0 : lastRows);
        mm.matmul(lmHead, xn, logits, m);
        float[] out = new float[m * full.vocabSize()];
        device.download(out, 0, logits, out.length);
        return new Result(out, routed);
    }

    /** part [n, hidden] summed over the ranks, then added to the residual. */
    private void reduceInto(int n) {
        long count = (long) n * full.hiddenSize();
        reduce.allReduceSum(part, count);
        ops.add(x, part, count);
    }

    private void attention(int l, Layer w, int n, int maxLength) {
        int hd = local.headDim();
        mm.matmul(w.q(), xn, q, n);
        mm.matmul(w.k(), xn, k, n);
        mm.matmul(w.v(), xn, v, n);
        if (w.qBias() != 0) ops.addBias(q, w.qBias(), n, local.qDim());
        if (w.kBias() != 0) ops.addBias(k, w.kBias(), n, local.kvDim());
        if (w.vBias() != 0) ops.addBias(v, w.vBias(), n, local.kvDim());
        if (w.qNorm() != 0) {
            ops.rmsnorm(q, w.qNorm(), q, n * local.heads(), hd, full.rmsEps(), 0);
            ops.rmsnorm(k, w.kNorm(), k, n * local.kvHeads(), hd, full.rmsEps(), 0);
        }
        ops.ropeAppend(q, k, v, pos, invFreq, n, local.heads(), local.kvHeads(), hd, full.ropeStyle() == RopeStyle.ROTATE_HALF, kBase, vBase,
                local.layers(), l);
        if (prefill && tileCount > 0) {
            attention.prefill(q, kBase, vBase, pos, tiles, att, tileCount, l);
        } else {
            attention.run(q, kBase, vBase, pos, att, n, maxLength, l);
        }
        if (tp) {
            mm.matmul(w.o(), att, part, n); // this rank's heads' share of o_proj
            reduceInto(n);
        } else {
            mm.matmulAdd(w.o(), att, x, n, part);
        }
    }

    /** out [n, hidden] = down(silu(gate x) * up x). */
    private void mlp(Mlp w, long in, int n, long out) {
        int f = w.gate().rows();
        mm.matmul(w.gate(), in, g, n);
        mm.matmul(w.up(), in, u, n);
        ops.swiglu(g, u, (long) n * f);
        mm.matmul(w.down(), g, out, n);
    }

    private void mlpAdd(Mlp w, long in, int n) {
        int f = w.gate().rows();
        mm.matmul(w.gate(), in, g, n);
        mm.matmul(w.up(), in, u, n);
        ops.swiglu(g, u, (long) n * f);
        mm.matmulAdd(w.down(), g, x, n, ys);
    }

    /**
     * Routes all n tokens on the host; runs this rank's experts (or, under tp, its slice of every expert) over the
     * tokens that chose them into {@code part}, adds the shared expert where this rank holds a share of it, and
     * all-reduces when the block is split.
     */
    private int[] moe(Layer w, int n) {
        int d = full.hiddenSize(), e = full.experts(), kk = full.expertsPerToken();
        boolean split = tp || ep;
        long target = split ? part : x;
        // zeroed from a zero buffer on this stream: cuMemsetD8 runs on the legacy stream, which does not wait for
        // (or hold back) this non-blocking stream's kernels
        if (split) device.driver().copyOnDevice(part, zeros, 4L * n * d, device.stream());
        mm.matmul(w.router(), xn, routerLogits, n);
        float[] logitsHost = new float[n * e];
        device.download(logitsHost, 0, routerLogits, n * e);
        ExpertRouting routing = ExpertRouting.route(full, logitsHost, n);
        int[] chosen = routing.chosen(), perExpert = routing.perExpert();
        float[] weight = routing.weight();
        int[] rows = new int[n * kk];
        float[] scales = new float[n * kk];
        int[] offset = new int[e + 1];
        for (int ex = 0; ex < e; ex++) offset[ex + 1] = offset[ex] + perExpert[ex];
        int[] fill = offset.clone();
        for (int i = 0; i < n * kk; i++) {
            int ex = chosen[i];
            rows[fill[ex]] = i / kk;
            scales[fill[ex]++] = weight[i];
        }
        device.upload(routeRows, rows, 0, rows.length);
        device.upload(routeScales, scales, 0, scales.length);
        for (int ex = 0; ex < e; ex++) {
            int mRows = perExpert[ex];
            if (mRows == 0 || w.experts()[ex] == null) continue; // null: owned by another rank
            long rowPtr = routeRows + 4L * offset[ex], scalePtr = routeScales + 4L * offset[ex];
            ops.gatherRows(xn, rowPtr, xs, mRows, d);
            mlp(w.experts()[ex], xs, mRows, ys);
            ops.scatterAddScaled(target, ys, rowPtr, scalePtr, mRows, d);
        }
        // the shared expert is cut under tp (every rank adds its share) and whole under ep (rank 0 alone adds it)
        if (w.shared() != null && (!ep || rank == 0)) {
            mlp(w.shared(), xn, n, ys);
            if (w.sharedGate() != 0) {
                ops.sigmoidGate(w.sharedGate(), xn, gate, n, d);
                ops.scatterAddScaled(target, ys, iota, gate, n, d);
            } else {
                ops.add(target, ys, (long) n * d);
            }
        }
        if (split) reduceInto(n);
        return chosen;
    }

    /**
     * The MoE block with token dispatch (see the class comment and {@link ExchangePlan}): expert outputs reach the
     * rank's own tokens in ascending expert order, as the CPU ranks add them, then every rank's rows are gathered.
     */
    private int[] moeDispatched(Layer w, int n) {
        int d = full.hiddenSize(), e = full.experts(), kk = full.expertsPerToken();
        mm.matmul(w.router(), xn, routerLogits, n);
        float[] logitsHost = new float[n * e];
        device.download(logitsHost, 0, routerLogits, n * e);
        ExpertRouting routing = ExpertRouting.route(full, logitsHost, n);
        ExchangePlan plan = ExchangePlan.of(routing.chosen(), routing.weight(), n, kk, owner, rank, ranks);
        long[] sendCounts = ExchangePlan.times(plan.sendRows(), d), receiveCounts = ExchangePlan.times(plan.receiveRows(), d);
        int[] sent = plan.sendTokens(), runRows = plan.expertRows(), addTokens = plan.combineTokens();
        float[] runScales = plan.expertScales();
        int received = runRows.length;
        if (sent.length > 0) device.upload(sendTokens, sent, 0, sent.length);
        if (received > 0) {
            device.upload(expertRows, runRows, 0, received);
            device.upload(expertScales, runScales, 0, received);
        }
        if (addTokens.length > 0) device.upload(combineTokens, addTokens, 0, addTokens.length);

        if (sent.length > 0) ops.gatherRows(xn, sendTokens, sendBuf, sent.length, d);
        exchange.allToAll(sendBuf, sendCounts, receiveBuf, receiveCounts);
        // each received row is one (token, choice) and gets exactly one expert's weighted output
        if (received > 0) device.driver().copyOnDevice(replyBuf, zeroRows, 4L * received * d, device.stream());
        for (int ex = 0; ex < e; ex++) {
            int m = plan.expertCount(ex);
            if (m == 0) continue;
            long rowPtr = expertRows + 4L * plan.expertStart(ex), scalePtr = expertScales + 4L * plan.expertStart(ex);
            ops.gatherRows(receiveBuf, rowPtr, xs, m, d);
            mlp(w.experts()[ex], xs, m, ys);
            ops.scatterAddScaled(replyBuf, ys, rowPtr, scalePtr, m, d);
        }
        exchange.allToAll(replyBuf, receiveCounts, backBuf, sendCounts);
        int[] backRows = plan.combineRows();
        for (int ex = 0; ex < e; ex++) { // the returned rows of one expert are consecutive
            int c = plan.combineCount(ex), at = plan.combineStart(ex);
            if (c > 0) ops.scatterAddScaled(x, backBuf + 4L * backRows[at] * d, combineTokens + 4L * at, ones, c, d);
        }
        int first = plan.firstToken(), mine = plan.tokens();
        if (w.shared() != null && mine > 0) {
            long in = xn + 4L * first * d;
            mlp(w.shared(), in, mine, ys);
            if (w.sharedGate() != 0) {
                ops.sigmoidGate(w.sharedGate(), in, gate, mine, d);
                ops.scatterAddScaled(x, ys, iota + 4L * first, gate, mine, d);
            } else {
                ops.add(x + 4L * first * d, ys, (long) mine * d);
            }
        }
        // every rank's own rows, padded to the largest chunk, make the hidden state whole again
        int chunkRows = (n + ranks - 1) / ranks;
        if (mine > 0) device.driver().copyOnDevice(ownRows, x + 4L * first * d, 4L * mine * d, device.stream());
        exchange.allGather(ownRows, allRows, (long) chunkRows * d);
        for (int r = 0; r < ranks; r++) {
            int from = plan.firstTokenOf(r), count = plan.firstTokenOf(r + 1) - from;
            if (count > 0 && r != rank) {
                device.driver().copyOnDevice(x + 4L * from * d, allRows + 4L * r * chunkRows * d, 4L * count * d, device.stream());
            }
        }
        return routing.chosen();
    }

    /** Token ids, positions, per-token KV bases and the rows whose logits are wanted; returns the longest context. */
    private int writePass(List<Sequence> sequences, List<int[]> tokenLists, boolean allLogits, int n) {
        int[] idv = new int[n], posv = new int[n], last = new int[sequences.size()];
        long[] kb = new long[n], vb = new long[n];
        int i = 0, maxLength = 0;
        for (int s = 0; s < sequences.size(); s++) {
            Sequence seq = sequences.get(s);
            CudaKvCache cache = (CudaKvCache) seq.cache();
            int[] t = tokenLists.get(s);
            for (int j = 0; j < t.length; j++, i++) {
                idv[i] = t[j];
                posv[i] = seq.length() + j;
                kb[i] = cache.keys;
                vb[i] = cache.values;
            }
            last[s] = i - 1;
            maxLength = Math.max(maxLength, seq.length() + t.length);
        }
        device.upload(ids, idv, 0, n);
        device.upload(pos, posv, 0, n);
        device.upload(kBase, kb);
        device.upload(vBase, vb);
        if (!allLogits) device.upload(lastRows, last, 0, last.length);
        // tiles of consecutive tokens of one sequence, at most tileTokens each (the layout CudaBackend writes)
        int tileTokens = attention.prefillTileTokens();
        List<Integer> pairs = new java.util.ArrayList<>();
        for (int s = 0, start = 0; s < sequences.size(); start += tokenLists.get(s).length, s++) {
            int len = tokenLists.get(s).length;
            for (int off = 0; tileTokens > 0 && off < len; off += tileTokens) {
                pairs.add(start + off);
                pairs.add(Math.min(tileTokens, len - off));
            }
        }
        tileCount = pairs.size() / 2;
        if (tileCount > 0) device.upload(tiles, pairs.stream().mapToInt(Integer::intValue).toArray(), 0, pairs.size());
        return maxLength;
    }

    /** Grows the pass buffers for n tokens and m logit rows. */
    private void ensure(int n, int m) {
        if (n > tokens) {
            freeTokens();
            int cap = Math.max(n, 2 * Math.max(tokens, 1));
            int d = full.hiddenSize(), kk = Math.max(1, full.expertsPerToken());
            int f = Math.max(local.intermediateSize(), Math.max(local.moeIntermediate(), local.sharedExpertIntermediate()));
            x = buf(cap, d);
            xn = buf(cap, d);
            q = buf(cap, local.qDim());
            k = buf(cap, local.kvDim());
            v = buf(cap, local.kvDim());
            att = buf(cap, local.qDim());
            part = buf(cap, d);
            g = buf(cap, Math.max(1, f));
            u = buf(cap, Math.max(1, f));
            xs = buf(cap, d);
            ys = buf(cap, d);
            gate = buf(cap, 1);
            routerLogits = buf(cap, Math.max(1, full.experts()));
            ids = buf(cap, 1);
            pos = buf(cap, 1);
            kBase = buf(cap, 2);
            vBase = buf(cap, 2);
            lastRows = buf(cap, 1);
            iota = buf(cap, 1);
            routeRows = buf(cap, kk);
            routeScales = buf(cap, kk);
            tiles = buf(cap, 2);
            zeros = buf(cap, d);
            device.upload(zeros, new float[cap * d], 0, cap * d);
            if (exchange != null) {
                long rows = (long) cap * kk; // a pass sends, receives and returns at most k rows per token
                sendBuf = buf((int) rows, d);
                receiveBuf = buf((int) rows, d);
                replyBuf = buf((int) rows, d);
                backBuf = buf((int) rows, d);
                sendTokens = buf((int) rows, 1);
                expertRows = buf((int) rows, 1);
                expertScales = buf((int) rows, 1);
                combineTokens = buf((int) rows, 1);
                ones = buf((int) rows, 1);
                float[] one = new float[(int) rows];
                java.util.Arrays.fill(one, 1.0f);
                device.upload(ones, one, 0, one.length);
                zeroRows = buf((int) rows, d);
                device.upload(zeroRows, new float[(int) rows * d], 0, (int) rows * d);
                int chunkRows = (cap + ranks - 1) / ranks;
                ownRows = buf(chunkRows, d);
                allRows = buf(chunkRows * ranks, d);
            }
            int[] seq = new int[cap];
            for (int i = 0; i < cap; i++) seq[i] = i;
            device.upload(iota, seq, 0, cap);
            tokens = cap;
        }
        if (m > logitRows) {
            if (logits != 0) device.free(logits);
            logitRows = Math.max(m, tokens);
            logits = buf(logitRows, full.vocabSize());
        }
    }

    private long buf(int rows, int width) {
        return device.alloc(4L * rows * width);
    }

    private void freeTokens() {
        for (long p : new long[] {x, xn, q, k, v, att, part, g, u, xs, ys, gate, routerLogits, ids, pos, kBase, vBase, lastRows, iota, routeRows,
                routeScales, tiles, zeros, sendBuf, receiveBuf, replyBuf, backBuf, sendTokens, expertRows, expertScales, combineTokens, ones, zeroRows,
                ownRows, allRows}) {
            if (p != 0) device.free(p);
        }
    }

    /** Frees this rank's buffers; the device itself is the caller's. */
    @Override
    public void close() {
        device.makeCurrent();
        device.synchronize();
        freeTokens();
        if (logits != 0) device.free(logits);
        tokens = -1;
        logitRows = -1;
        x = logits = 0;
    }
}
