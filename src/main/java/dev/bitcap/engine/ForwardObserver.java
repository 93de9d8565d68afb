package dev.bitcap.engine;

/** Sees intermediate values of a forward pass (for tests and analysis); the default ignores them. */
public interface ForwardObserver {
    ForwardObserver NONE = new ForwardObserver() {};

    /** Router logits of a MoE layer, {@code tokens x experts}, token-major in pass order. */
    default void routerLogits(int layer, float[] logits, int tokens, int experts) {}
}
