package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * How long a context each KV format can hold in the device memory left after the weights: bytes per position
 * (every layer and KV head, group parameters included) and the positions per sequence that whole pages of the
 * available bytes give, after each sequence's fp32 ring and a fixed headroom for activations and split buffers.
 */
public final class CudaKvCapacity {
    /** Left for activations, logits, cuBLAS workspace and decode split buffers (batch-1 decode needs far less). */
    public static final long HEADROOM_BYTES = 1L << 30;

    /** One format's figures: bytes per packed position, the pool bytes and pages used, positions per sequence. */
    public record Limit(String format, double bytesPerPosition, long poolBytes, long pages, long positionsPerSequence) {}

    private CudaKvCapacity() {}

    /** The longest context per sequence for {@code spec} when {@code available} bytes are free for the cache. */
    public static Limit limit(KvSpec spec, int layers, int kvHeads, int headDim, long available, int sequences) {
        if (sequences < 1) throw new BitcapException("--batch must be >= 1, got " + sequences);
        long usable = Math.max(0, available - HEADROOM_BYTES);
        if (spec.format() == KvFormat.F32) {
            long perPosition = 2L * Float.BYTES * layers * kvHeads * headDim;
            long positions = usable / sequences / perPosition;
            return new Limit("f32", perPosition, positions * perPosition * sequences, 0, positions);
        }
        CudaKvLayout layout = new CudaKvLayout(spec, layers, kvHeads, headDim);
        long perSequence = Math.max(0, usable / sequences - layout.ringBytes());
        long pages = perSequence / layout.pageBytes();
        return new Limit(spec.format().flagName(), layout.bytesPerToken(), pages * sequences * layout.pageBytes(), pages * sequences,
                pages * CudaKvLayout.PAGE_TOKENS);
    }

    /** f32, fp16, int4 and int2 (the int formats with {@code group} and {@code keys}). */
    public static List<Limit> all(int group, KeyGrouping keys, int layers, int kvHeads, int headDim, long available, int sequences) {
        List<Limit> out = new ArrayList<>();
        for (KvFormat f : new KvFormat[] {KvFormat.F32, KvFormat.FP16, KvFormat.INT4, KvFormat.INT2}) {
            out.add(limit(new KvSpec(f, group, keys), layers, kvHeads, headDim, available, sequences));
        }
        return out;
    }
}
