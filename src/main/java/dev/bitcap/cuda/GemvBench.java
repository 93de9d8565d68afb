package dev.bitcap.cuda;

import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Times the decode GEMV kernel at Llama-3-8B shapes with CUDA events: several weight copies in rotation so that each
 * launch reads its weights from device memory rather than L2, the median of many launches, and the bytes moved
 * (weights + activations + outputs) over that time, next to a device-to-device copy measured in the same run.
 */
public final class GemvBench {
    /** One timing: microseconds (median) and GB/s of bytes moved. */
    public record Result(String name, double micros, double gbPerSecond, double ofCopy) {}

    private final CudaDevice device;

    public GemvBench(CudaDevice device) {
        this.device = device;
    }

    /** Device-to-device copy bandwidth in GB/s, counting bytes read plus bytes written (1 GiB buffers). */
    public double copyBandwidth() {
        long bytes = 1L << 30;
        long a = device.alloc(bytes), b = device.alloc(bytes);
        device.driver().memset(a, 1, bytes);
        double ms = time(() -> device.driver().copyOnDevice(b, a, bytes, device.stream()), 20);
        device.free(a);
        device.free(b);
        return 2.0 * bytes / (ms * 1e-3) / 1e9;
    }

    public List<Result> run(Consumer<Result> sink) {
        double copy = copyBandwidth();
        List<Result> out = new ArrayList<>();
        Result c = new Result("device copy 1 GiB (read + write)", Double.NaN, copy, 1);
        out.add(c);
        sink.accept(c);
        CudaMatMul mm = new CudaMatMul(device, new CudaOps(device));
        int[][] shapes = {{14336, 4096}, {4096, 14336}, {4096, 4096}};
        Random rnd = new Random(1);
        List<Object> types = new ArrayList<>(List.of(DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0));
        for (String f : List.of("int4-asym", "afp4", "int2-asym", "int8-asym")) types.add(QuantFormats.byName(f));
        types.add(new int[] {8, 2}); // binary: BiLLM dense, STBLLM 4:8
        types.add(new int[] {4, 3});
        types.add(DType.F32);
        for (Object type : types) {
            for (int[] s : shapes) {
                int rows = s[0], cols = s[1];
                DeviceMatrix first;
                String label;
                try (Arena arena = Arena.ofShared()) {
                    if (type instanceof DType t) {
                        first = DeviceMatrix.upload(device, CudaCheck.randomMatrix(arena, t, rows, cols, rnd));
                        label = t.name();
                    } else if (type instanceof int[] pattern) {
                        BinaryTensor b = BinaryTensor.pack(CudaCheck.randomBinary(rnd, rows, cols, pattern[0], pattern[1]), arena);
                        first = DeviceMatrix.upload(device, b);
                        label = pattern[0] == 8 ? "billm" : "stbllm " + pattern[0] + ":8";
                    } else {
                        QuantFormat f = (QuantFormat) type;
                        float[] v = new float[rows * cols];
                        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.05);
                        first = DeviceMatrix.upload(device, QuantizedTensor.pack(RtnQuantizer.quantize(f, v, rows, cols, 128), null, arena));
                        label = f.name() + " g128";
                    }
                }
                long wBytes = first.weightBytes();
                int copies = (int) Math.max(2, Math.min(8, (2L << 30) / wBytes)); // rotate through ~2 GiB, well past L2
                List<DeviceMatrix> ws = new ArrayList<>(List.of(first));
                for (int i = 1; i < copies; i++) ws.add(copy(first, rows));
                for (int n : new int[] {1, 4, 16}) {
                    long x = device.alloc(4L * n * cols), y = device.alloc(4L * n * rows);
                    float[] xs = new float[n * cols];
                    for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextGaussian();
                    device.upload(x, xs, 0, xs.length);
                    int[] next = {0};
                    double ms = time(() -> mm.gemv(ws.get(next[0]++ % copies), x, y, n), 200);
                    long moved = wBytes + 4L * n * cols + 4L * n * rows;
                    double gbs = moved / (ms * 1e-3) / 1e9;
                    Result r = new Result(String.format("gemv %-14s 1x%d·%dx%d n=%d", label, cols, cols, rows, n), ms * 1e3, gbs, gbs / copy);
                    out.add(r);
                    sink.accept(r);
                    device.free(x);
                    device.free(y);
                }
                for (DeviceMatrix m : ws) m.free(device);
            }
        }
        return out;
    }

    /** Another device copy of {@code m} (codes, parameters, binary planes; a packed table is copied too, an input scale dropped). */
    private DeviceMatrix copy(DeviceMatrix m, int rows) {
        long p = device.alloc(m.bytes());
        device.driver().copyOnDevice(p, m.pointer(), m.bytes(), device.stream());
        DeviceMatrix.Packed packed = m.packed();
        if (packed != null) {
            long bytes = 2L * rows * packed.groups() * packed.paramCount();
            long params = device.alloc(bytes);
            device.driver().copyOnDevice(params, packed.params(), bytes, device.stream());
            long table = device.alloc(4L * 2 * (1 << packed.bits()));
            device.driver().copyOnDevice(table, packed.table(), 4L * 2 * (1 << packed.bits()), device.stream());
            packed = new DeviceMatrix.Packed(packed.storage(), packed.bits(), packed.zeroPoint(), packed.paramCount(), packed.unitsPerGroup(),
                    packed.groups(), params, table, 0, packed.affine(), packed.affineOffset());
        }
        DeviceMatrix.Binary binary = m.binary();
        if (binary != null) {
            long states = rows * BinaryLayout.stateBytesPerRow(m.cols(), binary.stateBits());
            long params = 2L * rows * BinaryLayout.blocksPerRow(m.cols()) * BinaryLayout.paramsPerBlock(binary.regions());
            long salient = BinaryLayout.salientBytes(m.cols());
            binary = new DeviceMatrix.Binary(binary.storage(), copyOf(binary.states(), states), copyOf(binary.params(), params),
                    copyOf(binary.salient(), salient), binary.keptPer8(), binary.regions(), binary.stateBits());
        }
        return new DeviceMatrix(p, m.type(), m.rows(), m.cols(), m.rowBytes(), packed, binary);
    }

    private long copyOf(long src, long bytes) {
        long p = device.alloc(bytes);
        device.driver().copyOnDevice(p, src, bytes, device.stream());
        return p;
    }

    /** Median milliseconds of {@code reps} timed runs after 10 warm-up runs, each run between two events. */
    private double time(Runnable work, int reps) {
        CudaDriver d = device.driver();
        MemorySegment start = d.createEvent(), end = d.createEvent();
        for (int i = 0; i < 10; i++) work.run();
        device.synchronize();
        double[] ms = new double[reps];
        for (int i = 0; i < reps; i++) {
            d.record(start, device.stream());
            work.run();
            d.record(end, device.stream());
            d.synchronizeEvent(end);
            ms[i] = d.elapsed(start, end);
        }
        d.destroyEvent(start);
        d.destroyEvent(end);
        Arrays.sort(ms);
        return ms[reps / 2];
    }
}
