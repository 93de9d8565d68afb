package dev.bitcap.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/** A loaded CUDA module and its kernels, with a reusable argument block for launches on the device's stream. */
public final class CudaModule {
    private static final int MAX_ARGS = 32;

    private final CudaDevice device;
    private final String file;
    private final MemorySegment module;
    private final java.util.Set<String> programmatic;
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final MemorySegment values, pointers;
    private int count;

    CudaModule(CudaDevice device, String file, MemorySegment module, java.util.Set<String> programmatic) {
        this.device = device;
        this.file = file;
        this.module = module;
        this.programmatic = programmatic;
        Arena arena = Arena.ofAuto();
        values = arena.allocate(8L * MAX_ARGS, 16);
        pointers = arena.allocate(ADDRESS, MAX_ARGS);
        for (int i = 0; i < MAX_ARGS; i++) pointers.setAtIndex(ADDRESS, i, values.asSlice(8L * i, 8));
    }

    MemorySegment function(String name) {
        return functions.computeIfAbsent(name, n -> device.driver().function(module, n));
    }

    /** Allows kernel {@code name} more than the default 48 KiB of dynamic shared memory. */
    public void setMaxDynamicSharedMemory(String name, int bytes) {
        device.driver().setMaxDynamicSharedMemory(function(name), bytes);
    }

    /** Blocks of kernel {@code name} that fit one multiprocessor at once with that block size and dynamic shared memory. */
    public int maxActiveBlocks(String name, int blockSize, int sharedBytes) {
        return device.driver().maxActiveBlocks(function(name), blockSize, sharedBytes);
    }

    /** Starts a launch of kernel {@code name}; add the arguments in order, then {@link Launch#run}. */
    public Launch launch(String name) {
        count = 0;
        return new Launch(name);
    }

    /** One kernel launch being assembled. cuLaunchKernel copies the arguments, so the block is reused at once. */
    public final class Launch {
        private final String name;

        private Launch(String name) {
            this.name = name;
        }

        private long slot() {
            if (count == MAX_ARGS) throw new IllegalStateException(name + ": too many kernel arguments");
            return 8L * count++;
        }

        public Launch ptr(long devicePointer) {
            values.set(JAVA_LONG, slot(), devicePointer);
            return this;
        }

        public Launch i(int v) {
            values.set(JAVA_INT, slot(), v);
            return this;
        }

        public Launch l(long v) {
            values.set(JAVA_LONG, slot(), v);
            return this;
        }

        public Launch f(float v) {
            values.set(JAVA_FLOAT, slot(), v);
            return this;
        }

        public void run(int gx, int gy, int gz, int block, int sharedBytes) {
            if (gx <= 0 || gy <= 0 || gz <= 0) return; // nothing to do
            if (device.programmaticLaunch() && programmatic.contains(name)) {
                device.driver().launchProgrammatic(file + ":" + name, function(name), gx, gy, gz, block, 1, 1, sharedBytes, device.stream(), pointers);
            } else {
                device.driver().launch(file + ":" + name, function(name), gx, gy, gz, block, 1, 1, sharedBytes, device.stream(), pointers);
            }
        }

        public void run(int gx, int block) {
            run(gx, 1, 1, block, 0);
        }
    }
}
