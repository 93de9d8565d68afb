package dev.bitcap.eval;

import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Sequence;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Perplexity as the weight-quantization papers measure it: the whole text tokenized once, cut into
 * non-overlapping windows of {@code ctx} tokens ({@link EvalWindows}), each window run from an empty cache, and
 * perplexity = exp(mean negative log-likelihood of every token but each window's first).
 */
public final class Perplexity {
    public record Result(double perplexity, double meanNll, long tokens, int windows) {
        static Result of(double nll, long count, int windows) {
            double mean = nll / count;
            return new Result(Math.exp(mean), mean, count, windows);
        }
    }

    private Perplexity() {}

    /** @param progress called with the number of windows done after each window */
    public static Result evaluate(Backend backend, int[] ids, int ctx, int maxWindows, IntConsumer progress) {
        return evaluate(backend, EvalWindows.of(ids, ctx, 0, maxWindows), progress);
    }

    /** @param progress called with the number of windows done after each window */
    public static Result evaluate(Backend backend, EvalWindows windows, IntConsumer progress) {
        double nll = 0;
        for (int w = 0; w < windows.count(); w++) {
            int[] window = windows.window(w);
            nll += windowNll(logits(backend, window), window);
            progress.accept(w + 1);
        }
        return Result.of(nll, windows.predictions(), windows.count());
    }

    /** The logits of every position of {@code window}, run from an empty cache. */
    static float[] logits(Backend backend, int[] window) {
        Sequence seq = backend.newSequence(window.length);
        return backend.forward(List.of(seq), List.of(window), true);
    }

    /** Sum over positions t of −log p(window[t+1] | window[..t]). */
    static double windowNll(float[] logits, int[] window) {
        int ctx = window.length, vocab = logits.length / ctx;
        double nll = 0;
        for (int t = 0; t + 1 < ctx; t++) nll -= logProb(logits, t * vocab, vocab, window[t + 1]);
        return nll;
    }

    /** log softmax(row)[target], computed stably in double. */
    public static double logProb(float[] logits, int off, int vocab, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[off + i] - max);
        return logits[off + target] - max - Math.log(sum);
    }
}
