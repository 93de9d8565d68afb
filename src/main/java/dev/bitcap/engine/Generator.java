package dev.bitcap.engine;

import dev.bitcap.BitcapException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Prefill then decode for a static batch of prompts: all prompts are prefilled in one pass, then every
 * unfinished sequence advances by one token per pass, together, until it meets a stop token, its token
 * budget, or the end of the context. Greedy settings leave the choice to {@link Backend#forwardGreedy} (a GPU picks
 * there and sends back one int per sequence); sampling draws on the host from each sequence's own seeded stream.
 */
public final class Generator {
    /** Receives each new token as it is chosen. */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int sequence, int token);
    }

    public enum StopReason { STOP_TOKEN, MAX_TOKENS, CONTEXT_FULL }

    public record Result(List<int[]> tokens, List<StopReason> reasons) {}

    private final Backend backend;
    private final int maxContext;

    public Generator(Backend backend, int maxContext) {
        this.backend = backend;
        this.maxContext = maxContext;
    }

    public Result generate(List<int[]> prompts, int maxTokens, SamplerSettings sampling, Set<Integer> stopIds, TokenListener listener) {
        if (maxTokens < 0) throw new BitcapException("--max-tokens must be >= 0, got " + maxTokens);
        int b = prompts.size();
        List<Sequence> seqs = new ArrayList<>(b);
        List<Sampler> samplers = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            int len = prompts.get(i).length;
            if (len == 0) throw new BitcapException("prompt " + i + " is empty: it needs at least one token (e.g. BOS)");
            if (len >= maxContext) {
                throw new BitcapException("prompt of " + len + " tokens does not fit the context of " + maxContext
                        + " tokens (it must leave room for at least one new token)");
            }
            seqs.add(backend.newSequence(Math.min(maxContext, len + Math.max(1, maxTokens))));
            samplers.add(new Sampler(new SamplerSettings(sampling.temperature(), sampling.topK(), sampling.topP(), sampling.seed() + i)));
        }
        List<List<Integer>> out = new ArrayList<>();
        List<StopReason> reasons = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            out.add(new ArrayList<>());
            reasons.add(null);
        }
        if (maxTokens == 0) {
            return finish(out, reasons);
        }
        List<Integer> active = new ArrayList<>();
        for (int i = 0; i < b; i++) active.add(i);
        int[] chosen = choose(seqs, active, prompts, samplers, sampling.greedy());
        while (true) {
            List<Integer> next = new ArrayList<>();
            List<int[]> nextTokens = new ArrayList<>();
            for (int r = 0; r < active.size(); r++) {
                int i = active.get(r);
                int tok = chosen[r];
                if (stopIds.contains(tok)) {
                    reasons.set(i, StopReason.STOP_TOKEN);
                    continue;
                }
                out.get(i).add(tok);
                listener.onToken(i, tok);
                if (out.get(i).size() >= maxTokens) {
                    reasons.set(i, StopReason.MAX_TOKENS);
                } else if (seqs.get(i).remaining() == 0) {
                    reasons.set(i, StopReason.CONTEXT_FULL);
                } else {
                    next.add(i);
                    nextTokens.add(new int[] {tok});
                }
            }
            if (next.isEmpty()) break;
            active = next;
            chosen = choose(seqs, active, nextTokens, samplers, sampling.greedy());
        }
        return finish(out, reasons);
    }

    /** One pass of the {@code active} sequences, then each one's next token (row r of the result: active.get(r)). */
    private int[] choose(List<Sequence> seqs, List<Integer> active, List<int[]> tokens, List<Sampler> samplers, boolean greedy) {
        List<Sequence> pass = active.stream().map(seqs::get).toList();
        if (greedy) return backend.forwardGreedy(pass, tokens); // the argmax needs no seed: the samplers stay unused
        float[] logits = backend.forward(pass, tokens, false);
        int vocab = logits.length / pass.size();
        int[] next = new int[pass.size()];
        for (int r = 0; r < next.length; r++) next[r] = samplers.get(active.get(r)).sample(logits, r * vocab, vocab);
        return next;
    }

    private static Result finish(List<List<Integer>> out, List<StopReason> reasons) {
        List<int[]> tokens = new ArrayList<>();
        for (List<Integer> l : out) tokens.add(l.stream().mapToInt(Integer::intValue).toArray());
        List<StopReason> rs = new ArrayList<>();
        for (StopReason r : reasons) rs.add(r == null ? StopReason.MAX_TOKENS : r);
        return new Result(tokens, rs);
    }
}
