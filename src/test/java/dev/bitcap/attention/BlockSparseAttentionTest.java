package dev.bitcap.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.bitcap.kv.F32KvCache;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The block-sparse kernel against dense attention and against a double-precision reference with a key mask. */
class BlockSparseAttentionTest {
    private static final int HEADS = 8, KV_HEADS = 2, HEAD_DIM = 16, BLOCK = 8, POSITIONS = 61;

    private final Random random = new Random(7);
    private final F32KvCache cache = new F32KvCache(1, POSITIONS, KV_HEADS * HEAD_DIM);
    private final float[] q = new float[HEADS * HEAD_DIM];

    BlockSparseAttentionTest() {
        float[] k = new float[KV_HEADS * HEAD_DIM], v = new float[KV_HEADS * HEAD_DIM];
        for (int p = 0; p < POSITIONS; p++) {
            for (int i = 0; i < k.length; i++) {
                k[i] = (float) (random.nextGaussian() * 1.5);
                v[i] = (float) random.nextGaussian();
            }
            cache.append(0, p, k, 0, v, 0);
        }
        for (int i = 0; i < q.length; i++) q[i] = (float) (random.nextGaussian() * 1.5);
    }

    @Test
    void everyCausalBlockReproducesDenseAttentionBitForBit() {
        BlockSparseAttention sparse = new BlockSparseAttention(HEADS, KV_HEADS, HEAD_DIM, BLOCK);
        DenseAttention dense = new DenseAttention(HEADS, KV_HEADS, HEAD_DIM);
        float[] scores = new float[POSITIONS];
        for (int p : new int[] {0, 5, 7, 8, 33, POSITIONS - 1}) {
            int[] all = new int[p / BLOCK + 1];
            for (int j = 0; j < all.length; j++) all[j] = j;
            for (int h = 0; h < HEADS; h++) {
                float[] a = new float[q.length], b = new float[q.length];
                sparse.attendHead(cache, 0, p, h, all, all.length, q, 0, a, 0, scores);
                dense.attendHead(cache, 0, p, h, q, 0, b, 0, scores);
                assertArrayEquals(b, a, "position " + p + " head " + h);
            }
        }
    }

    @Test
    void chosenBlocksEqualAReferenceThatMasksTheOthers() {
        BlockSparseAttention sparse = new BlockSparseAttention(HEADS, KV_HEADS, HEAD_DIM, BLOCK);
        float[] scores = new float[POSITIONS];
        for (int trial = 0; trial < 200; trial++) {
            int p = random.nextInt(POSITIONS), n = p / BLOCK + 1, h = random.nextInt(HEADS);
            int[] list = new int[n];
            int count = 0;
            for (int j = 0; j < n; j++) if (random.nextBoolean()) list[count++] = j;
            if (count == 0) list[count++] = n - 1;
            float[] out = new float[q.length];
            sparse.attendHead(cache, 0, p, h, list, count, q, 0, out, 0, scores);
            boolean[] allowed = new boolean[n];
            for (int i = 0; i < count; i++) allowed[list[i]] = true;
            double[] ref = maskedReference(p, h, allowed);
            for (int c = 0; c < HEAD_DIM; c++) assertEquals(ref[c], out[h * HEAD_DIM + c], 2e-6 * (1 + Math.abs(ref[c])), "trial " + trial);
        }
    }

    @Test
    void aRowThatSelectsNothingGetsZeros() {
        float[] out = new float[q.length];
        java.util.Arrays.fill(out, 5f);
        new BlockSparseAttention(HEADS, KV_HEADS, HEAD_DIM, BLOCK).attendHead(cache, 0, 20, 3, new int[0], 0, q, 0, out, 0, new float[POSITIONS]);
        for (int c = 0; c < HEAD_DIM; c++) assertEquals(0f, out[3 * HEAD_DIM + c]);
        assertEquals(5f, out[2 * HEAD_DIM], "other heads untouched");
    }

    @Test
    void recordingBlockMaximaKeepsTheDenseOutputAndFindsEachBlocksLargestProbability() {
        BlockSparseAttention sparse = new BlockSparseAttention(HEADS, KV_HEADS, HEAD_DIM, BLOCK);
        DenseAttention dense = new DenseAttention(HEADS, KV_HEADS, HEAD_DIM);
        float[] scores = new float[POSITIONS];
        int p = POSITIONS - 1, n = p / BLOCK + 1;
        for (int h = 0; h < HEADS; h++) {
            float[] a = new float[q.length], b = new float[q.length];
            double[] blockMax = new double[n];
            sparse.attendHeadRecordingBlockMax(cache, 0, p, h, q, 0, a, 0, scores, blockMax, 0);
            dense.attendHead(cache, 0, p, h, q, 0, b, 0, scores);
            assertArrayEquals(b, a);
            double[] probs = probabilities(p, h);
            for (int j = 0; j < n; j++) {
                double m = 0;
                for (int t = j * BLOCK; t < Math.min(p + 1, (j + 1) * BLOCK); t++) m = Math.max(m, probs[t]);
                assertEquals(m, blockMax[j], 1e-6 * (1 + m), "head " + h + " block " + j);
            }
        }
    }

    /** Attention in double over keys {@code t <= p} whose block is allowed. */
    private double[] maskedReference(int p, int h, boolean[] allowed) {
        double[] probs = new double[p + 1];
        int kv = h / (HEADS / KV_HEADS) * HEAD_DIM, stride = cache.rowWidth();
        double max = Double.NEGATIVE_INFINITY;
        for (int t = 0; t <= p; t++) {
            if (!allowed[t / BLOCK]) continue;
            double s = 0;
            for (int c = 0; c < HEAD_DIM; c++) s += (double) q[h * HEAD_DIM + c] * cache.keys(0)[t * stride + kv + c];
            probs[t] = s / Math.sqrt(HEAD_DIM);
            max = Math.max(max, probs[t]);
        }
        double sum = 0;
        for (int t = 0; t <= p; t++) sum += probs[t] = allowed[t / BLOCK] ? Math.exp(probs[t] - max) : 0;
        double[] out = new double[HEAD_DIM];
        for (int t = 0; t <= p; t++) {
            for (int c = 0; c < HEAD_DIM; c++) out[c] += probs[t] / sum * cache.values(0)[t * stride + kv + c];
        }
        return out;
    }

    private double[] probabilities(int p, int h) {
        boolean[] all = new boolean[p / BLOCK + 1];
        java.util.Arrays.fill(all, true);
        double[] probs = new double[p + 1];
        int kv = h / (HEADS / KV_HEADS) * HEAD_DIM, stride = cache.rowWidth();
        double max = Double.NEGATIVE_INFINITY;
        for (int t = 0; t <= p; t++) {
            double s = 0;
            for (int c = 0; c < HEAD_DIM; c++) s += (double) q[h * HEAD_DIM + c] * cache.keys(0)[t * stride + kv + c];
            probs[t] = s / Math.sqrt(HEAD_DIM);
            max = Math.max(max, probs[t]);
        }
        double sum = 0;
        for (int t = 0; t <= p; t++) sum += probs[t] = Math.exp(probs[t] - max);
        for (int t = 0; t <= p; t++) probs[t] /= sum;
        return probs;
    }
}
