package dev.bitcap.train;

/**
 * What one layer of one training window gives the gate to learn from, for {@code blocks} blocks: the pooled
 * pre-RoPE queries {@code [block][head][headDim]} (average), the pooled pre-RoPE keys
 * {@code [block][kvHead][3·headDim]} (max | min | average), and the target {@code [head][queryBlock][keyBlock]}:
 * the true attention map max-pooled over block×block tiles, each row normalised over its causal blocks.
 */
public record GateSample(int blocks, double[] pooledQ, double[] pooledK, double[] target) {}
