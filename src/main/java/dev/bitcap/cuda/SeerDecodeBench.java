package dev.bitcap.cuda;

import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.tensor.RopeStyle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Times one layer of SeerAttention-R decode against dense decode over the same paged cache, at Llama-3.1-8B's
 * attention shape (32 query heads over 8 KV heads, head dim 128), one token per sequence, batch 1 and 8, context
 * 32K and 128K, fp16 and int4 (g128, keys per channel) caches: dense is {@link CudaPagedAttention#decode}; sparse is
 * the gate (its compressed-key append, scores over every completed block, top-k, lists) plus
 * {@link CudaPagedAttention#decodeSparse}, both inside the timed span, at densities 0.5 / 0.3 / 0.1. The gate has
 * random weights and random compressed keys (gate dim 128, blocks of 64): a density fixes how many blocks are
 * visited, which is what the time depends on. CUDA events, median of 30.
 */
public final class SeerDecodeBench {
    /** One timing: the gate alone, and the sparse total, in µs; dense decode of the same cache in µs. */
    public record Result(String format, int batch, int length, double density, double denseMicros, double gateMicros, double sparseMicros) {}

    private static final int HEADS = 32, KV_HEADS = 8, HEAD_DIM = 128, GATE_DIM = 128;
    private final CudaDevice device;

    public SeerDecodeBench(CudaDevice device) {
        this.device = device;
    }

    public List<Result> run(Consumer<Result> sink) {
        List<Result> out = new ArrayList<>();
        for (KvFormat f : new KvFormat[] {KvFormat.FP16, KvFormat.INT4}) {
            for (int length : new int[] {32768, 131072}) {
                for (int batch : new int[] {1, 8}) {
                    for (Result r : one(new KvSpec(f, 128, KeyGrouping.CHANNEL), batch, length)) {
                        out.add(r);
                        sink.accept(r);
                    }
                }
            }
        }
        return out;
    }

    private List<Result> one(KvSpec spec, int batch, int length) {
        CudaKvLayout lay = new CudaKvLayout(spec, 1, KV_HEADS, HEAD_DIM);
        long pages = (long) batch * ((length + CudaKvLayout.PAGE_TOKENS) / CudaKvLayout.PAGE_TOKENS);
        CudaPagedAttention attention = new CudaPagedAttention(device, lay, HEADS);
        double[] invFreq = new double[GATE_DIM / 2];
        for (int j = 0; j < invFreq.length; j++) invFreq[j] = Math.pow(500000, -2.0 * j / GATE_DIM);
        SeerGate gate = SeerGate.initialised(new SeerGate.Shape(1, HEADS, KV_HEADS, HEAD_DIM, GATE_DIM, CudaSparseAttention.BLOCK), invFreq,
                RopeStyle.ROTATE_HALF, "bench", "bench", 5);
        List<Result> results = new ArrayList<>();
        try (CudaKvPool pool = new CudaKvPool(device, lay, pages * lay.pageBytes());
             CudaSeerDecodeGate gpuGate = new CudaSeerDecodeGate(device, gate, batch, length + 1)) {
            List<CudaPagedKvCache> caches = new ArrayList<>();
            int[] slots = new int[batch], positions = new int[batch];
            for (int s = 0; s < batch; s++) {
                CudaPagedKvCache c = attention.newCache(pool, length + 1);
                new CudaKvFill(device, attention).fill(c, length, 11 + s);
                caches.add(c);
                gpuGate.fillRandom(s, length, attention, 31 + s);
                slots[s] = s;
                positions[s] = length;
            }
            long q = device.alloc(4L * batch * HEADS * HEAD_DIM), k = device.alloc(4L * batch * KV_HEADS * HEAD_DIM);
            long o = device.alloc(4L * batch * HEADS * HEAD_DIM);
            attention.fillRandom(q, (long) batch * HEADS * HEAD_DIM, 99, 0.5f, 0, 0f);
            attention.fillRandom(k, (long) batch * KV_HEADS * HEAD_DIM, 98, 1f, 0, 0f);
            try (CudaPagedAttention.Plan plan = attention.plan(caches, 0)) {
                double dense = time(() -> attention.decode(plan, 0, q, o), 30);
                gpuGate.beginDecode(slots, positions);
                for (double density : new double[] {0.5, 0.3, 0.1}) {
                    BlockSelection sel = BlockSelection.density(density);
                    int maxListed = CudaSeerDecodeGate.maxListed(sel, length + 1), stride = 1 + maxListed;
                    long lists = device.alloc(4L * batch * KV_HEADS * stride);
                    // Every timed run re-appends the same key at the same position (a multiple of 64: no block
                    // completes), so each does the same work: fold the key in, score every completed block, pick.
                    Runnable gateOnly = () -> {
                        gpuGate.append(0, k);
                        gpuGate.select(0, q, sel, lists, stride);
                    };
                    double gateMs = time(gateOnly, 30);
                    double total = time(() -> {
                        gateOnly.run();
                        attention.decodeSparse(plan, 0, q, lists, stride, CudaSparseAttention.BLOCK, maxListed, o);
                    }, 30);
                    results.add(new Result(spec.format().flagName(), batch, length, density, dense * 1e3, gateMs * 1e3, total * 1e3));
                    device.free(lists);
                }
            }
            for (CudaPagedKvCache c : caches) c.release();
            for (long p : new long[] {q, k, o}) device.free(p);
        }
        return results;
    }

    private double time(Runnable work, int reps) {
        return EventTimer.medianMillis(device, work, 5, reps);
    }
}
