package dev.bitcap.engine;

import dev.bitcap.kv.KvCache;

/** One sequence being run: its KV cache and how many positions it already holds. */
public final class Sequence {
    private final KvCache cache;
    private int length;

    public Sequence(KvCache cache) {
        this.cache = cache;
    }

    public KvCache cache() {
        return cache;
    }

    public int length() {
        return length;
    }

    public int remaining() {
        return cache.capacity() - length;
    }

    /** Records that {@code tokens} more positions were written (backends call this after a pass). */
    public void advance(int tokens) {
        length += tokens;
    }
}
