package dev.bitcap.attention;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.kv.DequantizedCache;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvLayout;
import dev.bitcap.kv.KvPagePool;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.kv.PagedKvCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Attention over the packed cache against an fp64 reference over the same cache decoded by the scalar decoder
 * (tight), and against exact attention over the unquantized keys and values (the quantization error, printed).
 */
class PackedAttentionTest {
    private static final int LAYERS = 1, KV_HEADS = 2, PAGE_TOKENS = 128;
    private static final double TOLERANCE = 1e-5;

    static Stream<Arguments> cases() {
        List<Arguments> list = new ArrayList<>();
        for (int headDim : new int[] {8, 16, 64, 128}) {
            for (int gqa : new int[] {1, 4, 8}) {
                list.add(Arguments.of(new KvSpec(KvFormat.FP16, 32, KeyGrouping.CHANNEL), headDim, gqa));
                for (KvFormat f : new KvFormat[] {KvFormat.INT4, KvFormat.INT2}) {
                    for (KeyGrouping k : KeyGrouping.values()) {
                        for (int g : new int[] {32, 64, 128}) {
                            if (headDim == 8 && g > 32 && k == KeyGrouping.TOKEN) continue; // same channel groups as g32
                            list.add(Arguments.of(new KvSpec(f, g, k), headDim, gqa));
                        }
                    }
                }
            }
        }
        return list.stream();
    }

    /** The cases up to head dim 64: the lists, not the head width, are what the sparse test exercises. */
    static Stream<Arguments> sparseCases() {
        return cases().filter(a -> (int) a.get()[1] <= 64);
    }

    /** Decode: positions appended one at a time, attention after each chosen step (residual block partly full). */
    @ParameterizedTest(name = "{0} d={1} gqa={2}")
    @MethodSource("cases")
    void decodeMatchesReferenceOverTheDequantizedCache(KvSpec spec, int headDim, int gqa) {
        int heads = KV_HEADS * gqa, kvDim = KV_HEADS * headDim, len = 2 * PAGE_TOKENS + spec.group() / 2 + 3;
        KvPagePool pool = new KvPagePool(new KvLayout(spec, LAYERS, KV_HEADS, headDim, PAGE_TOKENS), 16);
        PagedKvCache cache = new PagedKvCache(pool, len);
        PackedAttention attention = new PackedAttention(heads, KV_HEADS, headDim);
        PackedAttention.Scratch scratch = new PackedAttention.Scratch();
        SplittableRandom rnd = new SplittableRandom(headDim * 31L + gqa);
        float[] keys = new float[len * kvDim], values = new float[len * kvDim];
        fill(keys, values, headDim, rnd);
        float[] q = new float[heads * headDim], out = new float[heads * headDim];
        double worstQuantError = 0, worstKernelError = 0;
        for (int p = 0; p < len; p++) {
            cache.append(0, p, keys, p * kvDim, values, p * kvDim);
            if (p % 37 != 0 && p != len - 1 && p != spec.group() - 1 && p != spec.group()) continue;
            for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
            for (int kvh = 0; kvh < KV_HEADS; kvh++) attention.attendGroup(cache, 0, p, kvh, q, 0, out, 0, scratch);
            float[][] decoded = DequantizedCache.rows(cache, 0);
            double[] ref = reference(q, decoded[0], decoded[1], p + 1, heads, KV_HEADS, headDim);
            assertClose(ref, out, spec + " d=" + headDim + " gqa=" + gqa + " position " + p);
            worstKernelError = Math.max(worstKernelError, relError(ref, out));
            double[] exact = reference(q, keys, values, p + 1, heads, KV_HEADS, headDim);
            for (int i = 0; i < out.length; i++) worstQuantError = Math.max(worstQuantError, Math.abs(exact[i] - out[i]));
        }
        String label = spec.format().flagName() + (spec.format().quantized() ? " g" + spec.group() + " keys/" + spec.keys().flagName() : "");
        System.out.printf("KVERR %-22s d=%-3d gqa=%d  vs dequantized reference %.1e (relative)  quantization error: max |out - exact| %.3e (values ~ N(0,1))%n", label, headDim, gqa,
                worstKernelError, worstQuantError);
    }

