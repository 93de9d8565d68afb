package dev.bitcap.format;

import dev.bitcap.BitcapException;
import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.BinaryTensor;
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
    public static final String SIGNS = ".qsigns";
    public static final String STATES = ".qstates";
    public static final String SALIENT = ".qsalient";
    public static final String BINARY_INFO = ".qbinary";

    private PackedMatrixIo() {}

    public static boolean isPacked(TensorSource source, String name) {
        return source.contains(name + CODES) || source.contains(name + SIGNS);
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

    /** The entries that hold binary matrix {@code name}. */
    public static List<TensorSpec> specs(String name, BinaryTensor b) {
        int rows = (int) b.rows(), cols = (int) b.cols();
        int bits = BinaryLayout.stateBits(b.keptPer8(), b.regions());
        return List.of(new TensorSpec(name + SIGNS, DType.U8, new long[] {rows, BinaryLayout.signBytesPerRow(cols)}),
                new TensorSpec(name + STATES, DType.U8, new long[] {rows, BinaryLayout.stateBytesPerRow(cols, bits)}),
                new TensorSpec(name + PARAMS, DType.F16, new long[] {rows, (long) BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(b.regions())}),
                new TensorSpec(name + SALIENT, DType.U8, new long[] {BinaryLayout.salientBytes(cols)}),
                new TensorSpec(name + BINARY_INFO, DType.I32, new long[] {2}));
    }

    /** Writes the bytes of binary entry {@code spec} (one of {@link #specs(String, BinaryTensor)}) into {@code target}. */
    public static void fill(TensorSpec spec, BinaryTensor b, MemorySegment target) {
        String n = spec.name();
        if (n.endsWith(SIGNS)) {
            target.copyFrom(b.signs());
        } else if (n.endsWith(STATES)) {
            target.copyFrom(b.states());
        } else if (n.endsWith(PARAMS)) {
            target.copyFrom(b.params());
        } else if (n.endsWith(SALIENT)) {
            target.copyFrom(b.salient());
        } else if (n.endsWith(BINARY_INFO)) {
            MemorySegment.copy(new int[] {b.keptPer8(), b.regions()}, 0, target, I32_LE, 0, 2);
        } else {
            throw new IllegalArgumentException(n + " is not an entry of a binary matrix");
        }
    }

    private static final java.lang.foreign.ValueLayout.OfInt I32_LE =
            java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Binary matrix {@code name} [rows, cols] over the mapped entries of {@code source} (not copied). */
    public static BinaryTensor readBinary(TensorSource source, String name, int rows, int cols, String origin) {
        for (String part : new String[] {SIGNS, STATES, PARAMS, SALIENT, BINARY_INFO}) {
            if (!source.contains(name + part)) throw new BitcapException(origin + ": binary matrix " + name + " has no entry " + name + part);
        }
        Tensor info = source.tensor(name + BINARY_INFO);
        expect(info, DType.I32, new long[] {2}, name + BINARY_INFO, origin);
        int kept = info.data().get(I32_LE, 0), regions = info.data().get(I32_LE, 4);
        try {
            BinaryLayout.check(kept, regions);
        } catch (BitcapException e) {
            throw new BitcapException(origin + ": tensor " + name + BINARY_INFO + ": " + e.getMessage());
        }
        int bits = BinaryLayout.stateBits(kept, regions);
        Tensor signs = source.tensor(name + SIGNS), states = source.tensor(name + STATES);
        Tensor params = source.tensor(name + PARAMS), salient = source.tensor(name + SALIENT);
        expect(signs, DType.U8, new long[] {rows, BinaryLayout.signBytesPerRow(cols)}, name + SIGNS, origin);
        expect(states, DType.U8, new long[] {rows, BinaryLayout.stateBytesPerRow(cols, bits)}, name + STATES, origin);
        expect(params, DType.F16, new long[] {rows, (long) BinaryLayout.blocksPerRow(cols) * BinaryLayout.paramsPerBlock(regions)}, name + PARAMS, origin);
        expect(salient, DType.U8, new long[] {BinaryLayout.salientBytes(cols)}, name + SALIENT, origin);
        return new BinaryTensor(rows, cols, kept, regions, signs.data(), states.data(), params.data(), salient.data());
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
