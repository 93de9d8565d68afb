package dev.bitcap.bench.jmh;

import dev.bitcap.tensor.BlockQuantizer;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Halfs;
import dev.bitcap.tensor.MatMul;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * Decode-step GEMV ({@link MatMul#matmul} with n = 1) over one weight matrix per storage type. A GEMV reads every
 * weight byte once and does two flops per weight, so it is memory-bound: the figure of merit is weight bytes
 * read per second.
 *
 * <p>Score is ms/op. Weight bytes per op are {@code w.byteSize()}: rows·cols·4 for F32, ·2 for F16/BF16,
 * rows·cols/32·34 for Q8_0 and rows·cols/32·18 for Q4_0 (4096x4096: 64 MiB, 32 MiB, 17 MiB, 9 MiB). Then
 * {@code GB/s = byteSize / (score_ms · 1e6)}, e.g. F32 4096x4096 at 2.0 ms/op is 67108864 / 2e6 = 33.6 GB/s.
 * (An OPERATIONS aux counter is no help here: in AverageTime mode JMH prints it inverted, as ms per byte.)
 *
 * <p>Run from the repository root: the first command compiles the benchmark (the JMH annotation processor writes
 * the harness and META-INF/BenchmarkList into target/test-classes) and writes the test classpath to a file; the
 * second runs it. {@code -w/-r} shorten JMH's default 10 s iterations; drop {@code -p dtype=...} to run all five
 * types and {@code -p shape=...} to run both shapes. Writing the classpath to a file (not /dev/stdout) keeps
 * Maven's console escapes out of it.
 *
 * <pre>
 * mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/jmh.cp
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *   -cp target/test-classes:target/classes:$(cat target/jmh.cp) \
 *   org.openjdk.jmh.Main GemvBenchmark -f 1 -wi 3 -i 5 -w 2s -r 2s -p shape=4096x4096 -p dtype=F32,F16,Q8_0,Q4_0
 * </pre>
 *
 * The forked JVM gets {@code --add-modules jdk.incubator.vector} from {@link Fork#jvmArgsAppend} (JMH also passes
 * on the launcher's flags; the duplicate is harmless). Numbers on a machine with few cores are per-core bandwidth,
 * not the socket's. The class name deliberately does not end in Test: surefire must not run it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GemvBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    public String dtype;

    /** rows x cols of the weight: a square projection, and a wide one (FFN down-projection shape). */
    @Param({"4096x4096", "2048x8192"})
    public String shape;

    private Arena arena;
    private Tensor w;
    private float[] x;
    private float[] y;

    @Setup(Level.Trial)
    public void setUp() {
        String[] rc = shape.split("x");
        int rows = Integer.parseInt(rc[0]), cols = Integer.parseInt(rc[1]);
        DType type = DType.valueOf(dtype);
        arena = Arena.ofShared(); // the kernels read the weights from the pool's threads
        w = Tensor.allocate(arena, type, rows, cols);
        SplittableRandom rnd = new SplittableRandom(42);
        MemorySegment seg = w.data();
        if (type.isBlockQuantized()) {
            float[] row = new float[cols];
            long rowBytes = type.byteSize(cols);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) row[c] = (float) (rnd.nextDouble() * 2 - 1);
                BlockQuantizer.quantizeInto(type, row, 0, cols, seg, r * rowBytes);
            }
        } else {
            for (long i = 0; i < (long) rows * cols; i++) {
                float v = (float) (rnd.nextDouble() * 2 - 1);
                switch (type) {
                    case F32 -> seg.set(Tensor.F32_LE, 4 * i, v);
                    case F16 -> seg.set(Tensor.I16_LE, 2 * i, Float.floatToFloat16(v));
                    case BF16 -> seg.set(Tensor.I16_LE, 2 * i, Halfs.f32ToBf16(v));
                    default -> throw new IllegalArgumentException(dtype);
                }
            }
        }
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
        MatMul.matmul(w, x, y, 1);
        return y;
    }
}
