package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The parts of CudaDevice and CudaAttention that need no GPU. */
class CudaDeviceStaticTest {
    @Test
    void hopperGetsItsArchitectureSpecificTarget() {
        assertEquals("sm_90a", CudaDevice.archFor(9, 0));
        assertEquals("sm_89", CudaDevice.archFor(8, 9));
        assertEquals("sm_100", CudaDevice.archFor(10, 0));
    }

    @Test
    void compileOptionsNameTheArchitectureAndEveryDefine() {
        List<String> o = CudaDevice.compileOptions("sm_90a", List.of("HEAD_DIM=128", "WTYPE=2"));
        assertEquals("--gpu-architecture=sm_90a", o.get(0));
        assertTrue(o.contains("-DHEAD_DIM=128") && o.contains("-DWTYPE=2"), o.toString());
    }

    @Test
    void everyKernelSourceIsInTheJarAndListsItsVariants() {
        for (String f : List.of("gemv.cu", "gemv_packed.cu", "gemv_binary.cu", "ops.cu", "attention.cu", "moe.cu")) {
            String src = CudaDevice.source(f);
            assertTrue(src.startsWith("// variants: -D"), f + " must start with its nvcc variants");
            assertTrue(src.contains("extern \"C\" __global__"), f);
        }
    }

    /**
     * NVRTC compiles without the host headers that nvcc includes (so `mvn verify` compiles what NVRTC refuses): the
     * kernels must not use their macros. moe.cu's first version used INFINITY and failed on the GPU machine only.
     */
    @Test
    void kernelSourcesUseNoMacrosOfTheHostHeaders() {
        java.util.List<String> files;
        try (var list = java.nio.file.Files.list(java.nio.file.Path.of("src/main/resources/dev/bitcap/cuda"))) {
            files = list.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu")).sorted().toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertTrue(files.contains("moe.cu"), "kernel sources found: " + files);
        for (String file : files) {
            String code = CudaDevice.source(file).replaceAll("//[^\\n]*", "");
            for (String macro : java.util.List.of("INFINITY", "NAN", "FLT_MAX", "FLT_MIN", "M_PI", "HUGE_VALF")) {
                org.junit.jupiter.api.Assertions.assertFalse(java.util.regex.Pattern.compile("\\b" + macro + "\\b").matcher(code).find(),
                        file + " uses " + macro + ", which NVRTC does not define");
            }
        }
    }

    /**
     * Every kernel that Java code launches by a literal name ({@code launch("argmax_rows")}) is an extern "C" __global__
     * of a kernel source: a misspelt or missing kernel fails here, not only on the GPU machine.
     */
    @Test
    void everyKernelLaunchedByNameIsDefined() throws java.io.IOException {
        java.util.Set<String> launched = new java.util.TreeSet<>(), defined = new java.util.HashSet<>();
        var launch = java.util.regex.Pattern.compile("\\.launch\\(\"(\\w+)\"\\)");
        var global = java.util.regex.Pattern.compile("extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\)\\s*)?(\\w+)\\s*\\(");
        try (var files = java.nio.file.Files.walk(java.nio.file.Path.of("src/main"))) {
            for (var f : files.filter(java.nio.file.Files::isRegularFile).toList()) {
                String name = f.getFileName().toString();
                if (!name.endsWith(".java") && !name.endsWith(".cu")) continue;
                var m = (name.endsWith(".java") ? launch : global).matcher(java.nio.file.Files.readString(f));
                while (m.find()) (name.endsWith(".java") ? launched : defined).add(m.group(1));
            }
        }
        assertTrue(launched.contains("argmax_rows") && launched.contains("rmsnorm_vec4"), "launched kernels found: " + launched);
        for (String k : launched) assertTrue(defined.contains(k), "kernel " + k + " is launched but no .cu file defines it");
    }

    /**
     * gemv_packed.cu's INT path reads a masked code word as a float (code·2^(bit-149), a denormal up to bit 23) and
     * multiplies by x·2^(100-bit): the product must be code·x·2^-49 exactly, for every code width and position it uses.
     */
    @Test
    void maskedCodeWordsReadAsFloatsAreExactScaledCodes() {
        java.util.Random rnd = new java.util.Random(3);
        for (int width : new int[] {1, 2, 4, 8}) {
            for (int bit = 0; bit + width <= 24; bit++) {
                for (int c = 0; c < 1 << width; c++) {
                    float code = Float.intBitsToFloat(c << bit);
                    float x = (float) rnd.nextGaussian() * 100;
                    float scaledX = x * Math.scalb(1f, 100 - bit);
                    assertEquals(Math.scalb(c * x, -49), code * scaledX, 0, "width " + width + " bit " + bit + " code " + c);
                    float sum = (float) rnd.nextGaussian() * 1000;
                    assertEquals(Math.scalb(Math.fma((float) c, x, sum), -49), Math.fma(code, scaledX, Math.scalb(sum, -49)), 0,
                            "an FMA into a scaled sum rounds as the unscaled one");
                }
            }
        }
    }

    @Test
    void decodeSplitsTheContextAndPrefillDoesNot() {
        assertEquals(1, CudaAttention.splits(2048, 32, 2048, 132), "prefill fills the GPU with queries alone");
        int decode = CudaAttention.splits(1, 32, 4096, 132);
        assertEquals(16, decode, "4096 positions in 256-position ranges");
        assertEquals(17, CudaAttention.splits(1, 32, 128 * 1024, 132), "enough blocks for 4 per SM");
        assertEquals(1, CudaAttention.splits(1, 32, 100, 132), "a short context stays whole");
    }

    @Test
    void groupedDecodeSplitsByKvHeadsInRangesOfAtLeast64() {
        assertEquals(32, CudaAttention.gqaSplits(1, 8, 2048, 132), "2048 positions in 64-position ranges");
        assertEquals(66, CudaAttention.gqaSplits(1, 8, 128 * 1024, 132), "8 KV heads x 66 ranges: 4 blocks per SM");
        assertEquals(1, CudaAttention.gqaSplits(1, 8, 40, 132), "a short context stays whole");
        assertEquals(1, CudaAttention.gqaSplits(2048, 8, 2048, 132), "many queries fill the GPU alone");
    }

    @Test
    void vectorRmsnormNeedsWidthsOfFourAndAlignedRows() {
        assertTrue(CudaOps.vec4Rows(0x1000, 0x2000, 0x3000, 4096));
        assertFalse(CudaOps.vec4Rows(0x1000, 0x2000, 0x3000, 1002), "1002 floats are not whole float4s");
        assertFalse(CudaOps.vec4Rows(0x1004, 0x2000, 0x3000, 4096), "a row 4 bytes off 16");
        assertFalse(CudaOps.vec4Rows(0x1000, 0x2000, 0x3008, 4096), "an output 8 bytes off 16");
    }

    @Test
    void failedCallsNameTheCallAndTheStatus() {
        assertEquals("cuMemAlloc_v2(1024 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)",
                new CudaException("cuMemAlloc_v2(1024 bytes)", 2, "CUDA_ERROR_OUT_OF_MEMORY").getMessage());
    }
}
