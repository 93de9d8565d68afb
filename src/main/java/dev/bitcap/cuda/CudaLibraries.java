package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the CUDA shared libraries by their versioned names. Order: the folder named by {@code --cuda-lib-dir}
 * (system property {@value #DIR_PROPERTY}) or {@code BITCAP_CUDA_LIB_DIR}; then the dynamic loader's own search
 * (plain soname: ld.so.cache, LD_LIBRARY_PATH); then the usual CUDA toolkit and driver folders.
 */
public final class CudaLibraries {
    public static final String DIR_PROPERTY = "bitcap.cuda.libDir";
    public static final String DIR_VARIABLE = "BITCAP_CUDA_LIB_DIR";
    static final List<String> STANDARD_DIRS = List.of("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
            "/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu");

    public static final List<String> DRIVER = List.of("libcuda.so.1");
    public static final List<String> NVRTC = List.of("libnvrtc.so.13", "libnvrtc.so.12");
    public static final List<String> CUBLAS = List.of("libcublas.so.13", "libcublas.so.12");

    private CudaLibraries() {}

    /** One place to try: a path to a file, or a bare soname for the loader to resolve. */
    record Candidate(String name, boolean isPath) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** The explicit folder: the system property wins over the variable; null when neither is set. */
    static String explicitDir(String property, String variable) {
        if (property != null && !property.isBlank()) return property;
        if (variable != null && !variable.isBlank()) return variable;
        return null;
    }

    /** Every place to try, in order, for the given sonames (preferred version first). */
    static List<Candidate> candidates(List<String> sonames, String explicitDir) {
        List<Candidate> out = new ArrayList<>();
        if (explicitDir != null) {
            for (String s : sonames) out.add(new Candidate(Path.of(explicitDir, s).toString(), true));
        }
        for (String s : sonames) out.add(new Candidate(s, false));
        for (String dir : STANDARD_DIRS) {
            for (String s : sonames) out.add(new Candidate(Path.of(dir, s).toString(), true));
        }
        return out;
    }

    /** The library opened in {@code arena}, or a one-line error listing where it was looked for. */
    static SymbolLookup load(String what, List<String> sonames, Arena arena) {
        String dir = explicitDir(System.getProperty(DIR_PROPERTY), System.getenv(DIR_VARIABLE));
        List<Candidate> tried = candidates(sonames, dir);
        for (Candidate c : tried) {
            if (c.isPath() && !Files.isRegularFile(Path.of(c.name()))) continue;
            try {
                return c.isPath() ? SymbolLookup.libraryLookup(Path.of(c.name()), arena) : SymbolLookup.libraryLookup(c.name(), arena);
            } catch (IllegalArgumentException notFound) {
                // try the next place
            }
        }
        throw new BitcapException("no " + what + ": could not load " + String.join(" or ", sonames) + " (looked in "
                + (dir == null ? "" : dir + ", ") + "the loader's path, " + String.join(", ", STANDARD_DIRS)
                + "; set --cuda-lib-dir or " + DIR_VARIABLE + ")");
    }
}
