package dev.bitcap.cuda;

/**
 * Device scratch that only grows: a request past its size waits for the stream to be idle (kernels in flight may still
 * read it), frees it and allocates at least twice the old size, so a run of slowly growing requests allocates a few
 * times, not every time. Its address changes only then; graphs that captured it must be rebuilt by their owner.
 */
final class GrowingDeviceBuffer implements AutoCloseable {
    private final CudaDevice device;
    private long pointer, bytes;

    GrowingDeviceBuffer(CudaDevice device) {
        this.device = device;
    }

    /** The buffer's address, holding at least {@code need} bytes. */
    long ensure(long need) {
        if (need > bytes) {
            if (pointer != 0) {
                device.synchronize();
                device.free(pointer);
            }
            bytes = Math.max(need, 2 * bytes);
            pointer = device.alloc(bytes);
        }
        return pointer;
    }

    /** The current address (0 before the first {@link #ensure}). */
    long pointer() {
        return pointer;
    }

    @Override
    public void close() {
        if (pointer != 0) device.free(pointer);
        pointer = 0;
        bytes = 0;
    }
}
