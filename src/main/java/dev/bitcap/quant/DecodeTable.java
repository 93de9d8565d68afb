package dev.bitcap.quant;

/**
 * How a kernel builds the table of a group's decoded values from its (at most two) fp16 parameters p0, p1, with
 * the same float arithmetic as {@link QuantFormat#decode}, so that table and decode agree bit for bit:
 * <ul>
 * <li>{@code zeroPoint}: value(c) = (a[c] - p1) * p0 (INT-asym: p0 = scale, p1 = integer zero point);</li>
 * <li>otherwise: value(c) = fma(b[c], p1, a[c] * p0), where for every c at most one of a[c], b[c] is non-zero
 *     (one-scale formats: b = 0; two-scale formats: a holds the non-negative entries, b the negative ones).</li>
 * </ul>
 * Both arrays have 2^codeBits entries; codes a format never produces hold 0.
 */
public record DecodeTable(float[] a, float[] b, boolean zeroPoint) {
    /** Formats whose decoded values follow a {@link DecodeTable}; the fast kernels need one. */
    public interface Source {
        DecodeTable decodeTable();
    }

    /** Value of {@code code} for parameters p0, p1 (the scalar form of what the kernels compute in lanes). */
    float value(int code, float p0, float p1) {
        return zeroPoint ? (a[code] - p1) * p0 : Math.fma(b[code], p1, a[code] * p0);
    }
}
