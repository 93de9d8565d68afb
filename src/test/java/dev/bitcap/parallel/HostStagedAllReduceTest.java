package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.bitcap.BitcapException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The host staging of a device all-reduce against a fake device (a heap buffer behind a made-up address): what the
 * CUDA ranks do on one GPU, minus the GPU. Ranks are threads over the loopback TCP collective.
 */
class HostStagedAllReduceTest {
    /** One device buffer at one address; every copy is logged so the order download, sum, upload can be checked. */
    static final class FakeDevice implements HostStagedAllReduce.Copies {
        static final long BASE = 0x7f00_0000_0000L;
        final float[] memory;
        final List<String> log = new ArrayList<>();

        FakeDevice(float[] memory) {
            this.memory = memory;
        }

        private int index(long pointer, int count) {
            long at = (pointer - BASE) / Float.BYTES;
            if (pointer < BASE || (pointer - BASE) % Float.BYTES != 0 || at + count > memory.length) {
                throw new IllegalArgumentException("fake device: bad address " + Long.toHexString(pointer) + " for " + count + " floats");
            }
            return (int) at;
        }

        @Override
        public void download(long pointer, float[] host, int count) {
            System.arraycopy(memory, index(pointer, count), host, 0, count);
            log.add("download " + (pointer - BASE) + " " + count);
        }

        @Override
        public void upload(long pointer, float[] host, int count) {
            System.arraycopy(host, 0, memory, index(pointer, count), count);
            log.add("upload " + (pointer - BASE) + " " + count);
        }
    }

    /** Each rank reduces floats [offset, offset + count) of its fake buffer; returns the buffers and logs, in rank order. */
    private static List<FakeDevice> reduceOnThreads(int ranks, int length, int offset, int count, int repeats) throws Exception {
        long job = 77;
        List<FakeDevice> devices = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            float[] m = new float[length];
            for (int i = 0; i < length; i++) m[i] = TcpCollectiveTest.value(r, i);
            devices.add(new FakeDevice(m));
        }
        ThreadRanks.eachRank(ranks, job, (rank, c) -> {
            HostStagedAllReduce reduce = new HostStagedAllReduce(devices.get(rank), c);
            for (int k = 0; k < repeats; k++) reduce.allReduceSum(FakeDevice.BASE + 4L * offset, count);
        });
        return devices;
    }

    @Test
    void everyRankHoldsTheRankOrderSumOfItsSliceAndTheRestIsUntouched() throws Exception {
        int ranks = 3, length = 50_000, offset = 1000, count = 40_000;
        List<FakeDevice> devices = reduceOnThreads(ranks, length, offset, count, 1);
        float[] sum = TcpCollectiveTest.expectedSum(ranks, length);
        for (int r = 0; r < ranks; r++) {
            float[] m = devices.get(r).memory;
            for (int i = 0; i < length; i++) {
                float want = i >= offset && i < offset + count ? sum[i] : TcpCollectiveTest.value(r, i);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(m[i]), "rank " + r + " float " + i);
            }
            assertEquals(List.of("download 4000 40000", "upload 4000 40000"), devices.get(r).log, "rank " + r + ": one copy each way");
        }
    }

    @Test
    void reducingTwiceSumsTheFirstSumThroughTheReusedStagingBuffer() throws Exception {
        // the second reduce goes through the staging buffer the first one grew
        int ranks = 2, length = 300;
        List<FakeDevice> devices = reduceOnThreads(ranks, length, 0, length, 1);
        float[] once = devices.get(0).memory.clone();
        List<FakeDevice> twice = reduceOnThreads(ranks, length, 0, length, 2);
        float[] expect = new float[length];
        for (int i = 0; i < length; i++) expect[i] = once[i] + once[i]; // both ranks hold `once` after the first sum
        assertArrayEquals(expect, twice.get(0).memory);
        assertArrayEquals(expect, twice.get(1).memory);
    }

    @Test
    void oneRankCopiesNothing() {
        FakeDevice device = new FakeDevice(new float[] {1, 2, 3});
        Collective alone = new Collective() {
            public int rank() {
                return 0;
            }

            public int size() {
                return 1;
            }

            public void allReduceSum(java.lang.foreign.MemorySegment b, long c) {
                throw new AssertionError("no sum with one rank");
            }

            public void allGather(java.lang.foreign.MemorySegment s, long c, java.lang.foreign.MemorySegment r) {}

            public void allToAll(java.lang.foreign.MemorySegment s, long[] sc, java.lang.foreign.MemorySegment r, long[] rc) {}

            public void broadcast(java.lang.foreign.MemorySegment b, long c, int root) {}

            public void barrier() {}

            public void close() {}
        };
        new HostStagedAllReduce(device, alone).allReduceSum(FakeDevice.BASE, 3);
        assertEquals(List.of(), device.log);
        assertArrayEquals(new float[] {1, 2, 3}, device.memory);
    }

    @Test
    void aRankPerGpuPlacementRefusesZero() {
        assertEquals(0, CudaRanks.gpuOf(1, 2));
        assertEquals(1, CudaRanks.gpuOf(1, 1));
        assertEquals(1, CudaRanks.gpuOf(3, 2));
        var e = assertThrows(BitcapException.class, () -> CudaRanks.gpuOf(0, 0));
        assertEquals("--ranks-per-gpu must be >= 1, got 0", e.getMessage());
    }
}
