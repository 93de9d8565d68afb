package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The kernels declared for programmatic dependent launch keep their promise in the source: each is a kernel of its
 * file, and it executes PDL_WAIT itself or in a function it calls, before which it may only load weights (that part
 * is reviewed, not parsed). The GPU side (decode with and without it, same tokens) is a row of the check command.
 */
class ProgrammaticKernelsTest {
    private static final List<String> FILES = List.of("gemv.cu", "gemv_packed.cu", "gemv_binary.cu", "ops.cu", "attention.cu", "moe.cu",
            "kv_attention.cu", "flash_prefill.cu", "flash_prefill2.cu", "seer_gate.cu", "probes.cu");

    @Test
    void declarationsAreReadFromTheirCommentLines() {
        String src = "// programmatic launch: a b\n  // programmatic launch:   c\n// programmatic: d\nint x;\n";
        assertEquals(Set.of("a", "b", "c"), ProgrammaticKernels.declaredIn(src));
        assertTrue(ProgrammaticKernels.declaredIn("extern \"C\" __global__ void k() {}").isEmpty());
    }

    @Test
    void everyDeclaredKernelWaitsBeforeItReadsWhatOthersWrote() {
        List<String> problems = new ArrayList<>();
        int declared = 0;
        for (String f : FILES) {
            String source = CudaDevice.source(f), src = source.replaceAll("//[^\n]*", ""); // a wait in a comment is none
            for (String kernel : ProgrammaticKernels.declaredIn(source)) {
                declared++;
                Matcher m = Pattern.compile("extern \"C\" __global__ void (__launch_bounds__\\((?:[^()]|\\([^()]*\\))*\\)\\s*)?" + kernel + "\\(").matcher(src);
                if (!m.find()) {
                    problems.add(f + ": " + kernel + " is declared but is no kernel of the file");
                    continue;
                }
                String body = body(src, m.end());
                if (!waits(src, body)) problems.add(f + ": " + kernel + " never reaches PDL_WAIT()");
            }
            if (!ProgrammaticKernels.declaredIn(source).isEmpty()) {
                assertTrue(src.contains("#define PDL_WAIT() asm volatile(\"griddepcontrol.wait;\""), f + " defines PDL_WAIT");
                assertTrue(src.contains("__CUDA_ARCH__ >= 900"), f + " keeps griddepcontrol to Hopper and newer");
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertTrue(declared >= 15, "the decode step's kernels are declared, found " + declared);
    }

    @Test
    void onFromHopperUnlessTheVariableSaysZero() {
        assertTrue(CudaDevice.programmaticLaunchDefault(9, null));
        assertTrue(CudaDevice.programmaticLaunchDefault(10, "1"));
        assertFalse(CudaDevice.programmaticLaunchDefault(9, " 0 "));
        assertFalse(CudaDevice.programmaticLaunchDefault(8, null));
    }

    @Test
    void theSharedHeaderIsInlinedForNvrtc() {
        String header = CudaDevice.source("pdl.cuh");
        for (String f : List.of("gemv.cu", "gemv_packed.cu", "ops.cu", "attention.cu", "kv_attention.cu")) {
            String src = CudaDevice.source(f);
            assertFalse(src.contains("#include \"pdl.cuh\""), f + ": the include line is replaced");
            assertTrue(src.contains(header), f + " carries pdl.cuh");
        }
    }

    /** PDL_WAIT() in the body itself or in the body of a function it calls (one level: the kernels call templates). */
    private static boolean waits(String src, String body) {
        if (body.contains("PDL_WAIT()")) return true;
        Matcher call = Pattern.compile("\\b([A-Za-z_]\\w*)\\s*(<[^;(){}]*>)?\\s*\\(").matcher(body);
        while (call.find()) {
            Matcher def = Pattern.compile("__device__[^;{]*\\b" + Pattern.quote(call.group(1)) + "\\s*\\(").matcher(src);
            while (def.find()) if (body(src, def.end()).contains("PDL_WAIT()")) return true;
        }
        return false;
    }

    /** The brace-delimited body after the parameter list that starts before {@code from}. */
    private static String body(String src, int from) {
        int open = src.indexOf('{', from), depth = 0;
        for (int i = open; i < src.length(); i++) {
            char c = src.charAt(i);
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return src.substring(open, i + 1);
        }
        throw new IllegalStateException("unbalanced braces after " + from);
    }
}
