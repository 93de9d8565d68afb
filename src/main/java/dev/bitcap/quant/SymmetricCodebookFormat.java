package dev.bitcap.quant;

/**
 * A code-book format with one fp16 scale per group ({@code fp4 fp3 nf4 nf3}): s = max(|lo|, |hi|) / c_max,
 * code i stands for table[i] * s, encoding picks the nearest decoded value (ties to the lower code).
 * An all-zero group gets s = 0 and decodes to zeros.
 */
final class SymmetricCodebookFormat implements QuantFormat, DecodeTable.Source {
    private final String name;
    private final Codebook book;
    private final DecodeTable table;

    SymmetricCodebookFormat(String name, Codebook book) {
        this.name = name;
        this.book = book;
        this.table = book.table(false);
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
        return 1;
    }

    @Override
    public void fit(float[] w, int off, int len, float lo, float hi, float[] params, int pOff) {
        params[pOff] = Fp16.round(Math.max(-lo, hi) / Math.max(book.maxNegative, book.maxPositive));
    }

    @Override
    public int encode(float w, float[] params, int pOff) {
        return book.nearest(w, params[pOff], params[pOff]);
    }

    @Override
    public float decode(int code, float[] params, int pOff) {
        return book.decode(code, params[pOff], params[pOff]);
    }

    @Override
    public DecodeTable decodeTable() {
        return table;
    }
}
