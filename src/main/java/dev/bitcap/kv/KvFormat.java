package dev.bitcap.kv;

import dev.bitcap.BitcapException;

/** How a KV cache stores its numbers: fp32 rows, fp16 rows, or asymmetric integer codes of 4 or 2 bits. */
public enum KvFormat {
    F32(32), FP16(16), INT4(4), INT2(2);

    private final int bits;

    KvFormat(int bits) {
        this.bits = bits;
    }

    /** Bits per stored key or value, not counting group parameters. */
    public int bits() {
        return bits;
    }

    public boolean quantized() {
        return this == INT4 || this == INT2;
    }

    /** The name used by {@code --kv}. */
    public String flagName() {
        return name().toLowerCase();
    }

    public static KvFormat parse(String s) {
        for (KvFormat f : values()) {
            if (f.flagName().equals(s)) return f;
        }
        throw new BitcapException("unknown --kv '" + s + "' (valid: f32, fp16, int4, int2)");
    }
}
