package dev.bitcap.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/** Times work queued on a device's stream between two CUDA events: the GPU's own clock, for the kernel benchmarks. */
final class EventTimer {
    private EventTimer() {}

    /** Median milliseconds of {@code reps} timed runs of {@code work} after {@code warmups} untimed ones. */
    static double medianMillis(CudaDevice device, Runnable work, int warmups, int reps) {
        CudaDriver d = device.driver();
        MemorySegment start = d.createEvent(), end = d.createEvent();
        try {
            for (int i = 0; i < warmups; i++) work.run();
            device.synchronize();
            double[] ms = new double[reps];
            for (int i = 0; i < reps; i++) {
                d.record(start, device.stream());
                work.run();
                d.record(end, device.stream());
                d.synchronizeEvent(end);
                ms[i] = d.elapsed(start, end);
            }
            Arrays.sort(ms);
            return ms[reps / 2];
        } finally {
            d.destroyEvent(start);
            d.destroyEvent(end);
        }
    }
}
