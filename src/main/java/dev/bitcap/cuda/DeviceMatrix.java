package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.quant.DecodeTable;
import dev.bitcap.quant.GroupQuantized;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;
import java.util.Arrays;
import java.util.List;

/**
 * A weight matrix copied to the device in its stored bytes: W [rows, cols] row-major, {@code rowBytes} per row.
 * Dense tensors keep their dtype; packed quantized matrices ({@link QuantizedTensor}) keep their codes (type U8)
 * and carry their parameters, decode table and input scale in {@link Packed}; binary matrices ({@link BinaryTensor})
 * keep their sign plane at {@code pointer} (type U8) and the other planes in {@link Binary}.
 */
public record DeviceMatrix(long pointer, DType type, int rows, int cols, long rowBytes, Packed packed, Binary binary) {
    /** A dense or packed matrix. */
    public DeviceMatrix(long pointer, DType type, int rows, int cols, long rowBytes, Packed packed) {
        this(pointer, type, rows, cols, rowBytes, packed, null);
    }

    /**
     * A binary matrix's other planes on the device (quant/BinaryLayout): states, fp16 block parameters, the salient
     * bitmap, and the pattern (kept per 8, regions, state bits).
     */
    public record Binary(String storage, long states, long params, long salient, int keptPer8, int regions, int stateBits) {
        long bytes(int rows, int cols) {
            return rows * BinaryLayout.stateBytesPerRow(cols, stateBits)
                    + 2L * rows * BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(regions) + BinaryLayout.salientBytes(cols);
        }
    }
    /**
     * A packed matrix's extras on the device: fp16 parameters, the decode table (a then b, 2^bits floats each), the
     * input scale (0: none), and the shape of its groups.
     */
    public record Packed(String storage, int bits, boolean zeroPoint, int paramCount, int unitsPerGroup, int groups, long params,
                         long table, long inputScale, boolean affine, int affineOffset) {}

    /**
     * Whether the table is a[c] = c + a[0] with b = 0 (the INT formats): then kernels decode by arithmetic, which gives
     * the same floats as the table since these values are small integers.
     */
    static boolean isAffine(DecodeTable t) {
        float a0 = t.a()[0];
        if (a0 != Math.rint(a0)) return false;
        for (int c = 0; c < t.a().length; c++) {
            if (t.b()[c] != 0 || t.a()[c] != c + a0) return false;
        }
        return true;
    }

    /** Whether the CUDA kernels can read {@code m} as stored. */
    public static boolean supported(WeightMatrix m) {
        if (m instanceof Tensor t) return CudaMatMul.weightType(t.dtype()) >= 0;
        if (m instanceof BinaryTensor) return true;
        return m instanceof QuantizedTensor q && q.format() instanceof DecodeTable.Source;
    }

    /** Uploads {@code m} once; a storage the kernels cannot read is a one-line error naming it. */
    public static DeviceMatrix upload(CudaDevice device, WeightMatrix m) {
        if (!supported(m)) {
            throw new BitcapException("the CUDA backend cannot run " + m.storage()
                    + " weights yet (it runs F32, F16, BF16, Q8_0, Q4_0, the packed formats with a decode table and binary)");
        }
        if (m instanceof QuantizedTensor q) return packed(device, q);
        if (m instanceof BinaryTensor b) return binary(device, b);
        Tensor t = (Tensor) m;
        int rows = Math.toIntExact(t.rows()), cols = Math.toIntExact(t.cols());
        return new DeviceMatrix(device.upload(t.data()), t.dtype(), rows, cols, t.dtype().byteSize(cols), null);
    }

    private static DeviceMatrix packed(CudaDevice device, QuantizedTensor q) {
        Packed p = packedExtras(device, q, device.upload(q.params()));
        return new DeviceMatrix(device.upload(q.codes()), DType.U8, (int) q.rows(), (int) q.cols(), 4L * p.bits() * ((q.cols() + 31) / 32), p);
    }

    /** {@code q}'s decode table and input scale uploaded, with its group shape and parameters at {@code params}. */
    private static Packed packedExtras(CudaDevice device, QuantizedTensor q, long params) {
        DecodeTable table = ((DecodeTable.Source) q.format()).decodeTable();
        int bits = q.format().codeBits(), codes = 1 << bits;
        int cols = (int) q.cols();
        int units = (cols + 31) / 32;
        int groups = GroupQuantized.groupsPerRow(cols, q.groupSize());
        int unitsPerGroup = groups == 1 ? units : q.groupSize() / 32;
        float[] t = new float[2 * codes];
        System.arraycopy(table.a(), 0, t, 0, codes);
        System.arraycopy(table.b(), 0, t, codes, codes);
        long tablePtr = floats(device, t);
        float[] scale = q.inputScale();
        long scalePtr = scale == null ? 0 : floats(device, scale);
        return new Packed(q.storage(), bits, table.zeroPoint(), q.format().paramCount(), unitsPerGroup, groups, params, tablePtr, scalePtr,
                isAffine(table), (int) table.a()[0]);
    }

