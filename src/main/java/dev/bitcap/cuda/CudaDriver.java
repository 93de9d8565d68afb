package dev.bitcap.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.bitcap.BitcapException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * FFM bindings to the CUDA driver API ({@code libcuda.so.1}): the {@code _v2} entry points, the primary context,
 * memory, modules, launches, streams, events and stream capture into graphs. Every call's status is checked; a
 * failure is a {@link CudaException} naming the call and the {@code CUresult} name. Opaque handles (contexts,
 * streams, modules, functions, events, graphs) are {@link MemorySegment} addresses; device pointers are longs.
 */
public final class CudaDriver {
    static final int CUDA_SUCCESS = 0;
    static final int CUDA_ERROR_NO_DEVICE = 100;
    static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;
    static final int CAPTURE_MODE_THREAD_LOCAL = 1;

    private static final FunctionDescriptor I_ = FunctionDescriptor.of(JAVA_INT);
    private static final FunctionDescriptor I_I = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    private static final FunctionDescriptor I_A = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor I_AA = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
    private static final FunctionDescriptor I_AI = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
    private static final FunctionDescriptor I_L = FunctionDescriptor.of(JAVA_INT, JAVA_LONG);

    private static volatile CudaDriver instance;

    private final MethodHandle cuInit, cuDriverGetVersion, cuGetErrorName, cuDeviceGetCount, cuDeviceGet, cuDeviceGetAttribute,
            cuDeviceGetName, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuMemAlloc, cuMemFree, cuMemcpyHtoD,
            cuMemcpyDtoH, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemsetD8, cuMemGetInfo, cuModuleLoadData, cuModuleGetFunction,
            cuFuncSetAttribute, cuLaunchKernel, cuLaunchKernelEx, cuStreamCreate, cuStreamSynchronize, cuStreamDestroy, cuEventCreate, cuEventRecord,
            cuEventSynchronize, cuEventElapsedTime, cuEventDestroy, cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiate,
            cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy, cuOccupancyMaxActiveBlocksPerMultiprocessor;

