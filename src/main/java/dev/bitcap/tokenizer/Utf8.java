package dev.bitcap.tokenizer;

/**
 * UTF-8 decoding that never fails: each ill-formed part becomes one U+FFFD, using the "maximal subpart" rule
 * of the Unicode standard (the rule Rust's {@code String::from_utf8_lossy} follows, so text matches Hugging Face).
 */
final class Utf8 {
    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {}

    static String decodeLossy(byte[] bytes) {
        return decodeLossy(bytes, 0, bytes.length);
    }

    static String decodeLossy(byte[] bytes, int offset, int length) {
        StringBuilder out = new StringBuilder(length);
        decodeInto(bytes, offset, length, out);
        return out.toString();
    }

    /** True when the bytes form well-formed UTF-8. */
    static boolean isValid(byte[] bytes, int offset, int length) {
        return decodeInto(bytes, offset, length, new StringBuilder(length));
    }

    /** Decodes into out; returns false when some part was ill-formed and replaced. */
    private static boolean decodeInto(byte[] bytes, int offset, int length, StringBuilder out) {
        boolean wellFormed = true;
        int i = offset, end = offset + length;
        while (i < end) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
                continue;
            }
            int need;
            int lo = 0x80, hi = 0xBF; // allowed range of the second byte
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                if (b0 == 0xE0) lo = 0xA0;
                if (b0 == 0xED) hi = 0x9F;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                if (b0 == 0xF0) lo = 0x90;
                if (b0 == 0xF4) hi = 0x8F;
            } else {
                out.append(REPLACEMENT);
                wellFormed = false;
                i++;
                continue;
            }
            int codePoint = b0 & (0x3F >> need);
            int j = 1;
            boolean ok = true;
            for (; j <= need; j++) {
                if (i + j >= end) {
                    ok = false;
                    break;
                }
                int b = bytes[i + j] & 0xFF;
                int min = j == 1 ? lo : 0x80, max = j == 1 ? hi : 0xBF;
                if (b < min || b > max) {
                    ok = false;
                    break;
                }
                codePoint = (codePoint << 6) | (b & 0x3F);
            }
            if (ok) {
                out.appendCodePoint(codePoint);
                i += need + 1;
            } else {
                out.append(REPLACEMENT);
                wellFormed = false;
                i += j; // the lead byte and the continuation bytes that were valid so far
            }
        }
        return wellFormed;
    }
}
