package dev.bitcap.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.bitcap.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * FFM bindings to cuBLAS ({@code libcublas.so.13}): one handle bound to a stream, and {@code cublasGemmEx} for the
 * prefill products Y[n, rows] = X[n, cols] · Wᵀ with fp32 accumulation, W stored row-major in F32, F16 or BF16.
 */
public final class Cublas implements AutoCloseable {
    static final int OP_N = 0, OP_T = 1;
    static final int R_32F = 0, R_16F = 2, R_16BF = 14;
    static final int COMPUTE_32F = 68;
    static final int GEMM_DEFAULT = -1;

    private static volatile MethodHandle[] handles;

    private final MethodHandle setStream, gemmEx, destroy, statusName;
    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment alpha, beta;

    public Cublas(MemorySegment stream) {
        MethodHandle[] h = bind();
        setStream = h[1];
        gemmEx = h[2];
        destroy = h[3];
        statusName = h[4];
        MemorySegment slot = arena.allocate(ADDRESS);
        check("cublasCreate_v2", NativeLibrary.invoke(() -> (int) h[0].invokeExact(slot)));
        handle = slot.get(ADDRESS, 0);
        check("cublasSetStream_v2", NativeLibrary.invoke(() -> (int) setStream.invokeExact(handle, stream)));
        alpha = arena.allocate(JAVA_FLOAT);
        alpha.set(JAVA_FLOAT, 0, 1f);
        beta = arena.allocate(JAVA_FLOAT);
        beta.set(JAVA_FLOAT, 0, 0f);
    }

    private static MethodHandle[] bind() {
        MethodHandle[] h = handles;
        if (h != null) return h;
        synchronized (Cublas.class) {
            if (handles == null) {
                handles = bindAll(new NativeLibrary("cuBLAS", CudaLibraries.load("cuBLAS", CudaLibraries.CUBLAS, Arena.global())));
            }
            return handles;
        }
    }

    /** create, setStream, gemmEx, destroy, statusName. */
    static MethodHandle[] bindAll(NativeLibrary lib) {
        return new MethodHandle[] {
            lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS), "cublasCreate_v2"),
            lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cublasSetStream_v2"),
            lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG,
                    JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), "cublasGemmEx"),
            lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS), "cublasDestroy_v2"),
            lib.bind(FunctionDescriptor.of(ADDRESS, JAVA_INT), "cublasGetStatusName"),
        };
    }

    /** The cuBLAS data type of a weight or activation dtype (F32, F16, BF16 only). */
    static int dataType(DType t) {
        return switch (t) {
            case F32 -> R_32F;
            case F16 -> R_16F;
            case BF16 -> R_16BF;
            default -> throw new IllegalArgumentException("cuBLAS has no " + t + " GEMM");
        };
    }

    /**
     * y [n, rows] (fp32) = x [n, cols] · wᵀ with w [rows, cols] row-major; x has w's type. cuBLAS is column-major,
     * so this is C (rows × n) = op(A) · B with A = w seen as cols × rows (transposed), B = x seen as cols × n.
     */
    public void matmul(long w, DType type, long x, long y, int rows, int cols, int n) {
        int t = dataType(type);
        check("cublasGemmEx(" + type + ", " + rows + "x" + cols + ", n=" + n + ")", NativeLibrary.invoke(() -> (int) gemmEx.invokeExact(handle, OP_T, OP_N,
                rows, n, cols, alpha, w, t, cols, x, t, cols, beta, y, R_32F, rows, COMPUTE_32F, GEMM_DEFAULT)));
    }

    private void check(String call, int status) {
        if (status != 0) throw new CudaException(call, status, name(status));
    }

    private String name(int status) {
        try {
            return NativeLibrary.cString((MemorySegment) statusName.invokeExact(status));
        } catch (Throwable e) {
            return "cublasStatus " + status;
        }
    }

    @Override
    public void close() {
        NativeLibrary.invoke(() -> (int) destroy.invokeExact(handle));
        arena.close();
    }
}
