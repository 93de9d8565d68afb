package dev.bitcap.eval;

import dev.bitcap.BitcapException;
import java.util.Arrays;

/**
 * The evaluation protocol's windows, shared by perplexity and KL divergence: the text's token ids cut into
 * non-overlapping windows of {@code ctx} tokens from the start, a shorter tail dropped, each window run from an
 * empty cache. Every window but its first token is scored, so a window yields {@code ctx - 1} predictions.
 */
public record EvalWindows(int[] ids, int ctx, int count) {
    public EvalWindows {
        if (ctx < 2) throw new BitcapException("--ctx must be at least 2, got " + ctx);
        if (count < 1 || (long) count * ctx > ids.length) {
            throw new IllegalArgumentException(count + " windows of " + ctx + " do not fit " + ids.length + " tokens");
        }
    }

    /**
     * As many windows as fit the text, then as fit {@code maxTokens} (0: no limit), then at most {@code maxWindows}
     * (0: no limit).
     */
    public static EvalWindows of(int[] ids, int ctx, long maxTokens, int maxWindows) {
        if (ctx < 2) throw new BitcapException("--ctx must be at least 2, got " + ctx);
        if (maxTokens < 0) throw new BitcapException("--max-tokens must be >= 0, got " + maxTokens);
        if (maxWindows < 0) throw new BitcapException("--max-windows must be >= 0, got " + maxWindows);
        int windows = ids.length / ctx;
        if (windows == 0) throw new BitcapException("the text has " + ids.length + " tokens, fewer than one window of --ctx " + ctx);
        if (maxTokens > 0) {
            if (maxTokens < ctx) throw new BitcapException("--max-tokens " + maxTokens + " is less than one window of --ctx " + ctx);
            windows = (int) Math.min(windows, maxTokens / ctx);
        }
        if (maxWindows > 0) windows = Math.min(windows, maxWindows);
        return new EvalWindows(ids, ctx, windows);
    }

    public int[] window(int w) {
        return Arrays.copyOfRange(ids, w * ctx, (w + 1) * ctx);
    }

    /** Tokens that the windows cover (what a run with this many tokens of text evaluates). */
    public long tokens() {
        return (long) count * ctx;
    }

    /** Positions scored: every token of every window but the first. */
    public long predictions() {
        return (long) count * (ctx - 1);
    }
}
