package dev.bitcap.cli;

import dev.bitcap.parallel.ExpertPlacement;
import dev.bitcap.parallel.ParallelPlan;
import dev.bitcap.parallel.RankWorkerMain;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** A rank other than 0 of a model split over hosts: joins rank 0 (which prints this command with its values) and serves it. */
@Command(name = "rank", mixinStandardHelpOptions = true,
        description = "Join a split model as one of its ranks; rank 0 (a logits, generate or bench run with --ranks) prints the exact command.")
final class RankCommand implements Callable<Integer> {
    @Option(names = "--connect", required = true, paramLabel = "HOST:PORT", description = "rank 0's rendezvous")
    String connect;

    @Option(names = "--rank", required = true, paramLabel = "R", description = "this rank, 1..ranks-1")
    int rank;

    @Option(names = "--ranks", required = true, paramLabel = "N")
    int ranks;

    @Option(names = "--tp", required = true, paramLabel = "T")
    int tp;

    @Option(names = "--ep", required = true, paramLabel = "E")
    int ep;

    @Option(names = "--ep-placement", defaultValue = "contiguous", paramLabel = "HOW")
    String placement;

    @Option(names = "--job", required = true, paramLabel = "ID")
    long job;

    @Option(names = "--model", required = true, paramLabel = "PATH", description = "the same model rank 0 runs, as this host sees it")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE")
    Path tokenizer;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores)")
    Integer threads;

    @Override
    public Integer call() {
        if (threads != null) {
            if (threads < 1) throw new dev.bitcap.BitcapException("--threads must be >= 1, got " + threads);
            System.setProperty("bitcap.threads", String.valueOf(threads));
        }
        ParallelPlan plan = new ParallelPlan(ranks, tp, ep, ExpertPlacement.parse(placement));
        var args = new RankWorkerMain.Args(RankWorkerMain.Args.address(connect, "--connect"), rank, plan, job, model, tokenizer);
        return RankWorkerMain.run(args) ? 0 : 3;
    }
}
