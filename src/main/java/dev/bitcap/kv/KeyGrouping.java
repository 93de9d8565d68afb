package dev.bitcap.kv;

import dev.bitcap.BitcapException;

/**
 * Which way quantized keys are grouped: per channel (one scale and minimum per channel over g consecutive tokens,
 * which follows the outlier channels keys have) or per token (over g consecutive channels of one token, as values
 * always are).
 */
public enum KeyGrouping {
    CHANNEL, TOKEN;

    public String flagName() {
        return name().toLowerCase();
    }

    public static KeyGrouping parse(String s) {
        for (KeyGrouping k : values()) {
            if (k.flagName().equals(s)) return k;
        }
        throw new BitcapException("unknown --kv-key '" + s + "' (valid: channel, token)");
    }
}
