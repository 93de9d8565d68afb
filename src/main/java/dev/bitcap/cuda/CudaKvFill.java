package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import java.util.List;

/**
 * Fills a paged cache with synthetic keys and values, every layer, straight through the pack kernel: long-context
 * decode can be timed without a quadratic prefill. Rows are pseudo-random of deviation 1 with an outlier channel
 * of +3 per key head (keys after RoPE have a few large channels), a different stream per layer and chunk. The
 * pages are reserved up front, so a fill beyond the pool is the pool's refusal before anything runs.
 */
final class CudaKvFill {
    /** Rows packed per launch: 8192 rows of fp32 K and V staging (64 MiB at kvDim 1024). */
    static final int CHUNK_ROWS = 8192;
    private final CudaDevice device;
    private final CudaPagedAttention attention;

    CudaKvFill(CudaDevice device, CudaPagedAttention attention) {
        this.device = device;
        this.attention = attention;
    }

    /** Appends {@code positions} synthetic positions to every layer of the empty cache; returns the nanoseconds it took. */
    long fill(CudaPagedKvCache cache, int positions, int seed) {
        CudaKvLayout lay = attention.layout();
        if (positions < 1) throw new BitcapException("--kv-fill must be >= 1 positions, got " + positions);
        for (int l = 0; l < lay.layers(); l++) {
            if (cache.length(l) != 0) throw new IllegalStateException("the cache to fill already holds positions at layer " + l);
        }
        cache.reserve(positions);
        int kvDim = lay.kvHeads() * lay.headDim();
        int rows = Math.min(CHUNK_ROWS, positions);
        long kRows = device.alloc(4L * rows * kvDim), vRows = device.alloc(4L * rows * kvDim);
        long start = System.nanoTime();
        try {
            for (int off = 0; off < positions; off += rows) {
                int n = Math.min(rows, positions - off);
                for (int l = 0; l < lay.layers(); l++) {
                    int s = seed * 0x9E3779B1 ^ (l * 0x85EBCA77 + off);
                    attention.fillRandom(kRows, (long) n * kvDim, s, 1f, lay.headDim(), 3f);
                    attention.fillRandom(vRows, (long) n * kvDim, s ^ 0x5bd1e995, 1f, 0, 0f);
                    attention.append(l, List.of(cache), new int[] {0}, new int[] {n}, kRows, vRows);
                }
            }
            device.synchronize();
            return System.nanoTime() - start;
        } finally {
            device.free(kRows);
            device.free(vRows);
        }
    }
}
