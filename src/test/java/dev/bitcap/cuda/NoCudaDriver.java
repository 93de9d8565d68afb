package dev.bitcap.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import org.junit.jupiter.api.Assumptions;

/** For tests of what a machine without a CUDA driver says (CI has none): they are skipped where a driver is found. */
public final class NoCudaDriver {
    private NoCudaDriver() {}

    public static void assume() {
        boolean driver;
        try {
            SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            driver = true;
        } catch (IllegalArgumentException e) {
            driver = System.getenv(CudaLibraries.DIR_VARIABLE) != null;
        }
        Assumptions.assumeFalse(driver, "this machine has a CUDA driver");
    }
}
