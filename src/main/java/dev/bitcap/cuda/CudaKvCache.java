package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KvCache;

/**
 * A sequence's keys and values in device memory, fp32, laid out [position][layer][kvDim] so that every sequence
 * shares the same strides and only its base addresses differ. Freed by the backend once the sequence is unreachable.
 */
final class CudaKvCache implements KvCache {
    private final CudaDevice device;
    private final int capacity, layers, kvDim;
    final long keys, values;

    CudaKvCache(CudaDevice device, int layers, int capacity, int kvDim) {
        this.device = device;
        this.capacity = capacity;
        this.layers = layers;
        this.kvDim = kvDim;
        long bytes = bytesFor(capacity) / 2;
        this.keys = device.alloc(bytes);
        this.values = device.alloc(bytes);
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int layers() {
        return layers;
    }

    @Override
    public void append(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        if (position < 0 || position >= capacity) {
            throw new BitcapException("position " + position + " is outside the KV cache of " + capacity + " positions");
        }
        long off = 4L * ((long) position * layers + layer) * kvDim;
        device.upload(keys + off, k, kOff, kvDim);
        device.upload(values + off, v, vOff, kvDim);
    }

    @Override
    public long bytesAllocated() {
        return bytesFor(capacity);
    }

    @Override
    public long bytesFor(int positions) {
        return 2L * 4 * positions * layers * kvDim;
    }

    @Override
    public String format() {
        return "f32";
    }
}
