package dev.bitcap.quant;

/**
 * A matrix quantized group-wise, before packing: one code per weight (row-major, {@code rows x cols}) and the
 * parameters of every group ({@code rows x groups() x format.paramCount()}). A group is {@code groupSize}
 * consecutive input columns of one row; when {@code groupSize} does not divide {@code cols} the last group of
 * each row is shorter. Per-channel quantization is {@code groupSize == cols}.
 */
public record GroupQuantized(QuantFormat format, int rows, int cols, int groupSize, int[] codes, float[] params) {
    public GroupQuantized {
        if (rows <= 0 || cols <= 0 || groupSize <= 0) throw new IllegalArgumentException("bad shape " + rows + "x" + cols + " group " + groupSize);
        if (codes.length != (long) rows * cols) throw new IllegalArgumentException(codes.length + " codes for " + rows + "x" + cols);
        if (params.length != (long) rows * groupsPerRow(cols, groupSize) * format.paramCount()) {
            throw new IllegalArgumentException(params.length + " parameters for " + rows + " rows of " + groupsPerRow(cols, groupSize) + " groups");
        }
    }

    public static int groupsPerRow(int cols, int groupSize) {
        return (cols + groupSize - 1) / groupSize;
    }

    public int groups() {
        return groupsPerRow(cols, groupSize);
    }

    /** The value weight (r, c) stands for. */
    public float dequantize(int r, int c) {
        int p = (r * groups() + c / groupSize) * format.paramCount();
        return format.decode(codes[r * cols + c], params, p);
    }
}
