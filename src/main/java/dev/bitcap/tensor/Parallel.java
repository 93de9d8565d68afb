package dev.bitcap.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;

/**
 * The CPU kernels' shared thread pool: one worker per core (or {@code -Dbitcap.threads=N}, read at first use).
 * A fork/join pool, so that a parallel loop started inside another one helps instead of deadlocking.
 */
public final class Parallel {
    /** The body of a parallel loop: handles indices {@code [start, end)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end);
    }

    private static volatile ForkJoinPool pool;

    private Parallel() {}

    public static int threads() {
        return pool().getParallelism();
    }

    /**
     * Runs {@code task} over {@code [0, n)} split into contiguous chunks of at least {@code minChunk} indices,
     * a few chunks per thread so that uneven chunks balance out. Returns when every chunk is done.
     */
    public static void forRange(int n, int minChunk, RangeTask task) {
        if (n <= 0) return;
        ForkJoinPool p = pool();
        int chunks = Math.min(p.getParallelism() * 4, Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1 || p.getParallelism() == 1) {
            task.run(0, n);
            return;
        }
        List<RecursiveAction> parts = new ArrayList<>(chunks);
        for (int c = 0; c < chunks; c++) {
            int start = (int) ((long) n * c / chunks), end = (int) ((long) n * (c + 1) / chunks);
            parts.add(new RecursiveAction() {
                @Override
                protected void compute() {
                    task.run(start, end);
                }
            });
        }
        if (Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == p) {
            ForkJoinTask.invokeAll(parts);
        } else {
            p.invoke(new RecursiveAction() {
                @Override
                protected void compute() {
                    invokeAll(parts);
                }
            });
        }
    }

    private static ForkJoinPool pool() {
        ForkJoinPool p = pool;
        if (p == null) {
            synchronized (Parallel.class) {
                p = pool;
                if (p == null) {
                    int threads = Integer.getInteger("bitcap.threads", Runtime.getRuntime().availableProcessors());
                    pool = p = new ForkJoinPool(Math.max(1, threads), pool -> {
                        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                        t.setName("bitcap-" + t.getPoolIndex());
                        t.setDaemon(true);
                        return t;
                    }, null, false);
                }
            }
        }
        return p;
    }
}
