package dev.bitcap.cap;

/**
 * The precision label the public MoE-CAP code would give a bitcap weight format, and the bytes per parameter it
 * uses for it (for weights and KV alike). Its table: fp32 4; fp16/bf16 2; int8/fp8 1; int4, fp4, awq, gptq, mxfp4,
 * nvfp4 0.5; anything else 2. The label comes from the quantization method when that is gptq or awq (the code reads
 * {@code quant_method}), so a 2-bit GPTQ model counts as half a byte, and a format it has no row for (int2, int3,
 * nf4, binary) as two bytes: both are its quirks, kept here so that figures compare with its.
 */
public final class MoeCapPrecision {
    private MoeCapPrecision() {}

    public static String label(String format, String method) {
        if (format.equals("f32")) return "fp32";
        if (format.equals("f16")) return "fp16";
        if (format.equals("bf16")) return "bf16";
        if (method != null && (method.equals("gptq") || method.equals("awq"))) return method;
        if (format.startsWith("int8")) return "int8";
        if (format.startsWith("int4")) return "int4";
        if (format.equals("fp4") || format.equals("afp4")) return "fp4";
        return format;
    }

    public static double bytesPerParam(String label) {
        return switch (label) {
            case "fp32" -> 4;
            case "fp16", "bf16" -> 2;
            case "int8", "fp8" -> 1;
            case "int4", "fp4", "awq", "gptq", "mxfp4", "nvfp4" -> 0.5;
            default -> 2;
        };
    }
}
