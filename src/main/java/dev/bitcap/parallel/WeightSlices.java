package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.quant.GroupQuantized;
import dev.bitcap.quant.PackedCodes;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Cuts a rank's part out of a weight matrix. A block of rows is a view of the mapped file (rows are contiguous, in a
 * dense tensor and in a packed quantized one alike); a block of columns is not contiguous, so it is copied, in the
 * stored form, into memory this rank owns: each rank then holds 1/tp of those matrices, never the whole model.
 * Column cuts must fall on the storage's own boundaries (GGML blocks; quantization groups and 32-code units).
 */
final class WeightSlices {
    private WeightSlices() {}

    /** Rows {@code [start, start + count)}: a view. */
    static WeightMatrix rows(WeightMatrix m, long start, long count, String what) {
        if (m instanceof QuantizedTensor q) {
            int cols = (int) q.cols(), pc = q.format().paramCount();
            long rowBytes = PackedCodes.rowBytes(q.format().codeBits(), cols);
            long paramBytes = 2L * GroupQuantized.groupsPerRow(cols, q.groupSize()) * pc;
            return new QuantizedTensor(q.format(), (int) count, cols, q.groupSize(), q.codes().asSlice(start * rowBytes, count * rowBytes),
                    q.params().asSlice(start * paramBytes, count * paramBytes), q.inputScale());
        }
        Tensor t = dense(m, what);
        return t.reshape(t.rows(), t.cols()).slice(start, count);
    }

    /** Columns {@code [start, start + count)} of every row, copied into {@code arena}. */
    static WeightMatrix columns(WeightMatrix m, long start, long count, Arena arena, String what) {
        if (m instanceof QuantizedTensor q) return quantizedColumns(q, (int) start, (int) count, arena, what);
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

    /**
     * The codes of whole 32-code units and the parameters of whole groups: a cut on a group boundary (or, per
     * channel, on a unit boundary, the row's parameters kept) decodes to exactly the same weights.
     */
    private static QuantizedTensor quantizedColumns(QuantizedTensor q, int start, int count, Arena arena, String what) {
        int cols = (int) q.cols(), rows = (int) q.rows(), bits = q.format().codeBits(), pc = q.format().paramCount();
        int group = q.groupSize();
        boolean perChannel = group == cols, toEnd = start + count == cols;
        boolean unitsOk = start % 32 == 0 && (count % 32 == 0 || toEnd);
        boolean groupsOk = perChannel || (start % group == 0 && (count % group == 0 || toEnd));
        if (!unitsOk || !groupsOk) {
            throw new BitcapException("--tp cannot cut " + what + " (" + q.storage() + ") at columns " + start + ".." + (start + count)
                    + ": the split must fall on its " + (perChannel ? "" : "groups of " + group + " and its ") + "units of 32 codes");
        }
        long rowBytes = PackedCodes.rowBytes(bits, cols), from = start / 32 * 4L * bits, len = PackedCodes.rowBytes(bits, count);
        int groups = GroupQuantized.groupsPerRow(cols, group);
        int firstGroup = perChannel ? 0 : start / group, ownGroups = perChannel ? 1 : GroupQuantized.groupsPerRow(count, group);
        long groupBytes = 2L * pc;
        MemorySegment codes = arena.allocate((long) rows * len, 64), params = arena.allocate(rows * ownGroups * groupBytes, 64);
        for (long r = 0; r < rows; r++) {
            MemorySegment.copy(q.codes(), r * rowBytes + from, codes, r * len, len);
            MemorySegment.copy(q.params(), (r * groups + firstGroup) * groupBytes, params, r * ownGroups * groupBytes, ownGroups * groupBytes);
        }
        float[] scale = q.inputScale();
        return new QuantizedTensor(q.format(), rows, count, perChannel ? -1 : group, codes, params,
                scale == null ? null : java.util.Arrays.copyOfRange(scale, start, start + count));
    }

    static float[] range(float[] v, int start, int count) {
        return v == null ? null : java.util.Arrays.copyOfRange(v, start, start + count);
    }

    private static Tensor dense(WeightMatrix m, String what) {
        if (m instanceof Tensor t) return t;
        throw new BitcapException("--tp splits dense, GGML-block and group-quantized weights only; " + what + " is stored as " + m.storage()
                + " (run it with --ep or on one rank)");
    }
}
