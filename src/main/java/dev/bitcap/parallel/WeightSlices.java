package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Cuts a rank's part out of a weight matrix. A block of rows is a view of the mapped file (rows are contiguous); a
 * block of columns is not contiguous, so it is copied, in the stored dtype, into memory this rank owns: each rank then
 * holds 1/tp of those matrices, never the whole model. Packed quantized matrices are not split (their groups and
 * packing would have to be cut too).
 */
final class WeightSlices {
    private WeightSlices() {}

    /** Rows {@code [start, start + count)}: a view. */
    static Tensor rows(WeightMatrix m, long start, long count, String what) {
        Tensor t = dense(m, what);
        return t.reshape(t.rows(), t.cols()).slice(start, count);
    }

    /** Columns {@code [start, start + count)} of every row, copied into {@code arena}. */
    static Tensor columns(WeightMatrix m, long start, long count, Arena arena, String what) {
        Tensor t = dense(m, what);
        DType dt = t.dtype();
        if (start % dt.blockSize() != 0 || count % dt.blockSize() != 0) {
            throw new BitcapException("--tp cannot cut " + what + " (" + dt + ", blocks of " + dt.blockSize() + ") at columns " + start
                    + ".." + (start + count) + ": the split must fall on block boundaries");
        }
        long rows = t.rows();
        long rowBytes = dt.byteSize(t.cols()), from = dt.byteSize(start), len = dt.byteSize(count);
        MemorySegment out = arena.allocate(rows * len, 64);
        for (long r = 0; r < rows; r++) MemorySegment.copy(t.data(), r * rowBytes + from, out, r * len, len);
        return new Tensor(dt, out, rows, count);
    }

    static float[] range(float[] v, int start, int count) {
        return v == null ? null : java.util.Arrays.copyOfRange(v, start, start + count);
    }

    private static Tensor dense(WeightMatrix m, String what) {
        if (m instanceof Tensor t) return t;
        throw new BitcapException("--tp splits dense and GGML-block weights only; " + what + " is stored as " + m.storage()
                + " (run quantized checkpoints with --ep or on one rank)");
    }
}