    /**
     * {@code parts} stacked into one matrix (rows of the first, then of the second, ...) so that one GEMV computes
     * what several would: q, k and v of an attention block, gate and up of an MLP. Null when they cannot share one
     * storage: dense tensors of different dtypes or widths, packed matrices of different formats, groups, decode
     * tables or input scales, binary matrices, or a matrix the kernels cannot read.
     */
    public static DeviceMatrix uploadStacked(CudaDevice device, List<? extends WeightMatrix> parts) {
        if (parts.isEmpty() || !parts.stream().allMatch(DeviceMatrix::supported)) return null;
        WeightMatrix first = parts.get(0);
        int rows = 0;
        for (WeightMatrix m : parts) {
            if (m.cols() != first.cols() || !stackable(first, m)) return null;
            rows += (int) m.rows();
        }
        if (first instanceof Tensor t) {
            long rowBytes = t.dtype().byteSize((int) t.cols());
            for (WeightMatrix m : parts) if (((Tensor) m).data().byteSize() != rowBytes * m.rows()) return null; // a view into more
            long p = device.alloc(rowBytes * rows), at = p;
            for (WeightMatrix m : parts) {
                device.upload(at, ((Tensor) m).data());
                at += rowBytes * m.rows();
            }
            return new DeviceMatrix(p, t.dtype(), rows, (int) t.cols(), rowBytes, null);
        }
        QuantizedTensor q = (QuantizedTensor) first;
        long rowBytes = 4L * q.format().codeBits() * ((q.cols() + 31) / 32);
        int groups = GroupQuantized.groupsPerRow((int) q.cols(), q.groupSize());
        for (WeightMatrix m : parts) {
            QuantizedTensor part = (QuantizedTensor) m;
            if (part.codes().byteSize() != rowBytes * part.rows() || part.params().byteSize() != 2L * part.rows() * groups * q.format().paramCount()) {
                return null; // not the plain [rows] layout the offsets below assume
            }
        }
        long codes = device.alloc(rowBytes * rows), params = device.alloc(parts.stream().mapToLong(m -> ((QuantizedTensor) m).params().byteSize()).sum());
        long codesAt = codes, paramsAt = params;
        for (WeightMatrix m : parts) {
            QuantizedTensor part = (QuantizedTensor) m;
            device.upload(codesAt, part.codes());
            device.upload(paramsAt, part.params());
            codesAt += part.codes().byteSize();
            paramsAt += part.params().byteSize();
        }
        return new DeviceMatrix(codes, DType.U8, rows, (int) q.cols(), rowBytes, packedExtras(device, q, params));
    }

    static boolean stackable(WeightMatrix a, WeightMatrix b) {
        if (a instanceof Tensor ta && b instanceof Tensor tb) return ta.dtype() == tb.dtype();
        if (a instanceof QuantizedTensor qa && b instanceof QuantizedTensor qb) {
            DecodeTable x = ((DecodeTable.Source) qa.format()).decodeTable(), y = ((DecodeTable.Source) qb.format()).decodeTable();
            return qa.storage().equals(qb.storage()) && qa.format().codeBits() == qb.format().codeBits()
                    && qa.format().paramCount() == qb.format().paramCount() && qa.groupSize() == qb.groupSize()
                    && Arrays.equals(x.a(), y.a()) && Arrays.equals(x.b(), y.b()) && x.zeroPoint() == y.zeroPoint()
                    && Arrays.equals(qa.inputScale(), qb.inputScale());
        }
        return false;
    }

    /** Rows [start, start + count) of this matrix as a view of its memory (freed with the whole, never on its own). */
    public DeviceMatrix rowSlice(int start, int count) {
        if (binary != null) throw new IllegalStateException("binary matrices are not sliced");
        if (start < 0 || count < 1 || start + count > rows) throw new IllegalArgumentException("rows " + start + "+" + count + " of " + rows);
        Packed p = packed == null ? null : new Packed(packed.storage, packed.bits, packed.zeroPoint, packed.paramCount, packed.unitsPerGroup,
                packed.groups, packed.params + 2L * start * packed.groups * packed.paramCount, packed.table, packed.inputScale, packed.affine,
                packed.affineOffset);
        return new DeviceMatrix(pointer + start * rowBytes, type, count, cols, rowBytes, p);
    }

    private static DeviceMatrix binary(CudaDevice device, BinaryTensor b) {
        int rows = (int) b.rows(), cols = (int) b.cols();
        Binary extras = new Binary(b.storage(), device.upload(b.states()), device.upload(b.params()), device.upload(b.salient()), b.keptPer8(),
                b.regions(), BinaryLayout.stateBits(b.keptPer8(), b.regions()));
        return new DeviceMatrix(device.upload(b.signs()), DType.U8, rows, cols, BinaryLayout.signBytesPerRow(cols), null, extras);
    }

    private static long floats(CudaDevice device, float[] v) {
        long p = device.alloc(4L * v.length);
        device.upload(p, v, 0, v.length);
        return p;
    }

    /** Bytes at {@code pointer} (codes, or a binary matrix's sign plane). */
    public long bytes() {
        return rowBytes * rows;
    }

    /** Every byte a GEMV reads from this matrix: codes or signs plus parameters (and, for binary, states and bitmap). */
    public long weightBytes() {
        if (binary != null) return bytes() + binary.bytes(rows, cols);
        if (packed != null) return bytes() + 2L * rows * packed.groups() * packed.paramCount();
        return bytes();
    }

    /** Frees this matrix's device memory (codes and, for packed matrices, the extras). */
    public void free(CudaDevice device) {
        device.free(pointer);
        if (packed != null) {
            device.free(packed.params);
            device.free(packed.table);
            if (packed.inputScale != 0) device.free(packed.inputScale);
        }
        if (binary != null) {
            device.free(binary.states);
            device.free(binary.params);
            device.free(binary.salient);
        }
    }
}
