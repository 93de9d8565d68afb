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
     * wait; the first failure is rethrown.
     */
    public static <T> List<T> run(LoadedModel model, ParallelPlan plan, int ranksPerGpu, long timeoutMillis, Function<CudaRankForward, T> job) {
        int ranks = plan.ranks();
        for (int r = 0; r < ranks; r++) gpuOf(r, ranksPerGpu);
        plan.check(model.config());
        long jobId = System.nanoTime() & 0x7fffffffL;
        AtomicReferenceArray<T> results = new AtomicReferenceArray<>(ranks);
        AtomicReferenceArray<Throwable> failures = new AtomicReferenceArray<>(ranks);
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
                                 plan.tp() > 1, plan.expertParallel(), HostStagedAllReduce.of(device, collective))) {
                        results.set(rank, job.apply(forward));
                    } catch (Throwable e) {
                        failures.set(rank, e);
                    }
                }, "cuda-rank-" + r);
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
            long deadline = System.currentTimeMillis() + timeoutMillis;
            for (Thread t : threads) {
                try {
                    t.join(Math.max(1, deadline - System.currentTimeMillis()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new BitcapException("interrupted while the CUDA ranks ran");
                }
                if (t.isAlive()) throw new BitcapException(t.getName() + " did not finish within " + timeoutMillis / 1000 + " s");
            }
        }
        for (int r = 0; r < ranks; r++) {
            Throwable e = failures.get(r);
            if (e instanceof RuntimeException re) throw re;
            if (e instanceof Error err) throw err;
            if (e != null) throw new IllegalStateException("rank " + r + " failed", e);
        }
        List<T> out = new ArrayList<>();
        for (int r = 0; r < ranks; r++) out.add(results.get(r));
        return out;
    }

    private static String firstFailure(AtomicReferenceArray<Throwable> failures) {
        for (int r = 0; r < failures.length(); r++) if (failures.get(r) != null) return "rank " + r + " failed: " + failures.get(r);
        return null;
    }
}
