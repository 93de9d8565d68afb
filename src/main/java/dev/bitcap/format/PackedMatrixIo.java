package dev.bitcap.format;

import dev.bitcap.BitcapException;
import dev.bitcap.quant.GroupQuantized;
import dev.bitcap.quant.PackedCodes;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Stores a {@link QuantizedTensor} as safetensors entries and maps it back, as {@link QuantizationConfig} describes. */
public final class PackedMatrixIo {
    public static final String CODES = ".qcodes";
    public static final String PARAMS = ".qparams";
    public static final String INPUT_SCALE = ".qinput_scale";

    private PackedMatrixIo() {}

    public static boolean isPacked(TensorSource source, String name) {
        return source.contains(name + CODES);
    }

    /** The entries that hold matrix {@code name}. */
    public static List<TensorSpec> specs(String name, QuantizedTensor q) {
        int rows = (int) q.rows(), cols = (int) q.cols();
        int groups = GroupQuantized.groupsPerRow(cols, q.groupSize());
        List<TensorSpec> specs = new ArrayList<>();
        specs.add(new TensorSpec(name + CODES, DType.U8, new long[] {rows, PackedCodes.rowBytes(q.format().codeBits(), cols)}));
        specs.add(new TensorSpec(name + PARAMS, DType.F16, new long[] {rows, (long) groups * q.format().paramCount()}));
        if (q.inputScale() != null) specs.add(new TensorSpec(name + INPUT_SCALE, DType.F32, new long[] {cols}));
        return specs;
    }

    /** Writes the bytes of entry {@code spec} (one of {@link #specs}) into {@code target}. */
    public static void fill(TensorSpec spec, QuantizedTensor q, MemorySegment target) {
        if (spec.name().endsWith(CODES)) {
            target.copyFrom(q.codes());
        } else if (spec.name().endsWith(PARAMS)) {
            target.copyFrom(q.params());
        } else if (spec.name().endsWith(INPUT_SCALE)) {
            MemorySegment.copy(q.inputScale(), 0, target, Tensor.F32_LE, 0, q.inputScale().length);
        } else {
            throw new IllegalArgumentException(spec.name() + " is not an entry of a packed matrix");
        }
    }

    /** Matrix {@code name} [rows, cols] over the mapped entries of {@code source} (not copied). */
    public static QuantizedTensor read(TensorSource source, String name, QuantizationConfig qc, int rows, int cols, String origin) {
        Tensor codes = source.tensor(name + CODES);
        Tensor params = source.tensor(name + PARAMS);
        int groupSize = qc.groupSize() == -1 ? cols : qc.groupSize();
        long rowBytes = PackedCodes.rowBytes(qc.format().codeBits(), cols);
        long paramCols = (long) GroupQuantized.groupsPerRow(cols, groupSize) * qc.format().paramCount();
        expect(codes, DType.U8, new long[] {rows, rowBytes}, name + CODES, origin);
        expect(params, DType.F16, new long[] {rows, paramCols}, name + PARAMS, origin);
        float[] inputScale = null;
        if (source.contains(name + INPUT_SCALE)) {
            Tensor s = source.tensor(name + INPUT_SCALE);
            expect(s, DType.F32, new long[] {cols}, name + INPUT_SCALE, origin);
            inputScale = s.toFloatArray();
        }
        return new QuantizedTensor(qc.format(), rows, cols, qc.groupSize(), codes.data(), params.data(), inputScale);
    }

    private static void expect(Tensor t, DType dtype, long[] shape, String name, String origin) {
        if (t.dtype() != dtype || !Arrays.equals(t.shape(), shape)) {
            throw new BitcapException(origin + ": tensor " + name + " is " + t + " but the quantization config and model shape imply "
                    + dtype + Arrays.toString(shape));
        }
    }
}
