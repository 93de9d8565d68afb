package dev.bitcap.cap;

/**
 * One cell of the benchmark's matrix: how the weights are stored and made, the KV-cache format and the device.
 * Everything is a name, so configurations that this build cannot run yet (a format, method, KV format or device
 * another part of bitcap will add) are recorded as skipped rather than refused.
 *
 * @param format weight format: {@code f32} (unquantized) or a registered quantization format ({@code int4-asym}, {@code binary}, ...)
 * @param method how the codes are chosen: {@code rtn}, {@code clip}, {@code gptq}, {@code awq}, {@code stbllm}, ... (ignored for f32)
 * @param group  input columns per quantization group, -1 for per channel
 * @param nm     N:M sparsity for binary methods (e.g. {@code 4:8}), or null
 */
public record CapConfiguration(String format, String method, int group, String nm, String kv, String device) {
    public boolean quantized() {
        return !format.equals("f32");
    }

    /** A short name: {@code int4-asym rtn g32 | kv f32 | cpu}. */
    public String name() {
        String weights = quantized() ? format + " " + method + (nm != null ? " " + nm : "") + (group > 0 ? " g" + group : "") : "f32";
        return weights + " | kv " + kv + " | " + device;
    }
}
