package dev.bitcap.parallel;

import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.DeviceAllReduce;

/**
 * An all-reduce of device buffers through the host: the buffer is copied to the host (after the stream's work),
 * summed over the ranks by a host {@link Collective} (TCP), and copied back. Correct and slow; it lets several ranks
 * share one GPU, which NCCL refuses, so a split model can be checked on a single-GPU machine.
 */
public final class HostStagedAllReduce implements DeviceAllReduce {
    /** The two copies the staging needs; {@link #of(CudaDevice)} gives the CUDA ones, tests give a fake device. */
    public interface Copies {
        /** Waits for the device's queued work, then copies {@code count} floats at {@code pointer} into {@code host}. */
        void download(long pointer, float[] host, int count);

        /** Copies {@code count} floats of {@code host} to {@code pointer}, ordered before later device work. */
        void upload(long pointer, float[] host, int count);
    }

    private final Copies copies;
    private final Collective collective;
    private float[] host = new float[0];

    public HostStagedAllReduce(Copies copies, Collective collective) {
        this.copies = copies;
        this.collective = collective;
    }

    public static HostStagedAllReduce of(CudaDevice device, Collective collective) {
        return new HostStagedAllReduce(copiesOf(device), collective);
    }

    /** The CUDA copies: downloads wait for the device's stream. */
    static Copies copiesOf(CudaDevice device) {
        return new Copies() {
            @Override
            public void download(long pointer, float[] h, int count) {
                device.download(h, 0, pointer, count);
            }

            @Override
            public void upload(long pointer, float[] h, int count) {
                device.upload(pointer, h, 0, count);
            }
        };
    }

    @Override
    public void allReduceSum(long pointer, long count) {
        if (collective.size() == 1) return;
        int n = Math.toIntExact(count);
        if (host.length < n) host = new float[n];
        copies.download(pointer, host, n);
        collective.allReduceSum(java.lang.foreign.MemorySegment.ofArray(host), n);
        copies.upload(pointer, host, n);
    }
}
