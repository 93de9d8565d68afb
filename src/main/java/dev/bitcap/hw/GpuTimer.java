package dev.bitcap.hw;

import dev.bitcap.cuda.CudaDevice;
import java.lang.foreign.MemorySegment;

/** Times work queued on a device's stream with a pair of CUDA events: the GPU's own clock, not the host's. */
final class GpuTimer implements AutoCloseable {
    private final CudaDevice device;
    private final MemorySegment start, end;

    GpuTimer(CudaDevice device) {
        this.device = device;
        start = device.driver().createEvent();
        end = device.driver().createEvent();
    }

    /** Seconds taken by the fastest of {@code runs} repetitions of {@code work} (each queued between the two events). */
    double best(int runs, Runnable work) {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < runs; r++) {
            device.driver().record(start, device.stream());
            work.run();
            device.driver().record(end, device.stream());
            device.driver().synchronizeEvent(end);
            best = Math.min(best, device.driver().elapsed(start, end) / 1e3);
        }
        return best;
    }

    @Override
    public void close() {
        device.driver().destroyEvent(start);
        device.driver().destroyEvent(end);
    }
}
