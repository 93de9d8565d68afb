package dev.bitcap.engine;

import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.MemorySegment;
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

    /** The embedding rows of this batch's tokens, {@code width} floats each, into {@code x}. */
    public float[] embed(Tensor embedding, int width) {
        float[] x = new float[ids.length * width];
        for (int t = 0; t < ids.length; t++) {
            Tensor row = embedding.slice(ids[t], 1);
            if (row.dtype() == DType.F32) {
                MemorySegment.copy(row.data(), Tensor.F32_LE, 0, x, t * width, width);
            } else {
                for (int i = 0; i < width; i++) x[t * width + i] = row.getFloat(i);
            }
        }
        return x;
    }

    /** The row of each sequence's last token in a pass's flattened tokens. */
    public static int[] lastTokenRows(List<int[]> tokens) {
        int[] rows = new int[tokens.size()];
        int end = 0;
        for (int s = 0; s < tokens.size(); s++) {
            end += tokens.get(s).length;
            rows[s] = end - 1;
        }
        return rows;
    }
}
