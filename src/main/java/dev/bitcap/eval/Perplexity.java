package dev.bitcap.eval;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Sequence;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Perplexity as the weight-quantization papers measure it: the whole text tokenized once, cut into
 * non-overlapping windows of {@code ctx} tokens (a shorter tail is dropped), each window run from an empty
 * cache, and perplexity = exp(mean negative log-likelihood of every token but each window's first).
 */
public final class Perplexity {
    public record Result(double perplexity, double meanNll, long tokens, int windows) {}

    private Perplexity() {}

    /** @param progress called with the number of windows done after each window */
    public static Result evaluate(Backend backend, int[] ids, int ctx, int maxWindows, IntConsumer progress) {
        if (ctx < 2) throw new BitcapException("--ctx must be at least 2, got " + ctx);
        int windows = ids.length / ctx;
        if (maxWindows > 0) windows = Math.min(windows, maxWindows);
        if (windows == 0) throw new BitcapException("the text has " + ids.length + " tokens, fewer than one window of --ctx " + ctx);
        double nll = 0;
        long count = 0;
        for (int w = 0; w < windows; w++) {
            int[] window = java.util.Arrays.copyOfRange(ids, w * ctx, (w + 1) * ctx);
            Sequence seq = backend.newSequence(ctx);
            float[] logits = backend.forward(List.of(seq), List.of(window), true);
            int vocab = logits.length / ctx;
            for (int t = 0; t + 1 < ctx; t++) {
                nll -= logProb(logits, t * vocab, vocab, window[t + 1]);
                count++;
            }
            progress.accept(w + 1);
        }
        double mean = nll / count;
        return new Result(Math.exp(mean), mean, count, windows);
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
