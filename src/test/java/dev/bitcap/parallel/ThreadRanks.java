package dev.bitcap.parallel;

import dev.bitcap.engine.PassRecorder;
import dev.bitcap.model.LoadedModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/** Runs ranks 1..N-1 of a plan on threads of this JVM over the loopback TCP transport; rank 0 is the returned backend. */
final class ThreadRanks {
    private ThreadRanks() {}

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
