package dev.bitcap.format;

import dev.bitcap.tensor.DType;
import java.util.Set;

/** The safetensors dtype names that map to bitcap's {@link DType}s, and those known but not supported. */
final class SafetensorsDTypes {
    /** Valid safetensors dtypes that bitcap has no element type for. */
    private static final Set<String> UNSUPPORTED = Set.of(
            "F64", "BOOL", "U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4");

    private SafetensorsDTypes() {}

    /** The dtype for a safetensors name, or null if the name is not one bitcap reads. */
    static DType fromName(String name) {
        return switch (name) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            case "I64" -> DType.I64;
            case "I32" -> DType.I32;
            case "I16" -> DType.I16;
            case "I8" -> DType.I8;
            case "U8" -> DType.U8;
            default -> null;
        };
    }

    static boolean isKnownButUnsupported(String name) {
        return UNSUPPORTED.contains(name);
    }

    /** The safetensors name of {@code dtype}, or null for the block-quantized types safetensors cannot hold. */
    static String nameOf(DType dtype) {
        return switch (dtype) {
            case F32, F16, BF16, I64, I32, I16, I8, U8 -> dtype.name();
            case Q8_0, Q4_0 -> null;
        };
    }
}
