package dev.bitcap.attention;

import java.util.Arrays;

/**
 * The gate's compressed keys of one sequence (SeerAttention-R's K compression cache): per layer and KV head,
 * one gate-space key per completed block, computed once when the block's last position arrives, plus running
 * max/min/sum of the pre-RoPE keys of the block being filled. Each key is rotated at its block's first position
 * (not at the completing token's), the same as in prefill, so a block scores the same whichever pass filled it.
 */
final class SeerKeyCache {
    private final SeerGate gate;
    private final int kvHeads;
    private final int headDim;
    private final int gateDim;
    private final int block;
    /** keys[layer][(j·kvHeads + g)·gateDim + o] for completed blocks j. */
    private final double[][] keys;
    private final int[] completed;
    /** running[layer][g·3·headDim ..]: max, min, sum of the current block's keys. */
    private final double[][] running;
    private final int[] filled;
    private final int[] nextPosition;

    SeerKeyCache(SeerGate gate, int layers) {
        SeerGate.Shape s = gate.shape();
        this.gate = gate;
        this.kvHeads = s.kvHeads();
        this.headDim = s.headDim();
        this.gateDim = s.gateDim();
        this.block = s.block();
        this.keys = new double[layers][0];
        this.completed = new int[layers];
        this.running = new double[layers][kvHeads * 3 * headDim];
        this.filled = new int[layers];
        this.nextPosition = new int[layers];
    }

    /** Adds the pre-RoPE key row ({@code kvHeads·headDim} floats) of the next position of a layer. */
    void add(int layer, int position, float[] k, int off) {
        if (position != nextPosition[layer]) {
            throw new IllegalStateException("layer " + layer + " expected position " + nextPosition[layer] + ", got " + position);
        }
        double[] acc = running[layer];
        for (int g = 0; g < kvHeads; g++) {
            int base = g * 3 * headDim;
            for (int c = 0; c < headDim; c++) {
                double v = k[off + g * headDim + c];
                if (filled[layer] == 0) {
                    acc[base + c] = v;
                    acc[base + headDim + c] = v;
                    acc[base + 2 * headDim + c] = v;
                } else {
                    acc[base + c] = Math.max(acc[base + c], v);
                    acc[base + headDim + c] = Math.min(acc[base + headDim + c], v);
                    acc[base + 2 * headDim + c] += v;
                }
            }
        }
        filled[layer]++;
        nextPosition[layer]++;
        if (filled[layer] == block) {
            int j = completed[layer];
            if (keys[layer].length < (j + 1) * kvHeads * gateDim) keys[layer] = Arrays.copyOf(keys[layer], Math.max(2 * keys[layer].length, (j + 1) * kvHeads * gateDim));
            blockKeys(layer, j, keys[layer], j * kvHeads * gateDim);
            completed[layer]++;
            filled[layer] = 0;
        }
    }

    /** Blocks of a layer whose keys are final. */
    int completed(int layer) {
        return completed[layer];
    }

    /** Gate keys ({@code kvHeads·gateDim}) of block j: stored when complete, else pooled from the positions it has. */
    void keysOf(int layer, int j, double[] out, int off) {
        if (j < completed[layer]) {
            System.arraycopy(keys[layer], j * kvHeads * gateDim, out, off, kvHeads * gateDim);
        } else if (j == completed[layer] && filled[layer] > 0) {
            blockKeys(layer, j, out, off);
        } else {
            throw new IllegalStateException("block " + j + " of layer " + layer + " has no keys yet");
        }
    }

    /** Keys of a layer's completed blocks, {@code [(j·kvHeads + g)·gateDim + o]}, read in place (not copied). */
    double[] storedKeys(int layer) {
        return keys[layer];
    }

    private void blockKeys(int layer, int j, double[] out, int off) {
        double[] pooled = running[layer].clone();
        int n = filled[layer];
        for (int g = 0; g < kvHeads; g++) {
            for (int c = 0; c < headDim; c++) pooled[g * 3 * headDim + 2 * headDim + c] /= n;
            gate.key(layer, g, pooled, g * 3 * headDim, j * block, out, off + g * gateDim);
        }
    }
}
