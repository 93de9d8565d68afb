package dev.bitcap.cuda;

import dev.bitcap.attention.BlockSelection;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KvCache;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * SeerAttention-R decode inside {@link CudaBackend} over the paged KV cache: the GPU gate keeps each sequence's
 * compressed keys ({@link CudaSeerDecodeGate}: filled by the sequence's first pass, then one key per decode step),
 * chooses per KV head the blocks a decode token visits, and the paged decode kernel walks only those blocks plus the
 * newest, not yet complete one ({@link CudaPagedAttention#decodeSparse}). Sequences get gate slots when they are made;
 * the gate's key cache is sized for the slots and the longest capacity asked for so far, and is remade larger (keeping
 * what the slots hold) when a new sequence needs more.
 */
final class CudaSeerDecode implements AutoCloseable {
    private final CudaDevice device;
    /** The gate's weights, uploaded once for prefill and decode. */
    private final CudaSeerGate weights;
    private final BlockSelection selection;
    private final Map<KvCache, Integer> slots = new IdentityHashMap<>();
    private CudaSeerDecodeGate keys;
    /** The block lists of the current decode pass: per (sequence, KV head) a row of {@link #stride} ints. */
    private final GrowingDeviceBuffer lists;
    /** The current decode pass: list row stride and the most blocks a row may list. */
    private int stride, maxListed;

    CudaSeerDecode(CudaSeerGate weights, BlockSelection selection) {
        this.device = weights.device();
        this.lists = new GrowingDeviceBuffer(device);
        this.weights = weights;
        this.selection = selection;
    }

    /** Gives a new sequence's cache a slot with room for {@code capacity} positions, growing the gate's key cache when short. */
    void add(KvCache cache, int capacity) {
        int slot = freeSlot();
        if (keys == null) {
            keys = new CudaSeerDecodeGate(weights, slot + 1, capacity);
        } else if (slot >= keys.slots() || capacity > keys.capacity()) {
            // Double the slots when short (a batch makes its sequences one by one); the slots held keep their keys.
            keys = keys.grown(Math.max(keys.slots(), slot >= keys.slots() ? 2 * keys.slots() : 0), Math.max(capacity, keys.capacity()));
        }
        slots.put(cache, slot);
    }

    /** Frees the slot of a released sequence's cache. */
    void remove(KvCache cache) {
        slots.remove(cache);
    }

    private int freeSlot() {
        boolean[] taken = new boolean[slots.size() + 1];
        for (int s : slots.values()) if (s < taken.length) taken[s] = true;
        int slot = 0;
        while (taken[slot]) slot++;
        return slot;
    }

    private int slot(Sequence s) {
        Integer slot = slots.get(s.cache());
        if (slot == null) throw new IllegalStateException("a sequence without a gate slot");
        return slot;
    }

    /** Layer {@code layer} of a pass of prompts: each sequence's keys before RoPE, rows from {@code rowStart[s]}. */
    void prompts(int layer, List<Sequence> sequences, int[] rowStart, int[] counts, long kPre, int kvDim) {
        for (int s = 0; s < sequences.size(); s++) {
            keys.prompt(slot(sequences.get(s)), layer, kPre + 4L * rowStart[s] * kvDim, counts[s]);
        }
    }

    /** Starts a decode pass (one token per sequence, at the position each holds now). */
    void beginDecode(List<Sequence> sequences) {
        int[] slotOf = new int[sequences.size()], positions = new int[sequences.size()];
        int longest = 0;
        for (int s = 0; s < slotOf.length; s++) {
            slotOf[s] = slot(sequences.get(s));
            positions[s] = sequences.get(s).length();
            longest = Math.max(longest, positions[s] + 1);
        }
        keys.beginDecode(slotOf, positions);
        maxListed = CudaSeerDecodeGate.maxListed(selection, longest);
        stride = 1 + maxListed;
        lists.ensure(4L * stride * sequences.size() * weights.shape().kvHeads());
    }

    /** Layer {@code layer} of a decode pass: folds in the keys and chooses the blocks from the queries (both before RoPE). */
    void select(int layer, long qPre, long kPre) {
        keys.append(layer, kPre);
        keys.select(layer, qPre, selection, lists.pointer(), stride);
    }

    long lists() {
        return lists.pointer();
    }

    int listStride() {
        return stride;
    }

    int maxListed() {
        return maxListed;
    }

    int block() {
        return keys.block();
    }

    /** Random compressed keys for a sequence whose KV cache was filled with {@code positions} synthetic positions (benchmarks). */
    void fillRandom(KvCache cache, int positions, CudaPagedAttention filler, int seed) {
        keys.fillRandom(slots.get(cache), positions, filler, seed);
    }

    @Override
    public void close() {
        if (keys != null) keys.close();
        lists.close();
    }
}
