package dev.bitcap.kv;

import dev.bitcap.BitcapException;

/**
 * The KV cache a run asked for: format, group size g and key grouping. Groups over channels hold
 * {@code min(g, headDim)} channels, so models with small heads (8 or 16) get channel groups of the head dim.
 */
public record KvSpec(KvFormat format, int group, KeyGrouping keys) {
    public static final KvSpec F32 = new KvSpec(KvFormat.F32, 32, KeyGrouping.CHANNEL);

    /** Codes are packed in runs of whole bytes, and the CPU decoder unpacks 8 at a time. */
    static final int RUN_MULTIPLE = 8;

    public KvSpec {
        if (group != 32 && group != 64 && group != 128) {
            throw new BitcapException("--kv-group must be 32, 64 or 128, got " + group);
        }
    }

    /** Channels in one group of a per-token group (a value row, or a key row with --kv-key token). */
    public int channelGroup(int headDim) {
        return Math.min(group, headDim);
    }

    /** True when {@code channelGroup(headDim) < group}: the report says so. */
    public boolean channelGroupCapped(int headDim) {
        return format.quantized() && headDim < group;
    }

    /** Throws a one-line error when this format cannot store heads of {@code headDim} channels. */
    public void checkHeadDim(int headDim) {
        if (headDim < 1) throw new BitcapException("head dim must be positive, got " + headDim);
        if (!format.quantized()) return;
        int cg = channelGroup(headDim);
        if (cg % RUN_MULTIPLE != 0 || headDim % cg != 0) {
            throw new BitcapException("--kv " + format.flagName() + " --kv-group " + group + " cannot store head dim " + headDim
                    + ": channel groups of " + cg + " must divide it and be a multiple of " + RUN_MULTIPLE
                    + (headDim % RUN_MULTIPLE == 0 ? " (try --kv-group 32)" : " (use --kv fp16 or f32)"));
        }
    }

    /** E.g. "int4 g32, keys per channel", or "fp16". */
    public String describe(int headDim) {
        if (!format.quantized()) return format.flagName();
        String s = format.flagName() + " g" + group + ", keys per " + keys.flagName();
        if (channelGroupCapped(headDim)) s += " (channel groups capped at head dim " + headDim + ")";
        return s;
    }
}
