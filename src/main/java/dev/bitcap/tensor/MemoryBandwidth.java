package dev.bitcap.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures main-memory bandwidth with the kernels' own thread pool and vector loads: the read-only rate, which is
 * the ceiling of a memory-bound decode step (it only reads weights), and the STREAM triad rate
 * (a = b + s·c, counted as STREAM counts it: two reads and one write per element), the figure usually quoted.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final long CHUNK = 1 << 20;

    private MemoryBandwidth() {}

    /** Best of {@code repeats} passes reading a buffer of {@code bytes} (far larger than the caches), in bytes/s. */
    public static double measureRead(long bytes, int repeats) {
        long chunks = Math.max(1, bytes / CHUNK);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(chunks * CHUNK, 4096);
            Parallel.forRange((int) chunks, 1, (a, b) -> buf.asSlice(a * CHUNK, (b - a) * CHUNK).fill((byte) 1));
            float[] sink = new float[(int) chunks];
            double best = 0;
            for (int rep = 0; rep < repeats; rep++) {
                long t0 = System.nanoTime();
                Parallel.forRange((int) chunks, 1, (a, b) -> {
                    for (int c = a; c < b; c++) sink[c] = sum(buf, c * CHUNK);
                });
                long ns = System.nanoTime() - t0;
                best = Math.max(best, chunks * CHUNK * 1e9 / ns);
            }
            float check = 0;
            for (float s : sink) check += s;
            if (Float.isNaN(check)) throw new IllegalStateException("bandwidth probe read garbage");
            return best;
        }
    }

    /** Best of {@code repeats} STREAM triads over three arrays of {@code bytes / 3} each, in bytes/s as STREAM counts them. */
    public static double measureTriad(long bytes, int repeats) {
        long chunks = Math.max(1, bytes / 3 / CHUNK);
        try (Arena arena = Arena.ofShared()) {
            long size = chunks * CHUNK;
            MemorySegment a = arena.allocate(size, 4096), b = arena.allocate(size, 4096), c = arena.allocate(size, 4096);
            Parallel.forRange((int) chunks, 1, (lo, hi) -> {
                long off = lo * CHUNK, len = (hi - lo) * CHUNK;
                a.asSlice(off, len).fill((byte) 0);
                b.asSlice(off, len).fill((byte) 1);
                c.asSlice(off, len).fill((byte) 2);
            });
            double best = 0;
            for (int rep = 0; rep < repeats; rep++) {
                long t0 = System.nanoTime();
                Parallel.forRange((int) chunks, 1, (lo, hi) -> {
                    FloatVector s = FloatVector.broadcast(F, 3f);
                    long step = F.vectorByteSize();
                    for (long p = lo * CHUNK, end = hi * CHUNK; p < end; p += step) {
                        FloatVector.fromMemorySegment(F, c, p, Lanes.LE).fma(s, FloatVector.fromMemorySegment(F, b, p, Lanes.LE))
                                .intoMemorySegment(a, p, Lanes.LE);
                    }
                });
                long ns = System.nanoTime() - t0;
                best = Math.max(best, 3.0 * size * 1e9 / ns);
            }
            return best;
        }
    }

    private static float sum(MemorySegment buf, long off) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        long step = F.vectorByteSize();
        for (long p = off, end = off + CHUNK; p < end; p += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, buf, p, Lanes.LE));
            a1 = a1.add(FloatVector.fromMemorySegment(F, buf, p + step, Lanes.LE));
            a2 = a2.add(FloatVector.fromMemorySegment(F, buf, p + 2 * step, Lanes.LE));
            a3 = a3.add(FloatVector.fromMemorySegment(F, buf, p + 3 * step, Lanes.LE));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
