package dev.bitcap.tokenizer;

/**
 * Greedy pair merging shared by BPE (merge rank) and SentencePiece (piece score): repeatedly merges the adjacent
 * pair with the best priority, the leftmost one on ties, until no pair can merge. A heap of (priority, position)
 * keys over a linked list of symbols keeps it O(n log n), so whole paragraphs merge fast.
 */
final class PairMerger {

    /** What two adjacent symbols merge into. */
    interface PairRule {
        /** -1 when the pair does not merge, else {@code (priority << 32) | mergedId}; lower priority merges first. */
        long find(int leftId, int rightId);
    }

    static long result(int priority, int mergedId) {
        return ((long) priority << 32) | (mergedId & 0xFFFFFFFFL);
    }

    private PairMerger() {}

    /** Merges symbols[0..count) in place and returns the new count. */
    static int merge(int[] symbols, int count, PairRule rule) {
        if (count < 2) return count;
        int[] next = new int[count];
        int[] prev = new int[count];
        for (int i = 0; i < count; i++) {
            next[i] = i + 1 < count ? i + 1 : -1;
            prev[i] = i - 1;
        }
        LongHeap heap = new LongHeap(count);
        for (int i = 0; i + 1 < count; i++) push(heap, rule.find(symbols[i], symbols[i + 1]), i);
        while (!heap.isEmpty()) {
            long key = heap.pop();
            int pos = (int) key;
            int priority = (int) (key >>> 32);
            if (symbols[pos] < 0) continue;
            int right = next[pos];
            if (right < 0) continue;
            long found = rule.find(symbols[pos], symbols[right]);
            // a stale key: the pair at pos changed since it was pushed
            if (found < 0 || (int) (found >>> 32) != priority) continue;
            symbols[pos] = (int) found;
            symbols[right] = -1;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) prev[after] = pos;
            if (prev[pos] >= 0) push(heap, rule.find(symbols[prev[pos]], symbols[pos]), prev[pos]);
            if (after >= 0) push(heap, rule.find(symbols[pos], symbols[after]), pos);
        }
        int kept = 0;
        for (int i = 0; i < count; i++) if (symbols[i] >= 0) symbols[kept++] = symbols[i];
        return kept;
    }

    private static void push(LongHeap heap, long found, int pos) {
        if (found >= 0) heap.push((found & 0xFFFFFFFF00000000L) | pos);
    }

    /** A binary min-heap of longs. */
    private static final class LongHeap {
        private long[] keys;
        private int size;

        LongHeap(int capacity) {
            keys = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long key) {
            if (size == keys.length) keys = java.util.Arrays.copyOf(keys, size * 2);
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (keys[parent] <= key) break;
                keys[i] = keys[parent];
                i = parent;
            }
            keys[i] = key;
        }

        long pop() {
            long top = keys[0];
            long last = keys[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) break;
                if (child + 1 < size && keys[child + 1] < keys[child]) child++;
                if (keys[child] >= last) break;
                keys[i] = keys[child];
                i = child;
            }
            keys[i] = last;
            return top;
        }
    }
}
