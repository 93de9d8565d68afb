package dev.bitcap.model;

import dev.bitcap.format.TensorSource;
import dev.bitcap.tensor.WeightMatrix;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/** A model ready to run: its config, its bound weights, its tokenizer, and the mapped files it reads from. */
public final class LoadedModel implements AutoCloseable {
    private final String name;
    private final String format;
    private final ModelConfig config;
    private final Weights.Model weights;
    private final Tokenizer tokenizer;
    private final List<AutoCloseable> resources;

    public LoadedModel(String name, String format, ModelConfig config, Weights.Model weights, Tokenizer tokenizer,
                       List<AutoCloseable> resources) {
        this.name = name;
        this.format = format;
        this.config = config;
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.resources = new ArrayList<>(resources);
    }

    /**
     * The same model with other weight matrices (quantized ones, or wrappers that watch their inputs). The new
     * model takes over this one's files and {@code extra} (may be null): close only the new one.
     */
    public LoadedModel withWeights(Weights.Model newWeights, AutoCloseable extra) {
        List<AutoCloseable> all = new ArrayList<>(resources);
        if (extra != null) all.add(extra);
        return new LoadedModel(name, format, config, newWeights, tokenizer, all);
    }

    public String name() {
        return name;
    }

    /** The file format it was read from: "safetensors", "gguf" or "llama2c". */
    public String format() {
        return format;
    }

    public ModelConfig config() {
        return config;
    }

    public Weights.Model weights() {
        return weights;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * Bytes of the weight matrices by storage ({@code F16}, {@code int4-asym g128}, ...), each distinct matrix
     * counted once, so a tied head is not double-counted.
     */
    public Map<String, Long> matrixBytesByStorage() {
        Map<String, Long> bytes = new java.util.TreeMap<>();
        Map<WeightMatrix, Boolean> seen = new IdentityHashMap<>();
        forEachMatrix(t -> {
            if (seen.put(t, Boolean.TRUE) == null) bytes.merge(t.storage(), t.byteSize(), Long::sum);
        });
        return bytes;
    }

    public void forEachMatrix(java.util.function.Consumer<WeightMatrix> action) {
        action.accept(weights.embedding());
        for (Weights.Layer layer : weights.layers()) {
            var a = layer.attention();
            for (WeightMatrix t : new WeightMatrix[] {a.q(), a.k(), a.v(), a.o()}) action.accept(t);
            if (layer.mlp() != null) mlp(layer.mlp(), action);
            if (layer.moe() != null) {
                action.accept(layer.moe().router());
                for (Weights.Mlp e : layer.moe().experts()) mlp(e, action);
                if (layer.moe().shared() != null) mlp(layer.moe().shared(), action);
            }
        }
        action.accept(weights.lmHead());
    }

    private static void mlp(Weights.Mlp m, java.util.function.Consumer<WeightMatrix> action) {
        action.accept(m.gate());
        action.accept(m.up());
        action.accept(m.down());
    }

    @Override
    public void close() {
        for (AutoCloseable r : resources) {
            try {
                r.close();
            } catch (Exception ignored) {
                // closing a read-only mapping cannot lose data
            }
        }
    }

    /** Convenience for loaders: close sources if binding fails. */
    static void closeQuietly(List<? extends TensorSource> sources) {
        for (TensorSource s : sources) {
            try {
                s.close();
            } catch (RuntimeException ignored) {
                // already failing; the original error is the one to report
            }
        }
    }
}
