package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.parallel.HostStagedAllReduceTest.FakeDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/**
 * The host staging of the device all-to-all and all-gather (token dispatch under ep on CUDA ranks that share a GPU)
 * against fake devices, ranks as threads over the loopback TCP collective; and the switch that turns it on.
 */
class HostStagedExchangeTest {
    private static final long BASE = FakeDevice.BASE;

    /** Runs {@code job} on every rank with its fake device (memory of {@code length} floats, rank r's floats r*1000 + i). */
    private static List<FakeDevice> onThreads(int ranks, int length, BiConsumer<Integer, HostStagedExchange> job) throws Exception {
        List<FakeDevice> devices = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            float[] m = new float[length];
            for (int i = 0; i < length; i++) m[i] = r * 1000 + i;
            devices.add(new FakeDevice(m));
        }
        ThreadRanks.eachRank(ranks, 91, (rank, c) -> job.accept(rank, new HostStagedExchange(devices.get(rank), c)));
        return devices;
    }

    @Test
    void allToAllDeliversEachRanksBlocksBySourceRank() throws Exception {
        int ranks = 3;
        // rank s sends (s + d) floats to rank d, taken in order from its floats [0, ...); they land at float 100 onwards
        List<FakeDevice> devices = onThreads(ranks, 200, (rank, x) -> {
            long[] send = new long[ranks], receive = new long[ranks];
            for (int d = 0; d < ranks; d++) send[d] = rank + d;
            for (int s = 0; s < ranks; s++) receive[s] = s + rank;
            x.allToAll(BASE, send, BASE + 4L * 100, receive);
        });
        for (int d = 0; d < ranks; d++) {
            float[] m = devices.get(d).memory;
            int at = 100;
            for (int s = 0; s < ranks; s++) {
                int offset = 0;
                for (int e = 0; e < d; e++) offset += s + e; // where rank s's block for d starts in its send buffer
                for (int i = 0; i < s + d; i++) assertEquals(s * 1000 + offset + i, m[at++], "rank " + d + " from " + s + " float " + i);
            }
            for (int i = at; i < 200; i++) assertEquals(d * 1000 + i, m[i], "untouched past the received floats");
            assertEquals(List.of("download 0 " + (3 * d + 3), "upload 400 " + (3 * d + 3)), devices.get(d).log, "one copy each way");
        }
    }

    @Test
    void allGatherConcatenatesInRankOrder() throws Exception {
        int ranks = 3, count = 5;
        List<FakeDevice> devices = onThreads(ranks, 40, (rank, x) -> x.allGather(BASE + 4L * 2, BASE + 4L * 20, count));
        for (int r = 0; r < ranks; r++) {
            float[] m = devices.get(r).memory;
            for (int s = 0; s < ranks; s++) for (int i = 0; i < count; i++) assertEquals(s * 1000 + 2 + i, m[20 + s * count + i]);
        }
    }

    @Test
    void aRankThatSendsAndReceivesNothingCopiesNothing() throws Exception {
        List<FakeDevice> devices = onThreads(2, 10, (rank, x) -> x.allToAll(BASE, new long[] {0, 0}, BASE, new long[] {0, 0}));
        for (FakeDevice d : devices) assertTrue(d.log.isEmpty(), d.log.toString());
    }

    @Test
    void tokenDispatchIsOptInAndNeedsEpWithoutTp() {
        ParallelPlan ep = new ParallelPlan(2, 1, 2, ExpertPlacement.CONTIGUOUS), both = new ParallelPlan(2, 2, 2, ExpertPlacement.CONTIGUOUS);
        assertFalse(ep.tokenDispatch(null));
        assertFalse(ep.tokenDispatch("replicated"));
        assertTrue(ep.tokenDispatch(" all-to-all "));
        BitcapException e = assertThrows(BitcapException.class, () -> both.tokenDispatch("all-to-all"));
        assertTrue(e.getMessage().startsWith("BITCAP_EP_DISPATCH=all-to-all needs --ep without --tp"), e.getMessage());
        e = assertThrows(BitcapException.class, () -> ep.tokenDispatch("nccl"));
        assertEquals("BITCAP_EP_DISPATCH: expected replicated or all-to-all, got 'nccl'", e.getMessage());
        assertArrayEquals(new int[] {0, 0, 1, 1}, ep.expertOwners(4));
    }
}