    /** Prefill: every position appended first, then queries at earlier positions read partly visible packed blocks. */
    @Test
    void prefillQueriesSeeOnlyTheirPrefix() {
        for (KvSpec spec : new KvSpec[] {new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL), new KvSpec(KvFormat.INT2, 64, KeyGrouping.TOKEN),
                new KvSpec(KvFormat.FP16, 32, KeyGrouping.CHANNEL)}) {
            int headDim = 16, heads = 8;
            SplittableRandom rnd = new SplittableRandom(5);
            PagedKvCache cache = filled(spec, headDim, 150, 4, rnd);
            float[][] decoded = DequantizedCache.rows(cache, 0);
            PackedAttention attention = new PackedAttention(heads, KV_HEADS, headDim);
            float[] q = new float[heads * headDim], out = new float[heads * headDim];
            for (int p : new int[] {0, 1, 17, 31, 32, 33, 100, 127, 128, 140, 149}) {
                for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
                for (int kvh = 0; kvh < KV_HEADS; kvh++) attention.attendGroup(cache, 0, p, kvh, q, 0, out, 0, new PackedAttention.Scratch());
                assertClose(reference(q, decoded[0], decoded[1], p + 1, heads, KV_HEADS, headDim), out, spec + " prefill position " + p);
            }
        }
    }

    /**
     * Block-sparse: each query head of a group attends its own random list of blocks (always its own block), over
     * the packed pages and the residual rows; against fp64 over the dequantized cache masked the same way.
     */
    @ParameterizedTest(name = "{0} d={1} gqa={2}")
    @MethodSource("sparseCases")
    void sparseGroupMatchesAMaskedReferenceOverTheDequantizedCache(KvSpec spec, int headDim, int gqa) {
        int heads = KV_HEADS * gqa, len = 2 * PAGE_TOKENS + spec.group() / 2 + 7;
        SplittableRandom rnd = new SplittableRandom(headDim * 17L + gqa);
        PagedKvCache cache = filled(spec, headDim, len, 16, rnd);
        float[][] decoded = DequantizedCache.rows(cache, 0);
        PackedAttention attention = new PackedAttention(heads, KV_HEADS, headDim);
        float[] q = new float[heads * headDim], out = new float[heads * headDim];
        for (int block : new int[] {16, 24}) {
            for (int p : new int[] {block - 1, 100, 2 * PAGE_TOKENS - 1, len - 1}) {
                int nb = p / block + 1;
                int[][] lists = new int[heads][];
                int[] counts = new int[heads];
                for (int h = 0; h < heads; h++) {
                    int[] list = new int[nb];
                    int n = 0;
                    for (int j = 0; j < nb; j++) if (j == nb - 1 || rnd.nextDouble() < 0.35) list[n++] = j;
                    lists[h] = list;
                    counts[h] = n;
                }
                for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
                for (int kvh = 0; kvh < KV_HEADS; kvh++) {
                    attention.attendGroupSparse(cache, 0, p, kvh, q, 0, out, 0, new PackedAttention.Scratch(), block,
                            Arrays.copyOfRange(lists, kvh * gqa, (kvh + 1) * gqa), Arrays.copyOfRange(counts, kvh * gqa, (kvh + 1) * gqa));
                }
                double[] ref = maskedReference(q, decoded[0], decoded[1], p + 1, heads, KV_HEADS, headDim, block, lists, counts);
                assertClose(ref, out, spec + " d=" + headDim + " gqa=" + gqa + " blocks of " + block + " position " + p);
                double[] dense = reference(q, decoded[0], decoded[1], p + 1, heads, KV_HEADS, headDim);
                if (p > 2 * block) assertTrue(relError(dense, out) > 1e-3, "the lists should change the output at position " + p);
            }
        }
    }

    /** {@link #reference} where head h sees only positions whose block is in lists[h] (null lists: every position). */
    private static double[] maskedReference(float[] q, float[] keys, float[] values, int len, int heads, int kvHeads, int headDim, int block,
                                            int[][] lists, int[] counts) {
        int kvDim = kvHeads * headDim, group = heads / kvHeads;
        double[] out = new double[heads * headDim];
        for (int h = 0; h < heads; h++) {
            boolean[] seen = new boolean[(len - 1) / block + 1];
            if (lists == null) Arrays.fill(seen, true);
            else for (int x = 0; x < counts[h]; x++) seen[lists[h][x]] = true;
            int kvOff = h / group * headDim;
            double[] s = new double[len];
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < len; t++) {
                if (!seen[t / block]) {
                    s[t] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                double dot = 0;
                for (int c = 0; c < headDim; c++) dot += (double) q[h * headDim + c] * keys[t * kvDim + kvOff + c];
                s[t] = dot / Math.sqrt(headDim);
                max = Math.max(max, s[t]);
            }
            double sum = 0;
            for (int t = 0; t < len; t++) sum += s[t] = Math.exp(s[t] - max);
            for (int t = 0; t < len; t++) {
                for (int c = 0; c < headDim; c++) out[h * headDim + c] += s[t] / sum * values[t * kvDim + kvOff + c];
            }
        }
        return out;
    }

    /** Several sequences of different lengths in one pool, attended in turn: each sees only its own pages. */
    @Test
    void batchOfSequencesSharingOnePool() {
        KvSpec spec = new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL);
        int headDim = 64, heads = 8, kvDim = KV_HEADS * headDim;
        KvPagePool pool = new KvPagePool(new KvLayout(spec, LAYERS, KV_HEADS, headDim, 64), 40);
        int[] lengths = {1, 31, 64, 65, 200, 333};
        PagedKvCache[] caches = new PagedKvCache[lengths.length];
        float[][] keys = new float[lengths.length][], values = new float[lengths.length][];
        SplittableRandom rnd = new SplittableRandom(11);
        int longest = 333;
        for (int s = 0; s < lengths.length; s++) {
            caches[s] = new PagedKvCache(pool, longest);
            keys[s] = new float[longest * kvDim];
            values[s] = new float[longest * kvDim];
            fill(keys[s], values[s], headDim, rnd);
        }
        // interleaved appends, as a batched decode does them
        for (int p = 0; p < longest; p++) {
            for (int s = 0; s < lengths.length; s++) {
                if (p < lengths[s]) caches[s].append(0, p, keys[s], p * kvDim, values[s], p * kvDim);
            }
        }
        PackedAttention attention = new PackedAttention(heads, KV_HEADS, headDim);
        float[] q = new float[heads * headDim], out = new float[heads * headDim];
        for (int s = 0; s < lengths.length; s++) {
            for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
            for (int kvh = 0; kvh < KV_HEADS; kvh++) attention.attendGroup(caches[s], 0, lengths[s] - 1, kvh, q, 0, out, 0, new PackedAttention.Scratch());
            float[][] decoded = DequantizedCache.rows(caches[s], 0);
            assertClose(reference(q, decoded[0], decoded[1], lengths[s], heads, KV_HEADS, headDim), out, "sequence " + s);
        }
    }

    /** A one-layer cache of {@code pages} pages holding {@code len} positions of {@link #fill}'s keys and values. */
    private static PagedKvCache filled(KvSpec spec, int headDim, int len, int pages, SplittableRandom rnd) {
        int kvDim = KV_HEADS * headDim;
        PagedKvCache cache = new PagedKvCache(new KvPagePool(new KvLayout(spec, LAYERS, KV_HEADS, headDim, PAGE_TOKENS), pages), len);
        float[] keys = new float[len * kvDim], values = new float[len * kvDim];
        fill(keys, values, headDim, rnd);
        for (int p = 0; p < len; p++) cache.append(0, p, keys, p * kvDim, values, p * kvDim);
        return cache;
    }

    /** Keys with per-channel offsets and scales (as real keys have), values plain Gaussian. */
    private static void fill(float[] keys, float[] values, int headDim, SplittableRandom rnd) {
        float[] offset = new float[headDim], spread = new float[headDim];
        for (int c = 0; c < headDim; c++) {
            offset[c] = (float) rnd.nextGaussian();
            spread[c] = (float) Math.exp(rnd.nextGaussian() * 0.7);
        }
        for (int i = 0; i < keys.length; i++) {
            int c = i % headDim;
            keys[i] = offset[c] + spread[c] * (float) rnd.nextGaussian();
            values[i] = (float) rnd.nextGaussian();
        }
    }

    /** Causal attention of every head over positions 0 .. len, in double. */
    static double[] reference(float[] q, float[] keys, float[] values, int len, int heads, int kvHeads, int headDim) {
        return maskedReference(q, keys, values, len, heads, kvHeads, headDim, 1, null, null);
    }

    private static double relError(double[] ref, float[] out) {
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < ref.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
            maxDiff = Math.max(maxDiff, Math.abs(ref[i] - out[i]));
        }
        return maxDiff / maxRef;
    }

    private static void assertClose(double[] ref, float[] out, String what) {
        double err = relError(ref, out);
        assertTrue(err <= TOLERANCE, what + ": max |out - ref| / max |ref| = " + err);
    }
}
