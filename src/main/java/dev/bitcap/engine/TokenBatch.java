package dev.bitcap.engine;

import java.util.List;

/** The tokens of one forward pass flattened in order: which sequence and position each belongs to. */
public record TokenBatch(int[] ids, int[] positions, int[] sequenceOf, List<Sequence> sequences) {
    public static TokenBatch of(List<Sequence> sequences, List<int[]> tokens) {
        int n = 0;
        for (int[] t : tokens) n += t.length;
        int[] ids = new int[n], pos = new int[n], seq = new int[n];
        int i = 0;
        for (int s = 0; s < sequences.size(); s++) {
            int start = sequences.get(s).length();
            for (int j = 0; j < tokens.get(s).length; j++, i++) {
                ids[i] = tokens.get(s)[j];
                pos[i] = start + j;
                seq[i] = s;
            }
        }
        return new TokenBatch(ids, pos, seq, sequences);
    }

    public int size() {
        return ids.length;
    }
}
