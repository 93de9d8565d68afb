package dev.bitcap.kv;

import dev.bitcap.BitcapException;

/**
 * Keys and values in fp32, one array per layer holding {@code capacity} rows of {@code rowWidth} floats.
 * Allocated for exactly the capacity a sequence asked for, so a 128K-context model does not reserve 128K
 * rows for a short prompt.
 */
public final class F32KvCache implements KvCache {
    private final int capacity;
    private final int rowWidth;
    private final float[][] keys;
    private final float[][] values;

    public F32KvCache(int layers, int capacity, int rowWidth) {
        long floats = (long) capacity * rowWidth;
        if (floats > Integer.MAX_VALUE - 16) {
            throw new BitcapException("KV cache of " + capacity + " positions x " + rowWidth + " floats per layer is too large for the fp32 cache");
        }
        this.capacity = capacity;
        this.rowWidth = rowWidth;
        this.keys = new float[layers][(int) floats];
        this.values = new float[layers][(int) floats];
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int layers() {
        return keys.length;
    }

    public int rowWidth() {
        return rowWidth;
    }

    /** Keys of a layer: position p's row starts at {@code p * rowWidth()}. */
    public float[] keys(int layer) {
        return keys[layer];
    }

    public float[] values(int layer) {
        return values[layer];
    }

    @Override
    public void append(int layer, int position, float[] k, int kOff, float[] v, int vOff) {
        if (position < 0 || position >= capacity) {
            throw new BitcapException("position " + position + " is outside the KV cache of " + capacity + " positions");
        }
        System.arraycopy(k, kOff, keys[layer], position * rowWidth, rowWidth);
        System.arraycopy(v, vOff, values[layer], position * rowWidth, rowWidth);
    }

    @Override
    public long bytesAllocated() {
        return bytesFor(capacity);
    }

    @Override
    public long bytesFor(int positions) {
        return 2L * keys.length * positions * rowWidth * Float.BYTES;
    }

    @Override
    public String format() {
        return "f32";
    }
}
