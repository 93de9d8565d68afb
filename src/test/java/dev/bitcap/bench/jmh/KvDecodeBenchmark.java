package dev.bitcap.bench.jmh;

import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.BlockSparseAttention;
import dev.bitcap.attention.DenseAttention;
import dev.bitcap.attention.PackedAttention;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvLayout;
import dev.bitcap.kv.KvPagePool;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.kv.PagedKvCache;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * One decode step of attention for one layer with Llama-3.1-8B heads (32 query heads, 8 KV heads, head dim 128)
 * over a cache of {@code context} positions, on one thread: f32 ({@link DenseAttention} over {@link F32KvCache})
 * against the paged fp16/int4/int2 caches ({@link PackedAttention}). Score is ms/op; KV bytes read per op are
 * {@code KvLayout.bytesFor(context)} for one layer (f32: context·8·128·2·4). With {@code density} below 1, the step
 * is block-sparse (SeerAttention-R decode without its gate): each KV head visits a fixed list of blocks of 64 (the
 * first, the current one and others spread evenly, round(density·n) in all) through
 * {@link BlockSparseAttention} (f32) or {@link PackedAttention#attendGroupSparse} (paged).
 *
 * <pre>
 * mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/jmh.cp
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *   -cp target/test-classes:target/classes:$(cat target/jmh.cp) \
 *   org.openjdk.jmh.Main KvDecodeBenchmark -f 1 -wi 2 -i 3 -w 2s -r 2s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class KvDecodeBenchmark {
    private static final int HEADS = 32, KV_HEADS = 8, HEAD_DIM = 128;

    @Param({"f32", "fp16", "int4", "int2"})
    public String kv;

    @Param({"4096", "32768"})
    public int context;

    @Param({"channel"})
    public String keys;

    @Param({"128"})
    public int group;

    @Param({"1.0"})
    public double density;

    private static final int BLOCK = 64;
    private int[] list;
    private int listed;
    private int[][] groupLists;
    private int[] groupCounts;
    private BlockSparseAttention sparseAttention;

    private F32KvCache dense;
    private PagedKvCache paged;
    private DenseAttention denseAttention;
    private PackedAttention packedAttention;
    private final PackedAttention.Scratch scratch = new PackedAttention.Scratch();
    private float[] q, out, scores;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(1);
        int kvDim = KV_HEADS * HEAD_DIM;
        float[] k = new float[kvDim], v = new float[kvDim];
        KvFormat format = KvFormat.parse(kv);
        if (format == KvFormat.F32) {
            dense = new F32KvCache(1, context, kvDim);
        } else {
            KvLayout layout = new KvLayout(new KvSpec(format, group, KeyGrouping.parse(keys)), 1, KV_HEADS, HEAD_DIM, KvLayout.DEFAULT_PAGE_TOKENS);
            paged = new PagedKvCache(new KvPagePool(layout, context / layout.pageTokens() + 1), context);
        }
        for (int p = 0; p < context; p++) {
            for (int i = 0; i < kvDim; i++) {
                k[i] = (float) rnd.nextGaussian();
                v[i] = (float) rnd.nextGaussian();
            }
            if (dense != null) dense.append(0, p, k, 0, v, 0);
            else paged.append(0, p, k, 0, v, 0);
        }
        q = new float[HEADS * HEAD_DIM];
        for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
        out = new float[HEADS * HEAD_DIM];
        scores = new float[context];
        denseAttention = new DenseAttention(HEADS, KV_HEADS, HEAD_DIM);
        packedAttention = new PackedAttention(HEADS, KV_HEADS, HEAD_DIM);
        sparseAttention = new BlockSparseAttention(HEADS, KV_HEADS, HEAD_DIM, BLOCK);
        int n = (context - 1) / BLOCK + 1, keep = BlockSelection.budget(density, n);
        list = new int[keep];
        for (int i = 0; i < keep; i++) list[i] = keep == 1 ? n - 1 : (int) Math.round(i * (n - 1) / (double) (keep - 1)); // 0 .. n-1, ascending
        listed = keep;
        groupLists = new int[HEADS / KV_HEADS][];
        java.util.Arrays.fill(groupLists, list);
        groupCounts = new int[HEADS / KV_HEADS];
        java.util.Arrays.fill(groupCounts, keep);
    }

    @Benchmark
    public float[] decodeStep() {
        if (density < 1) {
            if (dense != null) {
                for (int h = 0; h < HEADS; h++) sparseAttention.attendHead(dense, 0, context - 1, h, list, listed, q, 0, out, 0, scores);
            } else {
                for (int kvh = 0; kvh < KV_HEADS; kvh++) {
                    packedAttention.attendGroupSparse(paged, 0, context - 1, kvh, q, 0, out, 0, scratch, BLOCK, groupLists, groupCounts);
                }
            }
        } else if (dense != null) {
            for (int h = 0; h < HEADS; h++) denseAttention.attendHead(dense, 0, context - 1, h, q, 0, out, 0, scores);
        } else {
            for (int kvh = 0; kvh < KV_HEADS; kvh++) packedAttention.attendGroup(paged, 0, context - 1, kvh, q, 0, out, 0, scratch);
        }
        return out;
    }
}
