package dev.bitcap.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Parallel#forRange}: exact coverage, chunk sizes, nesting without deadlock, exceptions reaching the caller. */
class ParallelTest {
    private static final int[] NS = {0, 1, 2, 3, 5, 7, 8, 9, 31, 32, 33, 64, 100, 257, 1000, 4097};
    private static final int[] MIN_CHUNKS = {0, 1, 2, 3, 7, 32, 100, 5000};

    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void everyIndexExactlyOnceInChunksOfAtLeastMinChunk() {
        assertTrue(Parallel.threads() >= 1);
        for (int n : NS) {
            for (int minChunk : MIN_CHUNKS) {
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(n, 1));
                ConcurrentLinkedQueue<int[]> chunks = new ConcurrentLinkedQueue<>();
                Parallel.forRange(n, minChunk, (start, end) -> {
                    chunks.add(new int[] {start, end});
                    for (int i = start; i < end; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "n=" + n + " minChunk=" + minChunk + " index " + i);
                if (n == 0) {
                    assertTrue(chunks.isEmpty(), "n=0 ran a chunk");
                    continue;
                }
                int covered = 0;
                for (int[] c : chunks) {
                    assertTrue(c[0] >= 0 && c[1] <= n && c[0] < c[1], "chunk [" + c[0] + ", " + c[1] + ") of " + n);
                    // the promised minimum, unless the whole range is smaller than it
                    assertTrue(c[1] - c[0] >= Math.min(minChunk, n), "chunk of " + (c[1] - c[0]) + " < minChunk " + minChunk);
                    covered += c[1] - c[0];
                }
                assertEquals(n, covered);
            }
        }
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void nestedLoopsComplete() {
        // three levels, each wider than the pool: inner loops run on workers that are themselves inside a loop
        AtomicInteger leaves = new AtomicInteger();
        Parallel.forRange(8, 1, (a, b) -> {
            for (int i = a; i < b; i++) {
                Parallel.forRange(8, 1, (c, d) -> {
                    for (int j = c; j < d; j++) {
                        Parallel.forRange(16, 1, (e, f) -> leaves.addAndGet(f - e));
                    }
                });
            }
        });
        assertEquals(8 * 8 * 16, leaves.get());
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void concurrentCallersFromPlainThreadsComplete() throws InterruptedException {
        AtomicInteger total = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int rep = 0; rep < 50; rep++) {
                    Parallel.forRange(100, 1, (a, b) -> Parallel.forRange(b - a, 1, (c, d) -> total.addAndGet(d - c)));
                }
            }));
        }
        for (Thread t : threads) t.join();
        assertEquals(6 * 50 * 100, total.get());
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void exceptionsReachTheCaller() {
        // many chunks (run on the pool) and a single chunk (run on the caller); plain and nested
        for (int n : new int[] {1000, 1}) {
            RuntimeException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(n, 1, (a, b) -> {
                if (a <= n / 2 && n / 2 < b) throw new IllegalStateException("boom at " + (n / 2));
            }));
            assertTrue(String.valueOf(e.getMessage()).contains("boom") || String.valueOf(e.getCause()).contains("boom"), e.toString());
        }
        assertThrows(ArithmeticException.class, () -> Parallel.forRange(64, 1,
                (a, b) -> Parallel.forRange(64, 1, (c, d) -> {
                    if (a == 0 && c == 0) throw new ArithmeticException("inner");
                })));
        assertThrows(AssertionError.class, () -> Parallel.forRange(500, 1, (a, b) -> fail("task failed")));
        // the pool still works afterwards
        AtomicInteger count = new AtomicInteger();
        Parallel.forRange(1000, 1, (a, b) -> count.addAndGet(b - a));
        assertEquals(1000, count.get());
    }
}
