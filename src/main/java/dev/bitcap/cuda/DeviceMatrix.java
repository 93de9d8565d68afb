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
        DecodeTable table = ((DecodeTable.Source) q.format()).decodeTable();
        int bits = q.format().codeBits(), codes = 1 << bits;
        int rows = (int) q.rows(), cols = (int) q.cols();
        int units = (cols + 31) / 32;
        int groups = GroupQuantized.groupsPerRow(cols, q.groupSize());
        int unitsPerGroup = groups == 1 ? units : q.groupSize() / 32;
        float[] t = new float[2 * codes];
        System.arraycopy(table.a(), 0, t, 0, codes);
        System.arraycopy(table.b(), 0, t, codes, codes);
        long tablePtr = floats(device, t);
        float[] scale = q.inputScale();
        long scalePtr = scale == null ? 0 : floats(device, scale);
        Packed p = new Packed(q.storage(), bits, table.zeroPoint(), q.format().paramCount(), unitsPerGroup, groups, device.upload(q.params()),
                tablePtr, scalePtr, isAffine(table), (int) table.a()[0]);
        return new DeviceMatrix(device.upload(q.codes()), DType.U8, rows, cols, 4L * bits * units, p);
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
