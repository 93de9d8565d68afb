package dev.bitcap.attention;

import dev.bitcap.kv.KvCache;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The tokens one sequence contributes to a forward pass: pass rows {@code first .. first+count}, at consecutive
 * positions from {@code start}, whose keys and values go to {@code cache}.
 */
public record TokenRun(KvCache cache, int first, int count, int start) {
    /** Position of the run's last token. */
    public int last() {
        return start + count - 1;
    }

    /** Splits a pass (rows in order, each with its position and sequence index) into runs of one sequence each. */
    public static List<TokenRun> of(int[] positions, int[] sequenceOf, IntFunction<KvCache> cacheOfSequence) {
        List<TokenRun> runs = new ArrayList<>();
        int t = 0;
        while (t < positions.length) {
            int s = sequenceOf[t], begin = t;
            while (t < positions.length && sequenceOf[t] == s) t++;
            runs.add(new TokenRun(cacheOfSequence.apply(s), begin, t - begin, positions[begin]));
        }
        return runs;
    }
}
