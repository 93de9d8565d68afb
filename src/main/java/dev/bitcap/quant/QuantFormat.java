package dev.bitcap.quant;

/**
 * A weight format for group-wise quantization: how a group of weights (consecutive input columns of one output row)
 * becomes small integer codes plus a few fp16 parameters, and back. One class per format, registered by name in
 * {@link QuantFormats}. Algorithms (RTN, clipping search, GPTQ, AWQ) only use {@link #fit}, {@link #encode} and
 * {@link #decode}; the packed layout and the kernels that read it depend only on {@link #codeBits()} and on the
 * per-group table of {@link #decode} values, so one kernel serves every format of a bit width.
 */
public interface QuantFormat {
    /** The registered name, e.g. {@code int4-asym}, {@code afp4}, {@code nf3}. */
    String name();

    /** Bits per stored code: 2, 3, 4 or 8. */
    int codeBits();

    /** fp16 parameters stored per group (1 for symmetric formats, 2 for asymmetric ones). */
    int paramCount();

    /**
     * Fits this group's parameters to {@code w[off .. off+len)} with the range clipped to {@code [lo, hi]}
     * ({@code lo <= 0 <= hi}; pass the group's min and max for no clipping). Writes {@link #paramCount()} values,
     * each already rounded to fp16, into {@code params[pOff ..]}. Must give usable parameters for every group:
     * all zero, constant, or all of one sign.
     */
    void fit(float[] w, int off, int len, float lo, float hi, float[] params, int pOff);

    /** The code nearest to {@code w} under the given parameters (ties to the lower code value). */
    int encode(float w, float[] params, int pOff);

    /** The value code {@code code} stands for under the given parameters. */
    float decode(int code, float[] params, int pOff);
}