    CudaDriver(NativeLibrary lib) {
        cuInit = lib.bind(I_I, "cuInit");
        cuDriverGetVersion = lib.bind(I_A, "cuDriverGetVersion");
        cuGetErrorName = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), "cuGetErrorName");
        cuDeviceGetCount = lib.bind(I_A, "cuDeviceGetCount");
        cuDeviceGet = lib.bind(I_AI, "cuDeviceGet");
        cuDeviceGetAttribute = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetAttribute");
        cuDeviceGetName = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetName");
        cuDeviceTotalMem = lib.bind(I_AI, "cuDeviceTotalMem_v2");
        cuDevicePrimaryCtxRetain = lib.bind(I_AI, "cuDevicePrimaryCtxRetain");
        cuCtxSetCurrent = lib.bind(I_A, "cuCtxSetCurrent");
        cuMemAlloc = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), "cuMemAlloc_v2");
        cuMemFree = lib.bind(I_L, "cuMemFree_v2");
        cuMemcpyHtoD = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG), "cuMemcpyHtoD_v2");
        cuMemcpyDtoH = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), "cuMemcpyDtoH_v2");
        cuMemcpyHtoDAsync = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS), "cuMemcpyHtoDAsync_v2");
        cuMemcpyDtoHAsync = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS), "cuMemcpyDtoHAsync_v2");
        cuMemcpyDtoDAsync = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS), "cuMemcpyDtoDAsync_v2");
        cuMemsetD8 = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_BYTE, JAVA_LONG), "cuMemsetD8_v2");
        cuMemGetInfo = lib.bind(I_AA, "cuMemGetInfo_v2");
        cuModuleLoadData = lib.bind(I_AA, "cuModuleLoadData");
        cuModuleGetFunction = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), "cuModuleGetFunction");
        cuFuncSetAttribute = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuFuncSetAttribute");
        cuOccupancyMaxActiveBlocksPerMultiprocessor = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG),
                "cuOccupancyMaxActiveBlocksPerMultiprocessor");
        cuLaunchKernel = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS), "cuLaunchKernel");
        cuLaunchKernelEx = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS), "cuLaunchKernelEx");
        cuStreamCreate = lib.bind(I_AI, "cuStreamCreate");
        cuStreamSynchronize = lib.bind(I_A, "cuStreamSynchronize");
        cuStreamDestroy = lib.bind(I_A, "cuStreamDestroy_v2");
        cuEventCreate = lib.bind(I_AI, "cuEventCreate");
        cuEventRecord = lib.bind(I_AA, "cuEventRecord");
        cuEventSynchronize = lib.bind(I_A, "cuEventSynchronize");
        cuEventElapsedTime = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), "cuEventElapsedTime_v2", "cuEventElapsedTime");
        cuEventDestroy = lib.bind(I_A, "cuEventDestroy_v2");
        cuStreamBeginCapture = lib.bind(I_AI, "cuStreamBeginCapture_v2");
        cuStreamEndCapture = lib.bind(I_AA, "cuStreamEndCapture");
        cuGraphInstantiate = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), "cuGraphInstantiateWithFlags");
        cuGraphLaunch = lib.bind(I_AA, "cuGraphLaunch");
        cuGraphExecDestroy = lib.bind(I_A, "cuGraphExecDestroy");
        cuGraphDestroy = lib.bind(I_A, "cuGraphDestroy");
    }

    /**
     * The driver, loaded and initialised once. No library, or no device, is one {@link BitcapException} line
     * ("no CUDA driver: ..." or "no CUDA device: ...").
     */
    public static CudaDriver get() {
        CudaDriver d = instance;
        if (d != null) return d;
        synchronized (CudaDriver.class) {
            if (instance == null) {
                CudaDriver fresh = new CudaDriver(new NativeLibrary("libcuda.so.1",
                        CudaLibraries.load("CUDA driver", CudaLibraries.DRIVER, Arena.global())));
                int rc = NativeLibrary.invoke(() -> (int) fresh.cuInit.invokeExact(0));
                if (rc == CUDA_ERROR_NO_DEVICE) throw new BitcapException("no CUDA device: the driver loaded but sees no GPU (cuInit: CUDA_ERROR_NO_DEVICE)");
                fresh.check("cuInit", rc);
                instance = fresh;
            }
            return instance;
        }
    }

    /** Throws a {@link CudaException} for a non-zero status, naming {@code call} and the status. */
    void check(String call, int status) {
        if (status != CUDA_SUCCESS) throw new CudaException(call, status, errorName(status));
    }

    private void run(String name, NativeLibrary.Call c) {
        check(name, NativeLibrary.invoke(c));
    }

    public String errorName(int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = NativeLibrary.invoke(() -> (int) cuGetErrorName.invokeExact(status, p));
            return rc == CUDA_SUCCESS ? NativeLibrary.cString(p.get(ADDRESS, 0)) : "CUresult " + status;
        }
    }

    public int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            run("cuDriverGetVersion", () -> (int) cuDriverGetVersion.invokeExact(v));
            return v.get(JAVA_INT, 0);
        }
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            run("cuDeviceGetCount", () -> (int) cuDeviceGetCount.invokeExact(v));
            return v.get(JAVA_INT, 0);
        }
    }

    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            run("cuDeviceGet", () -> (int) cuDeviceGet.invokeExact(v, ordinal));
            return v.get(JAVA_INT, 0);
        }
    }

    public int attribute(int device, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            run("cuDeviceGetAttribute", () -> (int) cuDeviceGetAttribute.invokeExact(v, attribute, device));
            return v.get(JAVA_INT, 0);
        }
    }

    public String name(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(256);
            run("cuDeviceGetName", () -> (int) cuDeviceGetName.invokeExact(v, 256, device));
            return v.getString(0);
        }
    }

    public long totalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            run("cuDeviceTotalMem_v2", () -> (int) cuDeviceTotalMem.invokeExact(v, device));
            return v.get(JAVA_LONG, 0);
        }
    }

    public MemorySegment primaryContext(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            run("cuDevicePrimaryCtxRetain", () -> (int) cuDevicePrimaryCtxRetain.invokeExact(v, device));
            return v.get(ADDRESS, 0);
        }
    }

    public void setCurrent(MemorySegment context) {
        run("cuCtxSetCurrent", () -> (int) cuCtxSetCurrent.invokeExact(context));
    }

    public long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            run("cuMemAlloc_v2(" + bytes + " bytes)", () -> (int) cuMemAlloc.invokeExact(v, bytes));
            return v.get(JAVA_LONG, 0);
        }
    }

    public void free(long pointer) {
        run("cuMemFree_v2", () -> (int) cuMemFree.invokeExact(pointer));
    }

    public void copyToDevice(long dst, MemorySegment src, long bytes) {
        run("cuMemcpyHtoD_v2", () -> (int) cuMemcpyHtoD.invokeExact(dst, src, bytes));
    }

    public void copyToHost(MemorySegment dst, long src, long bytes) {
        run("cuMemcpyDtoH_v2", () -> (int) cuMemcpyDtoH.invokeExact(dst, src, bytes));
    }

    public void copyToDeviceAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        run("cuMemcpyHtoDAsync_v2", () -> (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream));
    }

    public void copyToHostAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        run("cuMemcpyDtoHAsync_v2", () -> (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream));
    }

    public void copyOnDevice(long dst, long src, long bytes, MemorySegment stream) {
        run("cuMemcpyDtoDAsync_v2", () -> (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream));
    }

    public void memset(long dst, int value, long bytes) {
        byte b = (byte) value;
        run("cuMemsetD8_v2", () -> (int) cuMemsetD8.invokeExact(dst, b, bytes));
    }

    /** {free, total} bytes of the current context's device. */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
            run("cuMemGetInfo_v2", () -> (int) cuMemGetInfo.invokeExact(f, t));
            return new long[] {f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        }
    }

    public MemorySegment loadModule(byte[] image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, img, JAVA_BYTE, 0, image.length);
            MemorySegment v = a.allocate(ADDRESS);
            run("cuModuleLoadData", () -> (int) cuModuleLoadData.invokeExact(v, img));
            return v.get(ADDRESS, 0);
        }
    }

    public MemorySegment function(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            MemorySegment n = a.allocateFrom(name);
            run("cuModuleGetFunction(" + name + ")", () -> (int) cuModuleGetFunction.invokeExact(v, module, n));
            return v.get(ADDRESS, 0);
        }
    }

    /** CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8. */
    public void setMaxDynamicSharedMemory(MemorySegment function, int bytes) {
        run("cuFuncSetAttribute", () -> (int) cuFuncSetAttribute.invokeExact(function, 8, bytes));
    }

    /** Blocks of {@code blockSize} threads and {@code sharedBytes} of dynamic shared memory that fit one multiprocessor at once. */
    public int maxActiveBlocks(MemorySegment function, int blockSize, long sharedBytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            run("cuOccupancyMaxActiveBlocksPerMultiprocessor", () -> (int) cuOccupancyMaxActiveBlocksPerMultiprocessor.invokeExact(n, function,
                    blockSize, sharedBytes));
            return n.get(JAVA_INT, 0);
        }
    }

    public void launch(String name, MemorySegment function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                       MemorySegment stream, MemorySegment params) {
        int rc = NativeLibrary.invoke(() -> (int) cuLaunchKernel.invokeExact(function, gx, gy, gz, bx, by, bz, sharedBytes, stream, params, MemorySegment.NULL));
        if (rc != CUDA_SUCCESS) check("cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx + "x" + by + "x" + bz + ")", rc);
    }

    // cuda.h: CUlaunchConfig {7 unsigned ints (grid, block, sharedMemBytes); CUstream at 32; CUlaunchAttribute* at 40;
    // unsigned numAttrs at 48} (56 bytes); CUlaunchAttribute {id; pad to 8; a 64-byte value union} (72 bytes).
    private static final int CONFIG_BYTES = 56, ATTRIBUTE_BYTES = 72;
    private static final int LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private final MemorySegment launchConfig = Arena.ofAuto().allocate(CONFIG_BYTES + ATTRIBUTE_BYTES, 8);

    /**
     * Launches with programmatic stream serialization (Hopper's programmatic dependent launch): the kernel may start
     * while the stream's previous kernel is still running, once every block of that one has executed
     * {@code griddepcontrol.launch_dependents}. So it must execute {@code griddepcontrol.wait} before it reads
     * anything the previous kernels wrote or writes anything they read. Stream capture keeps the edge in the graph.
     */
    public synchronized void launchProgrammatic(String name, MemorySegment function, int gx, int gy, int gz, int bx, int by, int bz,
                                                int sharedBytes, MemorySegment stream, MemorySegment params) {
        MemorySegment c = launchConfig;
        int[] dims = {gx, gy, gz, bx, by, bz, sharedBytes};
        for (int i = 0; i < dims.length; i++) c.set(JAVA_INT, 4L * i, dims[i]);
        c.set(ADDRESS, 32, stream);
        MemorySegment attribute = c.asSlice(CONFIG_BYTES, ATTRIBUTE_BYTES);
        c.set(ADDRESS, 40, attribute);
        c.set(JAVA_INT, 48, 1);
        attribute.fill((byte) 0);
        attribute.set(JAVA_INT, 0, LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attribute.set(JAVA_INT, 8, 1); // programmaticStreamSerializationAllowed
        int rc = NativeLibrary.invoke(() -> (int) cuLaunchKernelEx.invokeExact(c, function, params, MemorySegment.NULL));
        if (rc != CUDA_SUCCESS) check("cuLaunchKernelEx(" + name + ", programmatic, grid " + gx + "x" + gy + "x" + gz + ", block " + bx + ")", rc);
    }

    public MemorySegment createStream() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            run("cuStreamCreate", () -> (int) cuStreamCreate.invokeExact(v, 1)); // CU_STREAM_NON_BLOCKING
            return v.get(ADDRESS, 0);
        }
    }

    public void synchronize(MemorySegment stream) {
        run("cuStreamSynchronize", () -> (int) cuStreamSynchronize.invokeExact(stream));
    }

    public void destroyStream(MemorySegment stream) {
        run("cuStreamDestroy_v2", () -> (int) cuStreamDestroy.invokeExact(stream));
    }

    public MemorySegment createEvent() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            run("cuEventCreate", () -> (int) cuEventCreate.invokeExact(v, 0));
            return v.get(ADDRESS, 0);
        }
    }

    public void record(MemorySegment event, MemorySegment stream) {
        run("cuEventRecord", () -> (int) cuEventRecord.invokeExact(event, stream));
    }

    public void synchronizeEvent(MemorySegment event) {
        run("cuEventSynchronize", () -> (int) cuEventSynchronize.invokeExact(event));
    }

    /** Milliseconds between two recorded events. */
    public float elapsed(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_FLOAT);
            run("cuEventElapsedTime", () -> (int) cuEventElapsedTime.invokeExact(v, start, end));
            return v.get(JAVA_FLOAT, 0);
        }
    }

    public void destroyEvent(MemorySegment event) {
        run("cuEventDestroy_v2", () -> (int) cuEventDestroy.invokeExact(event));
    }

    public void beginCapture(MemorySegment stream) {
        run("cuStreamBeginCapture_v2", () -> (int) cuStreamBeginCapture.invokeExact(stream, CAPTURE_MODE_THREAD_LOCAL));
    }

    /** Ends capture on {@code stream} and instantiates the captured graph; returns {graph, executable graph}. */
    public MemorySegment[] endCapture(MemorySegment stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS), e = a.allocate(ADDRESS);
            run("cuStreamEndCapture", () -> (int) cuStreamEndCapture.invokeExact(stream, g));
            MemorySegment graph = g.get(ADDRESS, 0);
            run("cuGraphInstantiateWithFlags", () -> (int) cuGraphInstantiate.invokeExact(e, graph, 0L));
            return new MemorySegment[] {graph, e.get(ADDRESS, 0)};
        }
    }

    public void launchGraph(MemorySegment exec, MemorySegment stream) {
        run("cuGraphLaunch", () -> (int) cuGraphLaunch.invokeExact(exec, stream));
    }

    public void destroyGraph(MemorySegment graph, MemorySegment exec) {
        run("cuGraphExecDestroy", () -> (int) cuGraphExecDestroy.invokeExact(exec));
        run("cuGraphDestroy", () -> (int) cuGraphDestroy.invokeExact(graph));
    }
}
