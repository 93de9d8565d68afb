package dev.bitcap.quant;

/**
 * The portable kernel: any format, any vector width. Each group's decoded values are tabulated once with
 * {@link QuantFormat#decode}; the dot product is a plain left-to-right float sum. Slow; used where no vector
 * kernel applies (fewer than 16 float lanes, a format without a {@link DecodeTable}, a non-affine 8-bit format).
 */
final class PackedScalarRows extends PackedRowKernel {
    private final QuantFormat format;
    private final int bits, realCols, groupSize;

    PackedScalarRows(QuantizedTensor t) {
        super(t);
        this.format = t.format();
        this.bits = format.codeBits();
        this.realCols = t.colsInt();
        this.groupSize = t.groupSize();
    }

    @Override
    public float dot1(int row, float[] x, int xOff) {
        float[] out = new float[1];
        dot(row, x, xOff, 0, 1, out);
        return out[0];
    }

    @Override
    public void dot4(int row, float[] x, int xOff, int stride, float[] out) {
        dot(row, x, xOff, stride, 4, out);
    }

    private void dot(int row, float[] x, int xOff, int stride, int n, float[] out) {
        long base = row * rowBytes, pBase = row * paramRowBytes;
        float[] p = new float[paramCount], table = new float[1 << bits];
        float[] s = new float[n];
        for (int g = 0; g < groups; g++) {
            for (int k = 0; k < paramCount; k++) p[k] = param(pBase, g, k);
            for (int c = 0; c < table.length; c++) table[c] = format.decode(c, p, 0);
            int end = Math.min(realCols, (g + 1) * groupSize);
            for (int c = g * groupSize; c < end; c++) {
                float w = table[PackedCodes.code(codes, bits, base, c)];
                for (int t = 0; t < n; t++) s[t] += w * x[xOff + t * stride + c];
            }
        }
        System.arraycopy(s, 0, out, 0, n);
    }
}
