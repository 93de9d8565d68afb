package dev.bitcap.engine;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvLayout;
import dev.bitcap.kv.KvPagePool;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.kv.PagedKvCache;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.Ops;
import dev.bitcap.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The CPU backend: weights read in place from the mapped files, activations in float arrays, every
 * projection a multi-threaded Vector API GEMV (decode) or GEMM (prefill, all prompt tokens at once).
 */
public final class CpuBackend implements Backend {
    private final ModelConfig c;
    private final Weights.Model w;
    private final RopeTable rope;
    private final CpuAttentionBlock attention;
    private final CpuFeedForward feedForward;
    private final PassRecorder recorder;
    private ForwardObserver observer = ForwardObserver.NONE;
    private KvSpec kv = KvSpec.F32;
    private KvPagePool kvPool;

    public CpuBackend(LoadedModel model, PassRecorder recorder) {
        this.c = model.config();
        this.w = model.weights();
        this.rope = new RopeTable(c);
        this.attention = new CpuAttentionBlock(c, rope);
        this.feedForward = new CpuFeedForward(c);
        this.recorder = recorder;
    }

    public void setObserver(ForwardObserver observer) {
        this.observer = observer;
    }

    /**
     * Gives new sequences caches of {@code spec}: f32 arrays, or pages from one pool of at most {@code poolBytes}
     * shared by all of this backend's sequences. A head dim the format cannot store is a one-line error.
     */
    public void useKv(KvSpec spec, long poolBytes) {
        spec.checkHeadDim(c.headDim());
        this.kv = spec;
        this.kvPool = spec.format() == KvFormat.F32 ? null
                : KvPagePool.ofBytes(new KvLayout(spec, c.layers(), c.kvHeads(), c.headDim(), KvLayout.DEFAULT_PAGE_TOKENS), poolBytes);
    }

    public KvSpec kvSpec() {
        return kv;
    }

    /** The page pool of a paged KV format, else null. */
    public KvPagePool kvPool() {
        return kvPool;
    }

    /** Half of the machine's memory (from /proc/meminfo; 4 GiB where it cannot be read). */
    public static long defaultKvPoolBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024 / 2;
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: fall through to the fixed default
        }
        return 4L << 30;
    }

    /** Computes attention with {@code attention} instead of dense attention from the next pass on (null: dense again). */
    public void replaceAttention(dev.bitcap.attention.LayerAttention attention) {
        this.attention.replaceAttention(attention);
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Sequence newSequence(int capacity) {
        if (capacity <= 0 || capacity > c.maxContext()) {
            throw new BitcapException("a sequence of " + capacity + " positions does not fit the model's context of " + c.maxContext());
        }
        if (kvPool == null) return new Sequence(new F32KvCache(c.layers(), capacity, c.kvDim()));
        return new Sequence(new PagedKvCache(kvPool, capacity));
    }

    @Override
    public float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits) {
        long start = System.nanoTime();
        for (int s = 0; s < sequences.size(); s++) {
            Sequence seq = sequences.get(s);
            int[] ids = tokens.get(s);
            if (ids.length == 0) throw new IllegalArgumentException("sequence " + s + " has no tokens in this pass");
            if (ids.length > seq.remaining()) {
                throw new BitcapException("sequence " + s + " holds " + seq.length() + " positions and cannot take " + ids.length
                        + " more: its context is " + seq.cache().capacity());
            }
            for (int id : ids) {
                if (id < 0 || id >= c.vocabSize()) throw new BitcapException("token id " + id + " is outside the vocabulary of " + c.vocabSize());
            }
        }
        for (int s = 0; s < sequences.size(); s++) {
            // pages for the whole pass are taken before any layer runs, so a short pool refuses cleanly
            if (sequences.get(s).cache() instanceof PagedKvCache paged) paged.reserve(sequences.get(s).length() + tokens.get(s).length);
        }
        TokenBatch batch = TokenBatch.of(sequences, tokens);
        int n = batch.size(), d = c.hiddenSize();
        int maxPos = 0;
        for (int p : batch.positions()) maxPos = Math.max(maxPos, p);
        rope.ensure(maxPos);

        float[] x = batch.embed(w.embedding(), d);
        float[] xn = new float[n * d];
        int[][] routed = new int[c.layers()][];
        for (int l = 0; l < c.layers(); l++) {
            Weights.Layer layer = w.layers()[l];
            rmsnormRows(x, xn, layer.attnNorm(), n);
            attention.run(l, layer.attention(), batch, xn, x);
            rmsnormRows(x, xn, layer.mlpNorm(), n);
            if (layer.moe() != null) {
                routed[l] = feedForward.moe(l, layer.moe(), xn, n, x, observer);
            } else {
                CpuFeedForward.mlp(layer.mlp(), xn, n, x, null);
            }
        }
        for (int s = 0; s < sequences.size(); s++) sequences.get(s).advance(tokens.get(s).length);

        int[] rows = allLogits ? null : TokenBatch.lastTokenRows(tokens);
        int m = allLogits ? n : rows.length;
        float[] h = new float[m * d];
        for (int r = 0; r < m; r++) {
            int t = allLogits ? r : rows[r];
            Ops.rmsnorm(h, r * d, x, t * d, w.finalNorm(), d, c.rmsEps());
        }
        float[] logits = new float[m * c.vocabSize()];
        w.lmHead().matmul(h, logits, m);

        int[] ctx = sequences.stream().mapToInt(Sequence::length).toArray();
        boolean decode = n == sequences.size() && batch.positions()[0] > 0;
        for (int s = 0; decode && s < sequences.size(); s++) decode = tokens.get(s).length == 1 && sequences.get(s).length() > 1;
        recorder.record(new PassRecord(decode ? PassRecord.Mode.DECODE : PassRecord.Mode.PREFILL, sequences.size(), n, ctx,
                System.nanoTime() - start, c.expertsPerToken(), c.isMoe() ? routed : null));
        return logits;
    }

    private void rmsnormRows(float[] x, float[] out, float[] weight, int n) {
        int d = c.hiddenSize();
        for (int t = 0; t < n; t++) Ops.rmsnorm(out, t * d, x, t * d, weight, d, c.rmsEps());
    }



    @Override
    public void close() {
        // weights belong to the LoadedModel; KV caches are garbage-collected with their sequences (pages go back
        // to the pool then, or at once when a caller releases the cache)
    }
}
