package dev.bitcap.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One GPU as bitcap uses it: the device's primary context made current, one non-blocking stream that all work goes
 * to in order, device memory that is freed on close, kernels compiled from the {@code .cu} resources of this package
 * through the on-disk {@link KernelCache}, and (on first use) a cuBLAS handle on the same stream. Not thread-safe:
 * one thread drives a device at a time.
 */
public final class CudaDevice implements AutoCloseable {
    private final CudaDriver driver;
    private final int device;
    private final MemorySegment context, stream;
    private final String name, arch;
    private final int multiprocessors;
    private final Set<Long> allocations = new LinkedHashSet<>();
    private final Map<String, CudaModule> modules = new HashMap<>();
    private KernelCache cache;
    private Cublas cublas;
    private final Arena staging = Arena.ofShared();
    private MemorySegment stage = MemorySegment.NULL;

    private CudaDevice(int ordinal) {
        driver = CudaDriver.get();
        int count = driver.deviceCount();
        if (ordinal < 0 || ordinal >= count) throw new BitcapException("no CUDA device " + ordinal + ": the driver sees " + count);
        device = driver.device(ordinal);
        context = driver.primaryContext(device);
        driver.setCurrent(context);
        stream = driver.createStream();
        name = driver.name(device);
        int major = driver.attribute(device, CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR);
        int minor = driver.attribute(device, CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR);
        arch = archFor(major, minor);
        multiprocessors = driver.attribute(device, CudaDriver.ATTR_MULTIPROCESSOR_COUNT);
        computeMajor = major;
        programmaticLaunch = programmaticLaunchDefault(major, System.getenv(PROGRAMMATIC_ENV));
    }

    private final int computeMajor;

    /** {@code BITCAP_PDL=0} turns programmatic dependent launch off (for comparisons). */
    public static final String PROGRAMMATIC_ENV = "BITCAP_PDL";
    private boolean programmaticLaunch;

    /** On from compute capability 9 (Hopper: griddepcontrol), unless the variable says 0. */
    static boolean programmaticLaunchDefault(int major, String variable) {
        return major >= 9 && !(variable != null && variable.trim().equals("0"));
    }

    /**
     * Whether kernels a module declares programmatic ({@link ProgrammaticKernels}) start before the previous kernel in
     * the stream has finished, overlapping its tail with their independent prologue (weight loads).
     */
    public boolean programmaticLaunch() {
        return programmaticLaunch;
    }

    /** The check compares decode with it on and off; graphs captured before a change keep what they were captured with. */
    public void setProgrammaticLaunch(boolean on) {
        if (on && computeMajor < 9) throw new IllegalStateException("programmatic launch needs compute capability 9.0 or newer, this device is " + arch);
        programmaticLaunch = on;
    }

    /** Opens device {@code ordinal}; no driver or no GPU is a one-line {@link BitcapException}. */
    public static CudaDevice open(int ordinal) {
        return new CudaDevice(ordinal);
    }

    /** NVRTC's target: the architecture-specific variant (sm_90a) on Hopper, whose wgmma and setmaxnreg need it. */
    static String archFor(int major, int minor) {
        return "sm_" + major + minor + (major == 9 && minor == 0 ? "a" : "");
    }

    public String name() {
        return name;
    }

