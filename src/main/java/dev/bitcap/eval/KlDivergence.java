package dev.bitcap.eval;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import java.util.function.IntConsumer;

/**
 * How far a model's next-token distributions are from a reference model's on the same text: both run over the
 * same {@link EvalWindows}, and at every scored position KL(P_ref ‖ P_model) = Σ_v P_ref(v)·(log P_ref(v) − log
 * P_model(v)) is computed in double from the log-softmax of each model's logits. Reports the mean over positions,
 * how often the two most likely tokens agree, and both perplexities (the same numbers {@link Perplexity} gives).
 */
public final class KlDivergence {
    /**
     * @param meanKl mean KL(P_ref ‖ P_model) in nats per position
     * @param top1Agreement fraction of positions where both models' most likely token (lowest id on ties) is the same
     */
    public record Result(Perplexity.Result reference, Perplexity.Result model, double meanKl, double top1Agreement, long positions,
                         int windows) {}

    private KlDivergence() {}

    /** @param progress called with the number of windows done after each window */
    public static Result evaluate(Backend reference, Backend model, EvalWindows windows, IntConsumer progress) {
        double refNll = 0, modelNll = 0, kl = 0;
        long agree = 0;
        int ctx = windows.ctx();
        for (int w = 0; w < windows.count(); w++) {
            int[] window = windows.window(w);
            float[] p = Perplexity.logits(reference, window), q = Perplexity.logits(model, window);
            if (p.length != q.length) {
                throw new BitcapException("the reference model has " + p.length / ctx + " logits per position, the model " + q.length / ctx);
            }
            int vocab = p.length / ctx;
            refNll += Perplexity.windowNll(p, window);
            modelNll += Perplexity.windowNll(q, window);
            double[] lp = new double[vocab], lq = new double[vocab];
            for (int t = 0; t + 1 < ctx; t++) {
                int off = t * vocab;
                logSoftmax(p, off, vocab, lp);
                logSoftmax(q, off, vocab, lq);
                double d = kl(lp, lq);
                if (!Double.isFinite(d)) {
                    throw new BitcapException("non-finite logits at window " + w + ", position " + t + " (KL " + d + ")");
                }
                kl += d;
                if (argmax(p, off, vocab) == argmax(q, off, vocab)) agree++;
            }
            progress.accept(w + 1);
        }
        long n = windows.predictions();
        return new Result(Perplexity.Result.of(refNll, n, windows.count()), Perplexity.Result.of(modelNll, n, windows.count()),
                kl / n, (double) agree / n, n, windows.count());
    }

    /** KL(P ‖ Q) of the distributions whose log-probabilities are {@code logP} and {@code logQ}. */
    public static double kl(double[] logP, double[] logQ) {
        double sum = 0;
        for (int v = 0; v < logP.length; v++) sum += Math.exp(logP[v]) * (logP[v] - logQ[v]);
        return sum;
    }

    /** KL(softmax(p) ‖ softmax(q)) of two logit rows of {@code vocab} values starting at {@code off}. */
    public static double klOfLogits(float[] p, float[] q, int off, int vocab) {
        double[] lp = new double[vocab], lq = new double[vocab];
        logSoftmax(p, off, vocab, lp);
        logSoftmax(q, off, vocab, lq);
        return kl(lp, lq);
    }

    /** out[v] = logits[off+v] − max − log Σ exp(logits − max), in double. */
    static void logSoftmax(float[] logits, int off, int vocab, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) max = Math.max(max, logits[off + v]);
        double sum = 0;
        for (int v = 0; v < vocab; v++) sum += Math.exp(logits[off + v] - max);
        double norm = max + Math.log(sum);
        for (int v = 0; v < vocab; v++) out[v] = logits[off + v] - norm;
    }

    static int argmax(float[] logits, int off, int vocab) {
        int best = 0;
        for (int v = 1; v < vocab; v++) if (logits[off + v] > logits[off + best]) best = v;
        return best;
    }
}
