package dev.bitcap.quant;

/**
 * AFPQ's asymmetric code-book format ({@code afp4 afp3 anf4 anf3}): two fp16 scales per group, stored in the
 * order s+, s-, with s+ = hi / c_max for the non-negative table entries and s- = |lo| / c_max for the negative
 * ones (both non-negative). Code i stands for table[i] * (table[i] < 0 ? s- : s+); encoding picks the nearest
 * decoded value (ties to the lower code). A group with no positive weight gets s+ = 0: its positive codes decode
 * to 0 and are never chosen (the zero code is lower); likewise s- = 0 without negative weights.
 */
final class TwoScaleCodebookFormat implements QuantFormat, DecodeTable.Source {
    private final String name;
    private final Codebook book;
    private final DecodeTable table;

    TwoScaleCodebookFormat(String name, Codebook book) {
        this.name = name;
        this.book = book;
        this.table = book.table(true);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int codeBits() {
        return book.bits;
    }

    @Override
    public int paramCount() {
        return 2;
    }

    @Override
    public void fit(float[] w, int off, int len, float lo, float hi, float[] params, int pOff) {
        params[pOff] = Fp16.round(Math.max(0, hi) / book.maxPositive);
        params[pOff + 1] = Fp16.round(Math.max(0, -lo) / book.maxNegative);
    }

    @Override
    public int encode(float w, float[] params, int pOff) {
        return book.nearest(w, params[pOff + 1], params[pOff]);
    }

    @Override
    public float decode(int code, float[] params, int pOff) {
        return book.decode(code, params[pOff + 1], params[pOff]);
    }

    @Override
    public DecodeTable decodeTable() {
        return table;
    }
}
