package dev.bitcap.hw;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Load-to-use latency by pointer chasing: one thread follows a random cyclic permutation of the cache lines of a
 * buffer, each load's address coming from the previous load, so nothing overlaps and the prefetcher cannot guess.
 * Swept over buffer sizes, the time per load steps up as the buffer outgrows L1, L2, L3 and reaches DRAM (and, at
 * the largest sizes, the TLB's reach: pages are 4 KiB unless the OS gives huge pages).
 */
public final class PointerChase {
    /** Ints per 64-byte line: each line holds the index of the next line's first int. */
    private static final int LINE_INTS = 16;

    public record Point(long bytes, double nanosPerLoad) {}

    private PointerChase() {}

    /** Latency at each size from {@code minBytes} to {@code maxBytes}, doubling (sizes are multiples of 64 bytes). */
    public static List<Point> sweep(long minBytes, long maxBytes, long loadsPerPoint) {
        List<Point> points = new ArrayList<>();
        for (long size = minBytes; size <= maxBytes; size *= 2) points.add(new Point(size, measure(size, loadsPerPoint)));
        return points;
    }

    /** Nanoseconds per dependent load over a buffer of {@code bytes}: the best of three timed runs after a warm lap. */
    public static double measure(long bytes, long loads) {
        int lines = (int) Math.max(2, bytes / 64);
        int[] next = permutationCycle(lines, new SplittableRandom(bytes));
        int p = chase(next, 0, Math.min(loads, 4L * lines)); // warm lap: caches, TLB and the JIT
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            p = chase(next, p, loads);
            best = Math.min(best, (System.nanoTime() - t0) / (double) loads);
        }
        if (p < 0) throw new IllegalStateException("pointer chase left the buffer");
        return best;
    }

    private static int chase(int[] next, int start, long loads) {
        int p = start;
        for (long i = 0; i < loads; i++) p = next[p];
        return p;
    }

    /** One cycle through all lines in random order (Sattolo's shuffle), stored as int indices into the buffer. */
    static int[] permutationCycle(int lines, SplittableRandom rnd) {
        int[] order = new int[lines];
        for (int i = 0; i < lines; i++) order[i] = i;
        for (int i = lines - 1; i > 0; i--) {
            int j = rnd.nextInt(i);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] next = new int[lines * LINE_INTS];
        for (int i = 0; i < lines; i++) next[order[i] * LINE_INTS] = order[(i + 1) % lines] * LINE_INTS;
        return next;
    }
}
