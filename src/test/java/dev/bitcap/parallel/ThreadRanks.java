package dev.bitcap.parallel;

import dev.bitcap.engine.PassRecorder;
import dev.bitcap.model.LoadedModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Ranks as threads of this JVM over the loopback TCP transport. */
final class ThreadRanks {
    private ThreadRanks() {}

    /** What one rank does with its collective. */
    @FunctionalInterface
    interface RankJob {
        void run(int rank, TcpCollective collective) throws Exception;
    }

    /** Runs {@code job} on every rank at once, each with its own TCP collective; rethrows a rank's failure (60 s at most). */
    static void eachRank(int ranks, long jobId, RankJob job) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(ranks);
        try (Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            List<Future<?>> done = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                done.add(pool.submit(() -> {
                    RankLinks links = rank == 0 ? rv.accept(ranks, jobId, 20_000, () -> null) : RankLinks.join(rv.address(), rank, ranks, jobId, 20_000);
                    try (TcpCollective c = new TcpCollective(links)) {
                        job.run(rank, c);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Ranks 1..N-1 of a plan as workers on threads; rank 0 is the returned backend. */
    static ParallelBackend start(LoadedModel model, ParallelPlan plan, PassRecorder recorder) {
        long job = 42;
        Rendezvous rendezvous = Rendezvous.listen("127.0.0.1", 0);
        List<Thread> threads = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int r = 1; r < plan.ranks(); r++) {
            int rank = r;
            Thread t = new Thread(() -> {
                try (ModelShard shard = ModelShard.of(model, plan, rank);
                     RankLinks links = RankLinks.join(rendezvous.address(), rank, plan.ranks(), job, 30_000)) {
                    new RankWorker(shard, links, new TcpCollective(links)).serve();
                } catch (Throwable e) {
                    failure.set(e);
                }
            }, "rank-" + r);
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        RankLinks links = rendezvous.accept(plan.ranks(), job, 30_000, () -> failure.get() == null ? null : failure.get().toString());
        rendezvous.close();
        return new ParallelBackend(ModelShard.of(model, plan, 0), links, new TcpCollective(links), recorder, () -> {
            for (Thread t : threads) t.join(10_000);
            if (failure.get() != null) throw new AssertionError("a worker rank failed", failure.get());
        });
    }
}
