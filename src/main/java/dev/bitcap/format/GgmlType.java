package dev.bitcap.format;

import dev.bitcap.tensor.DType;

/** GGML tensor type numbers as stored in GGUF, and which of them bitcap reads. */
final class GgmlType {
    /** Names of ggml's type numbers 0..39, for error messages; null where the number is unused. */
    private static final String[] NAMES = {
        "F32", "F16", "Q4_0", "Q4_1", null, null, "Q5_0", "Q5_1", "Q8_0", "Q8_1",
        "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
        "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
        "BF16", null, null, null, "TQ1_0", "TQ2_0", null, null, null, "MXFP4",
    };

    private GgmlType() {}

    /** The dtype for a ggml type number, or null if bitcap cannot read that type. */
    static DType dtypeOf(int type) {
        return switch (type) {
            case 0 -> DType.F32;
            case 1 -> DType.F16;
            case 2 -> DType.Q4_0;
            case 8 -> DType.Q8_0;
            case 24 -> DType.I8;
            case 25 -> DType.I16;
            case 26 -> DType.I32;
            case 27 -> DType.I64;
            case 30 -> DType.BF16;
            default -> null;
        };
    }

    /** The ggml type number of {@code dtype}, or -1 for U8, which ggml has no type for. */
    static int codeOf(DType dtype) {
        return switch (dtype) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 8;
            case I8 -> 24;
            case I16 -> 25;
            case I32 -> 26;
            case I64 -> 27;
            case BF16 -> 30;
            case U8 -> -1;
        };
    }

    /** "12 (Q4_K)" for a known number, "77" otherwise. */
    static String describe(long type) {
        String name = type >= 0 && type < NAMES.length ? NAMES[(int) type] : null;
        return name == null ? Long.toString(type) : type + " (" + name + ")";
    }
}
