package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The loopback TCP collectives with ranks as threads and as processes, against sums and layouts worked out here. */
class TcpCollectiveTest {
    /** Rank r's value i of the test pattern: distinct per rank and index, and not exactly representable sums. */
    static float value(int rank, int i) {
        return (float) Math.sin(1.7 * rank + 0.37 * i) * (rank + 1);
    }

    /** The reference: the sum in rank order, as rank 0 takes it. */
    static float[] expectedSum(int ranks, int n) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            float acc = value(0, i);
            for (int r = 1; r < ranks; r++) acc += value(r, i);
            s[i] = acc;
        }
        return s;
    }

    /** Rank r sends (r + 1) * (d + 1) floats to rank d: variable counts, some large enough to need many chunks. */
    static long count(int from, int to, int scale) {
        return (long) (from + 1) * (to + 1) * scale;
    }

    static float sent(int from, int to, int i) {
        return from * 1000 + to * 100 + i * 0.5f;
    }

    /** Runs every collective on one rank and checks what it receives; the checks are the same in threads and processes. */
    static void exercise(Collective c, int scale) {
        int ranks = c.size(), rank = c.rank();
        int n = 40_000; // > one 64 KiB chunk per message
        float[] buf = new float[n];
        for (int i = 0; i < n; i++) buf[i] = value(rank, i);
        c.allReduceSum(buf);
        assertArrayEquals(expectedSum(ranks, n), buf, "all-reduce on rank " + rank);

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment send = arena.allocate(7L * Float.BYTES), receive = arena.allocate(7L * ranks * Float.BYTES);
            for (int i = 0; i < 7; i++) send.setAtIndex(ValueLayout.JAVA_FLOAT, i, rank * 10 + i);
            c.allGather(send, 7, receive);
            for (int r = 0; r < ranks; r++) {
                for (int i = 0; i < 7; i++) assertEquals(r * 10 + i, receive.getAtIndex(ValueLayout.JAVA_FLOAT, r * 7L + i), "all-gather");
            }
        }

        long[] sendCounts = new long[ranks], receiveCounts = new long[ranks];
        for (int d = 0; d < ranks; d++) sendCounts[d] = count(rank, d, scale);
        for (int s = 0; s < ranks; s++) receiveCounts[s] = count(s, rank, scale);
        float[] out = new float[(int) java.util.Arrays.stream(sendCounts).sum()];
        int at = 0;
        for (int d = 0; d < ranks; d++) for (int i = 0; i < sendCounts[d]; i++) out[at++] = sent(rank, d, i);
        float[] in = new float[(int) java.util.Arrays.stream(receiveCounts).sum()];
        c.allToAll(out, sendCounts, in, receiveCounts);
        at = 0;
        for (int s = 0; s < ranks; s++) for (int i = 0; i < receiveCounts[s]; i++) assertEquals(sent(s, rank, i), in[at++], "all-to-all from " + s);

        float[] b = new float[5];
        if (rank == ranks - 1) for (int i = 0; i < 5; i++) b[i] = 7 + i;
        c.broadcast(MemorySegment.ofArray(b), 5, ranks - 1);
        assertArrayEquals(new float[] {7, 8, 9, 10, 11}, b, "broadcast from the last rank");
        c.barrier();
    }

    @Test
    void ranksAsThreadsAgreeOnEveryCollective() throws Exception {
        int ranks = 3;
        long job = 7;
        try (Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            ExecutorService pool = Executors.newFixedThreadPool(ranks - 1);
            List<Future<?>> workers = new ArrayList<>();
            for (int r = 1; r < ranks; r++) {
                int rank = r;
                workers.add(pool.submit((Callable<Void>) () -> {
                    try (TcpCollective c = new TcpCollective(RankLinks.join(rv.address(), rank, ranks, job, 20_000))) {
                        exercise(c, 3000);
                    }
                    return null;
                }));
            }
            try (TcpCollective c = new TcpCollective(rv.accept(ranks, job, 20_000, () -> null))) {
                exercise(c, 3000);
            }
            for (Future<?> f : workers) f.get(60, TimeUnit.SECONDS);
            pool.shutdown();
        }
    }

    @Test
    void ranksAsProcessesAgreeOnEveryCollective() throws Exception {
        int ranks = 3;
        long job = 11;
        try (Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            List<Process> procs = new ArrayList<>();
            for (int r = 1; r < ranks; r++) {
                String java = ProcessHandle.current().info().command().orElseThrow();
                ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), CollectiveProbe.class.getName(),
                        "127.0.0.1:" + rv.address().getPort(), String.valueOf(r), String.valueOf(ranks), String.valueOf(job));
                pb.redirectError(ProcessBuilder.Redirect.INHERIT).redirectOutput(ProcessBuilder.Redirect.DISCARD);
                pb.directory(new File(System.getProperty("user.dir")));
                procs.add(pb.start());
            }
            try (TcpCollective c = new TcpCollective(rv.accept(ranks, job, 60_000, () -> null))) {
                exercise(c, 3000);
            }
            for (Process p : procs) {
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "a rank process did not finish");
                assertEquals(0, p.exitValue(), "a rank process found a wrong value (its message is above)");
            }
        }
    }

    @Test
    void aRankOfAnotherJobOrSizeIsRefusedWithOneLine() throws Exception {
        try (Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            Thread host = new Thread(() -> {
                try {
                    rv.accept(2, 1, 3_000, () -> null).close();
                } catch (BitcapException expected) {
                    // nobody valid joins
                }
            });
            host.start();
            BitcapException e = assertThrows(BitcapException.class, () -> RankLinks.join(rv.address(), 1, 2, 999, 2_000));
            assertTrue(e.getMessage().contains("refused rank 1: it belongs to another job"), e.getMessage());
            host.join();
        }
    }

    @Test
    void aMissingRankEndsTheRendezvousWithOneLineNamingIt() {
        try (Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            BitcapException e = assertThrows(BitcapException.class, () -> rv.accept(3, 1, 1_500, () -> null));
            assertTrue(e.getMessage().startsWith("rank(s) 1, 2 did not join the rendezvous at "), e.getMessage());
            BitcapException died = assertThrows(BitcapException.class, () -> rv.accept(3, 1, 60_000, () -> "rank 1 exited with status 2"));
            assertEquals("rank 1 exited with status 2", died.getMessage());
        }
    }

    @Test
    void aRankThatCannotReachRankZeroSaysSoInOneLine() {
        int port;
        try (Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            port = rv.address().getPort();
        }
        BitcapException e = assertThrows(BitcapException.class,
                () -> RankLinks.join(new java.net.InetSocketAddress("127.0.0.1", port), 1, 2, 1, 500));
        assertTrue(e.getMessage().startsWith("rank 1 could not reach rank 0 at "), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
    }
}
