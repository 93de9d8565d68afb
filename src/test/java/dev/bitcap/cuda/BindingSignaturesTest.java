package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Every downcall bound against a stand-in library (nothing is called), then each driver binding compared with its
 * prototype in the toolkit's cuda.h: parameter count and the layout each C type needs.
 */
class BindingSignaturesTest {
    private static final SymbolLookup ANYTHING = name -> Optional.of(MemorySegment.ofAddress(4096));

    private static Map<String, FunctionDescriptor> bindings(java.util.function.Consumer<NativeLibrary> binder) {
        Map<String, FunctionDescriptor> out = new LinkedHashMap<>();
        binder.accept(new NativeLibrary("stand-in", ANYTHING, out::put));
        return out;
    }

    @Test
    void driverBindsTheV2EntryPoints() {
        Map<String, FunctionDescriptor> b = bindings(CudaDriver::new);
        for (String s : List.of("cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemcpyHtoDAsync_v2",
                "cuMemcpyDtoHAsync_v2", "cuMemGetInfo_v2", "cuDeviceTotalMem_v2", "cuStreamDestroy_v2", "cuEventDestroy_v2",
                "cuStreamBeginCapture_v2", "cuEventElapsedTime_v2", "cuDevicePrimaryCtxRetain", "cuLaunchKernel", "cuGetErrorName")) {
            assertTrue(b.containsKey(s), s + " is bound");
        }
    }

    @Test
    void nvrtcAndCublasBindingsBuild() {
        assertEquals(List.of("nvrtcVersion", "nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize", "nvrtcGetProgramLog",
                "nvrtcGetCUBINSize", "nvrtcGetCUBIN", "nvrtcDestroyProgram", "nvrtcGetErrorString"), List.copyOf(bindings(Nvrtc::new).keySet()));
        Map<String, FunctionDescriptor> c = bindings(Cublas::bindAll);
        assertEquals(19, c.get("cublasGemmEx").argumentLayouts().size(), "cublasGemmEx takes 19 arguments");
    }

    @Test
    void driverBindingsMatchTheirPrototypesInCudaH() throws IOException {
        Path header = header();
        String text = Files.readString(header);
        List<String> problems = new ArrayList<>();
        for (var e : bindings(CudaDriver::new).entrySet()) {
            String symbol = e.getKey();
            // cuda.h declares cuMemAlloc and maps it to cuMemAlloc_v2 with a #define: find the declared name
            Matcher alias = Pattern.compile("(?m)^#define\\s+(\\w+)\\s+(?:__CUDA_API_PT[DS][SZ]\\()?" + symbol + "\\)?\\s*$").matcher(text);
            String base = alias.find() ? alias.group(1) : symbol;
            Matcher m = Pattern.compile("CUresult CUDAAPI " + base + "\\(([^;]*?)\\);").matcher(text);
            if (!m.find()) {
                problems.add(symbol + ": no prototype for " + base + " in " + header);
                continue;
            }
            List<MemoryLayout> want = new ArrayList<>();
            for (String param : m.group(1).split(",")) {
                if (param.isBlank() || param.strip().equals("void")) continue;
                want.add(layoutOf(param.strip()));
            }
            List<MemoryLayout> got = e.getValue().argumentLayouts().stream().map(l -> (MemoryLayout) l.withoutName()).toList();
            if (!sameKinds(want, got)) problems.add(symbol + ": header (" + m.group(1).replaceAll("\\s+", " ") + ") vs bound " + got);
            if (!e.getValue().returnLayout().orElseThrow().equals(ValueLayout.JAVA_INT)) problems.add(symbol + " returns CUresult (int)");
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    private static boolean sameKinds(List<MemoryLayout> want, List<MemoryLayout> got) {
        if (want.size() != got.size()) return false;
        for (int i = 0; i < want.size(); i++) {
            if (want.get(i).byteSize() != got.get(i).byteSize() || want.get(i).getClass() != got.get(i).getClass()) return false;
        }
        return true;
    }

    /** The layout a C parameter declaration needs on x86-64 Linux. */
    private static MemoryLayout layoutOf(String decl) {
        if (decl.contains("*")) return ValueLayout.ADDRESS;
        String type = decl.replaceAll("\\s+\\w+$", "").replace("const ", "").strip();
        return switch (type) {
            case "CUdeviceptr", "size_t", "unsigned long long", "cuuint64_t" -> ValueLayout.JAVA_LONG;
            case "int", "unsigned int", "CUdevice", "CUresult", "CUdevice_attribute", "CUstreamCaptureMode", "CUfunction_attribute" -> ValueLayout.JAVA_INT;
            case "unsigned char" -> ValueLayout.JAVA_BYTE;
            case "float" -> ValueLayout.JAVA_FLOAT;
            case "CUcontext", "CUstream", "CUmodule", "CUfunction", "CUevent", "CUgraph", "CUgraphExec" -> ValueLayout.ADDRESS;
            default -> throw new AssertionError("no layout known for C type '" + type + "' in '" + decl + "'");
        };
    }

    private static Path header() {
        for (String dir : List.of(System.getenv().getOrDefault("CUDA_HOME", "/usr/local/cuda"), "/usr/local/cuda")) {
            Path p = Path.of(dir, "include", "cuda.h");
            if (Files.isRegularFile(p)) return p;
        }
        Assumptions.abort("no cuda.h under $CUDA_HOME or /usr/local/cuda: the driver prototypes cannot be compared");
        return null;
    }
}
