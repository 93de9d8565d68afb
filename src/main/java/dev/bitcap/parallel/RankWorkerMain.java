package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The entry point of a worker process that {@link RankLauncher} starts (or a person starts by hand on another host):
 * joins rank 0's rendezvous, loads the same model, cuts its shard and serves until rank 0 stops or goes away.
 * Arguments: {@code --connect HOST:PORT --rank R --ranks N --tp T --ep E --ep-placement P --job J --model PATH
 * [--tokenizer FILE]}.
 */
public final class RankWorkerMain {
    /** How long a worker keeps trying to reach rank 0. */
    static final long JOIN_TIMEOUT_MILLIS = 120_000;

    private RankWorkerMain() {}

    public static void main(String[] args) {
        try {
            System.exit(run(args) ? 0 : 3);
        } catch (BitcapException e) {
            System.err.println("bitcap rank worker: " + e.getMessage());
            System.exit(2);
        }
    }

    /** Runs a worker to its end; true when rank 0 said stop. */
    static boolean run(String[] args) {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) throw new BitcapException("unexpected argument '" + args[i] + "'");
            a.put(args[i].substring(2), args[i + 1]);
        }
        String connect = need(a, "connect");
        int colon = connect.lastIndexOf(':');
        if (colon < 0) throw new BitcapException("--connect needs HOST:PORT, got '" + connect + "'");
        InetSocketAddress root = new InetSocketAddress(connect.substring(0, colon), Integer.parseInt(connect.substring(colon + 1)));
        int rank = Integer.parseInt(need(a, "rank"));
        ParallelPlan plan = new ParallelPlan(Integer.parseInt(need(a, "ranks")), Integer.parseInt(need(a, "tp")),
                Integer.parseInt(need(a, "ep")), ExpertPlacement.parse(need(a, "ep-placement")));
        long job = Long.parseLong(need(a, "job"));
        Path tokenizer = a.containsKey("tokenizer") ? Path.of(a.get("tokenizer")) : null;
        // the model loads while rank 0 loads its own; the rendezvous comes after, so neither waits for the other's disk
        try (LoadedModel model = ModelLoader.load(Path.of(need(a, "model")), tokenizer);
             ModelShard shard = ModelShard.of(model, plan, rank);
             RankLinks links = RankLinks.join(root, rank, plan.ranks(), job, JOIN_TIMEOUT_MILLIS)) {
            return new RankWorker(shard, links, new TcpCollective(links)).serve();
        }
    }

    private static String need(Map<String, String> a, String key) {
        String v = a.get(key);
        if (v == null) throw new BitcapException("the rank worker needs --" + key);
        return v;
    }
}
