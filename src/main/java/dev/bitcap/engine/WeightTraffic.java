package dev.bitcap.engine;

import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvLayout;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.Weights;

/**
 * Bytes a forward pass must read from memory: every weight matrix it uses once (the embedding only by the
 * rows it looks up; of a MoE layer's experts only those some token was routed to), plus the KV cache each
 * sequence attends over, in the bytes its KV format really stores. This is the numerator of memory-bandwidth
 * utilisation.
 */
public final class WeightTraffic {
    private final LoadedModel model;
    private final KvLayout kvLayout;

    public WeightTraffic(LoadedModel model) {
        this(model, KvSpec.F32);
    }

    public WeightTraffic(LoadedModel model, KvSpec kv) {
        this.model = model;
        ModelConfig c = model.config();
        this.kvLayout = kv.format() == KvFormat.F32 ? null
                : new KvLayout(kv, c.layers(), c.kvHeads(), c.headDim(), KvLayout.DEFAULT_PAGE_TOKENS);
    }

    /** KV bytes a sequence holding {@code positions} positions reads in one step. */
    public long kvBytes(int positions) {
        ModelConfig c = model.config();
        return kvLayout == null ? 2L * c.kvDim() * Float.BYTES * c.layers() * positions : kvLayout.bytesFor(positions);
    }

    public long bytes(PassRecord r) {
        ModelConfig c = model.config();
        Weights.Model w = model.weights();
        long total = w.lmHead().byteSize();
        total += (long) r.tokens() * w.embedding().byteSize() / c.vocabSize();
        for (int l = 0; l < c.layers(); l++) {
            Weights.Layer layer = w.layers()[l];
            var a = layer.attention();
            total += a.q().byteSize() + a.k().byteSize() + a.v().byteSize() + a.o().byteSize();
            if (layer.mlp() != null) {
                total += layer.mlp().bytes();
            } else {
                total += layer.moe().router().byteSize();
                if (layer.moe().shared() != null) total += layer.moe().shared().bytes();
                int[] ids = r.routedExperts() == null ? null : r.routedExperts()[l];
                if (ids != null) {
                    for (int e : java.util.Arrays.stream(ids).distinct().toArray()) total += layer.moe().experts()[e].bytes();
                }
            }
        }
        for (int ctx : r.contextLengths()) total += kvBytes(ctx);
        return total;
    }
}
