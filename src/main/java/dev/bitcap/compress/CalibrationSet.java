package dev.bitcap.compress;

import dev.bitcap.BitcapException;
import dev.bitcap.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Token windows for calibration, GPTQ-style: the text tokenized once, cut into non-overlapping windows of
 * {@code seqLen} tokens, {@code samples} of them picked at random with a fixed seed.
 */
public record CalibrationSet(String source, List<int[]> windows, int seqLen, long seed) {
    public static CalibrationSet fromText(Tokenizer tokenizer, String text, String source, int samples, int seqLen, long seed) {
        if (samples < 1) throw new BitcapException("--samples must be >= 1, got " + samples);
        if (seqLen < 2) throw new BitcapException("--seq-len must be >= 2, got " + seqLen);
        int[] ids = tokenizer.encode(text, false);
        int available = ids.length / seqLen;
        if (available < samples) {
            throw new BitcapException("calibration text " + source + " has " + ids.length + " tokens: " + available + " windows of "
                    + seqLen + ", fewer than the " + samples + " samples requested");
        }
        int[] order = new int[available];
        for (int i = 0; i < available; i++) order[i] = i;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = available - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] picked = Arrays.copyOf(order, samples);
        Arrays.sort(picked);
        List<int[]> windows = new ArrayList<>(samples);
        for (int w : picked) windows.add(Arrays.copyOfRange(ids, w * seqLen, (w + 1) * seqLen));
        return new CalibrationSet(source, List.copyOf(windows), seqLen, seed);
    }

    public long tokens() {
        return (long) windows.size() * seqLen;
    }
}
