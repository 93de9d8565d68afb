package dev.bitcap.hw;

import dev.bitcap.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Peak fp32 FMA throughput through the Vector API: every thread of the kernels' pool runs eight independent
 * multiply-add chains in registers (enough to cover the FMA latency on two pipes), so the count is limited by
 * the vector units alone. One FMA is two FLOPs per lane.
 */
public final class VectorFma {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private VectorFma() {}

    public static int lanes() {
        return F.length();
    }

    /** FLOP/s over all threads: best of {@code repeats} runs of {@code iterations} rounds per thread. */
    public static double measure(long iterations, int repeats) {
        int threads = Parallel.threads();
        float[] sink = new float[threads];
        chains(iterations / 10, sink, 0); // the JIT compiles the loop before it is timed
        double best = 0;
        for (int rep = 0; rep < repeats; rep++) {
            long t0 = System.nanoTime();
            Parallel.forRange(threads, 1, (a, b) -> {
                for (int t = a; t < b; t++) chains(iterations, sink, t);
            });
            long ns = System.nanoTime() - t0;
            best = Math.max(best, 2.0 * 8 * F.length() * iterations * threads * 1e9 / ns);
        }
        float check = 0;
        for (float s : sink) check += s;
        if (Float.isNaN(check)) throw new IllegalStateException("FMA probe produced NaN");
        return best;
    }

    private static void chains(long iterations, float[] sink, int slot) {
        FloatVector m = FloatVector.broadcast(F, 0.999f), add = FloatVector.broadcast(F, 1e-3f);
        FloatVector a0 = FloatVector.broadcast(F, 1f), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f);
        FloatVector a4 = a0.add(4f), a5 = a0.add(5f), a6 = a0.add(6f), a7 = a0.add(7f);
        for (long i = 0; i < iterations; i++) {
            a0 = a0.fma(m, add);
            a1 = a1.fma(m, add);
            a2 = a2.fma(m, add);
            a3 = a3.fma(m, add);
            a4 = a4.fma(m, add);
            a5 = a5.fma(m, add);
            a6 = a6.fma(m, add);
            a7 = a7.fma(m, add);
        }
        sink[slot] = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(VectorOperators.ADD);
    }
}
