package dev.bitcap.parallel;

import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.DeviceExchange;
import java.lang.foreign.MemorySegment;

/**
 * The device all-to-all and all-gather through the host, as {@link HostStagedAllReduce} does the sum: copy down (after
 * the stream's work), exchange over a host {@link Collective} (TCP), copy up. Lets ranks that share one GPU check the
 * token dispatch of expert parallelism.
 */
public final class HostStagedExchange implements DeviceExchange {
    private final HostStagedAllReduce.Copies copies;
    private final Collective collective;

    public HostStagedExchange(HostStagedAllReduce.Copies copies, Collective collective) {
        this.copies = copies;
        this.collective = collective;
    }

    public static HostStagedExchange of(CudaDevice device, Collective collective) {
        return new HostStagedExchange(HostStagedAllReduce.copiesOf(device), collective);
    }

    @Override
    public void allToAll(long send, long[] sendCounts, long receive, long[] receiveCounts) {
        float[] out = new float[Math.toIntExact(sum(sendCounts))], in = new float[Math.toIntExact(sum(receiveCounts))];
        if (out.length > 0) copies.download(send, out, out.length);
        collective.allToAll(MemorySegment.ofArray(out), sendCounts, MemorySegment.ofArray(in), receiveCounts);
        if (in.length > 0) copies.upload(receive, in, in.length);
    }

    @Override
    public void allGather(long own, long all, long count) {
        int n = Math.toIntExact(count);
        float[] mine = new float[n], every = new float[n * collective.size()];
        if (n > 0) copies.download(own, mine, n);
        collective.allGather(MemorySegment.ofArray(mine), n, MemorySegment.ofArray(every));
        if (every.length > 0) copies.upload(all, every, every.length);
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long x : v) s += x;
        return s;
    }
}
