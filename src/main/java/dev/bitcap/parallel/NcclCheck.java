package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.CudaDriver;
import dev.bitcap.cuda.NcclLibrary;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks the NCCL transport on real GPUs: N processes (rank r on GPU r mod the GPU count) set up a communicator
 * through the TCP rendezvous and run every {@link NcclCollective} operation on device buffers; each result is copied
 * back and compared with what the host works out. With one GPU it runs one rank, which still binds and calls every
 * entry point (send and receive to itself). {@code java -cp bitcap.jar dev.bitcap.parallel.NcclCheck [--ranks N]}.
 * This has not run yet: no machine with libnccl was available when it was written.
 */
public final class NcclCheck {
    private NcclCheck() {}

    public static void main(String[] args) {
        try {
            if (args.length > 0 && args[0].equals("--worker")) {
                var links = RankLinks.join(RankWorkerMain.Args.address(args[1], "--connect"), Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                        Long.parseLong(args[4]), 60_000);
                rank(links, System.err);
                System.exit(0);
            }
            int ranks = args.length >= 2 && args[0].equals("--ranks") ? Integer.parseInt(args[1]) : CudaDriver.get().deviceCount();
            System.exit(run(ranks, System.out) ? 0 : 1);
        } catch (BitcapException e) {
            System.err.println("bitcap nccl check: " + e.getMessage());
            System.exit(2);
        }
    }

    /** Runs the check over {@code ranks} processes (this one is rank 0); prints one line per operation. */
    public static boolean run(int ranks, PrintStream out) {
        if (ranks < 1) throw new BitcapException("--ranks must be >= 1, got " + ranks);
        long job = System.nanoTime();
        List<Process> workers = new ArrayList<>();
        try (Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            String connect = "127.0.0.1:" + rv.address().getPort();
            for (int r = 1; r < ranks; r++) {
                List<String> cmd = RankLauncher.javaCommand(NcclCheck.class);
                cmd.addAll(List.of("--worker", connect, String.valueOf(r), String.valueOf(ranks), String.valueOf(job)));
                workers.add(RankLauncher.start(cmd));
            }
            try (RankLinks links = rv.accept(ranks, job, 120_000, () -> RankLauncher.exited(workers))) {
                boolean ok = rank(links, out);
                RankLauncher.awaitExit(workers);
                return ok;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BitcapException("interrupted while the NCCL check ran");
        } finally {
            for (Process p : workers) p.destroyForcibly();
        }
    }

    /** One rank's part; rank 0 prints the table (failures of all ranks summed). */
    static boolean rank(RankLinks links, PrintStream out) {
        int rank = links.rank(), ranks = links.size();
        try (CudaDevice device = CudaDevice.open(rank % CudaDriver.get().deviceCount())) {
            NcclLibrary nccl = NcclLibrary.get();
            NcclCollective c = NcclCollective.create(nccl, links, device.stream(), device::synchronize);
            String[] names = {"all-reduce (1 Mi floats)", "all-gather", "all-to-all (unequal counts)", "broadcast (from the last rank)"};
            float[] failures = new float[names.length];
            try {
                int n = 1 << 20;
                float[] host = new float[n];
                for (int i = 0; i < n; i++) host[i] = value(rank, i);
                long buf = device.alloc(4L * n);
                device.upload(buf, host, 0, n);
                c.allReduceSum(MemorySegment.ofAddress(buf), n);
                device.download(host, 0, buf, n);
                for (int i = 0; i < n; i++) {
                    double want = 0, scale = 0;
                    for (int r = 0; r < ranks; r++) {
                        want += value(r, i);
                        scale += Math.abs(value(r, i));
                    }
                    // NCCL sums in its own order (ring or tree): fp32 re-association, a few ulps of the magnitudes summed
                    if (Math.abs(host[i] - want) > 1e-6 * scale) failures[0]++;
                }

                long send = device.alloc(4L * 7), all = device.alloc(4L * 7 * ranks);
                float[] mine = new float[7];
                for (int i = 0; i < 7; i++) mine[i] = rank * 10 + i;
                device.upload(send, mine, 0, 7);
                c.allGather(MemorySegment.ofAddress(send), 7, MemorySegment.ofAddress(all));
                float[] got = new float[7 * ranks];
                device.download(got, 0, all, got.length);
                for (int r = 0; r < ranks; r++) for (int i = 0; i < 7; i++) if (got[r * 7 + i] != r * 10 + i) failures[1]++;

                long[] sendCounts = new long[ranks], receiveCounts = new long[ranks];
                for (int d = 0; d < ranks; d++) sendCounts[d] = (long) (rank + 1) * (d + 1) * 1000;
                for (int s = 0; s < ranks; s++) receiveCounts[s] = (long) (s + 1) * (rank + 1) * 1000;
                float[] outgoing = new float[(int) java.util.Arrays.stream(sendCounts).sum()];
                int at = 0;
                for (int d = 0; d < ranks; d++) for (int i = 0; i < sendCounts[d]; i++) outgoing[at++] = rank * 1000 + d * 100 + i * 0.5f;
                float[] incoming = new float[(int) java.util.Arrays.stream(receiveCounts).sum()];
                long ds = device.alloc(4L * outgoing.length), dr = device.alloc(4L * incoming.length);
                device.upload(ds, outgoing, 0, outgoing.length);
                c.allToAll(MemorySegment.ofAddress(ds), sendCounts, MemorySegment.ofAddress(dr), receiveCounts);
                device.download(incoming, 0, dr, incoming.length);
                at = 0;
                for (int s = 0; s < ranks; s++) for (int i = 0; i < receiveCounts[s]; i++) if (incoming[at++] != s * 1000 + rank * 100 + i * 0.5f) failures[2]++;

                float[] b = new float[5];
                if (rank == ranks - 1) for (int i = 0; i < 5; i++) b[i] = 7 + i;
                long db = device.alloc(4L * 5);
                device.upload(db, b, 0, 5);
                c.broadcast(MemorySegment.ofAddress(db), 5, ranks - 1);
                device.download(b, 0, db, 5);
                for (int i = 0; i < 5; i++) if (b[i] != 7 + i) failures[3]++;
                c.barrier();
            } finally {
                c.close();
            }
            // the verdicts travel over the TCP links, which do not depend on what is being checked
            float[] everyone = new float[failures.length * ranks];
            new TcpCollective(links).allGather(failures, everyone);
            boolean ok = true;
            if (rank == 0) {
                out.printf("NCCL %d on %d rank(s), GPU 0 %s%n", nccl.version(), ranks, device.name());
                for (int k = 0; k < names.length; k++) {
                    int bad = 0;
                    for (int r = 0; r < ranks; r++) bad += (int) everyone[r * names.length + k];
                    out.printf("%-32s %s%n", names[k], bad == 0 ? "pass" : "FAIL (" + bad + " wrong values)");
                    ok &= bad == 0;
                }
            }
            return ok;
        }
    }

    private static float value(int rank, int i) {
        return (float) Math.sin(1.7 * rank + 0.37 * i) * (rank + 1);
    }
}
