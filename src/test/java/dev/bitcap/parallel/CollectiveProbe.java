package dev.bitcap.parallel;

import java.net.InetSocketAddress;

/** A rank process for {@link TcpCollectiveTest}: joins, runs the same checks as rank 0, exits 0 when they all held. */
public final class CollectiveProbe {
    private CollectiveProbe() {}

    public static void main(String[] args) {
        String[] hp = args[0].split(":");
        int rank = Integer.parseInt(args[1]), ranks = Integer.parseInt(args[2]);
        long job = Long.parseLong(args[3]);
        try (TcpCollective c = new TcpCollective(RankLinks.join(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), rank, ranks, job, 60_000))) {
            TcpCollectiveTest.exercise(c, 3000);
        } catch (Throwable e) {
            System.err.println("rank " + rank + ": " + e);
            System.exit(1);
        }
        System.exit(0);
    }
}
