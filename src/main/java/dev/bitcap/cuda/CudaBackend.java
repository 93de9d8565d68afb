package dev.bitcap.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.cuda.DeviceWeights.Layer;
import dev.bitcap.cuda.DeviceWeights.Mlp;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.ExpertRouting;
import dev.bitcap.engine.PassRecord;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KvCache;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.RopeStyle;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.PhantomReference;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The CUDA backend: the same forward pass as the CPU backend, step for step, with weights uploaded once in their
 * stored dtype, activations in fp32 device buffers that are allocated once (and grown for a larger pass), and
 * every step a kernel on one stream. Only the logits come back to the host ({@link #forwardGreedy}: only the greedy
 * token of each sequence). MoE layers of passes of 2 to 64 tokens (batched decode) are routed and run on the device
 * ({@link CudaMoe}), so those passes are graph-captured too; single-token passes, longer passes, Q8_0/Q4_0/binary
 * experts and {@code BITCAP_MOE_ROUTING=host} download the router logits, route on the host, then run each chosen
 * expert once over the tokens that chose it ({@code BITCAP_MOE_ROUTING=device} routes single tokens on the device too).
 */
public final class CudaBackend implements Backend {
    private final ModelConfig c;
    private final CudaDevice device;
    private final CudaOps ops;
    private final CudaMatMul mm;
    private final CudaAttention attention;
    private final PassRecorder recorder;
    private final DeviceMatrix embedding, lmHead;
    private final Layer[] layers;
    private final long finalNorm, invFreq;
    private final Activations act;
    /** MoE layers routed on the device (null: host routing), and each layer's expert tables. */
    private final CudaMoe deviceMoe;
    private final CudaMoe.Experts[] deviceExperts;
    /** Where MoE layers are routed: see {@link #routesOnDevice}. */
    enum Routing { AUTO, DEVICE, HOST }

    private Routing routing;
    private final ReferenceQueue<Sequence> released = new ReferenceQueue<>();
    private final Map<Reference<Sequence>, KvCache> caches = new HashMap<>();
    /** Paged fp16 / int4 / int2 KV caches ({@link #useKv}); null with the f32 cache. */
    private CudaPagedKv paged;
    private final Map<Long, DecodeGraph> graphs = new HashMap<>();
    private final java.util.Set<Long> seenOnce = new java.util.HashSet<>();
    private boolean useGraphs = true;
    private boolean prefill;
    private CudaSeerPrefill seerPrefill;
    /** SeerAttention-R decode over the paged cache ({@link #useSeer} with --kv fp16/int4/int2), or null. */
    private CudaSeerDecode seerDecode;
    private boolean seerPass;
    private int graphsBuiltWith;

    public CudaBackend(LoadedModel model, PassRecorder recorder) {
        this(CudaDevice.open(0), model, recorder);
    }

    public CudaBackend(CudaDevice device, LoadedModel model, PassRecorder recorder) {
        this.c = model.config();
        this.device = device;
        this.recorder = recorder;
        Weights.Model w = model.weights();
        checkMemory(device, w, c);
        try {
            this.ops = new CudaOps(device);
            this.mm = new CudaMatMul(device, ops);
            this.attention = new CudaAttention(device, c.heads(), c.kvHeads(), c.headDim(), c.layers());
            DeviceWeights uploaded = new DeviceWeights(device, w, c);
            this.embedding = uploaded.embedding;
            this.lmHead = uploaded.lmHead;
            this.layers = uploaded.layers;
            this.finalNorm = uploaded.finalNorm;
            this.invFreq = uploaded.invFreq;
            this.act = new Activations();
            this.deviceExperts = new CudaMoe.Experts[layers.length];
            boolean covered = c.isMoe() && c.expertsPerToken() <= CudaMoe.MAX_K;
            for (int l = 0; l < layers.length && covered; l++) {
                Mlp[] ex = layers[l].experts();
                if (ex == null) continue;
                deviceExperts[l] = CudaMoe.prepare(device, Arrays.stream(ex).map(Mlp::gate).toArray(DeviceMatrix[]::new),
                        Arrays.stream(ex).map(Mlp::up).toArray(DeviceMatrix[]::new),
                        Arrays.stream(ex).map(Mlp::down).toArray(DeviceMatrix[]::new));
                covered = deviceExperts[l] != null;
            }
            this.deviceMoe = covered ? new CudaMoe(device, ops, c) : null;
            this.routing = covered ? routingFor(System.getenv(ROUTING_ENV)) : Routing.HOST;
            device.synchronize();
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** The weights' bytes against the device's free memory, before anything is uploaded. */
    static void checkMemory(CudaDevice device, Weights.Model w, ModelConfig c) {
        long need = weightBytes(w);
        long[] info = device.memoryInfo();
        if (need > info[0]) {
            throw new BitcapException(String.format("the model's weights need %.2f GiB on the GPU but %s has %.2f GiB free (of %.2f GiB)",
                    need / GIB, device.name(), info[0] / GIB, info[1] / GIB));
        }
    }

    private static final double GIB = 1024.0 * 1024 * 1024;

    static long weightBytes(Weights.Model w) {
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        long bytes = 0;
        bytes += once(seen, w.embedding()) + once(seen, w.lmHead());
        for (Weights.Layer l : w.layers()) {
            Weights.Attention a = l.attention();
            bytes += once(seen, a.q()) + once(seen, a.k()) + once(seen, a.v()) + once(seen, a.o());
            if (l.mlp() != null) bytes += l.mlp().bytes();
            if (l.moe() != null) {
                bytes += once(seen, l.moe().router());
                for (Weights.Mlp e : l.moe().experts()) bytes += e.bytes();
                if (l.moe().shared() != null) bytes += l.moe().shared().bytes();
            }
        }
        return bytes;
    }

    private static long once(Map<Object, Boolean> seen, WeightMatrix m) {
        return seen.put(m, Boolean.TRUE) == null ? m.byteSize() : 0;
    }

    public CudaDevice device() {
        return device;
    }

    /** Off: every product runs the GEMV kernel instead of cuBLAS (for the check command). */
    public void setCublas(boolean on) {
        mm.setCublas(on);
    }

    @Override
    public String name() {
        return "cuda";
    }

    /**
     * Gives new sequences paged caches of {@code spec} from one device pool of {@code poolBytes} (0: half the free
     * device memory now), decoded by the tensor-core kernels of {@link CudaPagedAttention}; f32 keeps the f32 cache.
     */
    public void useKv(KvSpec spec, long poolBytes) {
        if (spec.format() == KvFormat.F32) return;
        if (!caches.isEmpty()) throw new IllegalStateException("the KV format is chosen before the first sequence");
        device.makeCurrent();
        paged = new CudaPagedKv(device, spec, c, poolBytes > 0 ? poolBytes : device.memoryInfo()[0] / 2);
        useGraphs = false; // a decode plan (page tables, split counts) changes with every step
    }

    /** The paged KV pool, or null with the f32 cache. */
    public CudaKvPool kvPool() {
        return paged == null ? null : paged.pool;
    }

    @Override
    public Sequence newSequence(int capacity) {
        if (capacity <= 0 || capacity > c.maxContext()) {
            throw new BitcapException("a sequence of " + capacity + " positions does not fit the model's context of " + c.maxContext());
        }
        device.makeCurrent();
        freeReleased();
        KvCache cache = paged != null ? paged.attention.newCache(paged.pool, capacity) : new CudaKvCache(device, c.layers(), capacity, c.kvDim());
        if (seerDecode != null) seerDecode.add(cache, capacity);
        Sequence s = new Sequence(cache);
        caches.put(new PhantomReference<>(s, released), cache);
        return s;
    }

    /**
     * A sequence whose paged cache already holds {@code positions} positions of synthetic keys and values in every
     * layer ({@link CudaKvFill}), with room for {@code extra} more: long-context decode timed without a prefill. It
     * may pass the model's trained context (RoPE angles are computed per position, not tabled); the outputs are
     * noise, the timing is real. A fill beyond the pool is the pool's refusal.
     */
    public Sequence filledSequence(int positions, int extra, int seed) {
        if (paged == null) throw new BitcapException("--kv-fill needs a paged KV cache (--kv fp16, int4 or int2)");
        if (positions < 1 || extra < 0 || (long) positions + extra > Integer.MAX_VALUE - 8) {
            throw new BitcapException("--kv-fill takes 1 to " + (Integer.MAX_VALUE - 8 - extra) + " positions, got " + positions);
        }
        device.makeCurrent();
        freeReleased();
        CudaPagedKvCache cache = paged.attention.newCache(paged.pool, positions + extra);
        try {
            cache.reserve(positions + extra);
            new CudaKvFill(device, paged.attention).fill(cache, positions, seed);
            if (seerDecode != null) {
                seerDecode.add(cache, positions + extra);
                seerDecode.fillRandom(cache, positions, paged.attention, seed);
            }
        } catch (RuntimeException e) {
            if (seerDecode != null) seerDecode.remove(cache);
            cache.release();
            throw e;
        }
        Sequence s = new Sequence(cache);
        s.advance(positions);
        caches.put(new PhantomReference<>(s, released), cache);
        return s;
    }

    private void freeReleased() {
        for (Reference<? extends Sequence> r; (r = released.poll()) != null; ) {
            KvCache cache = caches.remove(r);
            if (seerDecode != null && cache != null) seerDecode.remove(cache);
            if (cache instanceof CudaKvCache f32) {
                device.free(f32.keys);
                device.free(f32.values);
            } else if (cache != null) {
                cache.release();
            }
        }
    }

    @Override
    public float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits) {
        return pass(sequences, tokens, allLogits, m -> device.download(act.logits, m * c.vocabSize()));
    }

    /**
     * The pass of {@link #forward}, then argmax_rows over each sequence's logits on the device and one download of an int
     * per sequence instead of its row of vocab floats. The kernel runs after a decode graph's replay, not captured in
     * it: one graph per batch size and capacity then serves forward and forwardGreedy alike, for one more launch.
     */
    @Override
    public int[] forwardGreedy(List<Sequence> sequences, List<int[]> tokens) {
        return pass(sequences, tokens, false, m -> {
            ops.argmaxRows(act.logits, m, c.vocabSize(), act.greedy);
            int[] next = new int[m];
            device.download(next, 0, act.greedy, m);
            return next;
        });
    }

    /**
     * One forward pass, the logits of its m wanted rows left in {@code act.logits}; then {@code result} (given m) brings
     * back what the caller gets, and the sequences advance and the pass is recorded, its time counting the download.
     */
    private <T> T pass(List<Sequence> sequences, List<int[]> tokens, boolean allLogits, IntFunction<T> result) {
        long start = System.nanoTime();
        device.makeCurrent();
        int n = 0, maxLength = 0;
        for (int s = 0; s < sequences.size(); s++) {
            Sequence seq = sequences.get(s);
            int[] ids = tokens.get(s);
            if (ids.length == 0) throw new IllegalArgumentException("sequence " + s + " has no tokens in this pass");
            if (!(seq.cache() instanceof CudaKvCache) && !(paged != null && seq.cache() instanceof CudaPagedKvCache)) {
                throw new IllegalArgumentException("sequence " + s + " was not made by this CUDA backend");
            }
            if (ids.length > seq.remaining()) {
                throw new BitcapException("sequence " + s + " holds " + seq.length() + " positions and cannot take " + ids.length
                        + " more: its context is " + seq.cache().capacity());
            }
            for (int id : ids) {
                if (id < 0 || id >= c.vocabSize()) throw new BitcapException("token id " + id + " is outside the vocabulary of " + c.vocabSize());
            }
            n += ids.length;
            maxLength = Math.max(maxLength, seq.length() + ids.length);
        }
        int m = allLogits ? n : sequences.size();
        if (act.ensure(n, m) || attention.buffersVersion() != graphsBuiltWith) dropGraphs();
        act.writePass(sequences, tokens, allLogits);
        if (paged != null) paged.beginPass(sequences, tokens);
        if (seerDecode != null && paged.decodePass()) seerDecode.beginDecode(sequences);
        prefill = n > sequences.size(); // some sequence takes several tokens: the tiled kernel shares key/value loads
        seerPass = seerPrefill != null && CudaSeerPrefill.serves(sequences.size(), sequences.get(0).length(), n);

        int[][] routed = new int[c.layers()][];
        if (graphable(sequences, n)) {
            // Decode: one graph per batch size, its attention split for the longest capacity, so that it serves every
            // position; the pass's token ids, positions and caches are read from the buffer just uploaded.
            int capacity = 0;
            for (Sequence s : sequences) capacity = Math.max(capacity, s.cache().capacity());
            long key = (long) n << 32 | capacity;
            DecodeGraph g = graphs.get(key);
            if (g == null && seenOnce.remove(key)) {
                int cap = capacity;
                device.driver().beginCapture(device.stream());
                try {
                    layers(n, m, cap, allLogits, routed);
                } finally {
                    MemorySegment[] made = device.driver().endCapture(device.stream());
                    g = new DecodeGraph(made[0], made[1]);
                }
                graphs.put(key, g);
                graphsBuiltWith = attention.buffersVersion();
            }
            if (g != null) {
                device.driver().launchGraph(g.exec, device.stream());
            } else {
                seenOnce.add(key); // the first pass of a shape runs plainly: it loads modules and sizes buffers
                layers(n, m, capacity, allLogits, routed);
            }
        } else {
            layers(n, m, maxLength, allLogits, routed);
        }
        T out = result.apply(m);
        if (routesOnDevice(n)) {
            int[][] chosen = deviceMoe.chosen(n); // once per pass, after the graph or the layers
            for (int l = 0; l < routed.length; l++) if (chosen[l] != null) routed[l] = chosen[l];
        }
        for (int s = 0; s < sequences.size(); s++) sequences.get(s).advance(tokens.get(s).length);

        int[] ctx = sequences.stream().mapToInt(Sequence::length).toArray();
        boolean decode = n == sequences.size();
        for (int s = 0; decode && s < sequences.size(); s++) decode = sequences.get(s).length() > 1;
        recorder.record(new PassRecord(decode ? PassRecord.Mode.DECODE : PassRecord.Mode.PREFILL, sequences.size(), n, ctx,
                System.nanoTime() - start, c.expertsPerToken(), c.isMoe() ? routed : null));
        return out;
    }

    /**
     * Whether this pass can run as a captured graph: graphs on, every sequence one token, no cuBLAS, and no MoE layer
     * routed on the host.
     */
    private boolean graphable(List<Sequence> sequences, int n) {
        if (!useGraphs || (c.isMoe() && !routesOnDevice(n)) || n != sequences.size() || n >= CudaMatMul.CUBLAS_MIN_ROWS) return false;
        for (Sequence s : sequences) if (s.length() == 0) return false;
        return true;
    }

    /** {@code BITCAP_MOE_ROUTING}: auto (the default), device or host. */
    static final String ROUTING_ENV = "BITCAP_MOE_ROUTING";

    static Routing routingFor(String variable) {
        if (variable == null || variable.isBlank()) return Routing.AUTO;
        return switch (variable.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "auto" -> Routing.AUTO;
            case "device" -> Routing.DEVICE;
            case "host" -> Routing.HOST;
            default -> throw new BitcapException(ROUTING_ENV + ": expected auto, device or host, got '" + variable + "'");
        };
    }

    /**
     * Whether the MoE layers of an n-token pass are routed and run on the device (see {@link CudaMoe}). AUTO keeps
     * single-token passes on the host path (one staged GEMV per chosen expert): on the H200, 2026-12-02, it decoded
     * mixtral-8x7b int4 at 159-161 tok/s against 52 with moe.cu's expert GEMVs, and qwen1.5-moe-a2.7b within noise of
     * them (195-214 against 206-208). Batched passes of 2 to 64 tokens stay on the device, as measured before.
     */
    static boolean routesOnDevice(Routing routing, int n) {
        return switch (routing) {
            case DEVICE -> n <= CudaMoe.MAX_TOKENS;
            case AUTO -> n > 1 && n <= CudaMoe.MAX_TOKENS;
            case HOST -> false;
        };
    }

    private boolean routesOnDevice(int n) {
        return deviceMoe != null && routesOnDevice(routing, n);
    }

    /** On: MoE layers of every pass up to {@link CudaMoe#MAX_TOKENS} tokens are routed on the device; off: none (the check compares both). */
    public void setDeviceRouting(boolean on) {
        if (on && deviceMoe == null) throw new BitcapException("this model's experts cannot be routed on the device");
        Routing r = on ? Routing.DEVICE : Routing.HOST;
        if (r != routing) dropGraphs();
        routing = r;
    }

    /** Whether this model's MoE layers can be routed on the device. */
    public boolean canRouteOnDevice() {
        return deviceMoe != null;
    }

    /** Every layer, the final norm and the head, for n tokens; attention split for contexts up to {@code splitLength}. */
    private void layers(int n, int m, int splitLength, boolean allLogits, int[][] routed) {
        int d = c.hiddenSize();
        ops.embed(embedding, act.ids, act.x, n);
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            ops.rmsnorm(act.x, layer.attnNorm(), act.xn, n, d, c.rmsEps(), 0);
            attention(l, layer, n, splitLength);
            ops.rmsnorm(act.x, layer.mlpNorm(), act.xn, n, d, c.rmsEps(), 0);
            if (layer.experts() != null) {
                if (routesOnDevice(n)) {
                    mm.matmul(layer.router(), act.xn, act.routerLogits, n);
                    deviceMoe.run(l, deviceExperts[l], act.routerLogits, act.xn, act.x, n);
                    shared(layer, n);
                } else {
                    routed[l] = moe(layer, n);
                }
            } else {
                mlpAdd(layer.mlp(), act.xn, n, act.x);
            }
        }
        ops.rmsnorm(act.x, finalNorm, act.h, m, d, c.rmsEps(), allLogits ? 0 : act.lastRows);
        mm.matmul(lmHead, act.h, act.logits, m);
    }

    private record DecodeGraph(MemorySegment graph, MemorySegment exec) {}

    /** Graphs hold buffer addresses: when a buffer moves they are rebuilt. */
    private void dropGraphs() {
        for (DecodeGraph g : graphs.values()) device.driver().destroyGraph(g.graph, g.exec);
        graphs.clear();
        seenOnce.clear();
        graphsBuiltWith = attention.buffersVersion();
    }

    /**
     * SeerAttention: a pass of one sequence from position 0 attends over the blocks the gate chooses (tensor-core
     * kernel, fp16 inputs); with a paged KV cache ({@link #useKv}, called first) decode does too, per KV head over the
     * blocks the gate's compressed keys choose (SeerAttention-R), while with the f32 cache decode stays dense. The gate
     * must have been checked against this model. Returns whether decode is sparse.
     */
    public boolean useSeer(SeerGate gate, BlockSelection selection) {
        if (!caches.isEmpty()) throw new IllegalStateException("the attention is chosen before the first sequence");
        seerPrefill = new CudaSeerPrefill(device, gate, selection);
        if (paged != null) seerDecode = new CudaSeerDecode(seerPrefill.weights(), selection);
        return seerDecode != null;
    }

    /** Off: decode runs kernel by kernel (the check command compares both ways). */
    public void setGraphs(boolean on) {
        useGraphs = on;
    }

    private void attention(int l, Layer w, int n, int maxLength) {
        int qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim();
        long q = act.q, k = act.k, v = act.v;
        if (n == 1 && w.qkv() != null) { // one GEMV for the stacked q, k and v rows: q, k, v are consecutive in its output
            mm.matmul(w.qkv(), act.xn, act.qkv, 1);
            q = act.qkv;
            k = q + 4L * qDim;
            v = k + 4L * kvDim;
        } else {
            mm.matmul(w.q(), act.xn, q, n);
            mm.matmul(w.k(), act.xn, k, n);
            mm.matmul(w.v(), act.xn, v, n);
        }
        if (w.qBias() != 0) ops.addBias(q, w.qBias(), n, qDim);
        if (w.kBias() != 0) ops.addBias(k, w.kBias(), n, kvDim);
        if (w.vBias() != 0) ops.addBias(v, w.vBias(), n, kvDim);
        if (w.qNorm() != 0) {
            ops.rmsnorm(q, w.qNorm(), q, n * c.heads(), hd, c.rmsEps(), 0);
            ops.rmsnorm(k, w.kNorm(), k, n * c.kvHeads(), hd, c.rmsEps(), 0);
        }
        if (seerPass) seerPrefill.gateInputs(q, k, n);
        if (seerDecode != null) { // the gate reads q and k before RoPE: compressed keys, and in decode the block lists
            if (paged.decodePass()) seerDecode.select(l, q, k);
            else paged.seerPrompts(seerDecode, l, k);
        }
        boolean rotateHalf = c.ropeStyle() == RopeStyle.ROTATE_HALF;
        // rope of q and k, and with the f32 cache the append of k and v, in one launch (the paged cache appends itself)
        ops.ropeAppend(q, k, v, act.pos, invFreq, n, c.heads(), c.kvHeads(), hd, rotateHalf, paged != null ? 0 : act.kBase,
                paged != null ? 0 : act.vBase, c.layers(), l);
        if (paged != null && seerDecode != null && paged.decodePass()) { // SeerAttention-R: the chosen blocks of the paged cache
            paged.sparseDecode(l, q, k, v, act.att, seerDecode);
        } else if (paged != null && !seerPass) { // paged fp16 / int KV cache: append and attend there
            paged.attention(l, q, k, v, act.kBase, act.vBase, act.pos, act.tiles, act.att, act.tileCount);
        } else if (seerPass) { // a prompt: block-sparse over its own rows (which the paged cache also appends)
            if (paged != null) paged.append(l, k, v);
            seerPrefill.attend(l, q, k, v, act.att, n);
        } else if (prefill && act.tileCount > 0) {
            attention.prefill(q, act.kBase, act.vBase, act.pos, act.tiles, act.att, act.tileCount, l);
        } else {
            attention.run(q, act.kBase, act.vBase, act.pos, act.att, n, maxLength, l);
        }
        mm.matmulAdd(w.o(), act.att, act.x, n, act.o); // x += o_proj(att): the residual add in the GEMV's final write
    }

    /** out [n, hidden] = down(silu(gate x) * up x) for n rows of x. */
    private void mlp(Mlp w, long x, int n, long out) {
        mm.matmul(w.down(), gatedUp(w, x, n), out, n);
    }

    /** residual [n, hidden] += down(silu(gate x) * up x): the add fused into the down projection (act.y is its scratch). */
    private void mlpAdd(Mlp w, long x, int n, long residual) {
        mm.matmulAdd(w.down(), gatedUp(w, x, n), residual, n, act.y);
    }

    /** silu(gate x) * up x for n rows of x; returns where it is (one GEMV over the stacked gate and up rows when n is 1). */
    private long gatedUp(Mlp w, long x, int n) {
        int f = w.gate().rows();
        long g = act.g, u = act.u;
        if (n == 1 && w.gateUp() != null) {
            mm.matmul(w.gateUp(), x, act.gu, 1);
            g = act.gu;
            u = g + 4L * f;
        } else {
            mm.matmul(w.gate(), x, g, n);
            mm.matmul(w.up(), x, u, n);
        }
        ops.swiglu(g, u, (long) n * f);
        return g;
    }

    /** Routes the n tokens on the host (as the CPU backend does), then runs each chosen expert once over its tokens. */
    private int[] moe(Layer w, int n) {
        int d = c.hiddenSize(), e = c.experts(), k = c.expertsPerToken();
        mm.matmul(w.router(), act.xn, act.routerLogits, n);
        float[] logits = new float[n * e];
        device.download(logits, 0, act.routerLogits, n * e);
        ExpertRouting routing = ExpertRouting.route(c, logits, n);
        int[] chosen = routing.chosen(), perExpert = routing.perExpert();
        float[] weight = routing.weight();
        // Token rows and weights grouped by expert, uploaded in one copy.
        int[] rows = new int[n * k];
        float[] scales = new float[n * k];
        int[] offset = new int[e + 1];
        for (int ex = 0; ex < e; ex++) offset[ex + 1] = offset[ex] + perExpert[ex];
        int[] fill = offset.clone();
        for (int i = 0; i < n * k; i++) {
            int ex = chosen[i];
            rows[fill[ex]] = i / k;
            scales[fill[ex]++] = weight[i];
        }
        act.writeRouting(rows, scales);
        for (int ex = 0; ex < e; ex++) {
            int mRows = perExpert[ex];
            if (mRows == 0) continue;
            long rowPtr = act.routeRows + 4L * offset[ex], scalePtr = act.routeScales + 4L * offset[ex];
            ops.gatherRows(act.xn, rowPtr, act.xs, mRows, d);
            mlp(w.experts()[ex], act.xs, mRows, act.ys);
            ops.scatterAddScaled(act.x, act.ys, rowPtr, scalePtr, mRows, d);
        }
        shared(w, n);
        return chosen;
    }

    /** Adds the shared expert (Qwen2-MoE: times its sigmoid gate) of the n tokens, if the layer has one. */
    private void shared(Layer w, int n) {
        int d = c.hiddenSize();
        if (w.shared() != null) {
            mlp(w.shared(), act.xn, n, act.ys);
            if (w.sharedGate() != 0) {
                ops.sigmoidGate(w.sharedGate(), act.xn, act.gate, n, d);
                ops.scatterAddScaled(act.x, act.ys, act.iota, act.gate, n, d);
            } else {
                ops.add(act.x, act.ys, (long) n * d);
            }
        }
    }

    /** The pass's device buffers, allocated for the largest pass seen so far. */
    private final class Activations {
        private final Arena arena = Arena.ofShared();
        private MemorySegment host = MemorySegment.NULL;
        private int tokens = -1, logitRows = -1;
        long x, xn, q, k, v, att, o, g, u, y, h, logits, routerLogits, xs, ys, gate;
        /** One token's output of the stacked q/k/v GEMV, and of the stacked gate/up GEMV. */
        long qkv, gu;
        /** The greedy token of each logits row (forwardGreedy). */
        long greedy;
        long passInfo, ids, pos, kBase, vBase, lastRows, tiles, iota, routeRows, routeScales;
        /** Query tiles of this pass for the prefill attention kernel. */
        int tileCount;

        /** True when buffers were (re)allocated, which invalidates captured graphs. */
        boolean ensure(int n, int m) {
            boolean moved = false;
            if (n > tokens) {
                moved = true;
                int cap = Math.max(n, tokens <= 0 ? 1 : Math.min(2 * tokens, c.maxContext()));
                cap = Math.max(cap, n);
                freeTokens();
                int d = c.hiddenSize();
                int f = Math.max(c.intermediateSize(), Math.max(c.moeIntermediate(), c.sharedExpertIntermediate()));
                x = buf(cap, d);
                xn = buf(cap, d);
                q = buf(cap, c.qDim());
                k = buf(cap, c.kvDim());
                v = buf(cap, c.kvDim());
                att = buf(cap, c.qDim());
                o = buf(cap, d);
                g = buf(cap, f);
                u = buf(cap, f);
                y = buf(cap, d);
                h = buf(cap, d);
                xs = buf(cap, d);
                ys = buf(cap, d);
                gate = buf(cap, 1);
                qkv = buf(1, c.qDim() + 2 * c.kvDim());
                gu = buf(1, 2 * f);
                routerLogits = buf(cap, Math.max(1, c.experts()));
                // ids, positions, kBase, vBase, lastRows, prefill tiles (pairs), iota, routing rows and scales (k per token)
                int kk = Math.max(1, c.expertsPerToken());
                long bytes = 40L * cap + 8L * cap * kk;
                passInfo = device.alloc(bytes);
                ids = passInfo;
                pos = ids + 4L * cap;
                kBase = pos + 4L * cap;
                vBase = kBase + 8L * cap;
                lastRows = vBase + 8L * cap;
                tiles = lastRows + 4L * cap;
                iota = tiles + 8L * cap;
                routeRows = iota + 4L * cap;
                routeScales = routeRows + 4L * cap * kk;
                host = arena.allocate(bytes, 16);
                int[] seq = new int[cap];
                for (int i = 0; i < cap; i++) seq[i] = i;
                device.upload(iota, seq, 0, cap);
                tokens = cap;
            }
            if (m > logitRows) {
                moved = true;
                if (logits != 0) device.free(logits);
                if (greedy != 0) device.free(greedy);
                logitRows = Math.max(m, Math.min(tokens, 2 * Math.max(1, logitRows)));
                logits = buf(logitRows, c.vocabSize());
                greedy = buf(logitRows, 1);
            }
            return moved;
        }

        private long buf(int rows, int width) {
            return device.alloc(4L * rows * width);
        }

        private void freeTokens() {
            for (long p : new long[] {x, xn, q, k, v, att, o, g, u, y, h, xs, ys, gate, qkv, gu, routerLogits, passInfo}) {
                if (p != 0) device.free(p);
            }
        }

        /** Token ids, positions, KV base addresses and the rows whose logits are wanted, in one upload. */
        void writePass(List<Sequence> sequences, List<int[]> tokenLists, boolean allLogits) {
            int cap = tokens, i = 0;
            for (int s = 0; s < sequences.size(); s++) {
                Sequence seq = sequences.get(s);
                int[] t = tokenLists.get(s);
                // f32: the sequence's cache; paged: the pass's own rows of this sequence (a first pass attends to them)
                long kb = seq.cache() instanceof CudaKvCache f32 ? f32.keys : k + 4L * i * c.kvDim();
                long vb = seq.cache() instanceof CudaKvCache f32 ? f32.values : v + 4L * i * c.kvDim();
                for (int j = 0; j < t.length; j++, i++) {
                    host.setAtIndex(JAVA_INT, i, t[j]);
                    host.setAtIndex(JAVA_INT, cap + i, seq.length() + j);
                    host.setAtIndex(JAVA_LONG, cap + i, kb); // longs start at byte 8*cap
                    host.setAtIndex(JAVA_LONG, 2L * cap + i, vb);
                }
                if (!allLogits) host.setAtIndex(JAVA_INT, 6L * cap + s, i - 1);
            }
            // Tiles of consecutive tokens of one sequence, at most tileTokens each.
            int tileTokens = attention.prefillTileTokens();
            tileCount = 0;
            for (int s = 0, start = 0; s < sequences.size(); start += tokenLists.get(s).length, s++) {
                int len = tokenLists.get(s).length;
                for (int off = 0; tileTokens > 0 && off < len; off += tileTokens, tileCount++) {
                    host.setAtIndex(JAVA_INT, 7L * cap + 2L * tileCount, start + off);
                    host.setAtIndex(JAVA_INT, 7L * cap + 2L * tileCount + 1, Math.min(tileTokens, len - off));
                }
            }
            device.upload(passInfo, host.asSlice(0, 36L * cap));
        }

        void writeRouting(int[] rows, float[] scales) {
            long base = routeRows - passInfo;
            for (int i = 0; i < rows.length; i++) {
                host.set(JAVA_INT, base + 4L * i, rows[i]);
                host.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, routeScales - passInfo + 4L * i, scales[i]);
            }
            device.upload(routeRows, host.asSlice(base, 8L * tokens * Math.max(1, c.expertsPerToken())));
        }

        void close() {
            arena.close();
        }
    }

    @Override
    public void close() {
        try {
            device.makeCurrent();
            dropGraphs();
            act.close();
            if (deviceMoe != null) deviceMoe.free();
            if (seerDecode != null) seerDecode.close();
        } finally {
            device.close();
        }
    }
}
