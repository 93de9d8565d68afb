package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.parallel.ExpertPlacement;
import dev.bitcap.parallel.ParallelPlan;
import dev.bitcap.parallel.RankLauncher;
import dev.bitcap.parallel.RankWorkerMain;
import picocli.CommandLine.Option;

/**
 * How to split the model over several processes: {@code --ranks N} ranks on the CPU backend (each its own process,
 * started by bitcap), with {@code --tp} tensor parallelism and/or {@code --ep} expert parallelism. On GPUs the same
 * plan runs one rank per GPU with {@code --gpus N} (NCCL), or several ranks per GPU with {@code --ranks-per-gpu} (summing
 * through the host: a test setup for one-GPU machines).
 */
public final class ParallelOptions {
    @Option(names = "--ranks", paramLabel = "N", description = "split the model over N processes of this program on the CPU (default: the larger of --tp and --ep)")
    Integer ranks;

    @Option(names = "--tp", paramLabel = "T", description = "tensor parallelism: attention heads and MLP columns split T ways (1 or the ranks)")
    Integer tp;

    @Option(names = "--ep", paramLabel = "E", description = "expert parallelism: MoE experts placed on E ranks, tokens sent to them (1 or the ranks)")
    Integer ep;

    @Option(names = "--ep-placement", defaultValue = "contiguous", paramLabel = "HOW",
            description = "which rank owns which expert: contiguous or round-robin (default: ${DEFAULT-VALUE})")
    String placement;

    @Option(names = "--gpus", paramLabel = "N", description = "split the model over N ranks on the CUDA backend, rank r on GPU r (NCCL)")
    Integer gpus;

    @Option(names = "--ranks-per-gpu", paramLabel = "K",
            description = "with --gpus: K ranks share each GPU, summing through the host over TCP (slow; for testing a split on one GPU)")
    Integer ranksPerGpu;

    @Option(names = "--rendezvous", paramLabel = "HOST:PORT",
            description = "where rank 0 listens for the other ranks (default: 127.0.0.1 and a free port; give a routable address for several hosts)")
    String rendezvous;

    @Option(names = "--local-ranks", paramLabel = "K",
            description = "start ranks 0..K-1 on this host; the rest join from other hosts with `bitcap rank` (default: all ranks)")
    Integer localRanks;

    @Option(names = "--job", paramLabel = "ID", description = "number every rank must present at the rendezvous (default: a random one)")
    Long job;

    /** Where rank 0 listens and which ranks it starts. */
    RankLauncher.Where where() {
        if (rendezvous == null && localRanks == null && job == null) return RankLauncher.Where.LOCAL;
        var listen = rendezvous == null ? RankLauncher.Where.LOCAL.listen() : RankWorkerMain.Args.address(rendezvous, "--rendezvous");
        return new RankLauncher.Where(listen, localRanks == null ? Integer.MAX_VALUE : localRanks, job);
    }

    /** With --gpus: how many ranks share each GPU (1 unless --ranks-per-gpu); null when the ranks run on the CPU. */
    Integer cudaRanksPerGpu() {
        return gpus == null ? null : ranksPerGpu == null ? 1 : ranksPerGpu;
    }

    /** The plan asked for, or null when the model runs in this one process. */
    ParallelPlan plan(String device) {
        if (ranksPerGpu != null && gpus == null) throw new BitcapException("--ranks-per-gpu goes with --gpus");
        if (gpus != null) {
            if (ranks != null) throw new BitcapException("--gpus and --ranks both give the number of ranks: give one (--gpus runs them on GPUs)");
            if (gpus < 1) throw new BitcapException("--gpus must be >= 1, got " + gpus);
            if (ranksPerGpu != null && (ranksPerGpu < 1 || ranksPerGpu > gpus)) {
                throw new BitcapException("--ranks-per-gpu must be 1.." + gpus + " for --gpus " + gpus + ", got " + ranksPerGpu);
            }
            // --gpus names the device itself (the CUDA backend), whatever --device says
            ParallelPlan plan = ParallelPlan.of(gpus, tp, ep, ExpertPlacement.parse(placement));
            if (plan.ranks() == 1) throw new BitcapException("--gpus 1 is the plain CUDA backend: use --device cuda");
            return plan;
        }
        if (ranks == null && tp == null && ep == null) return null;
        ParallelPlan plan = ParallelPlan.of(ranks, tp, ep, ExpertPlacement.parse(placement));
        if (plan.ranks() == 1) return null;
        if (!device.equals("cpu")) throw new BitcapException("--ranks runs on --device cpu only so far (got --device " + device + ")");
        if (System.getProperty("bitcap.threads") == null) {
            // ranks on one host share its cores: each worker gets its share (rank 0's pool keeps its size if already made)
            int cores = Runtime.getRuntime().availableProcessors();
            System.setProperty("bitcap.threads", String.valueOf(Math.max(1, cores / plan.ranks())));
        }
        return plan;
    }
}
