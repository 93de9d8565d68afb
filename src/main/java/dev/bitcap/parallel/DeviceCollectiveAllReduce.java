package dev.bitcap.parallel;

import dev.bitcap.cuda.DeviceAllReduce;
import java.lang.foreign.MemorySegment;

/**
 * An all-reduce that stays on the device: the buffer's address goes to a {@link Collective} that takes device memory
 * ({@link NcclCollective}, queued on the rank's stream, so no host synchronisation). One GPU per rank.
 */
public final class DeviceCollectiveAllReduce implements DeviceAllReduce {
    private final Collective collective;

    public DeviceCollectiveAllReduce(Collective collective) {
        this.collective = collective;
    }

    @Override
    public void allReduceSum(long pointer, long count) {
        if (collective.size() == 1) return;
        collective.allReduceSum(MemorySegment.ofAddress(pointer).reinterpret(4L * count), count);
    }
}
