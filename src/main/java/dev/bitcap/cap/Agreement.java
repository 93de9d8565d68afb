package dev.bitcap.cap;

import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Sequence;
import dev.bitcap.eval.KlDivergence;
import dev.bitcap.eval.Perplexity;
import dev.bitcap.tensor.Ops;
import java.util.ArrayList;
import java.util.List;

/**
 * How closely a configuration follows the unquantized model on the same token windows: the share of positions
 * where both pick the same most likely next token (lowest id on ties), the mean KL(P_ref ‖ P_model) in nats, and,
 * when the windows are real text, the configuration's perplexity (next-token NLL of every position but the last).
 */
public final class Agreement {
    public record Result(double top1, double meanKl, double perplexity, long positions) {}

    private final List<int[]> windows;
    private final List<float[]> reference;

    private Agreement(List<int[]> windows, List<float[]> reference) {
        this.windows = windows;
        this.reference = reference;
    }

    /** Runs the reference model once over the windows and keeps its logits. */
    public static Agreement against(Backend reference, List<int[]> windows) {
        List<float[]> logits = new ArrayList<>();
        for (int[] w : windows) logits.add(logits(reference, w));
        return new Agreement(List.copyOf(windows), logits);
    }

    public Result measure(Backend model) {
        long positions = 0, same = 0;
        double kl = 0, nll = 0;
        for (int i = 0; i < windows.size(); i++) {
            int[] w = windows.get(i);
            float[] p = reference.get(i), q = logits(model, w);
            int vocab = p.length / w.length;
            for (int t = 0; t + 1 < w.length; t++) {
                int off = t * vocab;
                kl += KlDivergence.klOfLogits(p, q, off, vocab);
                if (Ops.argmax(p, off, vocab) == Ops.argmax(q, off, vocab)) same++;
                nll -= Perplexity.logProb(q, off, vocab, w[t + 1]);
                positions++;
            }
        }
        return new Result((double) same / positions, kl / positions, Math.exp(nll / positions), positions);
    }

    private static float[] logits(Backend backend, int[] window) {
        Sequence seq = backend.newSequence(window.length);
        return backend.forward(List.of(seq), List.of(window), true);
    }
}