    public String arch() {
        return arch;
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    public CudaDriver driver() {
        return driver;
    }

    public MemorySegment stream() {
        return stream;
    }

    /** Makes this device's context current on the calling thread (each thread has its own current context). */
    public void makeCurrent() {
        driver.setCurrent(context);
    }

    /** {free, total} device memory in bytes. */
    public long[] memoryInfo() {
        return driver.memoryInfo();
    }

    public long totalMemory() {
        return driver.totalMemory(device);
    }

    // ---- memory -------------------------------------------------------------------------------------------

    public long alloc(long bytes) {
        long p = driver.malloc(Math.max(bytes, 16));
        allocations.add(p);
        return p;
    }

    public void free(long pointer) {
        if (allocations.remove(pointer)) driver.free(pointer);
    }

    /** Copies host memory to the device, in stream order. */
    public void upload(long dst, MemorySegment src) {
        driver.copyToDeviceAsync(dst, src, src.byteSize(), stream);
    }

    /** A new device buffer holding a copy of {@code src}. */
    public long upload(MemorySegment src) {
        long p = alloc(src.byteSize());
        upload(p, src);
        return p;
    }

    public void upload(long dst, float[] src, int offset, int count) {
        MemorySegment s = stage(4L * count);
        MemorySegment.copy(src, offset, s, JAVA_FLOAT, 0, count);
        driver.copyToDeviceAsync(dst, s, 4L * count, stream);
        driver.synchronize(stream); // the staging buffer is reused by the next copy
    }

    public void upload(long dst, int[] src, int offset, int count) {
        MemorySegment s = stage(4L * count);
        MemorySegment.copy(src, offset, s, JAVA_INT, 0, count);
        driver.copyToDeviceAsync(dst, s, 4L * count, stream);
        driver.synchronize(stream);
    }

    public void upload(long dst, long[] src) {
        MemorySegment s = stage(8L * src.length);
        MemorySegment.copy(src, 0, s, java.lang.foreign.ValueLayout.JAVA_LONG, 0, src.length);
        driver.copyToDeviceAsync(dst, s, 8L * src.length, stream);
        driver.synchronize(stream);
    }

    /** A new device buffer holding a copy of {@code v} (at least one float, so that an empty array has an address). */
    public long upload(float[] v) {
        long p = alloc(4L * Math.max(1, v.length));
        upload(p, v, 0, v.length);
        return p;
    }

    /** The {@code count} floats at {@code src}, after the stream's work so far. */
    public float[] download(long src, int count) {
        float[] v = new float[count];
        download(v, 0, src, count);
        return v;
    }

    /** Waits for the stream, then copies {@code count} floats from the device into {@code dst}. */
    public void download(float[] dst, int offset, long src, int count) {
        MemorySegment s = stage(4L * count);
        driver.copyToHostAsync(s, src, 4L * count, stream);
        driver.synchronize(stream);
        MemorySegment.copy(s, JAVA_FLOAT, 0, dst, offset, count);
    }

    /** Waits for the stream, then copies {@code count} ints from the device into {@code dst}. */
    public void download(int[] dst, int offset, long src, int count) {
        MemorySegment s = stage(4L * count);
        driver.copyToHostAsync(s, src, 4L * count, stream);
        driver.synchronize(stream);
        MemorySegment.copy(s, JAVA_INT, 0, dst, offset, count);
    }

    public void zero(long dst, long bytes) {
        synchronize();
        driver.memset(dst, 0, bytes);
        // cuMemsetD8 runs on the legacy default stream, which does not order with this device's non-blocking stream:
        // wait for it before the caller's next kernel can read the zeros
        driver.synchronize(MemorySegment.NULL);
    }

    private MemorySegment stage(long bytes) {
        if (stage.byteSize() < bytes) stage = staging.allocate(Math.max(bytes, 2 * stage.byteSize()), 64);
        return stage;
    }

    public void synchronize() {
        driver.synchronize(stream);
    }

    // ---- kernels ------------------------------------------------------------------------------------------

    /** The kernel cache, created on first use with NVRTC as its compiler. */
    public KernelCache cache() {
        if (cache == null) {
            Nvrtc nvrtc = Nvrtc.get();
            cache = new KernelCache(KernelCache.defaultDir(System.getenv("BITCAP_CACHE"), System.getProperty("user.home")),
                    nvrtc::compile, "nvrtc " + nvrtc.version());
        }
        return cache;
    }

    /**
     * The module built from resource {@code file} (e.g. {@code gemv.cu}) with the given defines, compiled for this
     * device's architecture (once per process; from the disk cache after the first start).
     */
    public CudaModule module(String file, List<String> defines) {
        String key = file + " " + defines;
        CudaModule m = modules.get(key);
        if (m == null) {
            String source = source(file);
            List<String> options = compileOptions(arch, defines);
            byte[] cubin = cache().get(file, source, options, arch);
            m = new CudaModule(this, file, driver.loadModule(cubin), ProgrammaticKernels.declaredIn(source));
            modules.put(key, m);
        }
        return m;
    }

    static List<String> compileOptions(String arch, List<String> defines) {
        List<String> options = new ArrayList<>(List.of("--gpu-architecture=" + arch, "--std=c++17", "-default-device"));
        for (String d : defines) options.add("-D" + d);
        return options;
    }

    /**
     * The source NVRTC compiles: the resource, with each line {@code #include "NAME.cuh"} replaced by that resource
     * (NVRTC is given no headers; nvcc in {@code mvn verify} finds them beside the file).
     */
    static String source(String file) {
        String text = resource(file);
        if (!text.contains(INCLUDE)) return text;
        StringBuilder out = new StringBuilder(text.length() + 1024);
        for (String line : text.split("(?<=\n)")) {
            String t = line.strip();
            if (t.startsWith(INCLUDE) && t.endsWith(".cuh\"")) out.append(resource(t.substring(INCLUDE.length(), t.length() - 1)));
            else out.append(line);
        }
        return out.toString();
    }

    private static final String INCLUDE = "#include \"";

    private static String resource(String file) {
        try (InputStream in = CudaDevice.class.getResourceAsStream(file)) {
            if (in == null) throw new IllegalStateException("kernel source " + file + " is missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read kernel source " + file, e);
        }
    }

    /**
     * Compiles in parallel the modules that earlier runs compiled into the kernel cache and that it now lacks (the
     * sources changed since): a fresh GPU machine given an older cache, or a new version of bitcap, then spends seconds
     * instead of minutes of one-by-one NVRTC compiles. Returns how many were compiled.
     */
    public int prewarmKernels() {
        return cache().prewarm(file -> CudaDevice.class.getResource(file) == null ? null : source(file), arch,
                Runtime.getRuntime().availableProcessors());
    }

    public Cublas cublas() {
        if (cublas == null) cublas = new Cublas(stream);
        return cublas;
    }

    @Override
    public void close() {
        try {
            makeCurrent();
            synchronize();
            if (cublas != null) cublas.close();
            for (long p : allocations) driver.free(p);
            allocations.clear();
            driver.destroyStream(stream);
        } finally {
            staging.close();
        }
    }
}
