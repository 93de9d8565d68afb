package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The entry point of a worker process that {@link RankLauncher} starts; on another host the same is {@code bitcap rank}.
 * Joins rank 0's rendezvous, loads the same model, cuts its shard and serves until rank 0 stops or goes away.
 * Arguments: {@code --connect HOST:PORT --rank R --ranks N --tp T --ep E --ep-placement P --job J --model PATH
 * [--tokenizer FILE] [--ranks-per-gpu K]}; with {@code --ranks-per-gpu} the rank runs on GPU rank / K ({@link CudaRankPass}).
 */
public final class RankWorkerMain {
    /** How long a worker keeps trying to reach rank 0. */
    static final long JOIN_TIMEOUT_MILLIS = 120_000;

    private RankWorkerMain() {}

    /**
     * What a worker needs to know: where rank 0 is, which rank it is, the plan, the job and the model.
     *
     * @param ranksPerGpu null: the rank runs on the CPU; else on GPU rank / ranksPerGpu
     */
    public record Args(InetSocketAddress connect, int rank, ParallelPlan plan, long job, Path model, Path tokenizer, Integer ranksPerGpu) {
        public Args(InetSocketAddress connect, int rank, ParallelPlan plan, long job, Path model, Path tokenizer) {
            this(connect, rank, plan, job, model, tokenizer, null);
        }

        public static InetSocketAddress address(String hostPort, String flag) {
            int colon = hostPort.lastIndexOf(':');
            if (colon <= 0) throw new BitcapException(flag + " needs HOST:PORT, got '" + hostPort + "'");
            int port;
            try {
                port = Integer.parseInt(hostPort.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new BitcapException(flag + " needs a port number after the colon, got '" + hostPort + "'");
            }
            if (port < 0 || port > 65535) throw new BitcapException(flag + " port " + port + " is outside 0..65535");
            return new InetSocketAddress(hostPort.substring(0, colon), port);
        }
    }

    public static void main(String[] args) {
        try {
            System.exit(run(parse(args)) ? 0 : 3);
        } catch (BitcapException e) {
            System.err.println("bitcap rank worker: " + e.getMessage());
            System.exit(2);
        }
    }

    static Args parse(String[] args) {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) throw new BitcapException("unexpected argument '" + args[i] + "'");
            a.put(args[i].substring(2), args[i + 1]);
        }
        ParallelPlan plan = new ParallelPlan(Integer.parseInt(need(a, "ranks")), Integer.parseInt(need(a, "tp")),
                Integer.parseInt(need(a, "ep")), ExpertPlacement.parse(need(a, "ep-placement")));
        return new Args(Args.address(need(a, "connect"), "--connect"), Integer.parseInt(need(a, "rank")), plan,
                Long.parseLong(need(a, "job")), Path.of(need(a, "model")), a.containsKey("tokenizer") ? Path.of(a.get("tokenizer")) : null,
                a.containsKey("ranks-per-gpu") ? Integer.valueOf(a.get("ranks-per-gpu")) : null);
    }

    /** Runs a worker to its end; true when rank 0 said stop, false when its link closed without a word. */
    public static boolean run(Args a) {
        int ranks = a.plan().ranks();
        if (a.rank() < 1 || a.rank() >= ranks) throw new BitcapException("rank " + a.rank() + " is outside 1.." + (ranks - 1) + " for " + ranks + " ranks");
        // the model loads while rank 0 loads its own; the rendezvous comes after, so neither waits for the other's disk
        try (LoadedModel model = ModelLoader.load(a.model(), a.tokenizer());
             ModelShard shard = ModelShard.of(model, a.plan(), a.rank());
             RankLinks links = RankLinks.join(a.connect(), a.rank(), a.plan().ranks(), a.job(), JOIN_TIMEOUT_MILLIS)) {
            if (a.ranksPerGpu() == null) return new RankWorker(shard, links, new TcpCollective(links)).serve();
            try (CudaRankPass pass = CudaRankPass.open(shard, links, a.ranksPerGpu()); Collective collective = pass.collective()) {
                return new RankWorker(shard, links, pass).serve();
            }
        }
    }

    private static String need(Map<String, String> a, String key) {
        String v = a.get(key);
        if (v == null) throw new BitcapException("the rank worker needs --" + key);
        return v;
    }
}
