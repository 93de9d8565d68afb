package dev.bitcap.parallel;

import dev.bitcap.cuda.DeviceExchange;
import java.lang.foreign.MemorySegment;

/**
 * The device all-to-all and all-gather handed to a {@link Collective} that takes device memory ({@link NcclCollective},
 * queued on the rank's stream): one GPU per rank.
 */
public final class DeviceCollectiveExchange implements DeviceExchange {
    private final Collective collective;

    public DeviceCollectiveExchange(Collective collective) {
        this.collective = collective;
    }

    @Override
    public void allToAll(long send, long[] sendCounts, long receive, long[] receiveCounts) {
        collective.allToAll(device(send, sendCounts), sendCounts, device(receive, receiveCounts), receiveCounts);
    }

    @Override
    public void allGather(long own, long all, long count) {
        collective.allGather(MemorySegment.ofAddress(own).reinterpret(4L * count), count,
                MemorySegment.ofAddress(all).reinterpret(4L * count * collective.size()));
    }

    private static MemorySegment device(long pointer, long[] counts) {
        long floats = 0;
        for (long c : counts) floats += c;
        return MemorySegment.ofAddress(pointer).reinterpret(4L * floats);
    }
}
