package dev.bitcap.bench.jmh;

import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.BinaryQuantized;
import dev.bitcap.quant.BinaryTensor;
import java.lang.foreign.Arena;
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
import org.openjdk.jmh.annotations.TearDown;

/**
 * Decode-step GEMV over one {@link BinaryTensor} of random planes: BiLLM dense (2 regions, 1 state bit) and an
 * N:M STBLLM layout (3 regions, 2 state bits). Score is ms/op; weight bytes per op are {@code w.byteSize()}
 * (4096x4096: 5.9 MiB for billm dense, 8.1 MiB for stbllm N:M), so GB/s = byteSize / (score_ms · 1e6). Run as
 * {@link GemvBenchmark} says, with {@code BinaryGemvBenchmark} as the benchmark name.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class BinaryGemvBenchmark {
    /** kept per 8 : regions. */
    @Param({"8:2", "4:3"})
    public String layout;

    @Param({"4096x4096"})
    public String shape;

    private Arena arena;
    private BinaryTensor w;
    private float[] x;
    private float[] y;

    @Setup(Level.Trial)
    public void setUp() {
        String[] rc = shape.split("x"), kr = layout.split(":");
        int rows = Integer.parseInt(rc[0]), cols = Integer.parseInt(rc[1]);
        int kept = Integer.parseInt(kr[0]), regions = Integer.parseInt(kr[1]);
        int bits = BinaryLayout.stateBits(kept, regions);
        SplittableRandom rnd = new SplittableRandom(42);
        boolean[] salient = new boolean[cols];
        for (int c = 0; c < cols; c++) salient[c] = rnd.nextInt(16) == 0;
        byte[] signs = new byte[rows * cols], states = new byte[rows * cols];
        for (int i = 0; i < signs.length; i++) {
            signs[i] = (byte) rnd.nextInt(2);
            states[i] = (byte) rnd.nextInt(1 << bits);
        }
        float[] params = new float[rows * BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(regions)];
        for (int i = 0; i < params.length; i++) params[i] = (float) (rnd.nextDouble() * 0.1 - 0.05);
        arena = Arena.ofShared(); // the kernels read the weights from the pool's threads
        w = BinaryTensor.pack(new BinaryQuantized(rows, cols, kept, regions, salient, signs, states, params), arena);
        x = new float[cols];
        for (int c = 0; c < cols; c++) x[c] = (float) (rnd.nextDouble() * 2 - 1);
        y = new float[rows];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] gemv() {
        w.matmul(x, y, 1);
        return y;
    }
}
