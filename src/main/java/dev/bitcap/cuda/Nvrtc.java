package dev.bitcap.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/** FFM bindings to NVRTC ({@code libnvrtc.so.13}, else {@code .12}): compiles CUDA C++ source to a CUBIN at run time. */
public final class Nvrtc {
    private static volatile Nvrtc instance;

    private final MethodHandle version, create, compile, logSize, log, cubinSize, cubin, destroy, errorString;
    private int major, minor;

    Nvrtc(NativeLibrary lib) {
        version = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "nvrtcVersion");
        create = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS), "nvrtcCreateProgram");
        compile = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), "nvrtcCompileProgram");
        logSize = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "nvrtcGetProgramLogSize");
        log = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "nvrtcGetProgramLog");
        cubinSize = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "nvrtcGetCUBINSize");
        cubin = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "nvrtcGetCUBIN");
        destroy = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS), "nvrtcDestroyProgram");
        errorString = lib.bind(FunctionDescriptor.of(ADDRESS, JAVA_INT), "nvrtcGetErrorString");
    }

    private void readVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ma = a.allocate(JAVA_INT), mi = a.allocate(JAVA_INT);
            check("nvrtcVersion", NativeLibrary.invoke(() -> (int) version.invokeExact(ma, mi)));
            major = ma.get(JAVA_INT, 0);
            minor = mi.get(JAVA_INT, 0);
        }
    }

    public static Nvrtc get() {
        Nvrtc n = instance;
        if (n != null) return n;
        synchronized (Nvrtc.class) {
            if (instance == null) {
                Nvrtc fresh = new Nvrtc(new NativeLibrary("NVRTC", CudaLibraries.load("NVRTC", CudaLibraries.NVRTC, Arena.global())));
                fresh.readVersion();
                instance = fresh;
            }
            return instance;
        }
    }

    /** e.g. "13.0". */
    public String version() {
        return major + "." + minor;
    }

    /**
     * Compiles {@code source} (named {@code name} in messages) with {@code options} (which must name a real
     * architecture, e.g. {@code --gpu-architecture=sm_90a}, so that a CUBIN comes out). A source that does not
     * compile is a {@link CudaException} carrying NVRTC's log.
     */
    public byte[] compile(String name, String source, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progSlot = a.allocate(ADDRESS);
            MemorySegment src = a.allocateFrom(source), nm = a.allocateFrom(name);
            check("nvrtcCreateProgram(" + name + ")", NativeLibrary.invoke(() -> (int) create.invokeExact(progSlot, src, nm, 0, MemorySegment.NULL, MemorySegment.NULL)));
            MemorySegment prog = progSlot.get(ADDRESS, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                int rc = NativeLibrary.invoke(() -> (int) compile.invokeExact(prog, options.size(), opts));
                if (rc != 0) {
                    throw new CudaException("kernel " + name + " does not compile (" + errorName(rc) + ", options " + String.join(" ", options)
                            + "):\n" + programLog(a, prog).strip());
                }
                MemorySegment size = a.allocate(JAVA_LONG);
                check("nvrtcGetCUBINSize(" + name + ")", NativeLibrary.invoke(() -> (int) cubinSize.invokeExact(prog, size)));
                MemorySegment out = a.allocate(size.get(JAVA_LONG, 0));
                check("nvrtcGetCUBIN(" + name + ")", NativeLibrary.invoke(() -> (int) cubin.invokeExact(prog, out)));
                return out.toArray(JAVA_BYTE);
            } finally {
                NativeLibrary.invoke(() -> (int) destroy.invokeExact(progSlot));
            }
        }
    }

    private String programLog(Arena a, MemorySegment prog) {
        MemorySegment size = a.allocate(JAVA_LONG);
        if (NativeLibrary.invoke(() -> (int) logSize.invokeExact(prog, size)) != 0) return "(no log)";
        MemorySegment text = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        if (NativeLibrary.invoke(() -> (int) log.invokeExact(prog, text)) != 0) return "(no log)";
        return text.getString(0);
    }

    private String errorName(int rc) {
        try {
            return NativeLibrary.cString((MemorySegment) errorString.invokeExact(rc));
        } catch (Throwable t) {
            return "nvrtcResult " + rc;
        }
    }

    private void check(String call, int rc) {
        if (rc != 0) throw new CudaException(call, rc, errorName(rc));
    }
}
