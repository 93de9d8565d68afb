package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.CudaRankForward;
import dev.bitcap.model.LoadedModel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;

/**
 * The ranks of a split model as threads of this JVM, each a {@link CudaRankForward} on its own {@link CudaDevice},
 * joined by the loopback TCP rendezvous and summing through the host ({@link HostStagedAllReduce}). With
 * {@code ranksPerGpu} equal to the ranks they all share GPU 0 (NCCL cannot put two ranks on one GPU; the host-staged
 * sum can), which is how a tp/ep split is checked on a single-GPU machine.
 */
public final class CudaRanks {
    private CudaRanks() {}

    /** The GPU of a rank: ranks 0..K-1 on GPU 0, the next K on GPU 1, and so on. */
    static int gpuOf(int rank, int ranksPerGpu) {
        if (ranksPerGpu < 1) throw new BitcapException("--ranks-per-gpu must be >= 1, got " + ranksPerGpu);
        return rank / ranksPerGpu;
    }

    /**
     * Runs {@code job} on every rank of {@code plan} at once (the same calls in the same order on every rank) and
     * returns each rank's result in rank order. A rank that fails closes its links, so the others fail too rather than
     * wait; the first failure is rethrown (after at most 10 s more for the others).
     */
    public static <T> List<T> run(LoadedModel model, ParallelPlan plan, int ranksPerGpu, long timeoutMillis, Function<CudaRankForward, T> job) {
        return run(model, plan, ranksPerGpu, false, timeoutMillis, job);
    }

    /** As above; {@code tokenDispatch}: experts get their tokens by all-to-all (ep without tp), not the replicated-token form. */
    public static <T> List<T> run(LoadedModel model, ParallelPlan plan, int ranksPerGpu, boolean tokenDispatch, long timeoutMillis,
                                  Function<CudaRankForward, T> job) {
        int ranks = plan.ranks();
        for (int r = 0; r < ranks; r++) gpuOf(r, ranksPerGpu);
        plan.check(model.config());
        long jobId = System.nanoTime() & 0x7fffffffL;
        AtomicReferenceArray<T> results = new AtomicReferenceArray<>(ranks);
        AtomicReferenceArray<Throwable> failures = new AtomicReferenceArray<>(ranks);
        // the first failure is the cause; the others are mostly ranks that lost their link to it
        java.util.concurrent.atomic.AtomicReference<Throwable> first = new java.util.concurrent.atomic.AtomicReference<>();
        try (Rendezvous rendezvous = Rendezvous.listen("127.0.0.1", 0)) {
            List<Thread> threads = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                Thread t = new Thread(() -> {
                    try (CudaDevice device = CudaDevice.open(gpuOf(rank, ranksPerGpu));
                         ModelShard shard = ModelShard.of(model, plan, rank);
                         RankLinks links = rank == 0 ? rendezvous.accept(ranks, jobId, timeoutMillis, () -> firstFailure(failures))
                                 : RankLinks.join(rendezvous.address(), rank, ranks, jobId, timeoutMillis);
                         TcpCollective collective = new TcpCollective(links);
                         CudaRankForward forward = new CudaRankForward(device, shard.full(), shard.config(), shard.weights(), rank,
                                 plan.tp() > 1, plan.expertParallel(), HostStagedAllReduce.of(device, collective),
                                 tokenDispatch ? HostStagedExchange.of(device, collective) : null, ranks,
                                 plan.expertOwners(shard.full().experts()))) {
                        results.set(rank, job.apply(forward));
                    } catch (Throwable e) {
                        first.compareAndSet(null, e);
                        failures.set(rank, e);
                    }
                }, "cuda-rank-" + r);
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
            // wait for all; once a rank has failed, give the others a few seconds to notice, then report that failure
            long deadline = System.currentTimeMillis() + timeoutMillis;
            long failedAt = 0;
            while (threads.stream().anyMatch(Thread::isAlive)) {
                long now = System.currentTimeMillis();
                if (failedAt == 0 && firstFailure(failures) != null) failedAt = now;
                if (failedAt != 0 && now - failedAt > 10_000) break;
                if (now > deadline) {
                    throw new BitcapException("the CUDA ranks did not finish within " + timeoutMillis / 1000 + " s"
                            + (firstFailure(failures) == null ? "" : "; " + firstFailure(failures)));
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new BitcapException("interrupted while the CUDA ranks ran");
                }
            }
        }
        Throwable e = first.get();
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error err) throw err;
        if (e != null) throw new IllegalStateException("a CUDA rank failed", e);
        List<T> out = new ArrayList<>();
        for (int r = 0; r < ranks; r++) out.add(results.get(r));
        return out;
    }

    private static String firstFailure(AtomicReferenceArray<Throwable> failures) {
        for (int r = 0; r < failures.length(); r++) if (failures.get(r) != null) return "rank " + r + " failed: " + failures.get(r);
        return null;
    }
}
